"""Three-way merge of a record's content, field by field, by rules given as plain data.

Used when a push meets a newer revision: base (last synced), mine (local), theirs (server).
Nothing is decided by a clock, and no edit is dropped: what cannot merge is a ``FieldConflict``.

**Decision marks** (``DECIDED``, issue 14 seed 57). A person who settles a conflict by keeping
the value the field holds writes nothing new; sent as it is, that revision would equal the one
before, and a value chosen apart on another device, arriving next against that earlier
revision, would pass for "changed there only" and win unseen. So such a choice adds a mark to
the content: ``content["decided"] = {field: token}``, a random token per decision, inside the
sealed content and so under the author's signature like every other field. A field whose mark
changed on a side counts as changed on that side though its value did not:

- a decision there that kept the base's value, met by another value here (or the reverse), is a
  conflict whatever the field's rule (no rule can tell a kept value from "untouched");
- two decisions for the same value apart are no conflict (the values agree; theirs's mark is
  kept, so a third value chosen apart still meets one).

Marks are bounded: one per field, the latest decision's (a new decision replaces it), dropped
when the field is next edited normally (``RecordStore.save``) and, in a merge, the field's mark
follows the value taken: theirs's when theirs is taken or the field conflicts (the record holds
theirs), mine's when mine is, none for a value combined from both (a new value nobody decided
as such). A version of the app before marks keeps ``decided`` as a field of a newer format:
carried unchanged, merged by the ``value`` rule.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from sync.client.diff3 import merge_lines


class MergeRule(StrEnum):
    """Per-field rules; the values are those of ``desktop.domain.fields.Merge``.

    The sync package may not depend on the desktop one, so the engine passes the rules in as
    plain data: ``{name: spec.merge.value}``.
    """

    VALUE = "value"
    LINES = "lines"
    SET = "set"
    APPEND = "append"


class MergeFlag(StrEnum):
    """Something a person should be told although nothing conflicts."""

    #: I edited, they deleted: the record is kept with my edit ("deleted elsewhere").
    DELETED_ELSEWHERE = "deleted_elsewhere"
    #: I deleted, they edited: the record is kept with their edit (my deletion undone).
    EDITED_ELSEWHERE = "edited_elsewhere"
    #: An append-only entry with one id but two contents: ``merged`` holds one, ``duplicate``
    #: the other, to be saved as a new entry — entries never conflict and never vanish.
    DUPLICATE_ENTRY = "duplicate_entry"
    #: A record deleted here (or by someone) came back, because someone edited it or something
    #: recorded under it, with everything its deletion took (the store's ``keep_together``).
    RESTORED = "restored"


_MIRROR = {
    MergeFlag.DELETED_ELSEWHERE: MergeFlag.EDITED_ELSEWHERE,
    MergeFlag.EDITED_ELSEWHERE: MergeFlag.DELETED_ELSEWHERE,
    MergeFlag.DUPLICATE_ENTRY: MergeFlag.DUPLICATE_ENTRY,
    MergeFlag.RESTORED: MergeFlag.RESTORED,
}


def mirrored(flags: frozenset[MergeFlag]) -> frozenset[MergeFlag]:
    """The flags the other side would see for the same merge."""
    return frozenset(_MIRROR[flag] for flag in flags)


@dataclass(frozen=True)
class FieldConflict:
    """Both sides changed ``field`` differently and its rule cannot combine them.

    ``None`` stands for a field absent on that side. Shown to a person as mine / theirs / edit.
    """

    field: str
    base: Any
    mine: Any
    theirs: Any

    def mirrored(self) -> FieldConflict:
        return FieldConflict(self.field, self.base, self.theirs, self.mine)


@dataclass(frozen=True)
class MergeResult:
    """``merged`` is ``None`` when the record ends deleted.

    For a conflicting field ``merged`` holds **theirs** (what every other device already has)
    until a person decides, and mine is kept in the conflict: an open conflict changes nothing
    anyone else sees, so a deletion or an edit already made elsewhere is never undone before
    someone chose it, and neither value is lost.
    """

    merged: dict[str, Any] | None
    conflicts: list[FieldConflict] = field(default_factory=list)
    flags: frozenset[MergeFlag] = frozenset()
    duplicate: dict[str, Any] | None = None


class _Absent:
    """A field one side does not have (an older schema, or removed): not the same as ``None``."""

    def __repr__(self) -> str:
        return "ABSENT"


_ABSENT: Any = _Absent()

#: The content key holding decision marks: field → token of the latest kept-value decision.
DECIDED = "decided"


#: A decision token's longest text: ``resolve_conflict`` writes 16 hex digits (64 random bits).
MAX_MARK_CHARS = 64


def decision_marks(content: Mapping[str, Any] | None) -> dict[str, str]:
    """The decision marks of a content: field → token, each a text of 1 to ``MAX_MARK_CHARS``
    characters. Anything else a member's app put in ``decided`` (another shape, tokens that are
    not texts or are longer) is no mark: ignored here, and not stored beside the record
    (``open_content``), so an honest edit never seals it back."""
    marks = (content or {}).get(DECIDED)
    if not isinstance(marks, dict):
        return {}
    return {
        name: token
        for name, token in marks.items()
        if isinstance(name, str) and isinstance(token, str) and 0 < len(token) <= MAX_MARK_CHARS
    }


def put_marks(content: dict[str, Any], marks: Mapping[str, str]) -> None:
    """Make ``marks`` the decision marks of ``content`` (in place): its key goes when there are
    none, so no empty ``decided`` is ever sealed."""
    content.pop(DECIDED, None)
    if marks:
        content[DECIDED] = dict(marks)


def _canonical(value: Any) -> str:
    # Stricter than ==, which takes True for 1 and 1.0 for 1: a type change is a change.
    if value is _ABSENT:
        return "\x00absent"  # not a JSON text, so equal to no value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)


def _same(a: Any, b: Any) -> bool:
    return _canonical(a) == _canonical(b)


def _three_way(base: Any, mine: Any, theirs: Any) -> tuple[bool, Any]:
    """(settled, value) by the VALUE rule; unsettled means both changed it differently."""
    if _same(mine, theirs) or _same(theirs, base):
        return True, mine
    if _same(mine, base):
        return True, theirs
    return False, mine


def _merge_set(base: Any, mine: Any, theirs: Any) -> Any:
    if not all(isinstance(v, list | None) for v in (base, mine, theirs)):
        return None  # not a set on some side: let the VALUE rule decide
    settled, value = _three_way(base, mine, theirs)
    if settled:
        return value
    keyed = {_canonical(item): item for item in (*(base or []), *(mine or []), *(theirs or []))}
    in_base = {_canonical(item) for item in base or []}
    in_mine = {_canonical(item) for item in mine or []}
    in_theirs = {_canonical(item) for item in theirs or []}
    kept = (in_base & in_mine & in_theirs) | (in_mine - in_base) | (in_theirs - in_base)
    return [keyed[key] for key in sorted(kept)]


def _entry_order(entry: Any) -> tuple[str, str, str]:
    if isinstance(entry, dict):
        return (str(entry.get("at", "")), str(entry.get("id", "")), _canonical(entry))
    return ("", "", _canonical(entry))


def _merge_append(base: Any, mine: Any, theirs: Any) -> Any:
    if not all(isinstance(v, list | None) for v in (base, mine, theirs)):
        return None
    if _same(mine, theirs):
        return mine
    # One side only appended: take it as it is. Anything else (including a side that lost
    # entries, which only a bug or a hostile peer does) becomes the union.
    held = {_canonical(entry) for entry in base or []}
    for side, other in ((mine, theirs), (theirs, mine)):
        if _same(other, base) and held <= {_canonical(entry) for entry in side or []}:
            return side
    # The union: an entry is never removed or changed, so every entry any side holds stays.
    # Equal entries count once; ordered by the entry's own time, id, then content, so both
    # sides get the same list (the time orders the log for reading; it decides nothing).
    union = {_canonical(e): e for e in (*(base or []), *(mine or []), *(theirs or []))}
    return sorted(union.values(), key=_entry_order)


_COMBINERS: dict[MergeRule, Callable[[Any, Any, Any], Any]] = {MergeRule.SET: _merge_set}


def _against_choice(question: Any, mine: Any, theirs: Any, rule: MergeRule) -> tuple[bool, Any]:
    """(settled, value) for a field whose mine is a person's choice of the value it held, met
    by another value: both count as changes made apart from the question's base, so they merge
    only where the field's rule combines two changes, and otherwise conflict. A choice that
    keeps the held value writes nothing new, so against the held value it would pass for
    "unchanged here" and lose unseen to whatever else arrives."""
    if _same(theirs, question) or _same(mine, question):
        return False, mine  # one side went back to the question's base: no rule combines that
    parts = (question, mine, theirs)
    if rule is MergeRule.SET:
        combined = _merge_set(*(None if v is _ABSENT else v for v in parts))
        return combined is not None, mine if combined is None else combined
    if rule is MergeRule.LINES and all(isinstance(v, str) for v in parts):
        text = merge_lines(question, mine, theirs)
        if text is None or _restores_removed(mine, theirs, text):
            return False, mine
        return True, text
    return False, mine


def _restores_removed(held: str, met: str, merged: str) -> bool:
    """Whether ``merged`` holds a line more often than ``met`` does where ``met`` has it less
    often than ``held``. The value met was written over the held one (the server takes each
    revision over the one before), so a line of the held text missing from it was removed by
    someone who had it in view (its writer refining it, or another person choosing against
    it); merged against the question's base, where that line may never have been, the removal
    would read as "not changed there" and the kept copy would bring it back unseen."""
    counts = [Counter(text.splitlines()) for text in (held, met, merged)]
    kept, came, result = counts
    return any(result[line] > came[line] for line in kept if kept[line] > came[line])


def _merge_fields(
    base: Mapping[str, Any],
    mine: Mapping[str, Any],
    theirs: Mapping[str, Any],
    rules: Mapping[str, str],
    chosen: Mapping[str, Any],
) -> tuple[dict[str, Any], list[FieldConflict]]:
    merged: dict[str, Any] = {}
    conflicts: list[FieldConflict] = []
    marks = [decision_marks(side) for side in (base, mine, theirs)]
    kept_marks: dict[str, str] = {}
    names = [n for n in dict.fromkeys([*mine, *theirs, *base]) if n != DECIDED]
    for name in names:
        b, m, t = (side.get(name, _ABSENT) for side in (base, mine, theirs))
        bm, mm, tm = (side.get(name) for side in marks)
        # A new mark: a person on that side decided this field (maybe keeping its value).
        decided_here = mm is not None and mm != bm
        decided_there = tm is not None and tm != bm
        rule = MergeRule(rules.get(name, MergeRule.VALUE))
        mark: str | None = None
        if name in chosen and rule is not MergeRule.APPEND and _same(m, b) and not _same(t, b):
            # A person here chose the value held (nothing edited since) and another value came
            # meanwhile, made without that choice in view: a person sees both.
            question = chosen[name]
            settled, value = _against_choice(question, m, t, rule)
            if not settled:
                conflicts.append(
                    FieldConflict(name, *(None if v is _ABSENT else v for v in (question, m, t)))
                )
                value, mark = t, tm
        elif (
            rule is not MergeRule.APPEND
            and not _same(m, t)
            and (
                (decided_there and _same(t, b) and not _same(m, b))
                or (decided_here and _same(m, b) and not _same(t, b))
            )
        ):
            # One side decided to keep the value both had, the other holds another value made
            # without that decision in view: both are decisions, a person sees them.
            conflicts.append(FieldConflict(name, *(None if v is _ABSENT else v for v in (b, m, t))))
            value, mark = t, tm
        else:
            settled, value = _three_way(b, m, t)
            if rule is MergeRule.APPEND:
                # Not the one-side-changed shortcut: a side that dropped an entry must not win.
                union = _merge_append(*(None if v is _ABSENT else v for v in (b, m, t)))
                if union is not None:
                    settled, value = True, union
            elif not settled and rule in _COMBINERS:
                combined = _COMBINERS[rule](*(None if v is _ABSENT else v for v in (b, m, t)))
                settled, value = combined is not None, m if combined is None else combined
            elif (
                not settled
                and rule is MergeRule.LINES
                and all(isinstance(v, str) for v in (b, m, t))
            ):
                text = merge_lines(b, m, t)
                settled, value = text is not None, m if text is None else text
            if not settled:
                conflicts.append(
                    FieldConflict(name, *(None if v is _ABSENT else v for v in (b, m, t)))
                )
                value = t  # what the others hold stays until a person decides (MergeResult)
            mark = _mark_for(value, m, t, mm, tm, decided_there)
        if value is not _ABSENT:
            merged[name] = value
        if mark is not None:
            kept_marks[name] = mark
    if kept_marks:
        merged[DECIDED] = kept_marks
    return merged, conflicts


def _mark_for(
    value: Any, mine: Any, theirs: Any, mine_mark: str | None, their_mark: str | None, there: bool
) -> str | None:
    """The decision mark that goes with the value a field settled on: the mark of the side
    whose value was taken (theirs's when both agree and theirs decided), none for a value
    combined from both sides."""
    if _same(value, theirs) and (there or not _same(value, mine) or mine_mark is None):
        return their_mark
    if _same(value, mine):
        return mine_mark
    return None


def merge(
    base: Mapping[str, Any] | None,
    mine: Mapping[str, Any] | None,
    theirs: Mapping[str, Any] | None,
    rules: Mapping[str, str],
    append_only: bool = False,
    chosen: Mapping[str, Any] | None = None,
) -> MergeResult:
    """Merge a record's content three ways; ``None`` on a side means deleted (or never existed).

    Args:
        base: the last version both sides had (``None``: created on both sides with one id,
            merged as if from nothing).
        mine: the local version (``None``: deleted here).
        theirs: the server's version (``None``: deleted there).
        rules: field name → ``MergeRule`` value; a field without a rule merges as ``value``.
        append_only: a log entry (FollowUp, SignOn, Action): never a conflict.
        chosen: field → the base value of a conflict a person here settled by keeping what
            the field held (base's value), not yet sent: if theirs holds another value, the
            choice and that value merge against this base by the field's rule, or conflict.
            Without that base (a decision made elsewhere, known only by its mark in the
            content, ``DECIDED``), a kept value met by another one is a conflict.
    """
    if mine is None or theirs is None:
        present = theirs if mine is None else mine
        if present is None:  # deleted on both sides
            return MergeResult(None)
        # A choice here that kept the value held is an edit too, though it wrote nothing new:
        # made without the deletion in view, it beats it as any edit does (seed 83).
        # (Once it carries its decision mark, ``DECIDED``, it differs from base anyway.)
        decided = mine is not None and bool(chosen)
        if base is None or (_same(dict(present), dict(base)) and not decided):
            # Created on one side only, or deleted on one side and untouched on the other.
            return MergeResult(dict(present) if base is None else None)
        flag = MergeFlag.DELETED_ELSEWHERE if mine is not None else MergeFlag.EDITED_ELSEWHERE
        return MergeResult(dict(present), flags=frozenset({flag}))
    if append_only:
        if _same(dict(mine), dict(theirs)) or (
            base is not None and _same(dict(theirs), dict(base))
        ):
            return MergeResult(dict(mine))
        if base is not None and _same(dict(mine), dict(base)):
            return MergeResult(dict(theirs))
        # Entries are written once; two contents under one id come from a create on both
        # sides. Keep both: one here, the other to be saved as a new entry. Which is which
        # is decided by content, never by who synced first.
        first, second = sorted((dict(mine), dict(theirs)), key=_canonical)
        return MergeResult(first, flags=frozenset({MergeFlag.DUPLICATE_ENTRY}), duplicate=second)
    merged, conflicts = _merge_fields(base or {}, mine, theirs, rules, chosen or {})
    return MergeResult(merged, conflicts)


@dataclass(frozen=True)
class Edited:
    """A value a person typed to settle a conflict (neither mine nor theirs as they were)."""

    value: Any


Choice = Literal["mine", "theirs"] | Edited


def resolve(conflict: FieldConflict, choice: Choice) -> Any:
    """The value the person chose for the conflicting field."""
    if isinstance(choice, Edited):
        return choice.value
    if choice == "mine":
        return conflict.mine
    if choice == "theirs":
        return conflict.theirs
    raise ValueError(f"unknown choice {choice!r}")


def apply_resolution(
    merged: Mapping[str, Any], conflict: FieldConflict, choice: Choice
) -> dict[str, Any]:
    """A copy of ``merged`` with the conflict settled by ``choice``."""
    result = dict(merged)
    result[conflict.field] = resolve(conflict, choice)
    return result
