"""What people saved during a fault run, and the check that none of it was lost.

Every saved edit writes a unique token into one field (``acronym``). A token stays *live* until
someone who had seen it on their replica saves over it or deletes the record; at the end every
live token must be the record's final value or be kept in a conflict for a person to decide.
Pure bookkeeping (no store, no network), so the checker itself is tested to catch a loss.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    #: Every token ever saved (the run's edit count).
    saved: int = 0
    _seen: list[dict[str, set[str]]] = field(default_factory=list)
    _counter: int = 0

    def __post_init__(self) -> None:
        self._seen = [{} for _ in range(self.replicas)]

    def new_token(self) -> str:
        self._counter += 1
        return f"T{self._counter}"

    def created(self, replica: int, record: str, token: str) -> None:
        self.saved += 1
        self.live[record] = {token}
        self._seen[replica][record] = {token}

    def edited(self, replica: int, record: str, shown: str | None, token: str) -> None:
        """A person on ``replica`` saw ``shown`` (and earlier values there) and saved ``token``."""
        self.saved += 1
        replaced = self._shown(replica, record, shown)
        self.live[record] = (self.live.get(record, set()) - replaced) | {token}
        self._seen[replica].setdefault(record, set()).add(token)

    def removed(self, replica: int, record: str, shown: str | None) -> None:
        """A person on ``replica`` deleted the record they saw as ``shown``."""
        self.live[record] = self.live.get(record, set()) - self._shown(replica, record, shown)
        if not self.live[record]:
            self.deleted.add(record)

    def observe(self, replica: int, values: Mapping[str, str | None]) -> None:
        """What ``replica`` shows now (after a sync): the person there has seen it."""
        for record, value in values.items():
            if value is not None:
                self._seen[replica].setdefault(record, set()).add(value)

    def _shown(self, replica: int, record: str, shown: str | None) -> set[str]:
        return self._seen[replica].get(record, set()) | ({shown} if shown is not None else set())

    @property
    def checked(self) -> int:
        """Edits whose survival the check verifies (those still live)."""
        return sum(len(tokens) for tokens in self.live.values())


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


def resurrected(ledger: Ledger, finals: Mapping[str, str | None]) -> list[str]:
    """Records deleted by someone who had seen every saved edit, yet present at the end."""
    return sorted(r for r in ledger.deleted if not ledger.live[r] and finals.get(r) is not None)
