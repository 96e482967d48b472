"""What people saved during a fault run, and the checks that none of it was lost and that
what is left still means what people decided.

Every saved edit writes a unique token into one field of its record (an organization's
``acronym``, a material's ``title``...). A token stays *live* until someone who had seen it on
their replica saves over it or deletes the record; at the end every live token must be the
record's final value or be kept in a conflict for a person to decide. Records also know their
parents by the store's cascades (a source's incident, a material's working group, a file's
material, a membership's group and person or organization), so the end also checks the rules
of deletes (sync/ENGINE.md, "Deletes"): no record is left under a deleted parent, a saved value
under a deleted parent brought it back, a deletion nothing overruled stays (a child deleted by
itself stays deleted even when its parent comes back), and what a deletion took comes back
when its parents do.
Pure bookkeeping (no store, no network), so the checker itself is tested to catch a loss.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Lost:
    """A saved edit that is neither the final value nor kept in a conflict."""

    record: str
    token: str
    final: str | None


@dataclass
class Ledger:
    """Tokens saved per record, and what each replica has shown of them."""

    replicas: int
    #: Tokens a person saved that nobody has knowingly replaced since, per record.
    live: dict[str, set[str]] = field(default_factory=dict)
    #: Records deleted by a replica that had seen every live token of them.
    deleted: set[str] = field(default_factory=set)
    #: Of those, children deleted by themselves (not with a parent), with no value saved since.
    deleted_alone: set[str] = field(default_factory=set)
    #: Each record's parents by the cascades: it is reachable only while all of them are.
    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Every token ever saved (the run's edit count).
    saved: int = 0
    _seen: list[dict[str, set[str]]] = field(default_factory=list)
    _counter: int = 0

    def __post_init__(self) -> None:
        self._seen = [{} for _ in range(self.replicas)]

    def new_token(self) -> str:
        self._counter += 1
        return f"T{self._counter}"

    def created(self, replica: int, record: str, token: str, parents: Iterable[str] = ()) -> None:
        self.saved += 1
        self.live[record] = {token}
        self.parents[record] = tuple(parents)
        self._seen[replica][record] = {token}
        self._overrule(record)

    def edited(self, replica: int, record: str, shown: str | None, token: str) -> None:
        """A person on ``replica`` saw ``shown`` (and earlier values there) and saved ``token``."""
        self.saved += 1
        replaced = self._shown(replica, record, shown)
        self.live[record] = (self.live.get(record, set()) - replaced) | {token}
        self._seen[replica].setdefault(record, set()).add(token)
        self._overrule(record)

    def _overrule(self, record: str) -> None:
        """A value saved in ``record`` where its deletion, or one of a record above it, had not
        arrived yet: it beats those deletions, for good. The record and those above it live
        again (even if the value is later deleted by itself: a material added to a deleted
        group brings the group back, and the group stays when the material is deleted), and a
        later deletion of a parent takes the record like any other child."""
        for overruled in {record} | self.ancestors(record):
            self.deleted.discard(overruled)
            self.deleted_alone.discard(overruled)

    def removed(self, replica: int, record: str, shown: str | None, *, alone: bool = False) -> None:
        """A person on ``replica`` deleted the record they saw as ``shown``: by itself
        (``alone``: a child such as a membership or a material), or with its parent."""
        self.live[record] = self.live.get(record, set()) - self._shown(replica, record, shown)
        # A value saved under it that this person had not seen (added or edited elsewhere
        # before the deletion arrived there) overrules the deletion from the start, also once
        # that value is itself deleted later (an overruled deletion is not made again). Only
        # values unseen here: the children the store takes with a parent may be booked after
        # it (Run.delete books a group, then its material, then the material's file), and what
        # this person saw of them is replaced by the same deletion, not a reason against it.
        seen = self._seen[replica]
        unseen_below = any(
            self.live.get(child, set()) - seen.get(child, set())
            for child in self.descendants(record)
        )
        if not self.live[record] and not unseen_below:
            self.deleted.add(record)
            if alone:
                self.deleted_alone.add(record)

    def observe(self, replica: int, values: Mapping[str, str | None]) -> None:
        """What ``replica`` shows now (after a sync): the person there has seen it."""
        for record, value in values.items():
            if value is not None:
                self._seen[replica].setdefault(record, set()).add(value)

    def _shown(self, replica: int, record: str, shown: str | None) -> set[str]:
        return self._seen[replica].get(record, set()) | ({shown} if shown is not None else set())

    def ancestors(self, record: str) -> set[str]:
        return ancestors(self.parents, record)

    def descendants(self, record: str) -> set[str]:
        return {child for child in self.parents if record in self.ancestors(child)}

    @property
    def checked(self) -> int:
        """Edits whose survival the check verifies (those still live)."""
        return sum(len(tokens) for tokens in self.live.values())


def ancestors(parents: Mapping[str, Iterable[str]], record: str) -> set[str]:
    """The record's parents, theirs, and so on up the cascades."""
    found: set[str] = set()
    below = list(parents.get(record, ()))
    while below:
        parent = below.pop()
        if parent not in found:
            found.add(parent)
            below.extend(parents.get(parent, ()))
    return found


def lost_edits(
    ledger: Ledger,
    finals: Mapping[str, str | None],
    kept_in_conflicts: Mapping[str, Iterable[object]],
) -> list[Lost]:
    """Live tokens that are neither ``finals[record]`` nor among that record's conflict values.

    A record whose every token was knowingly replaced by a deletion must be gone (``None``);
    one that still holds live tokens after a deletion elsewhere must show them or keep them.
    """
    lost: list[Lost] = []
    for record, tokens in sorted(ledger.live.items()):
        final = finals.get(record)
        kept = set(kept_in_conflicts.get(record, ()))
        lost.extend(
            Lost(record, token, final)
            for token in sorted(tokens)
            if token != final and token not in kept
        )
    return lost


def orphans(ledger: Ledger, present: Collection[str]) -> list[str]:
    """Records present whose parent is not: stored and synced, reachable from no screen."""
    return sorted(r for r in present if any(p not in present for p in ledger.parents.get(r, ())))


def overruled(ledger: Ledger) -> set[str]:
    """Records above a saved value nobody replaced: an edit or addition under a deletion beats
    it, so each of them must be back (or never have gone)."""
    return {a for record, tokens in ledger.live.items() if tokens for a in ledger.ancestors(record)}


def not_brought_back(ledger: Ledger, present: Collection[str]) -> list[str]:
    """Deleted records that a saved value under them should have brought back."""
    return sorted(r for r in overruled(ledger) if r not in present)


def not_back_with_parents(ledger: Ledger, present: Collection[str]) -> list[str]:
    """Children a deletion took, by someone who had seen all of them, missing at the end though
    every parent they have is back: a deletion and what it took are one decision, so when an
    edit beats it everything it took comes back (ENGINE.md, "Deletes", rule 2). Not a child
    deleted by itself, nor one whose other parent's deletion still stands."""
    return sorted(
        record
        for record in ledger.deleted - ledger.deleted_alone
        if record not in present
        and not ledger.live.get(record)
        and ledger.parents.get(record)
        and all(parent in present for parent in ledger.parents[record])
    )


def open_case(
    ledger: Ledger, record: str, removed_alone: Collection[str], taken_unsent: Collection[str]
) -> bool:
    """Whether ``record``, missing though its parents are back (``not_back_with_parents``), is
    the open case of ENGINE.md "Deletes" (seed 20261125), reported apart rather than failed:
    a record some replica deleted by itself, with values under it that a deletion of a parent
    above took before they were ever synced. Any other record missing so fails the run."""
    return record in removed_alone and bool(set(taken_unsent) & ledger.descendants(record))


def resurrected(ledger: Ledger, present: Collection[str]) -> list[str]:
    """Records deleted by someone who had seen every saved value, yet present at the end with
    nothing to explain it. A deletion is overruled only by a value saved under the record; a
    child deleted with its parent comes back when all its parents are back (the deletion and
    what it took are one decision); a child deleted by itself never comes back with them."""
    over = overruled(ledger)
    back = []
    for record in sorted(ledger.deleted):
        if ledger.live[record] or record not in present or record in over:
            continue
        parents = ledger.parents.get(record, ())
        with_its_parents = bool(parents) and all(p in present for p in parents)
        if record in ledger.deleted_alone or not with_its_parents:
            back.append(record)
    return back
