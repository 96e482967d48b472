"""What the sync engine needs from the local store, as a Protocol the encrypted profile implements.
Plain data in and out (dicts of record content, blobs, ids): sync never imports desktop."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sync.client.merge import FieldConflict, MergeFlag
from sync.crypto.keys import DeviceKeys, KeyPins
from sync.protocol import Role

#: A record's content as sealed: the record's own fields plus its identity (type, schema, id,
#: space, created/updated stamps), never the local bookkeeping (revision, dirty).
Content = dict[str, Any]


@dataclass(frozen=True)
class MergeRules:
    """How one record type merges, as plain data from the domain's field declarations.

    Attributes:
        fields: field name → ``MergeRule`` value (``value``, ``lines``, ``set``, ``append``).
        append_only: a log entry type (FollowUp, SignOn, Action): never a conflict.
        stamps: display-only timestamps (``updated_at``): the later of the two texts is kept
            and they never conflict. They order nothing and decide nothing.
        marks: a side's mark about its whole content (the store's ``came_back_unchanged``):
            never merged nor asked about; the merged content keeps the mark of the side it
            equals (theirs first), and none when it equals neither.
    """

    fields: Mapping[str, str] = field(default_factory=dict)
    append_only: bool = False
    stamps: tuple[str, ...] = ()
    marks: tuple[str, ...] = ()


@dataclass(frozen=True)
class PendingChange:
    """A dirty record not yet sealed: what it is now, and the revision the edit started from.

    ``content`` is ``None`` for a deletion. ``base`` is 0 for a record never synced.
    """

    space: str
    record: str
    base: int
    content: Content | None
    #: A deletion of a child (act, source, evidence, follow-up) a person deleted by itself,
    #: not with its incident: sealed inside its tombstone (CRYPTO.md §2 "Tombstone facts").
    alone: bool = False


@dataclass(frozen=True)
class OutboxEntry:
    """A sealed mutation waiting for the server's answer.

    Kept until answered, so a push re-sent after a dropped connection carries the same
    mutation id and the same bytes: the server answers it as already applied, never twice.
    ``content`` is what was sealed (``None``: a deletion); it becomes the base when accepted.
    """

    mutation_id: str
    space: str
    record: str
    base: int
    blob: bytes
    content: Content | None


@dataclass(frozen=True)
class SentBatch:
    """A sealed batch sent or about to be sent, kept until the server answers it.

    Its bytes go again unchanged after a lost answer, so the server recognises it by id and
    answers as the first time (PROTOCOL.md §13) instead of judging it again."""

    space: str
    batch_id: str
    blob: bytes
    #: Server errors (5xx) answered for it in a row, since ``failing_since`` (Unix seconds).
    failures: int = 0
    failing_since: float | None = None
    #: Set aside after failing too long: never sent again; its records go one by one.
    set_aside: bool = False


@dataclass(frozen=True)
class LocalRecord:
    """One record as this device holds it, for a merge.

    ``revision`` is the last server revision merged in (the base revision); ``content`` is
    ``None`` for a tombstone; ``base`` the content at ``revision`` (``None`` if unknown or a
    tombstone); ``dirty`` says local edits wait to be pushed. ``chosen``: fields where a
    person here settled a conflict by keeping the value held (not sent yet), each with the
    conflict's base: what that choice is merged against if another value arrives (``merge``).
    """

    space: str
    record: str
    revision: int
    content: Content | None
    base: Content | None
    dirty: bool
    rules: MergeRules
    chosen: Mapping[str, Any] = field(default_factory=dict)
    #: A tombstone of a child deleted by itself (what a compaction re-seals in its facts).
    alone: bool = False


@dataclass(frozen=True)
class RemoteRecord:
    """A verified, decrypted record from the server (``content`` ``None``: a signed tombstone)."""

    space: str
    record: str
    revision: int
    author: str
    content: Content | None
    #: The verified sealed blob and the space seq it came at, kept so a courier bundle can
    #: hand this version on exactly as the server did (``None``/0 when not known).
    blob: bytes | None = None
    seq: int = 0
    #: Delivered in an admin's snapshot (batch kind 2): ``author`` is the admin who vouched
    #: for this version of a departed member's record, not the one who wrote it (CRYPTO.md §5).
    vouched: bool = False
    #: The verified sealed batch this version came in (``blob`` is then ``None``) and its entry
    #: there: kept so a bundle can hand the version on inside that batch (PROTOCOL.md §12.3).
    batch: bytes | None = None
    batch_index: int = 0
    #: A signed tombstone that says it took a child deleted by itself, not with its incident
    #: (CRYPTO.md §2 "Tombstone facts"): an edit beating the incident's deletion never brings
    #: it back (ENGINE.md "Edit beats delete").
    alone: bool = False


@dataclass(frozen=True)
class Settlement:
    """What to store for one record after a remote version arrived.

    Attributes:
        remote: the server's version, which becomes the new base (at its revision).
        content: what the record is now (``None``: deleted).
        dirty: local changes remain to be pushed on top of ``remote``.
        conflicts: fields a person must settle (``content`` holds mine meanwhile).
        flags: things a person should be told (edit kept over a deletion...).
        duplicate: an append-only entry's second content, to be saved as a new entry.
    """

    remote: RemoteRecord
    content: Content | None
    dirty: bool
    conflicts: tuple[FieldConflict, ...] = ()
    flags: frozenset[MergeFlag] = frozenset()
    duplicate: Content | None = None


@dataclass(frozen=True)
class ConflictValue:
    """A value someone saved for a field, not chosen yet: ``author`` is the device that wrote
    it (empty: this device), ``at`` its record's ``updated_at`` stamp where known."""

    value: Any
    author: str = ""
    at: str = ""


@dataclass(frozen=True)
class Accepted:
    """The server took ``entry`` at ``revision`` (space ``seq``; 0 when not known)."""

    entry: OutboxEntry
    revision: int
    seq: int = 0
    #: The batch this device sealed the entry in (and the entry's index there), when it went
    #: in one: what a bundle carries instead of an envelope of its own.
    batch: bytes | None = None
    batch_index: int = 0
    #: A signed tombstone that says it took a child deleted by itself, not with its incident
    #: (CRYPTO.md §2 "Tombstone facts"): an edit beating the incident's deletion never brings
    #: it back (ENGINE.md "Edit beats delete").
    alone: bool = False


@dataclass(frozen=True)
class StoredConflict:
    """A conflict or flag kept for a person. ``field`` is ``None`` for a flag.

    ``arose`` is what the record held for the field when the conflict was kept, ``current``
    what it holds now (they differ when the field moved since: resolving merges against it);
    ``others`` are values of earlier conflicts on the same field that nobody chose yet.
    """

    id: int
    space: str
    record: str
    kind: str
    field: str | None
    base: Any
    mine: Any
    theirs: Any
    arose: Any = None
    current: Any = None
    others: tuple[ConflictValue, ...] = ()
    mine_at: str = ""
    theirs_author: str = ""
    theirs_at: str = ""
    #: Theirs came in an admin's snapshot: ``theirs_author`` vouched for it (CRYPTO.md §5).
    theirs_vouched: bool = False

    @property
    def moved_since(self) -> bool:
        """The field holds another value than when the conflict was kept (someone changed it)."""
        return self.field is not None and self.current != self.arose


@dataclass(frozen=True)
class StoredWrap:
    space: str
    epoch: int
    issuer: str
    wrap: bytes


@dataclass(frozen=True)
class FirstUse:
    """A space whose genesis statement this device trusted on first use (found by discovery).

    ``fingerprint`` is the creating admin's device fingerprint as shown (six groups of five
    digits): the person compares it with the admin out of band before trusting the network.
    """

    space: str
    admin_device: str
    fingerprint: str


@dataclass(frozen=True)
class LocalInvite:
    """An invite this device made: the role the admin chose, and the hash of the space's
    statement at that moment (what the code commits the newcomer to)."""

    code: str
    space: str
    role: Role
    statement: bytes


class SyncState(Protocol):
    """The local store as the engine sees it. Each method is one transaction.

    Writes that belong together (a page and its cursor; an answer and its outbox row) are one
    call, so a crash between them cannot happen.
    """

    # --- identity -------------------------------------------------------------------------

    def server_url(self) -> str | None: ...

    def device_keys(self) -> DeviceKeys | None: ...

    def save_enrollment(self, server_url: str, keys: DeviceKeys) -> None:
        """Keep the server and this device's private keys (inside the encrypted store)."""

    # --- trust: pins, membership statements, key wraps --------------------------------------

    def pins(self) -> KeyPins: ...

    def save_pins(self, pins: KeyPins) -> None: ...

    def spaces(self) -> list[str]:
        """The spaces this device syncs (those it holds a membership statement for)."""

    def statements(self, space: str) -> list[bytes]:
        """The verified statements of ``space``, oldest first (re-verified on load)."""

    def add_statements(self, space: str, blobs: Sequence[bytes]) -> None:
        """Append statements already verified by ``MembershipLog.accept``."""

    def wraps(self) -> list[StoredWrap]: ...

    def add_wrap(self, wrap: StoredWrap) -> None: ...

    def trust_on_first_use(self, first: FirstUse) -> None:
        """Keep a genesis trusted on first use until the person confirms or refuses it."""

    def spaces_to_confirm(self) -> list[FirstUse]:
        """Spaces trusted on first use whose admin fingerprint nobody compared yet."""

    def confirm_space(self, space: str) -> None:
        """The person compared the admin's fingerprint and it matched."""

    def refuse_space(self, space: str) -> None:
        """The fingerprint did not match: forget the space's statements, keys, cursor and
        outbox here, and never take it up again (``refused_spaces``)."""

    def refused_spaces(self) -> set[str]:
        """Spaces discovery must skip: their genesis was refused by the person."""

    def mark_forked(self, space: str) -> None:
        """Two different statements were met for one place in ``space``'s history."""

    def forked_spaces(self) -> set[str]:
        """Spaces marked forked and not refused since: their outbox is held."""

    def keep_forked(self, space: str) -> None:
        """The person compared the space's safety number with an admin and it matched: the
        branch held here is theirs; the fork mark is lifted (the space counts as confirmed)."""

    def add_invite(self, invite: LocalInvite) -> None:
        """Keep an invite this device made (inside the encrypted store)."""

    def invites(self, space: str) -> list[LocalInvite]:
        """Invites made here for ``space`` and not yet used for an admission, oldest first."""

    def drop_invite(self, code: str) -> None:
        """An invite was used for an admission: its role is spent."""

    def add_anchor(self, anchor: bytes) -> None:
        """The statement commitment the invite this device joined with carried."""

    def anchors(self) -> dict[bytes, str | None]:
        """Each commitment and the space whose chain contained it (None: not found yet)."""

    def settle_anchor(self, anchor: bytes, space: str) -> None:
        """``space``'s verified chain contains the statement ``anchor`` commits to."""

    # --- outbox and pushes -------------------------------------------------------------------

    def outbox(self) -> list[OutboxEntry]: ...

    def pending_changes(self, spaces: Sequence[str], limit: int) -> list[PendingChange]:
        """Dirty records of ``spaces`` with no sealed outbox entry yet, at most ``limit``."""

    def add_outbox(self, entries: Sequence[OutboxEntry]) -> None:
        """Keep sealed mutations before they are sent (so their ids survive a crash)."""

    def drop_outbox(self, mutation_id: str) -> None:
        """Forget a sealed mutation the server refused; the record stays dirty."""

    def sent_batches(self) -> list[SentBatch]:
        """Sealed batches not answered yet, in the order they were kept."""

    def add_sent_batch(self, batch: SentBatch) -> None:
        """Keep a sealed batch before it is sent (so its id and bytes survive a lost answer)."""

    def drop_sent_batch(self, batch_id: str) -> None:
        """Forget a batch once answered (its result stored) or refused."""

    def note_batch_failure(self, batch_id: str, now: float) -> SentBatch | None:
        """One more server error for a kept batch (the first sets ``failing_since``, and a
        ``now`` before it, a wall clock set back, moves it to ``now``); the batch as now kept
        (``None``: not kept)."""

    def set_batch_aside(self, batch_id: str) -> None:
        """Never send this kept batch again (ENGINE.md): its records stay dirty."""

    def forget_batches(self, space: str) -> None:
        """This device is no longer a member of ``space``: forget the batches it kept there
        (sent and unanswered, or kept for bundles); its records stay as they are."""

    def mark_lost(self, space: str, lost: bool) -> None:
        """The server answered ``space_not_found`` for ``space`` (``lost``), or a page of it
        again (not): while lost, its edits stay here, neither sealed nor sent."""

    def lost_spaces(self) -> set[str]:
        """Spaces marked lost by ``mark_lost``."""

    def apply_accepted(self, entry: OutboxEntry, revision: int, seq: int = 0) -> None:
        """The server took ``entry`` at ``revision`` (space ``seq``): its content becomes the
        base, the entry goes. The record stays dirty if it was edited again since it was sealed.
        """

    def apply_accepted_all(self, accepted: Sequence[Accepted]) -> None:
        """``apply_accepted`` for a whole answer, in one transaction."""

    def local_record(self, space: str, record: str) -> LocalRecord | None: ...

    def local_records(self, space: str, records: Sequence[str]) -> dict[str, LocalRecord]:
        """The records of ``records`` held here (one read for a whole page); absent ones are
        left out."""

    def rules_for(self, content: Content) -> MergeRules:
        """The merge rules of a record type, from a content's ``type``."""

    def apply_conflict(self, entry: OutboxEntry, settlement: Settlement) -> None:
        """A push met a newer revision: store the settlement and drop ``entry``."""

    # --- pulls -----------------------------------------------------------------------------

    def cursors(self) -> dict[str, int]: ...

    def apply_page(self, space: str, cursor: int, settlements: Sequence[Settlement]) -> None:
        """Store a page's settled records and the space's new cursor in one transaction."""

    def reopen_sealed(self) -> int:
        """Records kept sealed (a newer Minga's) that this version can open now, after an
        upgrade: settled against what is held here (a waiting edit is merged), without
        fetching anything again. Returns how many opened."""

    def keep_together(self) -> int:
        """After a round's pages: a deletion and everything it took are one decision.

        A live record under a deleted parent brings the parent back (unless it only came
        back with another parent, unchanged since: then that deletion takes it); a parent
        brought back (an edit won over its deletion) brings back what its deletion took. Each comes
        back dirty, to be pushed over the deletions, with a note for the person. Returns how
        many records came back (the engine pushes them in the same sync).
        """

    # --- people's decisions ----------------------------------------------------------------

    def conflicts(self) -> list[StoredConflict]: ...

    def resolve_conflict(self, conflict_id: int, value: Any) -> str:
        """Settle a field conflict with ``value`` (mine, theirs or an edit), or dismiss a flag.

        The record is saved dirty so the settled value reaches everyone. If the field moved
        since the conflict was kept, ``value`` is merged with what it holds now; when they do
        not merge the conflict stays, now against the current value (``"moved"``); picking the
        value it arose against counts as a choice there, not as no change. A choice keeping the
        value held is remembered until sent (``LocalRecord.chosen``), so a different value
        arriving meanwhile meets it as a conflict instead of passing it by. Returns
        ``"settled"``, ``"merged"`` or ``"moved"``.
        """
