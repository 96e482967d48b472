"""Three-way record merge: each rule by example, deletions, and properties nothing may break."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from desktop.domain.fields import Merge
from desktop.domain.records import RECORD_TYPES
from sync.client.merge import (
    DECIDED,
    Edited,
    FieldConflict,
    MergeFlag,
    MergeResult,
    MergeRule,
    apply_resolution,
    merge,
    mirrored,
    resolve,
)

RULES = {"title": "value", "narrative": "lines", "rights": "set", "custody": "append"}
BASE: dict[str, Any] = {
    "title": "Eviction",
    "status": "draft",
    "narrative": "One.\nTwo.\nThree.\nFour.\n",
    "rights": ["housing", "water"],
    "custody": [{"id": "c1", "at": "2024-05-01T10:00:00Z", "action": "received"}],
}


def _with(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def test_rules_are_the_domains_rules_as_plain_data() -> None:
    assert {rule.value for rule in MergeRule} == {rule.value for rule in Merge}
    incident = RECORD_TYPES["incident"]
    rules = {spec.name: spec.merge.value for spec in incident.fields}
    assert rules["narrative"] == "lines" and rules["rights"] == "set"


def test_value_changed_on_one_side_or_alike_is_taken() -> None:
    assert merge(BASE, _with(title="Forced eviction"), BASE, RULES) == MergeResult(
        _with(title="Forced eviction")
    )
    assert merge(BASE, BASE, _with(status="verified"), RULES).merged == _with(status="verified")
    both = merge(BASE, _with(status="verified"), _with(status="verified"), RULES)
    assert both == MergeResult(_with(status="verified"))
    separate = merge(BASE, _with(title="T"), _with(status="verified"), RULES)
    assert separate == MergeResult(_with(title="T", status="verified"))


def test_value_changed_differently_is_a_conflict_holding_theirs_until_decided() -> None:
    # What every other device already has stays until a person decides; mine is in the conflict.
    result = merge(BASE, _with(title="Mine"), _with(title="Theirs"), RULES)
    assert result.conflicts == [FieldConflict("title", "Eviction", "Mine", "Theirs")]
    assert result.merged == _with(title="Theirs")
    # A type change is a change: 1 is not True.
    typed = merge({"n": 1}, {"n": True}, {"n": 2}, {})
    assert typed.conflicts == [FieldConflict("n", 1, True, 2)]


def test_long_text_merges_line_wise_or_conflicts() -> None:
    mine = _with(narrative="One.\nTwo, at dawn.\nThree.\nFour.\n")
    theirs = _with(narrative="One.\nTwo.\nThree.\nFour, by the police.\n")
    result = merge(BASE, mine, theirs, RULES)
    assert result.conflicts == []
    assert result.merged is not None
    assert result.merged["narrative"] == "One.\nTwo, at dawn.\nThree.\nFour, by the police.\n"
    clash = merge(BASE, _with(narrative="One.\nA\n"), _with(narrative="One.\nB\n"), RULES)
    assert [c.field for c in clash.conflicts] == ["narrative"]
    assert clash.merged is not None and clash.merged["narrative"] == "One.\nB\n"


def test_sets_apply_both_sides_additions_and_removals() -> None:
    mine = _with(rights=["housing", "water", "health"])
    theirs = _with(rights=["housing", "land"])
    result = merge(BASE, mine, theirs, RULES)
    assert result.conflicts == []
    assert result.merged is not None
    assert sorted(result.merged["rights"]) == ["health", "housing", "land"]


def test_append_fields_are_the_union_of_entries() -> None:
    entry_a = {"id": "c2", "at": "2024-05-03T09:00:00Z", "action": "copied"}
    entry_b = {"id": "c3", "at": "2024-05-02T09:00:00Z", "action": "sent"}
    mine = _with(custody=[*BASE["custody"], entry_a])
    theirs = _with(custody=[*BASE["custody"], entry_b])
    result = merge(BASE, mine, theirs, RULES)
    assert result.conflicts == []
    assert result.merged is not None
    assert result.merged["custody"] == [*BASE["custody"], entry_b, entry_a]
    # An entry dropped on one side comes back: a log never loses a line.
    dropped = merge(BASE, _with(custody=[]), _with(custody=[*BASE["custody"], entry_a]), RULES)
    assert dropped.merged is not None
    assert dropped.merged["custody"] == [*BASE["custody"], entry_a]
    alone = merge(BASE, _with(custody=[]), BASE, RULES)
    assert alone.merged == BASE and alone.conflicts == []


def test_append_only_records_never_conflict_and_keep_both_contents() -> None:
    mine = {"summary": "Letter sent", "kind": "letter"}
    theirs = {"summary": "Letter sent to the ministry", "kind": "letter"}
    result = merge(None, mine, theirs, {}, append_only=True)
    assert result.conflicts == []
    assert result.flags == {MergeFlag.DUPLICATE_ENTRY}
    assert {str(result.merged), str(result.duplicate)} == {str(mine), str(theirs)}
    assert merge(None, theirs, mine, {}, append_only=True) == result
    assert merge(mine, mine, theirs, {}, append_only=True) == MergeResult(theirs)
    assert merge(None, mine, dict(mine), {}, append_only=True) == MergeResult(mine)


def test_edit_against_delete_keeps_the_edit_and_says_so() -> None:
    edited = _with(title="Updated")
    kept = merge(BASE, edited, None, RULES)
    assert kept == MergeResult(edited, flags=frozenset({MergeFlag.DELETED_ELSEWHERE}))
    restored = merge(BASE, None, edited, RULES)
    assert restored == MergeResult(edited, flags=frozenset({MergeFlag.EDITED_ELSEWHERE}))


def test_deletions() -> None:
    assert merge(BASE, None, None, RULES) == MergeResult(None)
    assert merge(BASE, None, dict(BASE), RULES) == MergeResult(None)
    assert merge(BASE, dict(BASE), None, RULES) == MergeResult(None)


def test_created_on_both_sides_merges_from_nothing() -> None:
    mine = {"title": "Eviction", "status": "draft", "rights": ["water"]}
    theirs = {"title": "Eviction", "status": "verified", "rights": ["land"]}
    result = merge(None, mine, theirs, RULES)
    assert result.merged == {"title": "Eviction", "status": "verified", "rights": ["land", "water"]}
    assert result.conflicts == [FieldConflict("status", None, "draft", "verified")]
    assert merge(None, mine, None, RULES) == MergeResult(mine)
    assert merge(None, None, theirs, RULES) == MergeResult(theirs)


def test_a_field_only_one_side_has() -> None:
    # A newer schema added "region" on their side: it is kept, not a conflict.
    assert merge(BASE, BASE, _with(region="North"), RULES).merged == _with(region="North")
    removed = {k: v for k, v in BASE.items() if k != "status"}
    assert merge(BASE, removed, BASE, RULES).merged == removed
    assert merge(BASE, _with(status=None), BASE, RULES).merged == _with(status=None)


def test_resolve_with_mine_theirs_or_an_edit() -> None:
    conflict = FieldConflict("title", "Eviction", "Mine", "Theirs")
    assert resolve(conflict, "mine") == "Mine"
    assert resolve(conflict, "theirs") == "Theirs"
    assert resolve(conflict, Edited("theirs")) == "theirs"
    merged = _with(title="Mine")
    assert apply_resolution(merged, conflict, "theirs") == _with(title="Theirs")
    assert merged["title"] == "Mine"
    with pytest.raises(ValueError):
        resolve(conflict, "both")  # type: ignore[arg-type]


# --- properties ------------------------------------------------------------------------------

PROPERTY_RULES = {"a": "value", "b": "value", "text": "lines", "codes": "set", "log": "append"}
_values = st.none() | st.integers(-3, 3) | st.booleans() | st.text(max_size=3)
_codes = st.lists(st.sampled_from(["food", "water", "land", "work", "health"]), unique=True)
_text = st.lists(st.sampled_from([f"l{n}\n" for n in range(8)]), unique=True).map("".join)
_entry = st.builds(
    lambda n: {"id": f"e{n}", "at": f"2024-01-0{n % 9 + 1}", "note": f"n{n}"}, st.integers(0, 20)
)
_log = st.lists(_entry, unique_by=lambda e: e["id"], max_size=4)
_FIELDS = {"a": _values, "b": _values, "text": _text, "codes": _codes, "log": _log}
_records = st.fixed_dictionaries(_FIELDS)


@st.composite
def _triples(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A base and two sides, each side changing a random subset of the fields."""
    base = draw(_records)
    sides = []
    for _ in range(2):
        side = dict(base)
        for name in draw(st.sets(st.sampled_from(sorted(_FIELDS)))):
            side[name] = draw(_FIELDS[name])
        sides.append(side)
    return base, sides[0], sides[1]


def _conflicted(result: MergeResult) -> set[str]:
    return {c.field for c in result.conflicts}


@settings(max_examples=300, deadline=None)
@given(_triples())
def test_merge_is_symmetric(triple: tuple[dict[str, Any], ...]) -> None:
    base, mine, theirs = triple
    forward = merge(base, mine, theirs, PROPERTY_RULES)
    backward = merge(base, theirs, mine, PROPERTY_RULES)
    assert [c.mirrored() for c in forward.conflicts] == backward.conflicts
    assert forward.flags == mirrored(backward.flags)
    assert forward.merged is not None and backward.merged is not None
    for name in set(forward.merged) - _conflicted(forward):
        assert forward.merged[name] == backward.merged[name], name


@settings(max_examples=200, deadline=None)
@given(_records, _records)
def test_merge_is_idempotent_and_one_sided_edits_win(
    base: dict[str, Any], x: dict[str, Any]
) -> None:
    assert merge(base, x, x, PROPERTY_RULES) == MergeResult(x)
    assert merge(None, x, x, PROPERTY_RULES) == MergeResult(x)
    # A log only grows: a side that dropped entries does not win alone (see the example test).
    assume(all(entry in x["log"] for entry in base["log"]))
    assert merge(base, x, base, PROPERTY_RULES) == MergeResult(x)
    assert merge(base, base, x, PROPERTY_RULES) == MergeResult(x)


@settings(max_examples=300, deadline=None)
@given(_triples())
def test_no_edit_is_ever_lost(triple: tuple[dict[str, Any], ...]) -> None:
    base, mine, theirs = triple
    result = merge(base, mine, theirs, PROPERTY_RULES)
    assert result.merged is not None
    conflicted = _conflicted(result)
    for side in (mine, theirs):
        for name in ("a", "b", "text"):
            if side[name] != base[name]:
                assert (
                    name in conflicted
                    or result.merged[name] == side[name]
                    or (name == "text" and result.merged[name] != base[name])
                ), name
        added = set(side["codes"]) - set(base["codes"])
        removed = set(base["codes"]) - set(side["codes"])
        assert added <= set(result.merged["codes"])
        assert not removed & set(result.merged["codes"])
        assert all(entry in result.merged["log"] for entry in side["log"])
    # Conflicts carry both values, so a person can still choose either.
    for conflict in result.conflicts:
        assert conflict.mine == mine[conflict.field] and conflict.theirs == theirs[conflict.field]
    assert "codes" not in conflicted and "log" not in conflicted


@settings(max_examples=200, deadline=None)
@given(_triples(), st.randoms(use_true_random=False))
def test_set_merges_do_not_depend_on_order(
    triple: tuple[dict[str, Any], ...], rng: random.Random
) -> None:
    base, mine, theirs = triple
    assume(mine["codes"] != theirs["codes"])
    shuffled = [dict(side, codes=rng.sample(side["codes"], len(side["codes"]))) for side in triple]
    one = merge(base, mine, theirs, PROPERTY_RULES).merged
    other = merge(*shuffled, PROPERTY_RULES).merged
    assert one is not None and other is not None
    assert set(one["codes"]) == set(other["codes"])


@settings(max_examples=200, deadline=None)
@given(_records, _records, st.booleans())
def test_deleted_on_one_side_never_loses_the_other_sides_edit(
    base: dict[str, Any], edited: dict[str, Any], mine_deleted: bool
) -> None:
    mine, theirs = (None, edited) if mine_deleted else (edited, None)
    result = merge(base, mine, theirs, PROPERTY_RULES)
    if json.dumps(edited, sort_keys=True) == json.dumps(base, sort_keys=True):  # 0 is not False
        assert result == MergeResult(None)
    else:
        assert result.merged == edited and len(result.flags) == 1


# --- a person's choice of the value held (issue 14) -------------------------------------------
# The record held theirs of an old conflict (base "Eviction"); the person kept it. The question
# that conflict arose from had "Eviction (draft)" as its base.
QUESTION = "Eviction (draft)"


def test_a_kept_value_met_by_another_choice_is_a_conflict_not_unchanged() -> None:
    theirs = _with(title="Eviction, 14 families")
    plain = merge(BASE, BASE, theirs, RULES)
    assert plain.conflicts == [] and plain.merged == theirs  # passed by as "unchanged here"
    result = merge(BASE, BASE, theirs, RULES, chosen={"title": QUESTION})
    assert result.conflicts == [
        FieldConflict("title", QUESTION, "Eviction", "Eviction, 14 families")
    ]
    assert result.merged == theirs  # the others' value stays until a person decides


def test_a_kept_value_met_by_the_questions_base_is_a_conflict_too() -> None:
    result = merge(BASE, BASE, _with(title=QUESTION), RULES, chosen={"title": QUESTION})
    assert [c.field for c in result.conflicts] == ["title"]


def test_a_kept_value_met_by_itself_or_edited_since_merges_as_any_edit() -> None:
    # Another field moved: the kept value is still what the server holds, nothing to ask.
    other = _with(status="closed")
    assert merge(BASE, BASE, other, RULES, chosen={"title": QUESTION}) == MergeResult(other)
    # Edited here after choosing: an edit like any other, merged against the base.
    mine = _with(title="Eviction, 12 families")
    result = merge(
        BASE, mine, _with(title="Eviction, 14 families"), RULES, chosen={"title": QUESTION}
    )
    assert [c.base for c in result.conflicts] == ["Eviction"]


def test_a_kept_text_merges_with_a_refinement_elsewhere_and_asks_when_a_line_is_gone() -> None:
    # The narrative kept was the question's base with line Two rewritten; the value met changed
    # line Four of that base and has not the kept line Two: it was written over the kept text
    # (the server takes each revision over the one before), so whoever wrote it had line Two in
    # view and left it out. Merged against the question's base line Two would come back unseen
    # (rev-14): the person who chose is asked, the value met in the record meanwhile.
    question = "One.\nTwo.\nThree.\nFour.\n"
    held = "One.\nTwo, at dawn.\nThree.\nFour.\n"
    met = "One.\nTwo.\nThree.\nFour, in the rain.\n"
    base = _with(narrative=held)
    result = merge(base, base, _with(narrative=met), RULES, chosen={"narrative": question})
    assert result.conflicts == [FieldConflict("narrative", question, held, met)]
    assert result.merged == _with(narrative=met)
    # The kept text refined meanwhile by its writer on another line: merges to the refinement.
    refined = "One.\nTwo, at dawn.\nThree.\nFour, in the rain.\n"
    result = merge(base, base, _with(narrative=refined), RULES, chosen={"narrative": question})
    assert result.conflicts == [] and result.merged is not None
    assert result.merged["narrative"] == refined
    # The same line changed apart: asked.
    clash = "One.\nTwo, at noon.\nThree.\nFour.\n"
    result = merge(base, base, _with(narrative=clash), RULES, chosen={"narrative": question})
    assert [c.field for c in result.conflicts] == ["narrative"]


def test_a_kept_text_does_not_bring_back_a_line_its_writer_removed_since() -> None:
    # Badu's narrative (held, kept by the person here) added a witness's address and rewrote
    # line Four; before the choice was sent, badu removed the address for her safety.
    question = "One.\nTwo.\nThree.\nFour.\n"
    held = "One.\nShe lives at 4 Calle Luna.\nTwo.\nThree.\nFour, in the rain.\n"
    met = "One.\nTwo.\nThree.\nFour, in the rain.\n"
    base = _with(narrative=held)
    result = merge(base, base, _with(narrative=met), RULES, chosen={"narrative": question})
    # Badu's removal stands in the record and the person who chose is asked: the address is
    # never back unseen.
    assert result.conflicts == [FieldConflict("narrative", question, held, met)]
    assert result.merged == _with(narrative=met)


# --- decision marks: a choice kept and sent travels as a decision (issue 14, seed 57) ---------
# A person who kept the value held adds a mark ``decided: {field: token}`` to the content, so
# the revision sent differs from the one before and the merge on another device knows that
# field was decided there, with no ``chosen`` row (that is only on the device that chose).


def _decided(token: str, **changes: Any) -> dict[str, Any]:
    return {**_with(**changes), DECIDED: {"title": token}}


def test_a_decision_there_keeping_the_value_meets_a_value_changed_here_as_a_conflict() -> None:
    mine = _with(title="Eviction, 14 families")
    result = merge(BASE, mine, _decided("b1"), RULES)
    assert result.conflicts == [FieldConflict("title", "Eviction", mine["title"], "Eviction")]
    assert result.merged == _decided("b1")  # theirs, with its mark, until a person decides


def test_a_decision_here_keeping_the_value_meets_a_value_changed_there_as_a_conflict() -> None:
    theirs = _with(title="Eviction, 14 families")
    result = merge(BASE, _decided("a1"), theirs, RULES)
    assert result.conflicts == [FieldConflict("title", "Eviction", "Eviction", theirs["title"])]
    assert result.merged == theirs  # the mark goes with the value it vouched for


def test_a_decision_is_a_conflict_whatever_the_rule_combines() -> None:
    # A text kept there against a text edited here on other lines: no rule can tell the kept
    # text from an untouched one, so a person sees both.
    edited = "One.\nTwo.\nThree.\nFour, in the rain.\n"
    theirs = {**BASE, DECIDED: {"narrative": "b1"}}
    result = merge(BASE, _with(narrative=edited), theirs, RULES)
    assert [c.field for c in result.conflicts] == ["narrative"]
    assert result.merged == theirs


def test_the_same_value_decided_apart_is_no_conflict_and_marks_follow_the_value_taken() -> None:
    result = merge(BASE, _decided("a1"), _decided("b1"), RULES)
    assert result == MergeResult(_decided("b1"))  # theirs's mark: a third choice still meets it
    # Also when the value had moved on both sides to the same value.
    moved = _decided("b2", title="Eviction, 14 families")
    result = merge(BASE, _decided("a2", title="Eviction, 14 families"), moved, RULES)
    assert result == MergeResult(moved)
    # Another field edited here, the decision there: both kept.
    result = merge(BASE, _with(status="closed"), _decided("b1"), RULES)
    assert result == MergeResult(_decided("b1", status="closed"))
    # A decision here, another field edited there: the decision stays, to be sent.
    result = merge(BASE, _decided("a1"), _with(status="closed"), RULES)
    assert result == MergeResult(_decided("a1", status="closed"))
    # An old mark in the base, the field edited normally there (its mark dropped): the edit
    # wins as any one-sided change, and the record holds no mark for it.
    marked = _decided("old")
    edited = _with(title="Eviction, 14 families")
    assert merge(marked, marked, edited, RULES) == MergeResult(edited)
    # An old mark both sides still have is no decision: a change on one side merges as ever.
    assert merge(marked, _decided("old", title="T"), marked, RULES) == MergeResult(
        _decided("old", title="T")
    )
