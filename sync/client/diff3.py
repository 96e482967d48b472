"""Three-way line merge (diff3) of long text, on top of difflib's matching blocks.

Lines both sides left as in the base anchor the merge; between anchors, a side that changed
wins, the same change is taken once, and two different changes are a conflict (``None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher


def _matches(base: Sequence[str], other: Sequence[str]) -> dict[int, int]:
    """Base line index → the other text's line index, for lines difflib aligned unchanged."""
    aligned: dict[int, int] = {}
    matcher = SequenceMatcher(None, base, other, autojunk=False)
    for block in matcher.get_matching_blocks():
        for offset in range(block.size):
            aligned[block.a + offset] = block.b + offset
    return aligned


def merge_line_lists(
    base: Sequence[str], mine: Sequence[str], theirs: Sequence[str]
) -> list[str] | None:
    """The merged lines, or ``None`` when both sides changed the same region differently."""
    in_mine, in_theirs = _matches(base, mine), _matches(base, theirs)
    merged: list[str] = []
    i = j = k = 0
    while True:
        # The next base line both sides kept, after what was already consumed: an anchor.
        anchor = next(
            (
                a
                for a in range(i, len(base))
                if a in in_mine and a in in_theirs and in_mine[a] >= j and in_theirs[a] >= k
            ),
            None,
        )
        end_base = len(base) if anchor is None else anchor
        end_mine = len(mine) if anchor is None else in_mine[anchor]
        end_theirs = len(theirs) if anchor is None else in_theirs[anchor]
        chunk_base, chunk_mine = list(base[i:end_base]), list(mine[j:end_mine])
        chunk_theirs = list(theirs[k:end_theirs])
        if chunk_mine in (chunk_base, chunk_theirs):
            merged += chunk_theirs
        elif chunk_theirs == chunk_base:
            merged += chunk_mine
        else:
            return None
        if anchor is None:
            return merged
        merged.append(base[anchor])
        i, j, k = anchor + 1, end_mine + 1, end_theirs + 1


def _unterminated(text: str) -> bool:
    return bool(text) and not text.endswith("\n")


def _lines(text: str) -> list[str]:
    # A last line without its newline would differ from the same line once someone appends
    # below it, and turn an append into a conflict: merge it terminated, restore it after.
    return (text + "\n" if _unterminated(text) else text).splitlines(keepends=True)


def merge_lines(base: str, mine: str, theirs: str) -> str | None:
    """diff3 of three texts, line by line (line endings kept); ``None`` on overlapping edits."""
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
