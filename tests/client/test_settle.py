"""Settling a remote version against the local record: clean takes theirs, dirty merges,
display stamps never conflict, append-only duplicates keep both entries."""

from __future__ import annotations

from sync.client.engine import settle
from sync.client.merge import MergeFlag
from sync.client.state import LocalRecord, MergeRules, RemoteRecord

RULES = MergeRules(fields={"name": "value", "notes": "lines"}, stamps=("updated_at",))


def _local(content: dict[str, object] | None, base: dict[str, object], dirty: bool) -> LocalRecord:
    return LocalRecord("s", "r", 1, content, base, dirty, RULES)


def _remote(content: dict[str, object] | None) -> RemoteRecord:
    return RemoteRecord("s", "r", 2, "a" * 32, content)


BASE = {"name": "A", "notes": "1\n2\n3\n", "updated_at": "2026-01-01T00:00:00Z"}


def test_a_clean_record_takes_the_remote_version() -> None:
    theirs = {**BASE, "name": "B"}
    settlement = settle(_local(BASE, BASE, dirty=False), _remote(theirs), RULES)
    assert (settlement.content, settlement.dirty, settlement.conflicts) == (theirs, False, ())


def test_stamps_take_the_later_text_and_never_conflict() -> None:
    mine = {**BASE, "notes": "0\n1\n2\n3\n", "updated_at": "2026-03-01T00:00:00Z"}
    theirs = {**BASE, "notes": "1\n2\n3\n4\n", "updated_at": "2026-02-01T00:00:00Z"}
    settlement = settle(_local(mine, BASE, dirty=True), _remote(theirs), RULES)
    assert settlement.conflicts == ()
    assert settlement.content == {
        "name": "A",
        "notes": "0\n1\n2\n3\n4\n",
        "updated_at": "2026-03-01T00:00:00Z",
    }
    assert settlement.dirty


def test_a_dirty_record_equal_to_theirs_after_merging_is_clean() -> None:
    theirs = {**BASE, "name": "B", "updated_at": "2026-02-01T00:00:00Z"}
    mine = {**BASE, "name": "B", "updated_at": "2026-03-01T00:00:00Z"}
    settlement = settle(_local(mine, BASE, dirty=True), _remote(theirs), RULES)
    assert (settlement.content, settlement.dirty) == (theirs, False)


def test_an_append_only_entry_with_two_contents_keeps_both() -> None:
    rules = MergeRules(fields={"summary": "value"}, append_only=True)
    mine, theirs = {"summary": "letter sent"}, {"summary": "reply received"}
    local = LocalRecord("s", "r", 0, mine, None, True, rules)
    settlement = settle(local, _remote(theirs), rules)
    assert (settlement.content, settlement.duplicate) == (theirs, mine)
    assert settlement.flags == frozenset({MergeFlag.DUPLICATE_ENTRY})
    assert not settlement.dirty and settlement.conflicts == ()


def test_a_kept_value_not_yet_sent_meets_a_value_settled_elsewhere_as_a_conflict() -> None:
    """A person here settled a conflict by keeping the held name (``A``; the conflict arose
    from ``Q``): nothing changed, but a ``C`` arriving is shown, not taken as unchanged here."""
    local = LocalRecord("s", "r", 1, BASE, BASE, True, RULES, chosen={"name": "Q"})
    settlement = settle(local, _remote({**BASE, "name": "C"}), RULES)
    assert [(c.base, c.mine, c.theirs) for c in settlement.conflicts] == [("Q", "A", "C")]
    assert settlement.content is not None and settlement.content["name"] == "C"
    assert not settle(
        _local(BASE, BASE, dirty=True), _remote({**BASE, "name": "C"}), RULES
    ).conflicts


def test_a_child_deleted_alone_here_and_with_its_parent_there_still_goes_out() -> None:
    """rev-nest: deleted on both sides, here by itself (``alone``) and there with its parent.
    Taking theirs dropped the fact: a device that deleted the parent brought the child back
    with it when an edit beat that deletion. Ours stays to be pushed over theirs; the other
    way round, or both alike, nothing is left to push."""
    rules = MergeRules(fields={"name": "value"})

    def local(alone: bool) -> LocalRecord:
        return LocalRecord("s", "r", 1, None, None, True, rules, alone=alone)

    def remote(alone: bool) -> RemoteRecord:
        return RemoteRecord("s", "r", 2, "a" * 32, None, alone=alone)

    ours = settle(local(alone=True), remote(alone=False), rules)
    assert (ours.content, ours.dirty) == (None, True)
    for mine, theirs in ((False, False), (False, True), (True, True)):
        settlement = settle(local(alone=mine), remote(alone=theirs), rules)
        assert (settlement.content, settlement.dirty) == (None, False), (mine, theirs)


def test_a_mark_about_a_whole_content_is_never_a_conflict_and_vouches_for_its_own_side() -> None:
    """Two devices brought one record back (no base) as each last had it, each marking its
    content (the store's ``came_back_unchanged``): the marks are not merged as fields (no
    conflict on them); the merged content keeps the mark of the side it equals, theirs first,
    and none when it is merged from both."""
    rules = MergeRules(fields={"name": "value", "notes": "lines"}, marks=("mark",))
    mine = {"name": "A", "notes": "1\n", "mark": "m" * 32}
    theirs = {"name": "A", "notes": "1\n", "mark": "t" * 32}
    local = LocalRecord("s", "r", 0, mine, None, True, rules)
    same = settle(local, _remote(theirs), rules)
    assert (same.content, same.dirty, same.conflicts) == (theirs, False, ())
    other = {"name": "B", "notes": "1\n", "mark": "t" * 32}
    asked = settle(local, _remote(other), rules)
    assert [c.field for c in asked.conflicts] == ["name"]
    assert asked.content is not None and asked.content["mark"] == "t" * 32  # theirs held
    edited = {**mine, "notes": "0\n1\n"}
    based = LocalRecord("s", "r", 1, edited, {"name": "A", "notes": "1\n"}, True, rules)
    both = settle(based, _remote({**theirs, "notes": "1\n2\n"}), rules)
    assert both.conflicts == () and both.content == {"name": "A", "notes": "0\n1\n2\n"}
