"""Batches on the client (PROTOCOL.md §13, CRYPTO.md §5): which pending changes go together,
what a delivered batch says about each record, and what a compaction re-seals.

The engine drives the requests; this module holds the rules, so they read in one place.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

from sync.client.carry import CarryState
from sync.client.chunks import referenced_chunks
from sync.client.state import (
    Accepted,
    LocalRecord,
    OutboxEntry,
    PendingChange,
    RemoteRecord,
    SentBatch,
    SyncState,
)
from sync.client.transport import ProtocolViolation, ServerRefused, Transport
from sync.crypto.batch import (
    FACTS_VERSION,
    MAX_ENTRIES,
    BatchKeys,
    BatchKind,
    OpenedBatch,
    SealedEntry,
    batch_id_of,
    batchable,
    open_batch,
    read_batch_header,
    seal_batch,
)
from sync.crypto.errors import CryptoErrorCode, EnvelopeError
from sync.crypto.keys import DeviceKeys
from sync.crypto.spaces import MembershipStatement, SpaceKeyring
from sync.protocol import BatchAnswer, BatchDelivery, Change, ErrorCode, Role

_T = TypeVar("_T")


class Authorized(Protocol):
    """Runs a transport call with a token, logging in as needed (the engine's)."""

    def __call__(self, call: Callable[[str], _T]) -> _T: ...


#: Fewer pending changes than this in a space go as single mutations: a one-record change is
#: one request exactly as before, and a batch pays off only when many records compress together.
MIN_BATCH = 64
#: How many pending changes one sync gathers for batches (a first sync of 10,000 records is
#: four batches: 1,024, 4,096, 4,096 and 784; ``split``).
MAX_GATHERED = 8 * MAX_ENTRIES
#: The first batch of many: sealed in about a quarter of the time a full one takes, so the
#: link starts early, and the next (full) one is sealed while it goes up. Measured on edge
#: at k = 1 (10,000 records, load about 6): the first seal of 3,334 records kept the link
#: idle 1.4 s; the last page's storing on the member who pulls, 2.8 s.
LEAD = 1024
#: The last batch of many holds at most this many: its answer, and on the member who pulls
#: its page, is what is stored after the link has nothing more to carry.
TAIL = 1024
#: A kept batch the server answers with an error (5xx) this many times in a row...
SET_ASIDE_FAILURES = 5
#: ...over at least this long (seconds) is set aside: a server down for an afternoon sets
#: nothing aside, one that fails on this very batch for a day no longer holds the rest.
SET_ASIDE_AFTER = 24 * 3600.0


def batchable_change(change: PendingChange) -> bool:
    """A record named in a manifest, carrying no attachment references (the server must see
    those on a mutation to keep the chunks)."""
    return batchable(change.record) and not referenced_chunks(change.content)


def _balanced(changes: Sequence[PendingChange]) -> list[list[PendingChange]]:
    if not changes:
        return []
    count = -(-len(changes) // MAX_ENTRIES)
    size = -(-len(changes) // count)
    return [list(changes[i : i + size]) for i in range(0, len(changes), size)]


def split(
    changes: Sequence[PendingChange], lead: int = LEAD, tail: int = TAIL
) -> list[list[PendingChange]]:
    """Batches of at most ``MAX_ENTRIES``, in the order given (creation order).

    Many changes go short first, full in the middle and short last: nothing goes up until the
    first batch is sealed, and nothing is done until the last answer (and, on the member who
    pulls, the last page, which holds the last batch) is stored, while every batch between is
    sealed and stored as the one before goes up. So the first holds ``lead`` records and the
    last at most ``tail`` (at least a quarter of it); the middle ones are as large as allowed
    (larger compress better). Fewer than ``lead + tail`` go balanced, as before (one batch
    for up to ``MAX_ENTRIES``)."""
    n = len(changes)
    if n <= lead + tail:
        return _balanced(changes)
    middle = -(-(n - lead - tail) // MAX_ENTRIES)  # batches between, so the last fits tail
    end = min(lead + middle * MAX_ENTRIES, n - tail // 4)
    return [list(changes[:lead]), *_balanced(changes[lead:end]), list(changes[end:])]


def sealed_entries(changes: Sequence[PendingChange]) -> list[SealedEntry]:
    return [
        SealedEntry(c.record, c.base, c.content, {"alone": c.alone} if c.content is None else None)
        for c in changes
    ]


@dataclass(frozen=True)
class Delivered:
    """A delivered batch's records current in the page: the change the server stated for each
    (from the signed manifest) and the verified record."""

    changes: tuple[Change, ...]
    records: dict[str, RemoteRecord]
    opened: OpenedBatch


def open_delivery(
    space: str, delivery: BatchDelivery, keys: BatchKeys, after: int, upto: int
) -> Delivered:
    """Verify ``delivery`` and list its entries whose seq falls in (``after``, ``upto``].

    Record id, revision and deletion come from the signed manifest; the server states only
    which entries are current and their seqs.

    Raises:
        EnvelopeError: every refusal of ``open_batch``, and ``bad_format`` for a run outside
            the manifest or a seq stated twice.
    """
    opened = open_batch(delivery.batch, space=space, author=delivery.author, keys=keys)
    entries = opened.header.entries
    changes: list[Change] = []
    records: dict[str, RemoteRecord] = {}
    # A snapshot's records are vouched for by the admin who signed it (CRYPTO.md §5).
    author = opened.header.signer
    for first, seq, count in delivery.live:
        if first + count > len(entries):
            raise EnvelopeError(CryptoErrorCode.BAD_FORMAT, "a run outside the manifest")
        for k in range(count):
            entry, at = entries[first + k], seq + k
            if not after < at <= upto:
                continue
            if entry.record in records:
                raise EnvelopeError(CryptoErrorCode.BAD_FORMAT, "an entry stated twice")
            changes.append(Change(entry.record, entry.revision, at, None, entry.deleted, author))
            records[entry.record] = RemoteRecord(
                space,
                entry.record,
                entry.revision,
                author,
                opened.contents[first + k],
                None,
                at,
                vouched=opened.header.kind is BatchKind.SNAPSHOT,
                batch=delivery.batch,
                batch_index=first + k,
                alone=opened.alone(first + k),
            )
    return Delivered(tuple(changes), records, opened)


def compaction_entries(
    live: Sequence[tuple[str, int, bool]], local: dict[str, LocalRecord | None]
) -> list[SealedEntry] | None:
    """The current versions a compaction re-seals, from what this device holds at exactly
    those revisions; ``None`` when one is not held (compact after the next pull)."""
    entries: list[SealedEntry] = []
    for record, revision, deleted in live:
        held = local.get(record)
        if held is None or held.revision != revision:
            return None
        content: dict[str, Any] | None = None
        if not deleted:
            if held.base is None:
                return None
            content = held.base
        # A deletion's facts are re-sealed as held: a child deleted by itself stays that for
        # members who join after the compaction.
        facts = {"alone": held.alone} if deleted else None
        entries.append(SealedEntry(record, revision - 1, content, facts))
    return entries


def creation_order(changes: Sequence[PendingChange]) -> list[PendingChange]:
    """Records in the order they were made (what compresses best together), then by id;
    deletions first, in the order given (``pending_changes``: an incident's deletion after its
    children's, so a cut between two batches never leaves live children under it)."""
    order = {c.record: n for n, c in enumerate(changes)}
    return sorted(
        changes,
        key=lambda c: (
            str((c.content or {}).get("created_at") or ""),
            "" if c.content is None else c.record,
            order[c.record],
        ),
    )


@dataclass
class BatchOutcome:
    """What one batch push did: records accepted, conflicts left to settle alone (the pull
    brings the current version), and refusals by code."""

    accepted: int = 0
    conflicts: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    #: Spaces where a batch met ``stale_epoch``, with the epoch it was sealed at: the engine
    #: fetches the new key before sealing anything else there.
    stale: dict[str, int] = field(default_factory=dict)
    #: Records of kept batches set aside in this push (the server kept failing on them): they
    #: stay local edits and go as single mutations.
    set_aside: int = 0
    #: Records of kept batches the server failed on (5xx) in this push, not yet set aside:
    #: they stay kept and go again next sync, while every space is still pulled.
    failed: int = 0


def _judged(refused: ServerRefused) -> bool:
    """Whether a refusal judged the batch itself; ``429`` and ``5xx`` say only that the server
    (or a proxy in front of it) could not answer now."""
    return refused.status != 429 and refused.status < 500


class BatchPath:
    """Pushes a space's many pending changes as batches, and compacts stale batches.

    ``authorized`` runs a transport call with a token (the engine's login)."""

    def __init__(
        self,
        state: SyncState,
        transport: Transport,
        authorized: Authorized,
    ) -> None:
        self.state = state
        self.transport = transport
        self.authorized = authorized
        #: False once the server answered that it has no batch route (an older server).
        self.supported = True
        #: Spaces whose pages said this device has stale batches: compacted after the sync.
        self.stale_spaces: set[str] = set()
        #: Unix seconds now (a test moves it on).
        self.clock: Callable[[], float] = time.time
        #: Spaces where a kept batch got a server error (5xx) in this sync: nothing more is
        #: pushed there until the next sync (its records stay dirty and kept, never resealed
        #: around the batch), but they are still pulled. The engine clears it per sync.
        self.failing_spaces: set[str] = set()
        #: The first and the last batch of many hold at most this many records (``split``). A
        #: test makes them small, to cut a push of many batches with a hundred records, not
        #: thousands; the rules that order what goes first are the same at any size.
        self.lead = LEAD
        self.tail = TAIL

    def push(self, keys: DeviceKeys, keyring: SpaceKeyring, spaces: set[str]) -> BatchOutcome:
        """Send again the batches whose answer was lost, then seal and send the spaces' many
        pending changes as new ones. Each batch is kept before it is sent and dropped once its
        answer is stored (or it was refused): a cut in between leaves it to go again, the very
        same bytes, which the server answers as the first time (PROTOCOL.md §13)."""
        outcome = BatchOutcome()
        if not self.supported:
            return outcome
        cursors = self.state.cursors()
        self._forget_departed(keys, keyring)
        held: dict[str, list[SentBatch]] = {}
        aside: dict[str, set[str]] = {}
        for sent in self.state.sent_batches():
            if sent.set_aside:
                aside.setdefault(sent.space, set()).update(self._still_dirty(sent))
            else:
                held.setdefault(sent.space, []).append(sent)
        for space in sorted(spaces - self.failing_spaces):
            current = keyring.current_key(space)
            if current is None:
                continue
            cursor: int | None = cursors.get(space, 0)
            conflicts = outcome.conflicts
            for sent in held.get(space, []):
                part = self._reopened(sent, keys, keyring)
                if part is None:
                    continue
                stale = read_batch_header(sent.blob)[0].epoch < current[0]
                before = outcome.set_aside
                taken, cursor = self._send(
                    space, sent, part, cursor, outcome, again=True, stale=stale
                )
                if outcome.set_aside > before:
                    aside.setdefault(space, set()).update(c.record for c in part)
                if not taken or space in self.failing_spaces:
                    break
            else:
                # A kept answer with conflicts leaves those records dirty at their old bases:
                # sealed into a new batch now they could only conflict once more. They settle
                # alone in this round, as the conflicts of a first answer do, and the merged
                # versions go in the next.
                if outcome.conflicts == conflicts:
                    self._push_pending(
                        keys, keyring, space, current, cursor, outcome, aside.get(space, set())
                    )
            if not self.supported:
                return outcome
        return outcome

    def _push_pending(
        self,
        keys: DeviceKeys,
        keyring: SpaceKeyring,
        space: str,
        current: tuple[int, bytes],
        cursor: int | None,
        outcome: BatchOutcome,
        aside: set[str],
    ) -> None:
        """Seal and send the space's many pending changes, the link kept busy: batch n+1 is
        sealed on a worker while batch n goes up, and n's answer is stored while n+1 goes up
        (its cursor is in n's answer, so it leaves once that answer is in, before it is
        stored). Only the first seal and the last answer's storing keep the link waiting.

        At most two sealed batches are held (one on the way, the next) and one request is in
        flight. Each batch is kept before it is sent and dropped only once its answer is
        stored, so a cut or a crash anywhere leaves the same bytes to go again (or their kept
        answer to be asked for); the database is written from this thread only."""
        # Records of a batch set aside go as single mutations: sealed into a new batch they
        # could meet whatever made the server fail on the old one, and hold the rest again.
        pending = [
            c
            for c in self.state.pending_changes([space], MAX_GATHERED + len(aside))
            if batchable_change(c) and c.record not in aside
        ][:MAX_GATHERED]
        if len(pending) < MIN_BATCH:
            return
        latest = keyring.logs[space].latest
        seal = partial(
            seal_batch,
            space=space,
            epoch=current[0],
            space_key=current[1],
            signer=keys,
            statement=(latest.version, latest.hash),
        )
        parts = split(creation_order(pending), self.lead, self.tail)
        sealer = ThreadPoolExecutor(1, thread_name_prefix="minga-batch-seal")
        sender = ThreadPoolExecutor(1, thread_name_prefix="minga-batch-send")
        # The batch on the way: what it holds, its request.
        going: tuple[SentBatch, list[PendingChange], Future[BatchAnswer]] | None = None
        try:
            sealing = sealer.submit(seal, sealed_entries(parts[0]))
            for index, part in enumerate(parts):
                blob = sealing.result()
                if index + 1 < len(parts):
                    sealing = sealer.submit(seal, sealed_entries(parts[index + 1]))
                answered: tuple[SentBatch, list[PendingChange], BatchAnswer] | None = None
                if going is not None:
                    answer = self._answer_of(space, *going, outcome)
                    if answer is None:
                        return  # refused: this one is not sent (nor kept), its records stay
                    answered = (going[0], going[1], answer)
                    cursor = answer.cursor
                sent = SentBatch(space, batch_id_of(blob).hex(), blob)
                # Kept before it is sent: after a lost answer the same bytes go again.
                self.state.add_sent_batch(sent)
                going = (sent, part, sender.submit(self._push_one, space, sent, cursor))
                if answered is not None:
                    self._stored(space, *answered, outcome)
            if going is not None:
                last, held, request = going
                answer = self._answer_of(space, last, held, request, outcome)
                if answer is not None:
                    self._stored(space, last, held, answer, outcome)
        finally:
            # A failure here or a request's: the one on the way ends first (its batch stays
            # kept unless its answer was stored), and a seal not yet started is not.
            sealer.shutdown(wait=True, cancel_futures=True)
            sender.shutdown(wait=True, cancel_futures=True)

    def _push_one(self, space: str, sent: SentBatch, cursor: int | None) -> BatchAnswer:
        return self.authorized(partial(self.transport.push_batch, space, sent.blob, cursor))

    def _answer_of(
        self,
        space: str,
        sent: SentBatch,
        part: list[PendingChange],
        request: Future[BatchAnswer],
        outcome: BatchOutcome,
    ) -> BatchAnswer | None:
        """The answer to a batch on the way; ``None`` when the server refused it (judged) or
        it was set aside: the push of this space stops there, its records stay dirty."""
        try:
            return request.result()
        except ServerRefused as refused:
            self._refused(space, sent, part, refused, outcome)
            return None

    def _send(
        self,
        space: str,
        sent: SentBatch,
        part: list[PendingChange],
        cursor: int | None,
        outcome: BatchOutcome,
        *,
        again: bool = False,
        stale: bool = False,
    ) -> tuple[bool, int | None]:
        """Push one kept batch and store its answer: whether the server took it, and the
        cursor to send with the next. A lost answer raises (``Offline``) and leaves it kept.

        ``again``: it was sent before and its answer lost. The server is first asked for that
        answer by id and hash (a short request); the batch goes again only if it never
        arrived (``404``; an older server without that route answers so too).

        ``stale``: sealed with a key the space has replaced since. If it never arrived it is
        not sent: it could only be refused as stale. It is dropped and its records, still
        dirty, go sealed with the current key (True: the push goes on)."""
        try:
            answer = self._kept_answer(space, sent, cursor) if again else None
            if answer is None and stale:
                self.state.drop_sent_batch(sent.batch_id)
                return True, cursor
            if answer is None:
                answer = self._push_one(space, sent, cursor)
        except ServerRefused as refused:
            if self._refused(space, sent, part, refused, outcome):
                return True, cursor
            return False, None
        return True, self._stored(space, sent, part, answer, outcome)

    def _refused(
        self,
        space: str,
        sent: SentBatch,
        part: list[PendingChange],
        refused: ServerRefused,
        outcome: BatchOutcome,
    ) -> bool:
        """A refusal of a batch: dropped and noted when the server judged it; a server error
        keeps it and stops this space's push (``failing_spaces``); busy is raised. True when
        it was set aside instead (the push goes on without it)."""
        if not _judged(refused):
            if refused.status >= 500 and self._failing_too_long(sent):
                # The server fails on this batch, and only it holds the rest: set aside,
                # its records stay dirty here and go one by one (the same compare-and-swap:
                # if it was taken after all, they meet their own versions as conflicts).
                self.state.set_batch_aside(sent.batch_id)
                outcome.set_aside += len(part)
                return True
            if refused.status < 500:
                raise refused  # busy: the pulls would be told the same
            # Failing (a proxy's 502 may even follow a commit): nothing was judged, so the
            # batch stays kept and is asked about again next sync, never resealed into a new
            # one that would meet this device's own versions as conflicts. The space's other
            # changes wait with it; every space is still pulled (a pulled newer version
            # merges into the dirty records, and the kept batch's entries then meet it as
            # conflicts: nothing is overwritten, nothing lost).
            self.failing_spaces.add(space)
            outcome.failed += len(part)
            return False
        # Refused, so not stored there: the records stay dirty and go again, resealed.
        self.state.drop_sent_batch(sent.batch_id)
        if refused.status == 404 and refused.code == ErrorCode.NOT_FOUND.value:
            self.supported = False  # an older server: single mutations only
        elif (
            refused.code == ErrorCode.ENVELOPE_MISMATCH.value
            and read_batch_header(sent.blob)[0].version >= FACTS_VERSION
        ):
            # A server from before tombstone facts reads no version-3 batch (it answers
            # envelope_mismatch, "unsupported_version"): single mutations only, as with a
            # server without batches. Their tombstones' headers it reads (PROTOCOL.md §13).
            self.supported = False
        elif refused.code == ErrorCode.STALE_EPOCH.value:
            epoch = read_batch_header(sent.blob)[0].epoch
            outcome.stale[space] = max(outcome.stale.get(space, 0), epoch)
        else:
            # A role, a space gone and the like: said to the person. A stale epoch is
            # not a refusal of their change: the single path meets it and re-seals, as it
            # does for a single mutation.
            outcome.refused.append((space, refused.code))
        return False

    def _stored(
        self,
        space: str,
        sent: SentBatch,
        part: list[PendingChange],
        answer: BatchAnswer,
        outcome: BatchOutcome,
    ) -> int | None:
        """Store a batch's answer, then let the kept batch go: the cursor it moved to."""
        moved = self._accepted(space, part, sent.blob, answer, outcome)
        self.state.drop_sent_batch(sent.batch_id)
        return moved

    def _failing_too_long(self, sent: SentBatch) -> bool:
        """Count one more server error for ``sent``: whether it has now failed
        ``SET_ASIDE_FAILURES`` times in a row over at least ``SET_ASIDE_AFTER``."""
        now = self.clock()
        kept = self.state.note_batch_failure(sent.batch_id, now)
        if kept is None or kept.failing_since is None:
            return False
        return kept.failures >= SET_ASIDE_FAILURES and now - kept.failing_since >= SET_ASIDE_AFTER

    def _still_dirty(self, sent: SentBatch) -> set[str]:
        """The records of a batch set aside that still wait to be pushed; once none does, the
        batch is forgotten."""
        records = [entry.record for entry in read_batch_header(sent.blob)[0].entries]
        local = self.state.local_records(sent.space, records)
        dirty = {record for record, held in local.items() if held.dirty}
        if not dirty:
            self.state.drop_sent_batch(sent.batch_id)
        return dirty

    def _forget_departed(self, keys: DeviceKeys, keyring: SpaceKeyring) -> None:
        """Spaces this device is no longer a member of (left, or removed: the verified latest
        statement does not list it) never give it a key again: their kept batches, sent or
        kept for bundles, go. Its records there stay as they are."""
        for space, log in sorted(keyring.logs.items()):
            if log.latest.member(keys.device_id) is None:
                self.state.forget_batches(space)

    def _kept_answer(self, space: str, sent: SentBatch, cursor: int | None) -> BatchAnswer | None:
        digest = hashlib.sha256(sent.blob).digest()
        try:
            return self.authorized(
                partial(self.transport.batch_answer, space, sent.batch_id, digest, cursor)
            )
        except ServerRefused as refused:
            if refused.status in (400, 404) and refused.code != ErrorCode.BATCH_ID_REUSED.value:
                return None  # never taken there (or a server that cannot say): send it
            raise

    def _reopened(
        self, sent: SentBatch, keys: DeviceKeys, keyring: SpaceKeyring
    ) -> list[PendingChange] | None:
        """What a kept batch sealed (record, base, content), read back from its own bytes;
        ``None`` (and the batch dropped) if it no longer opens here: its records are still
        dirty and go again in a new batch, judged again by the server."""
        try:
            opened = open_batch(sent.blob, space=sent.space, author=keys.device_id, keys=keyring)
        except EnvelopeError:
            self.state.drop_sent_batch(sent.batch_id)
            return None
        return [
            PendingChange(sent.space, entry.record, entry.base, content, opened.alone(index))
            for index, (entry, content) in enumerate(
                zip(opened.header.entries, opened.contents, strict=True)
            )
        ]

    def _accepted(
        self,
        space: str,
        part: list[PendingChange],
        blob: bytes,
        answer: BatchAnswer,
        outcome: BatchOutcome,
    ) -> int | None:
        accepted: list[Accepted] = []
        for first, seq, count in answer.accepted:
            if first + count > len(part):
                raise ProtocolViolation("batch answer names entries the batch does not have")
            for k in range(count):
                change = part[first + k]
                entry = OutboxEntry("", space, change.record, change.base, b"", change.content)
                accepted.append(Accepted(entry, change.base + 1, seq + k, blob, first + k))
        # The whole answer in one transaction (one per record cost a commit each).
        self.state.apply_accepted_all(accepted)
        outcome.accepted += len(accepted)
        outcome.conflicts += len(answer.conflicts)
        if answer.cursor is not None:
            # Nothing else came in between: our own batch need not come back down.
            self.state.apply_page(space, answer.cursor, [])
        return answer.cursor

    def compact(
        self,
        keys: DeviceKeys,
        keyring: SpaceKeyring,
        space: str,
        *,
        as_admin: bool = False,
        orphaned_too: bool = False,
    ) -> int:
        """Re-seal the current entries of stale batches (this device's own, or with
        ``as_admin`` those whose author is no longer a writer) so the server can drop the old
        ones; returns how many records were re-sealed (0: nothing to do, or not held yet).

        ``orphaned_too`` does both in one look (what an admin's sync runs): its own batches as a
        compaction, and, if this device is an admin in the latest statement, the batches of
        authors who are no longer writers as its snapshot. The server names at most
        ``MAX_STALE_BATCHES`` batches per look, which bounds the work of one sync."""
        current = keyring.current_key(space)
        log = keyring.logs.get(space)
        if current is None or log is None:
            return 0
        latest = log.latest
        me = latest.member(keys.device_id)
        admin = me is not None and me.role is Role.ADMIN
        stale = self.authorized(partial(self.transport.stale_batches, space))
        own: list[tuple[str, int, bool]] = []
        vouched: list[tuple[str, int, bool]] = []
        for item in stale:
            author = str(item.get("author"))
            member = latest.member(author)
            orphaned = member is None or not member.role.can_write
            live = [(str(r), int(v), bool(d)) for r, v, d in item.get("live") or ()]
            if author == keys.device_id and not as_admin:
                own.extend(live)
            elif orphaned and (as_admin or (orphaned_too and admin)):
                vouched.extend(live)
        done = self._reseal(keys, current, latest, space, own, BatchKind.COMPACTION)
        return done + self._reseal(keys, current, latest, space, vouched, BatchKind.SNAPSHOT)

    def _reseal(
        self,
        keys: DeviceKeys,
        current: tuple[int, bytes],
        latest: MembershipStatement,
        space: str,
        live: list[tuple[str, int, bool]],
        kind: BatchKind,
    ) -> int:
        if not live:
            return 0
        held = {record: self.state.local_record(space, record) for record, _v, _d in live}
        entries = compaction_entries(live, held)
        if entries is None:
            return 0
        compacted = 0
        for start in range(0, len(entries), MAX_ENTRIES):
            part = entries[start : start + MAX_ENTRIES]
            blob = seal_batch(
                part,
                space=space,
                epoch=current[0],
                space_key=current[1],
                signer=keys,
                statement=(latest.version, latest.hash),
                kind=kind,
            )
            try:
                self.authorized(partial(self.transport.push_batch, space, blob, None))
            except ServerRefused as refused:
                if refused.code != ErrorCode.COMPACTION_MISMATCH.value:
                    raise
                # Another device changed one of these records since the stale list was read:
                # nothing was re-sealed, and the next sync compacts from the newer state.
                break
            compacted += len(part)
            if isinstance(self.state, CarryState):
                # The same revisions and seqs, now in this batch: a bundle hands this one on,
                # and the old one (with the content this compaction leaves behind) is dropped.
                self.state.carry_in_batch(
                    space,
                    keys.device_id,
                    blob,
                    [(entry.record, entry.base + 1, index) for index, entry in enumerate(part)],
                )
        return compacted
