"""Dates as people remember them: a year, a month or a day, alone or as a range.

Witnesses often know only "March 2024" or "in 2019"; storing a fake first-of-month would be a lie.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from desktop.domain.translation import _

#: A day's grace for "the future": the person's local date can be ahead of UTC by up to 14 hours.
FUTURE_TOLERANCE = timedelta(days=1)

# \d also matches Arabic-Indic digits (٢٠٢٤) and int() reads them: an Arabic keyboard just works.
_ISO_PARTIAL = re.compile(r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?")


class DatePrecision(StrEnum):
    YEAR = "year"
    MONTH = "month"
    DAY = "day"


class InvalidDate(ValueError):
    """A date that cannot exist or cannot be read; ``message`` is translated, for the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True, order=False)
class PartialDate:
    """A calendar date known to the year, the month or the day; never invented beyond that."""

    year: int
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        # bool is an int subclass; True as a month is a programming error, not a date.
        for part in (self.year, self.month, self.day):
            if part is not None and (isinstance(part, bool) or not isinstance(part, int)):
                raise InvalidDate(_("A date must be made of whole numbers."))
        if not 1 <= self.year <= 9999:
            raise InvalidDate(
                _("The year must be between 1 and 9999; got {year}.").format(year=self.year)
            )
        if self.month is None:
            if self.day is not None:
                raise InvalidDate(_("A day needs a month."))
            return
        if not 1 <= self.month <= 12:
            raise InvalidDate(
                _("The month must be between 1 and 12; got {month}.").format(month=self.month)
            )
        if self.day is not None:
            last = calendar.monthrange(self.year, self.month)[1]
            if not 1 <= self.day <= last:
                raise InvalidDate(
                    _("{year}-{month} has no day {day}.").format(
                        year=self.year, month=f"{self.month:02d}", day=self.day
                    )
                )

    @property
    def precision(self) -> DatePrecision:
        if self.month is None:
            return DatePrecision.YEAR
        if self.day is None:
            return DatePrecision.MONTH
        return DatePrecision.DAY

    @property
    def earliest(self) -> date:
        """The first day this date could mean."""
        return date(self.year, self.month or 1, self.day or 1)

    @property
    def latest(self) -> date:
        """The last day this date could mean."""
        if self.month is None:
            return date(self.year, 12, 31)
        if self.day is None:
            return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])
        return date(self.year, self.month, self.day)

    def isoformat(self) -> str:
        """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``: what is stored and what sorts as text."""
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    def __str__(self) -> str:
        return self.isoformat()

    @classmethod
    def parse(cls, text: str) -> PartialDate:
        """Read ``2024``, ``2024-03`` or ``2024-03-15`` (spaces around are forgiven).

        Raises:
            InvalidDate: with a translated message saying what is wrong.
        """
        match = _ISO_PARTIAL.fullmatch(text.strip())
        if match is None:
            raise InvalidDate(
                _("“{text}” is not a date; write 2024, 2024-03 or 2024-03-15.").format(text=text)
            )
        month, day = match["month"], match["day"]
        return cls(
            int(match["year"]),
            int(month) if month is not None else None,
            int(day) if day is not None else None,
        )

    @classmethod
    def from_date(cls, value: date) -> PartialDate:
        return cls(value.year, value.month, value.day)

    def is_in_future(self, today: date | None = None) -> bool:
        """True when even the earliest day it could mean is after today (plus a day's grace)."""
        reference = today if today is not None else datetime.now(UTC).date()
        return self.earliest > reference + FUTURE_TOLERANCE


@dataclass(frozen=True, slots=True)
class DateRange:
    """From ``start`` to ``end``: an uncertain window or a lasting event alike.

    Without an ``end`` the range is the start date alone (a one-day event, or one month when only
    the month is known); without both it is unknown and reaches everywhere.
    """

    start: PartialDate | None = None
    end: PartialDate | None = None

    def is_reversed(self) -> bool:
        """True only when the end must be before the start, whatever the precisions mean.

        "2024-03" to "2024-03-15" is not reversed: the month may well end after the 15th.
        """
        if self.start is None or self.end is None:
            return False
        return self.end.latest < self.start.earliest

    def overlaps(self, other: DateRange) -> bool:
        """Whether the two could share a day (how a period filter selects incidents)."""
        self_first, self_last = self.bounds()
        other_first, other_last = other.bounds()
        return self_first <= other_last and other_first <= self_last

    def bounds(self) -> tuple[date, date]:
        """The first and last day the range could cover."""
        first = self.start.earliest if self.start else date.min
        last_date = self.end or self.start
        last = last_date.latest if last_date else date.max
        return first, last
