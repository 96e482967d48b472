"""diff3 of long text: edits on different lines both land, overlapping edits are a conflict."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.client.diff3 import merge_line_lists, merge_lines

BASE = "Eviction on 3 May.\nForty families.\nPolice present.\nNo court order.\nHomes razed.\n"


@pytest.mark.parametrize(
    ("mine", "theirs", "expected"),
    [
        (  # edits on different lines
            BASE.replace("Forty", "Forty-two"),
            BASE.replace("razed", "razed by bulldozers"),
            BASE.replace("Forty", "Forty-two").replace("razed", "razed by bulldozers"),
        ),
        (  # the same edit on both sides is taken once
            BASE.replace("May", "June"),
            BASE.replace("May", "June"),
            BASE.replace("May", "June"),
        ),
        (  # a deletion and an insertion far apart
            BASE.replace("Police present.\n", ""),
            BASE + "Referred to the rapporteur.\n",
            BASE.replace("Police present.\n", "") + "Referred to the rapporteur.\n",
        ),
        (  # insertion at the top and at the bottom
            "Summary:\n" + BASE,
            BASE + "End.\n",
            "Summary:\n" + BASE + "End.\n",
        ),
        (  # Arabic lines merge like any other
            "تم الإخلاء\n" + BASE,
            BASE.replace("No court", "Without a court"),
            "تم الإخلاء\n" + BASE.replace("No court", "Without a court"),
        ),
    ],
)
def test_non_overlapping_edits_both_land(mine: str, theirs: str, expected: str) -> None:
    assert merge_lines(BASE, mine, theirs) == expected
    assert merge_lines(BASE, theirs, mine) == expected


def test_overlapping_edits_are_a_conflict() -> None:
    assert (
        merge_lines(BASE, BASE.replace("Forty", "Forty-two"), BASE.replace("Forty", "Fifty"))
        is None
    )
    # Edits on adjacent lines touch the same region: diff3 (like git) asks a person.
    assert merge_lines(BASE, BASE.replace("Forty", "40"), BASE.replace("Police", "Army")) is None
    assert merge_lines("", "one\n", "two\n") is None


def test_last_line_without_newline() -> None:
    assert merge_lines("a\nb", "A\nb", "a\nb\nc") == "A\nb\nc"
    assert merge_lines("a\nb", "a\nb\n", "A\nb") == "A\nb\n"
    assert merge_lines("a\nb\n", "a\nb", "A\nb\n") == "A\nb"
    assert merge_lines("", "x", "") == "x"


def test_crlf_lines_are_kept() -> None:
    base = "one\r\ntwo\r\nthree\r\n"
    assert merge_lines(base, "ONE\r\ntwo\r\nthree\r\n", "one\r\ntwo\r\nTHREE\r\n") == (
        "ONE\r\ntwo\r\nTHREE\r\n"
    )


_texts = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "a", "\n", "x y\n"]), max_size=8).map(
    "".join
)


@settings(max_examples=300, deadline=None)
@given(_texts, _texts, _texts)
def test_identity_idempotence_and_symmetry_on_any_text(base: str, mine: str, theirs: str) -> None:
    assert merge_lines(base, mine, base) == mine
    assert merge_lines(base, base, theirs) == theirs
    assert merge_lines(base, mine, mine) == mine
    assert merge_lines(base, mine, theirs) == merge_lines(base, theirs, mine)


def _edit(lines: list[str], data: st.DataObject, tag: str) -> list[str]:
    """Replace a (possibly empty) range of ``lines`` with (possibly no) new lines."""
    start = data.draw(st.integers(0, len(lines)))
    end = data.draw(st.integers(start, len(lines)))
    count = data.draw(st.integers(0, 3))
    if start == end and count == 0:
        count = 1
    return lines[:start] + [f"{tag}{n}\n" for n in range(count)] + lines[end:]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 12), st.data())
def test_edits_separated_by_an_unchanged_line_both_land(size: int, data: st.DataObject) -> None:
    base = [f"line {n}\n" for n in range(size)]
    cut = data.draw(st.integers(0, size - 1))  # base[cut] neither side touches
    before, anchor, after = base[:cut], base[cut], base[cut + 1 :]
    mine_before = _edit(before, data, "mine ")
    theirs_after = _edit(after, data, "theirs ")
    mine = [*mine_before, anchor, *after]
    theirs = [*before, anchor, *theirs_after]
    expected = [*mine_before, anchor, *theirs_after]
    assert merge_line_lists(base, mine, theirs) == expected
    assert merge_line_lists(base, theirs, mine) == expected
