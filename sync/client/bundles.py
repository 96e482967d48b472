"""Courier bundles: the network's changes on a USB stick or any file transfer, no server needed.

``export_bundle`` writes what another device may lack — this device's unsent changes (sealed by
the engine exactly as a sync seals them), other devices' mutations it carries, the sealed
records it holds of the chosen spaces (only those newer than what the recipient's last bundle
said it held) and the membership statements to verify them — into the framed, signed container
of ``bundle_format``. ``import_bundle`` verifies every envelope as if the server had sent it,
merges three ways with conflicts kept, and is idempotent. Design: sync/PROTOCOL.md §12.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sync.client.batches import open_delivery
from sync.client.bundle_format import (
    BundleProblem,
    BundleRefused,
    BundleWriter,
    Item,
    read_segments,
)
from sync.client.carry import CarriedMutation, CarryState
from sync.client.chunks import AttachmentRef, AttachmentState
from sync.client.courier import Download, download_for, make_grant
from sync.client.engine import Refusal, SyncEngine, SyncReport, settle
from sync.client.state import LocalRecord, OutboxEntry, RemoteRecord, Settlement, StoredWrap
from sync.client.transport import ServerRefused, TransportError
from sync.crypto.batch import FACTS_VERSION as BATCH_FACTS_VERSION
from sync.crypto.batch import MAGIC as BATCH_MAGIC
from sync.crypto.batch import MAX_BATCH_BYTES, MAX_ENTRIES, BatchKind
from sync.crypto.envelope import EnvelopeKind, carries_facts, open_record, read_header
from sync.crypto.errors import CryptoError, CryptoErrorCode
from sync.crypto.keys import DevicePublicKeys, Fingerprint
from sync.crypto.spaces import KeyWrap, MembershipLog, MembershipStatement, SpaceKeyring
from sync.protocol import (
    GRANT_CONTEXT,
    BatchDelivery,
    Change,
    CourierGrant,
    Mutation,
    ProtocolError,
    check_device_id,
    chunk_hash,
    device_id_for,
)

#: ``progress(done, total)``: bytes (import) or items (export) so far, of the total.
BundleProgress = Callable[[int, int], None]

HAVE = "have"
STATEMENT = "statement"
RECORD = "record"
CURSOR = "cursor"
MUTATION = "mutation"
WRAP = "wrap"
GRANT = "grant"
CHUNK = "chunk"
#: A sealed first-sync batch, as a server delivers it: {"space", "author", "batch", "live":
#: [first index, first seq, count, …] flat}. Only in bundles of version 2 (bundle_format).
BATCH = "batch"

#: Batch parts one bundle may hold. Each part is bounded (1 MiB sealed, 8 MiB plaintext, 4096
#: entries), but a part of tiny entries costs the importer about as much work as 4096 record
#: items at a fortieth of their bytes: this keeps what one file can make a device do bounded
#: (1024 parts: at most 1 GiB sealed, 4 Mi versions). Batches are pushed with 64 to 4096
#: records (``MIN_BATCH``), so an honest export meets it only with tens of thousands of
#: batch-held records at the very least; an exporter holding more batches writes the first
#: 1024 and leaves the rest out (``ExportReport.past_cap``, the next bundle brings them),
#: and an importer leaves out any part past it (``TOO_MANY_BATCHES``) without parsing it.
MAX_BUNDLE_BATCHES = 1024

#: Why a version in a bundle was left out (``ImportReport.left_out``), not refused as forged.
#: Its author is not a writer (for an admin snapshot: an admin) in the newest statement held,
#: or sealed it under an epoch from before its current, unbroken hold of that right: the keys
#: of such an epoch were held by a device that since lost the right, which could seal any
#: revision under them after losing it, and nothing in a bundle says the server accepted the
#: version (PROTOCOL.md §12.3). The genuine ones come with the next sync with the server.
AUTHOR_RIGHTS_ENDED = "author_rights_ended"
#: A batch part past ``MAX_BUNDLE_BATCHES`` in one bundle: left out unread.
TOO_MANY_BATCHES = "too_many_batches"
#: Left-out versions an import report names one by one; the rest are only counted, so what a
#: hostile bundle makes an importer hold stays fixed (``ImportReport.left_out_unnamed``).
MAX_NAMED_LEFT_OUT = 1000


@dataclass
class ExportReport:
    bundle_id: str = ""
    bytes: int = 0
    records: int = 0
    mutations: int = 0
    statements: int = 0
    chunk_bytes: int = 0
    spaces: list[str] = field(default_factory=list)
    #: Sealed batches carried (their versions are counted in ``records``).
    batches: int = 0
    #: Records of the chosen spaces left out: their current version has neither an envelope
    #: of its own nor a kept batch here (pulled before batches were kept, a batch dropped once
    #: it held deleted or replaced content, a download from an older server).
    uncarriable: int = 0
    #: Records left out because their batches come after the first ``MAX_BUNDLE_BATCHES``:
    #: held here, they go in the next bundle (the cursor item stops below them).
    past_cap: int = 0


@dataclass
class ImportReport:
    """What one import did. ``problem`` set: the file was refused from ``problem_item`` on and
    nothing from that point was applied (what came before it verified and was kept)."""

    bundle_id: str = ""
    exporter: str = ""
    exporter_fingerprint: str = ""
    items: int = 0
    records: int = 0
    merged: int = 0
    carried: int = 0
    #: This device's own unsent changes handed back: taken, kept for the server's word (§12.3).
    own_returned: int = 0
    statements: int = 0
    chunks: int = 0
    files: int = 0
    skipped: int = 0
    #: Versions not applied because a newer one is held (an older bundle, or an exporter
    #: handing on an old batch entry as current): never a rollback.
    older: int = 0
    conflicts: int = 0
    flags: int = 0
    unreadable: int = 0
    #: Records brought back after the import as a sync does (``SyncState.keep_together``): an
    #: incident under which a carried change left a live act, source, evidence or follow-up,
    #: and what its deletion took.
    restored: int = 0
    #: Versions kept sealed that this version opens (after an upgrade), as a sync's reopen.
    reopened: int = 0
    refused: list[Refusal] = field(default_factory=list)
    #: Versions that verified but were not taken, and why (``AUTHOR_RIGHTS_ENDED``: one per
    #: version; ``TOO_MANY_BATCHES``: one per batch part, its record empty). None of them
    #: moved the online sync cursor or made a later version count as older; a part past the
    #: cap also keeps the bundle cursor below it, so the next bundle brings it.
    left_out: list[Refusal] = field(default_factory=list)
    #: Per code, the left-out versions (parts) past the first ``MAX_NAMED_LEFT_OUT``: counted,
    #: not named. One batch part of a removed author names up to 4096 versions, so 1024 parts
    #: of tombstones (46 MB) named 4 Mi of them, about 700 MB held for a list nobody reads.
    left_out_unnamed: dict[str, int] = field(default_factory=dict)
    problem: BundleProblem | None = None
    problem_item: int = 0

    def left_out_count(self, code: str) -> int:
        """How many versions (batch parts, for ``TOO_MANY_BATCHES``) were left out for ``code``."""
        named = sum(1 for left in self.left_out if left.code == code)
        return named + self.left_out_unnamed.get(code, 0)

    def leave_out(self, refusal: Refusal) -> None:
        if len(self.left_out) < MAX_NAMED_LEFT_OUT:
            self.left_out.append(refusal)
        else:
            self.left_out_unnamed[refusal.code] = self.left_out_unnamed.get(refusal.code, 0) + 1


class NotForBundles(Exception):
    """The profile's store cannot keep what bundles need (an old store object)."""


def _carry_state(engine: SyncEngine) -> CarryState:
    if not isinstance(engine.state, CarryState):
        raise NotForBundles()
    return engine.state


# --- export -----------------------------------------------------------------------------------


def export_bundle(
    engine: SyncEngine,
    path: Path,
    *,
    spaces: Sequence[str] | None = None,
    for_device: str | None = None,
    download: Download | None = None,
    files: bool = False,
    progress: BundleProgress | None = None,
) -> ExportReport:
    """Write a bundle to ``path`` (``.partial`` first, renamed once complete and flushed).

    ``spaces``: the spaces whose records go in (default: every space held). ``for_device``:
    send only versions newer than what that device's last bundle said it held.
    ``files``: also the sealed chunks of the files the chosen records name (the files of
    this device's own unsent changes always go).
    ``download``: what a courier fetched from the server for that device with its grant
    (``courier.download_for``); its spaces are sent from it (the device's own statements,
    key wraps and everything after its cursors) instead of from this device's store.
    """
    state = _carry_state(engine)
    keys = engine.state.device_keys()
    if keys is None:
        from sync.client.engine import NotEnrolled

        raise NotEnrolled()
    keyring, _pins = engine.verified_view()
    held = sorted(keyring.logs)
    chosen = held if spaces is None else [s for s in held if s in set(spaces)]
    fetched = download.changes if download is not None else {}
    chosen = [s for s in chosen if s not in fetched]
    # After an upgrade, what an older version kept sealed opens here too, and an edit held for
    # it is merged and goes in this bundle: a device reached only by bundles never syncs, so
    # it stayed "needs a newer Minga" with its edit stuck (rev14).
    if engine.state.reopen_sealed():
        engine.state.keep_together()  # an incident's held deletion met its newer edit
    outbox = engine.seal_all_pending(keyring)
    # A deletion made or merged here offline left the kept batches as they were: look now,
    # before a batch holding the deleted content is counted or written.
    state.prune_spoiled(chosen)
    carried = state.carried(pending_only=True)
    cursors = held_cursors(state, keys.device_id)
    peer = state.peer_cursors(for_device) if for_device else {}
    plan: list[tuple[str, int, int]] = []  # space, records after seq, completeness from
    for space in chosen:
        floor = state.blob_floor(space)
        known = peer.get(space, 0)
        after = known if known >= floor else 0
        plan.append((space, after, max(after, floor)))
    statements = {space: engine.state.statements(space) for space in chosen}
    files_to_send = _files(
        engine, outbox, carried, plan if files else [], download if files else None
    )
    grant = make_grant(
        keys,
        cursors={space: cursors.get(space, 0) for space in held},
        statements={space: keyring.logs[space].latest.version for space in held},
        epochs={
            space: max((e for (s, e) in keyring.keys if s == space), default=0) for space in held
        },
    )
    batch_items = sum(state.count_record_batches(space, after) for space, after, _ in plan)
    batch_items = min(batch_items + _download_batches(download), MAX_BUNDLE_BATCHES)
    budget = _BatchBudget(batch_items)
    total = (
        2
        + sum(len(blobs) for blobs in statements.values())
        + _download_items(download)
        + batch_items
        + sum(state.count_record_blobs(space, after) + 1 for space, after, _ in plan)
        + len(outbox)
        + len(carried)
        + sum(len(ref.chunks) for ref in files_to_send)
    )
    report = ExportReport(spaces=list(chosen))
    report.uncarriable = sum(state.count_uncarriable(space) for space, _after, _from in plan)
    partial = path.with_name(path.name + ".partial")
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    with owner_only(partial) as stream:
        facts = _holds_facts(state, plan, outbox, carried, download)
        writer = BundleWriter(stream, keys, total, batches=batch_items > 0, facts=facts)
        report.bundle_id = writer.bundle.hex()
        have = {
            space: {
                "cursor": cursors.get(space, 0),
                "statement": keyring.logs[space].latest.version,
            }
            for space in held
        }
        writer.add(HAVE, {"spaces": have})
        step()
        writer.add(GRANT, {"grant": grant[0], "signature": grant[1]})
        step()
        if download is not None:
            report.statements += _write_download(writer, download, step, report, budget)
            report.records += sum(len(_carriable(c)) for c in download.changes.values())
            report.uncarriable += sum(
                len(changes) - len(_carriable(changes)) for changes in download.changes.values()
            )
            report.spaces.extend(sorted(download.changes))
        for space, blobs in statements.items():
            for version, blob in enumerate(blobs, start=1):
                writer.add(STATEMENT, {"space": space, "version": version, "blob": blob})
                report.statements += 1
                step()
        for space, after, complete_from in plan:
            for stored in state.record_blobs(space, after):
                # Space, record, revision, author and kind are in the blob's signed header.
                writer.add(RECORD, [stored.seq, stored.blob])
                report.records += 1
                step()
            for kept in state.record_batches(space, after):
                if budget.take(space, kept.live, report):
                    _write_batch(writer, space, kept.author, kept.blob, kept.live, report)
                    step()
            # After the space's records: an importer that gets this far holds every version
            # up to our cursor (from ``complete_from`` on) and may move its cursor there; not
            # past a version left out, or no later bundle for it would send that version.
            reached = cursors.get(space, 0)
            gap = state.first_uncarried_seq(space)
            if gap is not None:
                reached = min(reached, gap - 1)
            reached = budget.cursor_below(space, reached)
            writer.add(CURSOR, {"space": space, "from": complete_from, "to": reached})
            step()
        for entry in outbox:
            writer.add(MUTATION, _mutation_item(keys.device_id, _as_mutation(entry)))
            report.mutations += 1
            step()
        for carried_mutation in carried:
            writer.add(MUTATION, _mutation_item(carried_mutation.author, carried_mutation.mutation))
            report.mutations += 1
            step()
        for ref in files_to_send:
            for index, address in enumerate(ref.chunks):
                data = _chunk_bytes(engine, ref, index, address)
                # A chunk this device lacks goes as an empty item: the count stays as declared
                # and the importer simply has nothing to keep for it.
                writer.add(CHUNK, {"space": ref.space, "address": address, "data": data or b""})
                report.chunk_bytes += len(data or b"")
                step()
        writer.close()
        report.bytes = writer.bytes_written
        stream.flush()
        _fsync(stream)
    partial.replace(path)
    return report


def export_for(
    engine: SyncEngine,
    path: Path,
    device: str,
    *,
    spaces: Sequence[str] | None = None,
    files: bool = False,
    progress: BundleProgress | None = None,
) -> tuple[ExportReport, str | None]:
    """A bundle for ``device``: downloaded for it with its grant when the server answers
    (what it may read, its statements and key wraps), else from this device's store.
    Returns the report and, when the download was not possible, why (an error code)."""
    state = _carry_state(engine)
    held = state.courier_grant(device)
    download: Download | None = None
    reason: str | None = "no_grant"
    if held is not None:
        try:
            download = download_for(*held, engine.transport, engine.authorized, engine.page_bytes)
            reason = None
        except ServerRefused as refusal:
            reason = refusal.code
        except TransportError:
            reason = "offline"
    report = export_bundle(
        engine,
        path,
        spaces=spaces,
        for_device=device,
        download=download,
        files=files,
        progress=progress,
    )
    return report, reason


def _files(
    engine: SyncEngine,
    outbox: Sequence[OutboxEntry],
    carried: Sequence[CarriedMutation],
    plan: Sequence[tuple[str, int, int]],
    download: Download | None,
) -> list[AttachmentRef]:
    """The files whose sealed chunks go in: those of unsent changes, and of the chosen spaces'
    records when asked; each once."""
    found: dict[tuple[str, str], AttachmentRef] = {}
    for entry in outbox:
        ref = AttachmentRef.of(entry.space, entry.content)
        if ref is not None:
            found[(ref.space, ref.ref)] = ref
    state = _carry_state(engine)
    for space, after, _complete in plan:
        for stored in state.record_blobs(space, after):
            local = state.local_record(space, stored.record)
            ref = AttachmentRef.of(space, local.content if local is not None else None)
            if ref is not None:
                found[(ref.space, ref.ref)] = ref
    # Downloaded for a device: the files of those records this courier holds too.
    for space, changes in (download.changes if download is not None else {}).items():
        for change in changes:
            local = state.local_record(space, change.record)
            ref = AttachmentRef.of(space, local.content if local is not None else None)
            if ref is not None:
                found[(ref.space, ref.ref)] = ref
    del carried  # carried mutations' chunks travel as received (see _chunk_bytes)
    return list(found.values())


def _chunk_bytes(engine: SyncEngine, ref: AttachmentRef, index: int, address: str) -> bytes | None:
    state = engine.state
    if not isinstance(state, AttachmentState):
        return None
    data = state.sealed_chunk(ref, index)
    if data is None:
        received = state.received(ref.space, address)
        data = received[0] if received is not None and received[1] else None
    return data if data is not None and chunk_hash(data) == address else None


def held_cursors(state: CarryState, me: str) -> dict[str, int]:
    """Per space, how far this device holds the server's versions: its sync cursor, or further
    where bundles brought it (kept under its own device id among the peers' cursors)."""
    cursors = dict(state.cursors())
    for space, cursor in state.peer_cursors(me).items():
        cursors[space] = max(cursors.get(space, 0), cursor)
    return cursors


def _download_items(download: Download | None) -> int:
    if download is None:
        return 0
    return (
        sum(len(items) for items in download.statements.values())
        + sum(len(items) for items in download.wraps.values())
        + sum(len(_carriable(changes)) + 1 for changes in download.changes.values())
    )


def _holds_facts(
    state: CarryState,
    plan: Sequence[tuple[str, int, int]],
    outbox: Sequence[OutboxEntry],
    carried: Sequence[CarriedMutation],
    download: Download | None,
) -> bool:
    """Whether the bundle will hold a deletion whose tombstone carries sealed facts (an
    envelope, or a batch of version 3): it is then bundle version 3, which a reader from
    before tombstone facts refuses by name (``bundle_format.FACTS_VERSION``). Read from the
    clear headers only; the versions held are read once more for it."""
    blobs: list[bytes] = [entry.blob for entry in outbox]
    blobs += [item.mutation.blob for item in carried if item.mutation.blob]
    if download is not None:
        blobs += [
            change.blob
            for changes in download.changes.values()
            for change in changes
            if change.blob
        ]
        blobs += [d.batch for batches in download.batches.values() for d in batches]
    if any(_facts_blob(blob) for blob in blobs):
        return True
    for space, after, _from in plan:
        if any(carries_facts(stored.blob) for stored in state.record_blobs(space, after)):
            return True
        if any(_facts_blob(kept.blob) for kept in state.record_batches(space, after)):
            return True
    return False


def _facts_blob(blob: bytes) -> bool:
    if blob[: len(BATCH_MAGIC)] == BATCH_MAGIC:
        return len(blob) > len(BATCH_MAGIC) and blob[len(BATCH_MAGIC)] >= BATCH_FACTS_VERSION
    return carries_facts(blob)


def _download_batches(download: Download | None) -> int:
    if download is None:
        return 0
    return sum(len(batches) for batches in download.batches.values())


def _first_seq(delivery: BatchDelivery) -> int:
    return min((run[1] for run in delivery.live), default=0)


class _BatchBudget:
    """The batch parts one export may still write (``MAX_BUNDLE_BATCHES`` in all); the first
    seq of each space's versions left out past it, below which the cursor item stays."""

    def __init__(self, parts: int) -> None:
        self.left = parts
        self.first_left_out: dict[str, int] = {}

    def take(self, space: str, live: Sequence[tuple[int, int, int]], report: ExportReport) -> bool:
        if self.left > 0:
            self.left -= 1
            return True
        report.past_cap += sum(run[2] for run in live)
        if live:
            first = min(run[1] for run in live)
            self.first_left_out[space] = min(self.first_left_out.get(space, first), first)
        return False

    def cursor_below(self, space: str, reached: int) -> int:
        first = self.first_left_out.get(space)
        return reached if first is None else min(reached, first - 1)


def _write_batch(
    writer: BundleWriter,
    space: str,
    author: str,
    blob: bytes,
    live: Sequence[tuple[int, int, int]],
    report: ExportReport,
) -> None:
    # The runs go flat: one list, however scattered the entries (a frame's containers are few).
    flat = [number for run in live for number in run]
    writer.add(BATCH, {"space": space, "author": author, "batch": blob, "live": flat})
    report.batches += 1
    report.records += sum(run[2] for run in live)


def _carriable(changes: Sequence[Change]) -> list[Change]:
    """The downloaded changes a bundle can carry: those with an envelope of their own (a
    version the server holds in a batch comes without one to a download, which asks for none)."""
    return [change for change in changes if change.blob]


def _write_download(
    writer: BundleWriter,
    download: Download,
    step: Callable[[], None],
    report: ExportReport,
    budget: _BatchBudget,
) -> int:
    """The device's statements, its wraps, then per space its changes, batches and cursor."""
    count = 0
    for space, statements in sorted(download.statements.items()):
        for version, blob in statements:
            writer.add(STATEMENT, {"space": space, "version": version, "blob": blob})
            count += 1
            step()
    for space, wraps in sorted(download.wraps.items()):
        for epoch, issuer, blob in wraps:
            writer.add(WRAP, {"space": space, "epoch": epoch, "issuer": issuer, "blob": blob})
            step()
    for space, changes in sorted(download.changes.items()):
        for change in _carriable(changes):
            writer.add(RECORD, [change.seq, change.blob])
            step()
        # By first seq, as from the store: the server orders a page's batches by id, and the
        # cursor stops below the first one past the cap, so a later one taken first would be
        # taken again by every next bundle and the earlier one would never come.
        for delivery in sorted(download.batches.get(space, []), key=_first_seq):
            if budget.take(space, delivery.live, report):
                _write_batch(writer, space, delivery.author, delivery.batch, delivery.live, report)
                step()
        # Not past a version left out (no envelope from an older server): the device's next
        # grant then asks for it again.
        reached = download.reached.get(space, 0)
        left = [change.seq for change in changes if not change.blob]
        if left:
            reached = min(reached, min(left) - 1)
        reached = budget.cursor_below(space, reached)
        writer.add(CURSOR, {"space": space, "from": download.started.get(space, 0), "to": reached})
        step()
    return count


def owner_only(path: Path) -> IO[bytes]:
    """``path`` opened for writing, emptied, readable by its owner only whatever the umask
    (a bundle names devices, spaces and their members); also a stale file left behind."""
    import os

    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    return os.fdopen(descriptor, "wb")


def _fsync(stream: IO[bytes]) -> None:
    import os

    os.fsync(stream.fileno())


def _as_mutation(entry: OutboxEntry) -> Mutation:
    from sync.client.chunks import referenced_chunks

    return Mutation(
        entry.mutation_id,
        entry.space,
        entry.record,
        entry.base,
        entry.blob,
        entry.content is None,
        referenced_chunks(entry.content),
        read_header(entry.blob)[0].epoch,
    )


def _mutation_item(author: str, mutation: Mutation) -> dict[str, Any]:
    return {"author": author, **mutation.to_wire()}


# --- import -----------------------------------------------------------------------------------


def import_bundle(
    engine: SyncEngine, path: Path, *, progress: BundleProgress | None = None
) -> ImportReport:
    """Verify and apply a bundle, streamed one signed segment at a time.

    A damaged file is reported in ``ImportReport.problem`` (never raised): what verified
    before the damage is applied and kept, nothing after it. Importing the same bundle again
    is refused as ``replayed``; an older bundle or one in another order changes nothing more.
    """
    state = _carry_state(engine)
    keys = engine.state.device_keys()
    if keys is None:
        from sync.client.engine import NotEnrolled

        raise NotEnrolled()
    report = ImportReport()
    size = path.stat().st_size
    with open(path, "rb") as stream:
        try:
            preamble, segments = read_segments(
                stream, None if progress is None else lambda done: progress(done, size)
            )
        except BundleRefused as refusal:
            report.problem, report.problem_item = refusal.problem, refusal.item
            return report
        report.bundle_id = preamble.bundle_id
        report.exporter = preamble.signer.device_id
        report.exporter_fingerprint = str(Fingerprint.of(preamble.signer))
        if state.bundle_seen(preamble.bundle_id):
            report.problem = BundleProblem.REPLAYED
            return report
        # After an upgrade, a version kept sealed opens before the bundle's are merged with it
        # (a device reached only by bundles never runs a sync, where this happens otherwise).
        report.reopened = engine.state.reopen_sealed()
        session = _Import(engine, state, keys.device_id, preamble.signer, report)
        try:
            for segment in segments:
                session.apply(segment)
        except BundleRefused as refusal:
            report.problem, report.problem_item = refusal.problem, refusal.item
            return report
        finally:
            # Once every record is in (a parent's deletion and its children's may be far apart
            # in the file), what belongs together is judged as after a sync's pages: without
            # it, an incident deleted by bundle left a carried act under it reachable from no
            # screen, and the deleting device sent its deletion again after every trip.
            report.restored = engine.state.keep_together()
    state.mark_bundle_seen(preamble.bundle_id)
    if report.chunks and engine.chunks is not None:
        # Files whose chunks all came: verified (tags, order, digest) and stored, no request.
        report.files = engine.chunks.assemble_received()
    return report


class _Import:
    """Applies verified segments in order; holds the keyring as statements arrive."""

    def __init__(
        self,
        engine: SyncEngine,
        state: CarryState,
        me: str,
        signer: DevicePublicKeys,
        report: ImportReport,
    ) -> None:
        self.engine = engine
        self.state = state
        self.me = me
        self.signer = signer
        self.exporter = signer.device_id
        self.report = report
        self.sync_report = SyncReport()
        self.keyring, self.pins = engine.verified_view(self.sync_report)
        #: Settled records not yet stored, per space: one transaction per space and segment.
        self.settled: dict[str, dict[str, Settlement]] = {}
        #: This device's unsent entries by (space, record), read once and kept as own changes
        #: come back (a read per change made n changes handed back read n whole outboxes).
        self._outbox: dict[tuple[str, str], OutboxEntry] | None = None
        self.batch_parts = 0
        #: Per space, the first seq of a batch part left out past the cap: the cursor item
        #: stays below it, so the next bundle for this device brings it.
        self.withheld: dict[str, int] = {}
        #: Kept revisions of the segment's records, read in one lookup per space when the
        #: segment begins (``_look_up_held``); a record stored since is looked up again.
        self._held: dict[tuple[str, str], int] = {}

    def _store_settled(self) -> None:
        cursors = self.state.cursors() if self.settled else {}
        for space, settlements in self.settled.items():
            self.state.apply_page(space, cursors.get(space, 0), list(settlements.values()))
            self._outbox = None  # storing a settlement drops the record's stale entries
            for record in settlements:
                self._held.pop((space, record), None)
        self.settled = {}

    def _look_up_held(self, segment: list[Item]) -> None:
        """The kept revisions of every record the segment's record items name, one lookup per
        space (one a record cost a query each). A blob whose header does not read is left to
        ``_record`` to refuse."""
        named: dict[str, list[str]] = {}
        for item in segment:
            if item.kind != RECORD or not isinstance(item.payload, list):
                continue
            try:
                header = read_header(bytes(item.payload[1]))[0]
            except (CryptoError, IndexError, TypeError, ValueError):
                continue
            if header.space in self.keyring.logs:
                named.setdefault(header.space, []).append(header.record)
        self._held = {}
        for space, records in named.items():
            held = self.state.held_revisions(space, sorted(set(records)))
            self._held.update({(space, record): held.get(record, 0) for record in records})

    def apply(self, segment: list[Item]) -> None:
        self._look_up_held(segment)
        for item in segment:
            if item.kind != RECORD:
                # Anything else may touch what the records just settled: store them first.
                self._store_settled()
            self.report.items += 1
            payload = item.payload
            if not isinstance(payload, dict) and not (
                item.kind == RECORD and isinstance(payload, list)
            ):
                raise BundleRefused(BundleProblem.DAMAGED, item.index, "item is not a map")
            try:
                handler = {
                    HAVE: self._have,
                    STATEMENT: self._statement,
                    RECORD: self._record,
                    CURSOR: self._cursor,
                    MUTATION: self._mutation,
                    WRAP: self._wrap,
                    GRANT: self._grant,
                    CHUNK: self._chunk,
                    BATCH: self._batch,
                }.get(item.kind)
                if handler is None:
                    self.report.skipped += 1  # a newer exporter's kind: ignored, as §1 says
                    continue
                handler(payload)
            except (KeyError, IndexError, TypeError, ValueError, ProtocolError) as error:
                # Signed by the exporter yet malformed: refuse the item, keep going.
                space = payload.get("space", "") if isinstance(payload, dict) else ""
                self.report.refused.append(Refusal(str(space), "", 0, "bad_item", str(error)[:200]))
        self._store_settled()
        self.report.refused.extend(self.sync_report.refused)
        self.report.conflicts += self.sync_report.conflicts
        self.report.flags += self.sync_report.flags
        self.report.unreadable += self.sync_report.unreadable
        self.sync_report = SyncReport()

    # --- items ---------------------------------------------------------------------------------

    def _have(self, payload: dict[str, Any]) -> None:
        spaces = payload["spaces"]
        cursors = {
            str(space): int(value["cursor"])
            for space, value in spaces.items()
            if isinstance(value, dict)
        }
        if self.exporter != self.me:
            self.state.save_peer_cursors(self.exporter, cursors)

    def _chunk(self, payload: dict[str, Any]) -> None:
        space, address = str(payload["space"]), str(payload["address"])
        data = bytes(payload["data"])
        state = self.engine.state
        if not data or space not in self.keyring.logs or not isinstance(state, AttachmentState):
            self.report.skipped += 1
            return
        if chunk_hash(data) != address:
            # Never kept: a chunk that is not what its address says. The file stays wanted.
            self.report.refused.append(Refusal(space, "", 0, "chunk_hash_mismatch", address))
            return
        held = state.received(space, address)
        if held is None or not held[1]:
            state.save_received(space, address, data, complete=True)
        self.report.chunks += 1

    def _grant(self, payload: dict[str, Any]) -> None:
        grant, signature = bytes(payload["grant"]), bytes(payload["signature"])
        parsed = CourierGrant.from_bytes(grant)
        if parsed.device != self.exporter or parsed.device == self.me:
            return  # only a device's own grant, straight from it, is kept
        if not self.signer.verify(signature, GRANT_CONTEXT + grant):
            self.report.refused.append(Refusal("", "", 0, "signature_invalid", "grant"))
            return
        self.state.save_courier_grant(parsed.device, grant, signature)

    def _wrap(self, payload: dict[str, Any]) -> None:
        space, blob = str(payload["space"]), bytes(payload["blob"])
        epoch, issuer = int(payload["epoch"]), str(payload["issuer"])
        if space not in self.keyring.logs or KeyWrap.from_bytes(blob).recipient != self.me:
            self.report.skipped += 1
            return
        if (space, epoch) in self.keyring.keys:
            return
        try:
            self.keyring.add_wrap(space, epoch, blob, issuer)
        except CryptoError as error:
            self.report.refused.append(Refusal(space, "", epoch, error.code.value, "key wrap"))
            return
        self.state.add_wrap(StoredWrap(space, epoch, issuer, blob))

    def _statement(self, payload: dict[str, Any]) -> None:
        space, blob = str(payload["space"]), bytes(payload["blob"])
        log = self.keyring.logs.get(space)
        if log is None:
            # A space this device does not sync: nothing to verify it against, nothing to do.
            self.report.skipped += 1
            return
        statement = MembershipStatement.from_bytes(blob)
        held = log.statement(statement.version)
        if statement.version < log.latest.version and held is not None:
            if held.hash != statement.hash:
                # Another statement at a version held: someone is shown a fork (CRYPTO.md §4).
                self._refused_statement(space, statement.version, CryptoErrorCode.MEMBERSHIP_FORK)
            return  # an older statement of the chain held: nothing new
        try:
            if log.accept(blob):
                self.state.add_statements(space, [blob])
                self.state.save_pins(self.pins)
                self.report.statements += 1
        except CryptoError as error:
            self._refused_statement(space, int(payload.get("version", 0)), error.code)

    def _refused_statement(self, space: str, version: int, code: CryptoErrorCode) -> None:
        self.report.refused.append(Refusal(space, "", version, code.value, "statement"))
        if code is CryptoErrorCode.MEMBERSHIP_FORK:
            self.state.mark_forked(space)  # its outbox is held until the person acts

    def _record(self, payload: Any) -> None:
        seq, blob = int(payload[0]), bytes(payload[1])
        try:
            header, _length = read_header(blob)
        except CryptoError as error:
            self.report.refused.append(Refusal("", "", 0, error.code.value, "record"))
            return
        # The server states these beside the blob; a bundle carries the blob alone and they are
        # read from its signed header (a blob cannot claim another identity than it was sealed as).
        space = header.space
        change = Change.from_wire(
            {
                "record": header.record,
                "revision": header.revision,
                "seq": seq,
                "blob": blob,
                "deleted": header.kind is EnvelopeKind.TOMBSTONE,
                "author": header.author,
            }
        )
        if space not in self.keyring.logs:
            self.report.skipped += 1
            return
        if change.record in self.settled.get(space, {}):
            self._store_settled()  # the same record twice in a segment: settle in order
        local = self.state.local_record(space, change.record)
        newest = self._newest(space, change.record, local)
        if newest and change.revision <= newest:
            # Already held, or older: an older bundle changes nothing.
            self.report.older += change.revision < newest
            return
        own = self._own_entry(space, change)
        if own is not None:
            # Our own unsent change, handed back. Nothing in a bundle shows that the server
            # took it: any member who saw a bundle of ours holds the same bytes. The record
            # takes it as its version (later versions merge against it, and later edits here
            # are sealed on it), but the mutation is kept until the server answers it at the
            # next online sync (``SyncEngine._confirm_returned``): accepted, also for an id it
            # took before from a courier (PROTOCOL.md §7), or else the change is reopened
            # against the base it started from and sent again.
            self.state.take_returned(
                own, _as_mutation(own), local.base if local is not None else None, change.revision
            )
            # Taking it drops only its own entry (``take_returned``).
            assert self._outbox is not None
            del self._outbox[(space, change.record)]
            self._held.pop((space, change.record), None)
            self.report.own_returned += 1
            return
        if change.author == self.me and local is not None and local.dirty:
            # A change of ours that is no longer waiting here (the server answered it otherwise
            # and the record was reopened, or it was sealed again since), replayed: nothing
            # shows the server took it, and taken as its version of this revision the record
            # would stand there clean, its edit never sent and the server's own version of that
            # revision skipped as not newer (issue 14). Online sync brings what the server holds.
            self.report.skipped += 1
            return
        remote = self.engine.verify_change(space, change, self.keyring, self.sync_report)
        if remote is None:
            return
        if not self._within_tenure(space, header.author, header.epoch, admin=False):
            self._leave_out(space, [change], header.author, header.epoch)
            return
        settlement = settle(local, remote, self.engine.merge_rules(local, remote))
        self.settled.setdefault(space, {})[change.record] = settlement
        self.report.records += 1
        self.sync_report.conflicts += len(settlement.conflicts)
        self.sync_report.flags += len(settlement.flags)

    def _batch(self, payload: dict[str, Any]) -> None:
        """A sealed batch, verified exactly as a delivered one (``open_delivery``: author,
        role at its epoch, signature, statement, key, then contents bounded by the signed
        length) and refused whole by name; then each entry stated live settles as a pulled
        record, only where it is newer than held (PROTOCOL.md §12.3)."""
        space, author = str(payload["space"]), check_device_id(payload["author"], "author")
        blob, flat = payload["batch"], payload["live"]
        if not isinstance(blob, bytes) or not isinstance(flat, list):
            raise ValueError("batch item fields")
        if space not in self.keyring.logs:
            self.report.skipped += 1
            return
        if len(blob) > MAX_BATCH_BYTES or len(flat) > 3 * MAX_ENTRIES:
            # Bounded before anything is parsed, let alone decrypted or expanded.
            self.report.refused.append(Refusal(space, "", 0, "too_large", "batch"))
            return
        if len(flat) % 3 or not all(isinstance(n, int) and 0 <= n < 2**62 for n in flat):
            raise ValueError("batch runs")
        runs = tuple((flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3))
        self.batch_parts += 1
        if self.batch_parts > MAX_BUNDLE_BATCHES:
            # Left out unread: past the cap, a part costs nothing but this check.
            versions = sum(run[2] for run in runs)
            detail = f"{versions} versions past the {MAX_BUNDLE_BATCHES} batch parts a bundle holds"
            self.report.leave_out(Refusal(space, "", 0, TOO_MANY_BATCHES, detail))
            if runs:
                self._withhold(space, min(run[1] for run in runs))
            return
        try:
            delivered = open_delivery(
                space, BatchDelivery(blob, author, runs), self.keyring, 0, 2**62
            )
        except CryptoError as error:
            if error.code is CryptoErrorCode.KEY_UNAVAILABLE:
                self.report.unreadable += sum(run[2] for run in runs)
                return
            self.report.refused.append(Refusal(space, "", 0, error.code.value, "batch"))
            if error.code is CryptoErrorCode.MEMBERSHIP_FORK:
                self.state.mark_forked(space)
            return
        header = delivered.opened.header
        snapshot = header.kind is BatchKind.SNAPSHOT
        if not self._within_tenure(space, header.signer, header.epoch, admin=snapshot):
            self._leave_out(space, list(delivered.changes), header.signer, header.epoch)
            return
        # Everything before this item is stored (``apply``), and a batch names a record once.
        named = [change.record for change in delivered.changes]
        kept = self.state.held_revisions(space, named)
        here = self.state.local_records(space, named)  # one read, not one per entry
        for change in delivered.changes:
            remote = delivered.records[change.record]
            local = here.get(change.record)
            newest = max(local.revision if local is not None else 0, kept.get(change.record, 0))
            if newest and change.revision <= newest:
                self.report.older += change.revision < newest
                continue
            settlement = settle(local, remote, self.engine.merge_rules(local, remote))
            self.settled.setdefault(space, {})[change.record] = settlement
            self.report.records += 1
            self.sync_report.conflicts += len(settlement.conflicts)
            self.sync_report.flags += len(settlement.flags)

    def _within_tenure(self, space: str, author: str, epoch: int, *, admin: bool) -> bool:
        """Whether a version sealed by ``author`` at ``epoch`` may be taken from a bundle: the
        author holds the right (to write; to administer, for a snapshot) in the newest statement
        held, and has held it without a break since ``epoch`` or before. Online, the server
        refuses a write at an epoch older than the space's (``stale_epoch``) and a non-member's;
        a bundle carries no word of the server, so without this rule a removed or demoted
        device could seal any revision under its old key and statement, at any time, and every
        recipient would take it, and count the members' later edits as older."""
        since = self.keyring.logs[space].tenure_epoch(author, admin=admin)
        return since is not None and epoch >= since

    def _leave_out(self, space: str, changes: Sequence[Change], author: str, epoch: int) -> None:
        detail = f"sealed by {author} at epoch {epoch}, which no longer holds that right"
        for change in changes:
            self.report.leave_out(
                Refusal(space, change.record, change.revision, AUTHOR_RIGHTS_ENDED, detail)
            )
        # The cursor item may still pass these seqs: no bundle can ever make such a version
        # taken here (the author's hold of the right only starts later from now on), so
        # keeping the bundle cursor below it would only make every next bundle for this
        # device start there again (and, past MAX_BUNDLE_BATCHES batches after it, never
        # reach the rest). Online sync pulls from its own cursor, which a bundle never moves,
        # and brings the genuine ones.

    def _withhold(self, space: str, seq: int) -> None:
        self.withheld[space] = min(self.withheld.get(space, seq), seq)

    def _newest(self, space: str, record: str, local: LocalRecord | None) -> int:
        """The newest revision of ``record`` known here: the record's, or a kept version's
        when newer. A deletion of a record never held leaves only its kept tombstone; without
        it, an older bundle arriving after a newer one would bring the deleted content back."""
        held = self._held.get((space, record))
        if held is None:  # not named when the segment began, or stored since
            held = self.state.held_revisions(space, [record]).get(record, 0)
        return max(local.revision if local is not None else 0, held)

    def _own_entry(self, space: str, change: Change) -> OutboxEntry | None:
        if change.author != self.me or change.blob is None:
            return None
        if self._outbox is None:
            self._outbox = {(entry.space, entry.record): entry for entry in self.state.outbox()}
        entry = self._outbox.get((space, change.record))
        return entry if entry is not None and entry.blob == change.blob else None

    def _cursor(self, payload: dict[str, Any]) -> None:
        """How far a bundle brought this device. Kept apart from the sync cursor: a seq is the
        server's word, unsigned, so a hostile bundle could overstate it; it then only makes
        the next bundles for us smaller (withholding, which a bundle can do anyway), while
        online sync still pulls from where this device itself last synced."""
        space = str(payload["space"])
        if space not in self.keyring.logs:
            return
        held = held_cursors(self.state, self.me)
        complete_from, reached = int(payload["from"]), int(payload["to"])
        if space in self.withheld:
            reached = min(reached, self.withheld[space] - 1)
        if complete_from <= held.get(space, 0) < reached:
            mine = self.state.peer_cursors(self.me)
            mine[space] = reached
            self.state.save_peer_cursors(self.me, mine)

    def _mutation(self, payload: dict[str, Any]) -> None:
        author = check_device_id(payload.get("author"), "author")
        mutation = Mutation.from_wire(payload)
        if author == self.me:
            return  # ours, carried back: the outbox still holds it
        carried = CarriedMutation(author, mutation)
        if self.state.known_carried([carried.key]):
            return
        if mutation.blob is None:
            self.report.refused.append(
                Refusal(mutation.space, mutation.record, 0, "unsigned_tombstone")
            )
            return
        log = self.keyring.logs.get(mutation.space)
        if log is None:
            # Not a space we sync: carried unopened towards the server, which checks the
            # author's signature and rights itself.
            self.state.add_carried([carried])
            self.report.carried += 1
            return
        remote = self._open_mutation(log, author, mutation)
        if remote is None:
            return
        self.state.add_carried([carried])
        self.report.carried += 1
        if remote.content is _UNREAD:
            return
        self._merge_locally(mutation, remote)

    def _open_mutation(
        self, log: MembershipLog, author: str, mutation: Mutation
    ) -> RemoteRecord | None:
        """Verify a carried mutation as the server will: its author must be a writer in the
        newest statement held (a removed member or a reader is refused here, whatever epoch
        it sealed at), and the envelope must open as exactly this mutation."""
        space, record = mutation.space, mutation.record
        member = log.latest.member(author)
        if member is None or not member.role.can_write:
            self.report.refused.append(
                Refusal(
                    space,
                    record,
                    mutation.base + 1,
                    CryptoErrorCode.UNKNOWN_SIGNER.value,
                    "not a writer in the newest statement",
                )
            )
            return None
        assert mutation.blob is not None
        try:
            opened = open_record(
                mutation.blob,
                space=space,
                record=record,
                revision=mutation.base + 1,
                keys=self.keyring,
                author=author,
            )
        except CryptoError as error:
            if error.code is CryptoErrorCode.KEY_UNAVAILABLE:
                # Sealed under an epoch we have no key for yet: carried, not read.
                self.report.unreadable += 1
                return RemoteRecord(space, record, mutation.base, author, _UNREAD)
            self.report.refused.append(
                Refusal(space, record, mutation.base + 1, error.code.value, error.detail)
            )
            if error.code is CryptoErrorCode.MEMBERSHIP_FORK:
                self.state.mark_forked(space)
            return None
        if opened.deleted != mutation.deleted or (
            mutation.epoch is not None and opened.header.epoch != mutation.epoch
        ):
            self.report.refused.append(
                Refusal(space, record, mutation.base + 1, "content_mismatch", "mutation fields")
            )
            return None
        if not self._within_tenure(space, author, opened.header.epoch, admin=False):
            # A writer again after losing the right, sealing under a key from before: what
            # the removed device could have sealed at any time (the server says stale_epoch).
            self.report.refused.append(
                Refusal(
                    space,
                    record,
                    mutation.base + 1,
                    CryptoErrorCode.UNKNOWN_SIGNER.value,
                    "sealed before its author last became a writer",
                )
            )
            return None
        content = opened.content
        if content is not None and (
            content.get("id") != record or content.get("space_id") != space
        ):
            self.report.refused.append(
                Refusal(space, record, mutation.base + 1, "content_mismatch", "identity")
            )
            return None
        return RemoteRecord(space, record, mutation.base, author, content, alone=opened.alone)

    def _merge_locally(self, mutation: Mutation, remote: RemoteRecord) -> None:
        """Show the carried edit here at once: merged three ways into the record when it
        starts from the revision held; otherwise it only travels on (the server or its
        author merges it, and the result comes back as a record)."""
        local = self.state.local_record(mutation.space, mutation.record)
        if local is None:
            if mutation.base != 0 or remote.content is None:
                return
            settlement = Settlement(remote, remote.content, dirty=True)
        else:
            if local.revision != mutation.base:
                return
            as_edited = LocalRecord(
                local.space,
                local.record,
                local.revision,
                local.content,
                local.base,
                True,
                local.rules,
                local.chosen,
            )
            merged = settle(as_edited, remote, local.rules)
            base = local.base if local.revision else None
            dirty = _canonical(merged.content) != _canonical(base)
            settlement = Settlement(
                remote,
                merged.content,
                dirty=dirty,
                conflicts=merged.conflicts,
                flags=merged.flags,
                duplicate=merged.duplicate,
            )
        self.state.apply_carried(settlement)
        self.report.merged += 1
        self.sync_report.conflicts += len(settlement.conflicts)
        self.sync_report.flags += len(settlement.flags)


#: Marks a carried mutation sealed under an epoch this device holds no key for.
_UNREAD: Any = {"__unread__": True}


def _canonical(content: Any) -> str:
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def bundle_signer(path: Path) -> tuple[str, str]:
    """The exporting device id and its fingerprint, read from the preamble (not verified)."""
    from sync.client.bundle_format import read_preamble

    with open(path, "rb") as stream:
        preamble, _running = read_preamble(stream)
    return device_id_for(preamble.signer.sign_key), str(Fingerprint.of(preamble.signer))


def iter_items(segments: Iterable[list[Item]]) -> Iterable[Item]:
    for segment in segments:
        yield from segment


__all__ = [
    "BundleProblem",
    "ExportReport",
    "ImportReport",
    "NotForBundles",
    "SpaceKeyring",
    "bundle_signer",
    "export_bundle",
    "import_bundle",
]
