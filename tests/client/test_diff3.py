"""diff3 of long text: edits on different lines both land, overlapping edits are a conflict."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

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


# --- meaning, and the same answers as `git merge-file` ------------------------------------------

WITNESS = ["Testimony of M.\n", "\n", "She saw the police arrive.\n", "\n"]
ADDRESS = ["She lives at Calle 5, house 12.\n", "\n"]
CLOSING = ["Her brother was taken at 3 am.\n", "\n", "Referred to the rapporteur.\n"]


def test_a_paragraph_moved_to_two_places_is_a_conflict_not_a_copy() -> None:
    base = "".join(WITNESS + ADDRESS + CLOSING)
    to_top = "".join(ADDRESS + WITNESS + CLOSING)
    to_end = "".join(WITNESS + CLOSING + ["\n"] + ADDRESS[:1])
    assert merge_lines(base, to_top, to_end) is None
    assert merge_lines(base, to_end, to_top) is None


def test_a_paragraph_deleted_on_one_side_and_moved_on_the_other_never_comes_back() -> None:
    base = "".join(WITNESS + ADDRESS + CLOSING)
    deleted = "".join(WITNESS + CLOSING)  # removed for her safety
    moved = "".join(ADDRESS + WITNESS + CLOSING)
    for merged in (merge_lines(base, deleted, moved), merge_lines(base, moved, deleted)):
        assert merged is None or "Calle 5" not in merged


@pytest.mark.parametrize(
    ("base", "deleted", "moved"),
    [
        (  # moved below and a floor added to the address (Spanish)
            "La víctima declaró.\nTestigo: María, Calle del Sol 12.\nLa policía llegó.\n",
            "La víctima declaró.\nLa policía llegó.\n",
            "La víctima declaró.\nLa policía llegó.\nTestigo: María, Calle del Sol 12, 2º.\n",
        ),
        (  # moved below and split in two lines (French)
            "Le témoin a parlé.\nElle habite 4 rue des Lilas, Lyon.\nFin.\n",
            "Le témoin a parlé.\nFin.\n",
            "Le témoin a parlé.\nFin.\nElle habite 4 rue des Lilas.\nÀ Lyon.\n",
        ),
        (  # moved below and a word corrected (Arabic, right to left)
            "قالت الضحية.\nالشاهدة مريم تسكن شارع الشمس ١٢.\nوصلت الشرطة.\n",
            "قالت الضحية.\nوصلت الشرطة.\n",
            "قالت الضحية.\nوصلت الشرطة.\nالشاهدة مريم تسكن في شارع الشمس ١٢.\n",
        ),
        (  # CRLF text, moved and touched
            "Testimony of M.\r\nShe lives at Calle 5, house 12.\r\nReferred.\r\n",
            "Testimony of M.\r\nReferred.\r\n",
            "She lives at Calle 5, house 12 (back).\r\nTestimony of M.\r\nReferred.\r\n",
        ),
    ],
)
def test_a_deleted_paragraph_moved_and_touched_on_the_other_side_never_comes_back(
    base: str, deleted: str, moved: str
) -> None:
    """Counting lines cannot see it: both sides removed the old line, the moved copy is new.
    git merge-file merges these cleanly, the deleted paragraph back in its new place."""
    assert merge_lines(base, deleted, moved) is None
    assert merge_lines(base, moved, deleted) is None
    # Moved and touched alike on both sides is one edit made twice; deleted alike beside an
    # unrelated addition is one deletion: both still merge.
    assert merge_lines(base, moved, moved) == moved
    assert merge_lines(base, deleted, deleted + "Visita el 9 de junio.\n") == (
        deleted + "Visita el 9 de junio.\n"
    )


def test_a_text_crafted_to_make_the_rewrite_check_costly_is_asked_quickly() -> None:
    """Thousands of lines removed on both sides sharing a word with thousands added on one:
    the word look-ups are bounded, past the bound a person decides."""
    common = " ".join(f"w{n}" for n in range(20))
    removed = "".join(f"{common} old{n}\n" for n in range(20_000))
    base = "keep\n" + removed + "anchor\n"
    mine = "keep\nanchor\n"
    theirs = mine + "".join(f"w0 new{n}\n" for n in range(20_000))
    started = time.monotonic()
    assert merge_lines(base, mine, theirs) is None
    assert time.monotonic() - started < 10


def test_a_deletion_next_to_an_edit_stays_deleted() -> None:
    base = "".join(WITNESS + ADDRESS + CLOSING)
    deleted = "".join(WITNESS + CLOSING)
    edited = base.replace("Testimony of M.", "Testimony of M., 4 May")
    assert merge_lines(base, deleted, edited) == deleted.replace("of M.", "of M., 4 May")


def test_repeated_blank_lines_do_not_misplace_or_drop_an_edit() -> None:
    # Both sides removed one of three blank lines; one also added a line at the top and a
    # separator below "b". difflib's matcher removed two blank lines here.
    base, mine = "a\n--\n\n\n\nb\na\na\n", "a\n--\n\n\nb\na\na\n"
    theirs = "X\na\n--\n\n\nb\n--\na\na\n"
    assert merge_lines(base, mine, theirs) == "X\na\n--\n\n\nb\n--\na\na\n"
    # An insertion between two of many identical separators lands where it was made.
    base = "A\n---\n\nB\n---\n\nC\n---\n\nD\n"
    mine = base.replace("B\n", "B\nB2\n")
    assert merge_lines(base, mine, base + "E\n") == mine + "E\n"


def test_a_move_beside_a_deletion_merges_where_git_stops() -> None:
    """Found by the property test: git asks here (the hunks touch); the merge keeps every edit."""
    para = [f"وصلت الشرطة في الساعة {n}.\n" for n in range(5)]
    sep = "\n---\n\n"
    base = sep.join([para[0], para[1], para[2], para[3] + para[4]])
    mine = sep.join([para[1], para[2], para[3] + para[4], para[0]])
    theirs = sep.join([para[0], para[1], para[3] + "theirs added 0.\n" + para[4]])
    merged = merge_lines(base, mine, theirs)
    assert merged == sep.join([para[1], para[3] + "theirs added 0.\n" + para[4], para[0]])
    assert merge_lines(base, theirs, mine) == merged


SENTENCES = {
    "en": ["Forty families were evicted ({n}).", "No court order was shown ({n})."],
    "es": ["La policía llegó a las {n}.", "Los vecinos grabaron el desalojo ({n})."],
    "fr": ["Le témoin a vu {n} camions.", "Les maisons ont été détruites ({n})."],
    "ar": ["وصلت الشرطة في الساعة {n}.", "لم يُعرض أي أمر قضائي ({n})."],
}


@st.composite
def _narrative(draw: st.DrawFn) -> list[list[str]]:
    """Paragraphs of sentences in the four languages, every sentence its own (numbered)."""
    numbers = iter(range(10_000))
    paragraphs = []
    for _ in range(draw(st.integers(1, 6))):
        size = draw(st.integers(1, 3))
        paragraphs.append(
            [
                draw(st.sampled_from(SENTENCES[draw(st.sampled_from(sorted(SENTENCES)))])).format(
                    n=next(numbers)
                )
                for _ in range(size)
            ]
        )
    return paragraphs


def _render(paragraphs: list[list[str]], separator: str) -> str:
    return separator.join("".join(f"{s}\n" for s in p) for p in paragraphs)


def _revise(paragraphs: list[list[str]], data: st.DataObject, tag: str) -> list[list[str]]:
    """One or two things a person does to a narrative: add, delete, rewrite or move."""
    result = [list(p) for p in paragraphs]
    for step in range(data.draw(st.integers(1, 2))):
        at = data.draw(st.integers(0, len(result) - 1)) if result else 0
        action = data.draw(st.sampled_from(["add", "new", "delete", "rewrite", "move"]))
        if action == "add" and result:
            result[at].insert(data.draw(st.integers(0, len(result[at]))), f"{tag} added {step}.")
        elif action == "new" or not result:
            result.insert(data.draw(st.integers(0, len(result))), [f"{tag} paragraph {step}."])
        elif action == "delete" and len(result) > 1:
            del result[at]
        elif action == "rewrite":
            line = data.draw(st.integers(0, len(result[at]) - 1))
            result[at][line] += f" ({tag} {step})"
        elif action == "move" and len(result) > 1:
            moved = result.pop(at)
            result.insert(data.draw(st.integers(0, len(result))), moved)
    return result


def _git_merge_file(base: str, mine: str, theirs: str, folder: Path) -> str | None:
    paths = [folder / name for name in ("mine", "base", "theirs")]
    for path, text in zip(paths, (mine, base, theirs), strict=True):
        path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        ["git", "merge-file", "-p", "-q", *map(str, paths)],
        capture_output=True,
        check=False,
        encoding="utf-8",
    )
    return done.stdout if done.returncode == 0 else None


def _line_counts_allowed(base: str, mine: str, theirs: str, merged: str) -> bool:
    """No line more often than both edits' additions allow, none fewer than their removals."""
    counts = [Counter(text.splitlines()) for text in (base, mine, theirs, merged)]
    for line in set().union(*counts):
        b, m, t, got = (c[line] for c in counts)
        most = b + max(m - b, 0) + max(t - b, 0) + min(m - b, t - b, 0)
        least = b + max(m - b, t - b, 0) + min(m - b, 0) + min(t - b, 0)
        if not least <= got <= most:
            return False
    return True


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@settings(max_examples=250, deadline=None)
@given(_narrative(), st.sampled_from(["\n", "\n\n", "\n---\n\n"]), st.data())
def test_narratives_merge_as_git_merge_file_does_or_ask_a_person(
    tmp_path_factory: Any, paragraphs: list[list[str]], separator: str, data: st.DataObject
) -> None:
    base = _render(paragraphs, separator)
    mine = _render(_revise(paragraphs, data, "mine"), separator)
    theirs = _render(_revise(paragraphs, data, "theirs"), separator)
    ours = merge_lines(base, mine, theirs)
    git = _git_merge_file(base, mine, theirs, tmp_path_factory.mktemp("merge"))
    if ours is not None:
        # A clean merge keeps every edit and undoes none, and where git merges too it places the
        # lines the same. git may still stop at edits that only touch (a moved paragraph beside a
        # deleted one, separated by a "---" line): asking there is conservative, not a loss.
        assert _line_counts_allowed(base, mine, theirs, ours)
        # A sentence one side deleted is not back, whole or rewritten (moved and touched).
        for sentence in {line for line in base.splitlines() if line.strip("-")}:
            if not any(line.startswith(sentence) for line in mine.splitlines()) or not any(
                line.startswith(sentence) for line in theirs.splitlines()
            ):
                assert not any(line.startswith(sentence) for line in ours.splitlines())
        if git is not None:
            assert git == ours
        assert merge_lines(base, theirs, mine) == ours
    if git is not None and not _line_counts_allowed(base, mine, theirs, git):
        # git merged a moved paragraph twice, or brought a deleted one back: we ask instead.
        assert ours is None
