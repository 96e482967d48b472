"""The translation runtime: gettext catalogues from ``i18n/`` and Babel formatting, without Qt.

Everything user-facing goes through ``_``, ``ngettext`` or ``pgettext`` here, so that the domain,
the store and the interface all speak the language the person chose, and switch at run time.
"""

from __future__ import annotations

import gettext
import os
import threading
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal

#: The working languages, in the order the language menus show them.
LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "ar")
#: Each language's own name for itself: never translated, so a lost person can find theirs.
NATIVE_NAMES: dict[str, str] = {
    "en": "English",
    "es": "Español",
    "fr": "Français",
    "ar": "العربية",
}
RIGHT_TO_LEFT: frozenset[str] = frozenset({"ar"})
DEFAULT_LANGUAGE = "en"
DOMAIN = "minga"

_lock = threading.Lock()
_language = DEFAULT_LANGUAGE
_catalogue: gettext.NullTranslations = gettext.NullTranslations()
_listeners: list[Callable[[str], None]] = []


def catalogue_dir() -> Path:
    """Where the compiled catalogues live: ``MINGA_I18N_DIR``, else ``i18n/`` of the source tree."""
    override = os.environ.get("MINGA_I18N_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "i18n"


def normalize_language(code: str | None) -> str:
    """Map a locale name such as ``es_AR.UTF-8`` or ``ar-EG`` to a working language."""
    if not code:
        return DEFAULT_LANGUAGE
    base = code.replace("-", "_").split(".")[0].split("_")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def set_language(code: str) -> str:
    """Load ``code``'s catalogue and make it current; returns the language actually set.

    A missing catalogue falls back to the source strings (English) rather than failing, so a
    broken install still starts; the i18n tests make sure no shipped catalogue is missing.
    """
    global _language, _catalogue
    language = normalize_language(code)
    catalogue = gettext.translation(
        DOMAIN, localedir=str(catalogue_dir()), languages=[language], fallback=True
    )
    with _lock:
        _language = language
        _catalogue = catalogue
        listeners = list(_listeners)
    for listener in listeners:
        listener(language)
    return language


def current_language() -> str:
    return _language


def is_right_to_left(code: str | None = None) -> bool:
    return (code or _language) in RIGHT_TO_LEFT


def on_language_change(listener: Callable[[str], None]) -> None:
    """Call ``listener(language)`` after every switch (the interface retranslates itself)."""
    with _lock:
        _listeners.append(listener)


def remove_language_listener(listener: Callable[[str], None]) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def _(message: str) -> str:
    return _catalogue.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _catalogue.ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return _catalogue.pgettext(context, message)


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now (translated when shown)."""
    return message


def babel_locale(code: str | None = None) -> Locale:
    return Locale.parse(code or _language)


def format_number(value: int | float, code: str | None = None) -> str:
    return format_decimal(value, locale=babel_locale(code))


def format_day(value: date, code: str | None = None, length: str = "medium") -> str:
    return format_date(value, format=length, locale=babel_locale(code))


def format_moment(value: datetime, code: str | None = None, length: str = "medium") -> str:
    return format_datetime(value, format=length, locale=babel_locale(code))


def format_clock(value: datetime | time, code: str | None = None, length: str = "short") -> str:
    """The time of day only, as the language writes it (``14:05``, ``2:05 PM``, ``2:05 م``)."""
    return format_time(value, format=length, locale=babel_locale(code))
