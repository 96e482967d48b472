"""How record values read on screen and in reports: dates, sizes, vocabulary labels, languages.

Shared by every section's lists, forms and the PDF, so a date or a country reads the same in all.
"""

from __future__ import annotations

import calendar
from datetime import date

from babel.dates import format_interval, format_skeleton

from desktop.domain.dates import PartialDate
from desktop.domain.translation import _, babel_locale, format_day, format_number, ngettext
from desktop.domain.vocabularies import label


def vocabulary_label(vocabulary: str, code: str | None) -> str:
    return label(vocabulary, code) if code else ""


def describe_span(first: str | None, last: str | None) -> str:
    """A list row's date bounds (ISO days) as the person would say them.

    A whole year reads "2024", a whole month "Mar 2024", a day as a day, anything else as a range.
    """
    if not first:
        return ""
    start = date.fromisoformat(first)
    end = date.fromisoformat(last) if last else start
    locale = babel_locale()
    if start == end:
        return format_day(start)
    if start.year == end.year and (start.month, start.day, end.month, end.day) == (1, 1, 12, 31):
        return format_skeleton("y", start, locale=locale)
    month_end = calendar.monthrange(start.year, start.month)[1]
    if (start.year, start.month) == (end.year, end.month) and (start.day, end.day) == (
        1,
        month_end,
    ):
        return format_skeleton("yMMM", start, locale=locale)
    return format_interval(start, end, "yMMMd", locale=locale)


def describe_partial(value: PartialDate | None) -> str:
    if value is None:
        return ""
    return describe_span(value.earliest.isoformat(), value.latest.isoformat())


def describe_size(size: int) -> str:
    """A file size in the units people know, numbers in the current language."""
    if size < 1024:
        return ngettext("{size} byte", "{size} bytes", size).format(size=format_number(size))
    if size < 1024 * 1024:
        return _("{size} KB").format(size=format_number(round(size / 1024, 1)))
    return _("{size} MB").format(size=format_number(round(size / (1024 * 1024), 1)))


#: The network's four languages, each named in itself so anyone can find their own.
LETTER_LANGUAGES: tuple[tuple[str, str], ...] = (
    ("en", "English"),
    ("es", "Español"),
    ("fr", "Français"),
    ("ar", "العربية"),
)
LANGUAGE_NAMES = dict(LETTER_LANGUAGES)
