"""Three-way line merge (diff3) of long text: ``merge3`` over a patience diff, with a meaning check.

``merge3`` (Breezy's diff3) finds the regions each side changed against the base; the patience
matcher aligns on lines that occur once in each text, then recurses between them, so repeated
blank or separator lines no longer pull an insertion to the wrong place (difflib's matcher is
not a longest-common-subsequence diff). A region both sides changed differently is a conflict.

A line merge can be clean and still wrong: two people who moved one paragraph to different
places get it twice, and a paragraph deleted on one side and moved on the other comes back.
``_keeps_meaning`` counts every line: a line may not end up more often than the edits that
added it allow, nor less often than those that removed it allow; otherwise a person decides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import cast

from merge3 import Merge3, SequenceMatcherProtocol
from patiencediff import PatienceSequenceMatcher

# PatienceSequenceMatcher is a difflib.SequenceMatcher, which merge3's protocol describes; its
# stubs differ only in how get_matching_blocks is annotated.
_PATIENCE = cast("type[SequenceMatcherProtocol[str]]", PatienceSequenceMatcher)


def _merge_regions(
    base: Sequence[str], mine: Sequence[str], theirs: Sequence[str]
) -> list[str] | None:
    merger = Merge3(base, mine, theirs, sequence_matcher=_PATIENCE)
    merged: list[str] = []
    for region in merger.merge_regions():
        kind = region[0]
        if kind == "unchanged":
            merged += base[region[1] : region[2]]
        elif kind in ("same", "a"):
            merged += mine[region[1] : region[2]]
        elif kind == "b":
            merged += theirs[region[1] : region[2]]
        else:  # "conflict": both changed one region differently
            return None
    return merged


def _keeps_meaning(
    base: Sequence[str], mine: Sequence[str], theirs: Sequence[str], merged: Sequence[str]
) -> bool:
    """Every line is there as often as the two edits say, and no more.

    For a line held ``b`` times in the base, ``m`` in mine, ``t`` in theirs: additions of both
    sides may add up (two people can add the same line in two places), removals are the larger
    of the two (both deleting one copy removes one copy). A move is a removal plus an addition,
    so a paragraph moved on both sides, or deleted on one and moved on the other, fails this.
    """
    counts = [Counter(lines) for lines in (base, mine, theirs, merged)]
    held_base, held_mine, held_theirs, held_merged = counts
    for line in set().union(*counts):
        b = held_base[line]
        grow = [max(side[line] - b, 0) for side in (held_mine, held_theirs)]
        shrink = [min(side[line] - b, 0) for side in (held_mine, held_theirs)]
        most = b + sum(grow) + min(shrink)
        least = b + max(grow) + sum(shrink)
        if not least <= held_merged[line] <= most:
            return False
    return True


def merge_line_lists(
    base: Sequence[str], mine: Sequence[str], theirs: Sequence[str]
) -> list[str] | None:
    """The merged lines, or ``None`` when a person must decide: both sides changed the same
    region differently, or a clean merge would repeat a moved line or bring back a deleted one."""
    if list(mine) == list(theirs) or list(theirs) == list(base):
        return list(mine)
    if list(mine) == list(base):
        return list(theirs)
    merged = _merge_regions(base, mine, theirs)
    if merged is None or not _keeps_meaning(base, mine, theirs, merged):
        return None
    return merged


def _unterminated(text: str) -> bool:
    return bool(text) and not text.endswith("\n")


def _lines(text: str) -> list[str]:
    # A last line without its newline would differ from the same line once someone appends
    # below it, and turn an append into a conflict: merge it terminated, restore it after.
    return (text + "\n" if _unterminated(text) else text).splitlines(keepends=True)


def merge_lines(base: str, mine: str, theirs: str) -> str | None:
    """diff3 of three texts, line by line (line endings kept); ``None`` when a person decides."""
    lines = merge_line_lists(_lines(base), _lines(mine), _lines(theirs))
    if lines is None:
        return None
    merged = "".join(lines)
    # Whether the text ends without a newline is merged like any value; it cannot conflict.
    unterminated = (
        _unterminated(theirs) if _unterminated(mine) == _unterminated(base) else _unterminated(mine)
    )
    if unterminated and merged.endswith("\n"):
        merged = merged[:-1]
    return merged
