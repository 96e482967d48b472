"""Three-way line merge (diff3) of long text: ``merge3`` over a patience diff, with a meaning check.

``merge3`` (Breezy's diff3) finds the regions each side changed against the base; the patience
matcher aligns on lines that occur once in each text, then recurses between them, so repeated
blank or separator lines no longer pull an insertion to the wrong place (difflib's matcher is
not a longest-common-subsequence diff). A region both sides changed differently is a conflict.

A line merge can be clean and still wrong: two people who moved one paragraph to different
places get it twice, and a paragraph deleted on one side and moved on the other comes back.
``_keeps_meaning`` counts every line: a line may not end up more often than the edits that
added it allow, nor less often than those that removed it allow; otherwise a person decides.
Counting cannot see a paragraph moved *and* touched (a word corrected, split in two) on one
side while the other deleted it: both removed the old line, so the deletion reads as agreed,
and the moved copy, a new line, comes back unseen. ``_rewrites_a_deletion`` asks a person when
a line both sides removed reappears, by most of its words, among one side's additions only.
"""

from __future__ import annotations

import re
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


_WORDS = re.compile(r"\w+")
#: Word comparisons ``_rewrites_a_deletion`` may make (a few tenths of a second at most); a
#: merge that would need more (a text crafted with thousands of lines removed and added on
#: both sides) is left to a person rather than weighed at any cost.
_COMPARISON_BUDGET = 2_000_000


def _words(line: str) -> frozenset[str]:
    return frozenset(_WORDS.findall(line.casefold()))


def _rewrites_a_deletion(base: Sequence[str], mine: Sequence[str], theirs: Sequence[str]) -> bool:
    """Whether a line both sides removed lives on, rewritten, in what one side added and not in
    what the other did: one side deleted it (a witness's address, removed for her safety), the
    other moved it and corrected a word or split it. Similar: more than half of the shorter
    line's words are the other's. True as well when weighing it would cost more than
    ``_COMPARISON_BUDGET`` word look-ups: a person decides instead."""
    held_base, held_mine, held_theirs = (Counter(lines) for lines in (base, mine, theirs))
    removed = [
        words
        for line in held_base
        if held_mine[line] < held_base[line] and held_theirs[line] < held_base[line]
        if (words := _words(line))
    ]
    if not removed:
        return False
    budget = _COMPARISON_BUDGET
    sides: list[tuple[list[frozenset[str]], dict[str, list[int]]]] = []
    for side in (held_mine, held_theirs):
        added = [words for line in side if side[line] > held_base[line] if (words := _words(line))]
        index: dict[str, list[int]] = {}
        for number, words in enumerate(added):
            for word in words:
                index.setdefault(word, []).append(number)
        sides.append((added, index))
    for gone in removed:
        alike: list[set[frozenset[str]]] = []
        for added, index in sides:
            shared: Counter[int] = Counter()
            for word in gone:
                postings = index.get(word, ())
                budget -= 1 + len(postings)
                if budget < 0:
                    return True
                shared.update(postings)
            alike.append(
                {
                    added[number]
                    for number, count in shared.items()
                    if 2 * count > min(len(gone), len(added[number]))
                }
            )
        if alike[0] != alike[1]:
            return True
    return False


def merge_line_lists(
    base: Sequence[str], mine: Sequence[str], theirs: Sequence[str]
) -> list[str] | None:
    """The merged lines, or ``None`` when a person must decide: both sides changed the same
    region differently, or a clean merge would repeat a moved line or bring back a deleted one
    (also moved and rewritten)."""
    if list(mine) == list(theirs) or list(theirs) == list(base):
        return list(mine)
    if list(mine) == list(base):
        return list(theirs)
    merged = _merge_regions(base, mine, theirs)
    if merged is None or not _keeps_meaning(base, mine, theirs, merged):
        return None
    if _rewrites_a_deletion(base, mine, theirs):
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
