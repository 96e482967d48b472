"""PartialDate and DateRange: parsing, impossible dates, precision, ranges and the future."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop.domain.dates import DatePrecision, DateRange, InvalidDate, PartialDate

from .conftest import TODAY


@pytest.mark.parametrize(
    ("text", "expected", "precision"),
    [
        ("2024", PartialDate(2024), DatePrecision.YEAR),
        ("2024-03", PartialDate(2024, 3), DatePrecision.MONTH),
        ("2024-03-15", PartialDate(2024, 3, 15), DatePrecision.DAY),
        ("  2024-02-29 ", PartialDate(2024, 2, 29), DatePrecision.DAY),
    ],
)
def test_parses_each_precision(text: str, expected: PartialDate, precision: DatePrecision) -> None:
    parsed = PartialDate.parse(text)
    assert parsed == expected
    assert parsed.precision is precision
    assert parsed.isoformat() == text.strip()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2023-02-29", "has no day 29"),
        ("2024-02-31", "has no day 31"),
        ("2024-04-31", "has no day 31"),
        ("2024-13", "between 1 and 12"),
        ("2024-00-10", "between 1 and 12"),
        ("0000", "between 1 and 9999"),
        ("24-03-15", "is not a date"),
        ("15/03/2024", "is not a date"),
        ("2024-3", "is not a date"),
        ("", "is not a date"),
    ],
)
def test_refuses_impossible_or_unreadable_dates(text: str, fragment: str) -> None:
    with pytest.raises(InvalidDate) as caught:
        PartialDate.parse(text)
    assert fragment in caught.value.message


def test_arabic_indic_digits_are_read_as_the_same_date() -> None:
    # Someone typing on an Arabic keyboard gets the same date, stored in ASCII digits.
    assert PartialDate.parse("٢٠٢٤-٠٣-١٥") == PartialDate(2024, 3, 15)
    assert PartialDate.parse("٢٠٢٤-٠٣-١٥").isoformat() == "2024-03-15"


def test_a_day_needs_a_month() -> None:
    with pytest.raises(InvalidDate, match="A day needs a month"):
        PartialDate(2024, None, 3)


def test_earliest_and_latest_follow_the_precision() -> None:
    assert PartialDate(2024).earliest == date(2024, 1, 1)
    assert PartialDate(2024).latest == date(2024, 12, 31)
    assert PartialDate(2024, 2).latest == date(2024, 2, 29)
    assert PartialDate(2023, 2).latest == date(2023, 2, 28)
    assert PartialDate(2024, 2, 10).latest == date(2024, 2, 10)


def test_the_future_allows_a_day_of_grace() -> None:
    assert not PartialDate.from_date(TODAY).is_in_future(TODAY)
    assert not PartialDate(2025, 6, 16).is_in_future(TODAY)  # ahead of UTC somewhere on earth
    assert PartialDate(2025, 6, 17).is_in_future(TODAY)
    assert not PartialDate(2025).is_in_future(TODAY)  # this year is not the future
    assert PartialDate(2026).is_in_future(TODAY)
    assert not PartialDate(2025, 6).is_in_future(TODAY)


def test_a_range_is_reversed_only_when_it_must_be() -> None:
    assert DateRange(PartialDate(2024, 3, 15), PartialDate(2024, 3, 10)).is_reversed()
    assert DateRange(PartialDate(2024, 3), PartialDate(2024, 2)).is_reversed()
    # A month that contains the start day may end after it: not provably reversed.
    assert not DateRange(PartialDate(2024, 3, 15), PartialDate(2024, 3)).is_reversed()
    assert not DateRange(PartialDate(2024), None).is_reversed()


def test_ranges_overlap_by_the_days_they_could_cover() -> None:
    march = DateRange(PartialDate(2024, 3))
    assert march.overlaps(DateRange(PartialDate(2024, 3, 31)))
    assert not march.overlaps(DateRange(PartialDate(2024, 4, 1)))
    assert march.overlaps(DateRange(PartialDate(2023), PartialDate(2025)))
    assert DateRange().overlaps(march)  # nothing known: it could be any time


partial_dates = st.dates(min_value=date(1, 1, 1)).flatmap(
    lambda d: st.sampled_from(
        [PartialDate(d.year), PartialDate(d.year, d.month), PartialDate.from_date(d)]
    )
)


@given(partial_dates)
def test_text_form_round_trips_and_sorts_like_the_dates(value: PartialDate) -> None:
    assert PartialDate.parse(value.isoformat()) == value
    assert value.earliest <= value.latest


@given(partial_dates, partial_dates)
def test_text_order_matches_earliest_day_order(a: PartialDate, b: PartialDate) -> None:
    # The store sorts incidents by the stored text; it must agree with the calendar.
    if a.earliest < b.earliest:
        assert a.isoformat() < b.isoformat()
