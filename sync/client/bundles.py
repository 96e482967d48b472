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

from sync.client.bundle_format import (
    BundleProblem,
    BundleRefused,
    BundleWriter,
    Item,
    read_segments,
)
from sync.client.carry import CarriedMutation, CarryState
from sync.client.courier import Download, download_for, make_grant
from sync.client.engine import Refusal, SyncEngine, SyncReport, settle
from sync.client.state import LocalRecord, OutboxEntry, RemoteRecord, Settlement, StoredWrap
from sync.client.transport import ServerRefused, TransportError
from sync.crypto.envelope import open_record, read_header
from sync.crypto.errors import CryptoError, CryptoErrorCode
from sync.crypto.keys import DevicePublicKeys, Fingerprint
from sync.crypto.spaces import KeyWrap, MembershipLog, MembershipStatement, SpaceKeyring
from sync.protocol import (
    GRANT_CONTEXT,
    Change,
    CourierGrant,
    Mutation,
    ProtocolError,
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


@dataclass
class ExportReport:
    bundle_id: str = ""
    bytes: int = 0
    records: int = 0
    mutations: int = 0
    statements: int = 0
    spaces: list[str] = field(default_factory=list)


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
    own_accepted: int = 0
    statements: int = 0
    skipped: int = 0
    conflicts: int = 0
    flags: int = 0
    unreadable: int = 0
    refused: list[Refusal] = field(default_factory=list)
    problem: BundleProblem | None = None
    problem_item: int = 0


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
    progress: BundleProgress | None = None,
) -> ExportReport:
    """Write a bundle to ``path`` (``.partial`` first, renamed once complete and flushed).

    ``spaces``: the spaces whose records go in (default: every space held). ``for_device``:
    send only versions newer than what that device's last bundle said it held.
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
    outbox = engine.seal_all_pending(keyring)
    carried = state.carried(pending_only=True)
    cursors = state.cursors()
    peer = state.peer_cursors(for_device) if for_device else {}
    plan: list[tuple[str, int, int]] = []  # space, records after seq, completeness from
    for space in chosen:
        floor = state.blob_floor(space)
        known = peer.get(space, 0)
        after = known if known >= floor else 0
        plan.append((space, after, max(after, floor)))
    statements = {space: engine.state.statements(space) for space in chosen}
    grant = make_grant(
        keys,
        cursors={space: cursors.get(space, 0) for space in held},
        statements={space: keyring.logs[space].latest.version for space in held},
        epochs={
            space: max((e for (s, e) in keyring.keys if s == space), default=0) for space in held
        },
    )
    total = (
        2
        + sum(len(blobs) for blobs in statements.values())
        + _download_items(download)
        + sum(state.count_record_blobs(space, after) + 1 for space, after, _ in plan)
        + len(outbox)
        + len(carried)
    )
    report = ExportReport(spaces=list(chosen))
    partial = path.with_name(path.name + ".partial")
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    with open(partial, "wb") as stream:
        writer = BundleWriter(stream, keys, total)
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
            report.statements += _write_download(writer, download, step)
            report.records += sum(len(changes) for changes in download.changes.values())
            report.spaces.extend(sorted(download.changes))
        for space, blobs in statements.items():
            for version, blob in enumerate(blobs, start=1):
                writer.add(STATEMENT, {"space": space, "version": version, "blob": blob})
                report.statements += 1
                step()
        for space, after, complete_from in plan:
            for stored in state.record_blobs(space, after):
                writer.add(
                    RECORD,
                    {
                        "space": stored.space,
                        "record": stored.record,
                        "revision": stored.revision,
                        "seq": stored.seq,
                        "author": stored.author,
                        "deleted": stored.deleted,
                        "blob": stored.blob,
                    },
                )
                report.records += 1
                step()
            # After the space's records: an importer that gets this far holds every version
            # up to our cursor (from ``complete_from`` on) and may move its cursor there.
            writer.add(CURSOR, {"space": space, "from": complete_from, "to": cursors.get(space, 0)})
            step()
        for entry in outbox:
            writer.add(MUTATION, _mutation_item(keys.device_id, _as_mutation(entry)))
            report.mutations += 1
            step()
        for carried_mutation in carried:
            writer.add(MUTATION, _mutation_item(carried_mutation.author, carried_mutation.mutation))
            report.mutations += 1
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
        engine, path, spaces=spaces, for_device=device, download=download, progress=progress
    )
    return report, reason


def _download_items(download: Download | None) -> int:
    if download is None:
        return 0
    return (
        sum(len(items) for items in download.statements.values())
        + sum(len(items) for items in download.wraps.values())
        + sum(len(changes) + 1 for changes in download.changes.values())
    )


def _write_download(writer: BundleWriter, download: Download, step: Callable[[], None]) -> int:
    """The device's statements, its wraps, then per space its changes and cursor."""
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
        for change in changes:
            writer.add(RECORD, {"space": space, **change.to_wire()})
            step()
        writer.add(
            CURSOR,
            {
                "space": space,
                "from": download.started.get(space, 0),
                "to": download.reached.get(space, 0),
            },
        )
        step()
    return count


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
        session = _Import(engine, state, keys.device_id, preamble.signer, report)
        try:
            for segment in segments:
                session.apply(segment)
        except BundleRefused as refusal:
            report.problem, report.problem_item = refusal.problem, refusal.item
            return report
    state.mark_bundle_seen(preamble.bundle_id)
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
        self._outbox: list[OutboxEntry] | None = None

    def _store_settled(self) -> None:
        cursors = self.state.cursors() if self.settled else {}
        for space, settlements in self.settled.items():
            self.state.apply_page(space, cursors.get(space, 0), list(settlements.values()))
            self._outbox = None  # storing a settlement drops the record's stale entries
        self.settled = {}

    def apply(self, segment: list[Item]) -> None:
        for item in segment:
            if item.kind != RECORD:
                # Anything else may touch what the records just settled: store them first.
                self._store_settled()
            self.report.items += 1
            payload = item.payload
            if not isinstance(payload, dict):
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
                }.get(item.kind)
                if handler is None:
                    self.report.skipped += 1  # a newer exporter's kind: ignored, as §1 says
                    continue
                handler(payload)
            except (KeyError, TypeError, ValueError, ProtocolError) as error:
                # Signed by the exporter yet malformed: refuse the item, keep going.
                self.report.refused.append(
                    Refusal(str(payload.get("space", "")), "", 0, "bad_item", str(error)[:200])
                )
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

    def _record(self, payload: dict[str, Any]) -> None:
        space = str(payload["space"])
        change = Change.from_wire(payload)
        if space not in self.keyring.logs:
            self.report.skipped += 1
            return
        if change.record in self.settled.get(space, {}):
            self._store_settled()  # the same record twice in a segment: settle in order
        local = self.state.local_record(space, change.record)
        if local is not None and change.revision <= local.revision:
            return  # already held (or older: an older bundle changes nothing)
        own = self._own_entry(space, change)
        if own is not None:
            # Our own sealed mutation, back from the server through a courier: it was accepted.
            self.state.apply_accepted(own, change.revision, change.seq)
            self._outbox = None
            self.report.own_accepted += 1
            return
        remote = self.engine.verify_change(space, change, self.keyring, self.sync_report)
        if remote is None:
            return
        settlement = settle(local, remote, self.engine.merge_rules(local, remote))
        self.settled.setdefault(space, {})[change.record] = settlement
        self.report.records += 1
        self.sync_report.conflicts += len(settlement.conflicts)
        self.sync_report.flags += len(settlement.flags)

    def _own_entry(self, space: str, change: Change) -> OutboxEntry | None:
        if change.author != self.me or change.blob is None:
            return None
        if self._outbox is None:
            self._outbox = self.state.outbox()
        for entry in self._outbox:
            if entry.space == space and entry.record == change.record and entry.blob == change.blob:
                return entry
        return None

    def _cursor(self, payload: dict[str, Any]) -> None:
        space = str(payload["space"])
        if space not in self.keyring.logs:
            return
        held = self.state.cursors().get(space, 0)
        complete_from, reached = int(payload["from"]), int(payload["to"])
        if complete_from <= held < reached:
            self.state.apply_page(space, reached, [])

    def _mutation(self, payload: dict[str, Any]) -> None:
        author = str(payload["author"])
        device_id_check = payload.get("author")
        if not isinstance(device_id_check, str):
            raise ValueError("author")
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
        content = opened.content
        if content is not None and (
            content.get("id") != record or content.get("space_id") != space
        ):
            self.report.refused.append(
                Refusal(space, record, mutation.base + 1, "content_mismatch", "identity")
            )
            return None
        return RemoteRecord(space, record, mutation.base, author, content)

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
