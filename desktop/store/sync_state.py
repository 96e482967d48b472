"""The sync engine's view of an unlocked profile (``sync.client.state.SyncState``), in SQLCipher.
Bases, cursors, the sealed outbox, conflicts, device keys, statements, wraps and pins."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, text, update

from desktop.domain.fields import RecordFormatError
from desktop.domain.records import RECORD_TYPES, from_dict, new_id
from desktop.store.attachments import AttachmentVault
from desktop.store.bundle_state import BundleTables, keep_blob
from desktop.store.files import fsync_folder, open_private, private_folder
from desktop.store.records import RecordStore
from desktop.store.schema import (
    RecordBase,
    RecordCode,
    RecordContent,
    RecordRow,
    SyncChunkHeldRow,
    SyncChunkReceivedRow,
    SyncConflictRow,
    SyncCursorRow,
    SyncDeviceRow,
    SyncInviteAnchorRow,
    SyncInviteRow,
    SyncOutboxRow,
    SyncPinRow,
    SyncSpaceTrustRow,
    SyncStatementRow,
    SyncWrapRow,
)
from desktop.store.search import remove_record
from sync.client.chunks import AttachmentRef
from sync.client.engine import canonical, settle
from sync.client.state import (
    Content,
    FirstUse,
    LocalInvite,
    LocalRecord,
    MergeRules,
    OutboxEntry,
    PendingChange,
    Settlement,
    StoredConflict,
    StoredWrap,
)
from sync.crypto.keys import DeviceKeys, DevicePublicKeys, KeyPins, Pin
from sync.crypto.spaces import MembershipStatement
from sync.protocol import Role

#: Local bookkeeping in ``to_dict``: never sealed, never merged.
_LOCAL_FIELDS = ("revision", "dirty")
#: Shown to people, never merged: the later text is kept (``MergeRules.stamps``).
_STAMPS = ("updated_at",)
#: A conflict kind for a record whose content this app cannot read (a newer schema).
UNREADABLE_FORMAT = "unreadable_format"
FIELD_CONFLICT = "field"


#: Marks a record the engine never read before settling it (nothing to compare).
_UNSEEN: Any = object()


def sealed_content(stored: str) -> Content:
    """A stored ``to_dict`` JSON as sync seals it: without the local bookkeeping."""
    data: dict[str, Any] = json.loads(stored)
    for name in _LOCAL_FIELDS:
        data.pop(name, None)
    return data


def merge_rules(record_type: str) -> MergeRules:
    spec = RECORD_TYPES.get(record_type)
    if spec is None:
        return MergeRules(stamps=_STAMPS)
    return MergeRules(
        fields={f.name: f.merge.value for f in spec.fields},
        append_only=spec.append_only,
        stamps=_STAMPS,
    )


class SpaceAccess(StrEnum):
    """What this device may do with records of a space, from its latest verified statement."""

    #: Not synced (no statement here, or not enrolled): everything stays on this computer.
    LOCAL = "local"
    #: Admin or editor: edits are sealed and sent.
    WRITE = "write"
    #: Reader: the server refuses its pushes (``role_forbidden``), so editing is not offered.
    READ = "read"
    #: No longer listed in the space's latest statement.
    REMOVED = "removed"
    #: May write, but nothing is sealed or sent: the network is not confirmed yet (its admin's
    #: fingerprint not compared) or a fork of its membership was seen. Edits are kept here.
    HELD = "held"

    @property
    def can_write(self) -> bool:
        return self in (SpaceAccess.LOCAL, SpaceAccess.WRITE, SpaceAccess.HELD)


def space_access(engine: Engine, space: str) -> SpaceAccess:
    """Whether this device can write in ``space``: its role in the newest stored statement.

    Statements are stored only after ``MembershipLog`` verified them, so the newest one is
    parsed, not verified again (this runs whenever an editor opens).
    """
    with engine.connect() as connection:
        raw_keys = connection.scalar(select(SyncDeviceRow.device_keys))
        blob = connection.scalar(
            select(SyncStatementRow.blob)
            .where(SyncStatementRow.space_id == space)
            .order_by(SyncStatementRow.version.desc())
            .limit(1)
        )
        trust = connection.scalar(
            select(SyncSpaceTrustRow.state).where(SyncSpaceTrustRow.space_id == space)
        )
    if raw_keys is None or blob is None:
        return SpaceAccess.LOCAL
    member = MembershipStatement.from_bytes(blob).member(DeviceKeys.from_bytes(raw_keys).device_id)
    if member is None:
        return SpaceAccess.REMOVED
    if not member.role.can_write:
        return SpaceAccess.READ
    return SpaceAccess.HELD if trust in ("pending", "forked") else SpaceAccess.WRITE


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class ProfileSyncState(BundleTables):
    """``SyncState`` over one unlocked profile's engine; each method is one transaction."""

    def __init__(self, engine: Engine, vault: AttachmentVault | None = None) -> None:
        """``vault``: the profile's attachments; without it files are neither sent nor fetched."""
        self._engine = engine
        self._records = RecordStore(engine)
        self._seen: dict[str, tuple[int, bool, str | None] | None] = {}
        self._vault = vault

    # --- identity -------------------------------------------------------------------------

    def server_url(self) -> str | None:
        with self._engine.connect() as connection:
            return connection.scalar(select(SyncDeviceRow.server_url))

    def device_keys(self) -> DeviceKeys | None:
        with self._engine.connect() as connection:
            raw = connection.scalar(select(SyncDeviceRow.device_keys))
        return None if raw is None else DeviceKeys.from_bytes(raw)

    def save_enrollment(self, server_url: str, keys: DeviceKeys) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(SyncDeviceRow))
            connection.execute(
                insert(SyncDeviceRow).values(
                    id=1, server_url=server_url, device_keys=keys.to_bytes()
                )
            )

    # --- trust ------------------------------------------------------------------------------

    def pins(self) -> KeyPins:
        with self._engine.connect() as connection:
            rows = connection.execute(select(SyncPinRow)).all()
        return KeyPins(
            Pin(DevicePublicKeys(row.sign_key, row.box_key), verified=row.verified) for row in rows
        )

    def save_pins(self, pins: KeyPins) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(SyncPinRow))
            rows = [
                {
                    "device_id": pin.keys.device_id,
                    "sign_key": pin.keys.sign_key,
                    "box_key": pin.keys.box_key,
                    "verified": pin.verified,
                }
                for pin in pins
            ]
            if rows:
                connection.execute(insert(SyncPinRow), rows)

    def spaces(self) -> list[str]:
        with self._engine.connect() as connection:
            return list(
                connection.scalars(
                    select(SyncStatementRow.space_id).distinct().order_by("space_id")
                )
            )

    def statements(self, space: str) -> list[bytes]:
        with self._engine.connect() as connection:
            return list(
                connection.scalars(
                    select(SyncStatementRow.blob)
                    .where(SyncStatementRow.space_id == space)
                    .order_by(SyncStatementRow.version)
                )
            )

    def add_statements(self, space: str, blobs: Sequence[bytes]) -> None:
        with self._engine.begin() as connection:
            held = connection.scalar(
                text("SELECT count(*) FROM sync_statements WHERE space_id = :s"), {"s": space}
            )
            rows = [
                {"space_id": space, "version": int(held or 0) + i + 1, "blob": blob}
                for i, blob in enumerate(blobs)
            ]
            if rows:
                connection.execute(insert(SyncStatementRow), rows)

    def wraps(self) -> list[StoredWrap]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(SyncWrapRow).order_by(SyncWrapRow.space_id, SyncWrapRow.epoch)
            ).all()
        return [StoredWrap(r.space_id, r.epoch, r.issuer, r.wrap) for r in rows]

    def add_wrap(self, wrap: StoredWrap) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO sync_wraps (space_id, epoch, issuer, wrap) "
                    "VALUES (:s, :e, :i, :w) ON CONFLICT DO NOTHING"
                ),
                {"s": wrap.space, "e": wrap.epoch, "i": wrap.issuer, "w": wrap.wrap},
            )

    # --- trust on first use ------------------------------------------------------------------

    def trust_on_first_use(self, first: FirstUse) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO sync_space_trust (space_id, admin_device, fingerprint, state) "
                    "VALUES (:s, :a, :f, 'pending') ON CONFLICT DO NOTHING"
                ),
                {"s": first.space, "a": first.admin_device, "f": first.fingerprint},
            )

    def spaces_to_confirm(self) -> list[FirstUse]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(SyncSpaceTrustRow)
                .where(SyncSpaceTrustRow.state == "pending")
                .order_by(SyncSpaceTrustRow.space_id)
            ).all()
        return [FirstUse(r.space_id, r.admin_device, r.fingerprint) for r in rows]

    def confirm_space(self, space: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                update(SyncSpaceTrustRow)
                # A fork seen is not undone by confirming the admin's fingerprint.
                .where(SyncSpaceTrustRow.space_id == space, SyncSpaceTrustRow.state == "pending")
                .values(state="confirmed")
            )

    def mark_forked(self, space: str) -> None:
        with self._engine.begin() as connection:
            marked = connection.execute(
                update(SyncSpaceTrustRow)
                .where(SyncSpaceTrustRow.space_id == space, SyncSpaceTrustRow.state != "refused")
                .values(state="forked")
            ).rowcount
            if not marked:
                connection.execute(
                    text(
                        "INSERT INTO sync_space_trust (space_id, admin_device, fingerprint, state) "
                        "VALUES (:s, '', '', 'forked') ON CONFLICT DO NOTHING"
                    ),
                    {"s": space},
                )

    def keep_forked(self, space: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                update(SyncSpaceTrustRow)
                .where(SyncSpaceTrustRow.space_id == space, SyncSpaceTrustRow.state == "forked")
                .values(state="confirmed")
            )

    def forked_spaces(self) -> set[str]:
        with self._engine.connect() as connection:
            return set(
                connection.scalars(
                    select(SyncSpaceTrustRow.space_id).where(SyncSpaceTrustRow.state == "forked")
                )
            )

    def refuse_space(self, space: str) -> None:
        # One transaction: the mark and the forgetting go together, so a sync that starts
        # after it neither pulls the space (no statement) nor discovers it again (the mark).
        with self._engine.begin() as connection:
            marked = connection.execute(
                update(SyncSpaceTrustRow)
                .where(SyncSpaceTrustRow.space_id == space)
                .values(state="refused")
            ).rowcount
            if not marked:
                connection.execute(
                    insert(SyncSpaceTrustRow).values(
                        space_id=space, admin_device="", fingerprint="", state="refused"
                    )
                )
            for table in (
                SyncStatementRow,
                SyncWrapRow,
                SyncCursorRow,
                SyncOutboxRow,
                SyncChunkHeldRow,
                SyncChunkReceivedRow,
            ):
                connection.execute(delete(table).where(table.space_id == space))

    # --- invites and their commitments ---------------------------------------------------------

    def add_invite(self, invite: LocalInvite) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                insert(SyncInviteRow).values(
                    code=invite.code,
                    space_id=invite.space,
                    role=invite.role.value,
                    statement=invite.statement,
                )
            )

    def invites(self, space: str) -> list[LocalInvite]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(SyncInviteRow).where(SyncInviteRow.space_id == space).order_by(text("rowid"))
            ).all()
        return [LocalInvite(r.code, r.space_id, Role(r.role), r.statement) for r in rows]

    def drop_invite(self, code: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(SyncInviteRow).where(SyncInviteRow.code == code))

    def add_anchor(self, anchor: bytes) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                text("INSERT INTO sync_invite_anchors (anchor) VALUES (:a) ON CONFLICT DO NOTHING"),
                {"a": anchor},
            )

    def anchors(self) -> dict[bytes, str | None]:
        with self._engine.connect() as connection:
            rows = connection.execute(select(SyncInviteAnchorRow)).all()
        return {bytes(r.anchor): r.space_id for r in rows}

    def settle_anchor(self, anchor: bytes, space: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                update(SyncInviteAnchorRow)
                .where(SyncInviteAnchorRow.anchor == anchor)
                .values(space_id=space)
            )

    def refused_spaces(self) -> set[str]:
        with self._engine.connect() as connection:
            return set(
                connection.scalars(
                    select(SyncSpaceTrustRow.space_id).where(SyncSpaceTrustRow.state == "refused")
                )
            )

    # --- outbox -----------------------------------------------------------------------------

    def outbox(self) -> list[OutboxEntry]:
        with self._engine.connect() as connection:
            rows = connection.execute(select(SyncOutboxRow).order_by(SyncOutboxRow.record_id))
            return [
                OutboxEntry(
                    r.mutation_id,
                    r.space_id,
                    r.record_id,
                    r.base_revision,
                    r.blob,
                    None if r.content is None else json.loads(r.content),
                )
                for r in rows
            ]

    def pending_changes(self, spaces: Sequence[str], limit: int) -> list[PendingChange]:
        if not spaces or limit <= 0:
            return []
        statement = (
            select(RecordRow.id, RecordRow.space_id, RecordRow.revision, RecordContent.content)
            .outerjoin(RecordContent, RecordContent.id == RecordRow.id)
            .where(
                RecordRow.dirty.is_(True),
                RecordRow.space_id.in_(spaces),
                RecordRow.id.not_in(select(SyncOutboxRow.record_id)),
            )
            .order_by(RecordRow.id)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(statement).all()
        return [
            PendingChange(
                row.space_id,
                row.id,
                row.revision,
                None if row.content is None else sealed_content(row.content),
            )
            for row in rows
        ]

    def add_outbox(self, entries: Sequence[OutboxEntry]) -> None:
        if not entries:
            return
        with self._engine.begin() as connection:
            connection.execute(
                insert(SyncOutboxRow),
                [
                    {
                        "record_id": e.record,
                        "mutation_id": e.mutation_id,
                        "space_id": e.space,
                        "base_revision": e.base,
                        "blob": e.blob,
                        "content": None if e.content is None else _json(e.content),
                    }
                    for e in entries
                ],
            )

    def drop_outbox(self, mutation_id: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(SyncOutboxRow).where(SyncOutboxRow.mutation_id == mutation_id)
            )

    def apply_accepted(self, entry: OutboxEntry, revision: int, seq: int = 0) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(SyncOutboxRow).where(SyncOutboxRow.mutation_id == entry.mutation_id)
            )
            keys = self.device_keys()
            if keys is not None:
                keep_blob(
                    connection, entry.space, entry.record, revision, seq, keys.device_id, entry.blob
                )
            row = connection.execute(
                select(RecordRow.revision, RecordContent.content)
                .outerjoin(RecordContent, RecordContent.id == RecordRow.id)
                .where(RecordRow.id == entry.record)
            ).first()
            if row is None and entry.content is not None:
                # Never synced, deleted here while its first push was in flight: the server
                # took it anyway. Keep a dirty tombstone so the deletion follows it there,
                # instead of the record coming back with the next pull.
                self._tombstone_accepted(connection, entry, revision)
                return
            if row is None or row.revision >= revision:
                return  # a re-sent entry answered again, after newer versions were merged
            current = None if row.content is None else sealed_content(row.content)
            # Edited again while the push was in flight: the newer edit still waits.
            dirty = canonical(current) != canonical(entry.content)
            self._set_sync_state(connection, entry.record, revision, dirty, row.content)
            self._store_base(connection, entry.record, revision, entry.content)

    def _tombstone_accepted(
        self, connection: Connection, entry: OutboxEntry, revision: int
    ) -> None:
        content = entry.content or {}
        connection.execute(
            insert(RecordRow).values(
                id=entry.record,
                record_type=str(content.get("type", "")),
                space_id=entry.space,
                revision=revision,
                dirty=True,
                deleted=True,
                created_at=str(content.get("created_at", "")),
                updated_at=str(content.get("updated_at", "")),
                label="",
            )
        )
        self._store_base(connection, entry.record, revision, entry.content)

    def _set_sync_state(
        self, connection: Connection, record: str, revision: int, dirty: bool, stored: str | None
    ) -> None:
        connection.execute(
            update(RecordRow).where(RecordRow.id == record).values(revision=revision, dirty=dirty)
        )
        if stored is not None:
            # The JSON copy carries the same bookkeeping, which ``RecordStore.get`` reads.
            data = json.loads(stored)
            data.update(revision=revision, dirty=dirty)
            connection.execute(
                update(RecordContent)
                .where(RecordContent.id == record)
                .values(content=json.dumps(data, ensure_ascii=False, sort_keys=True))
            )

    @staticmethod
    def _store_base(
        connection: Connection, record: str, revision: int, content: Content | None
    ) -> None:
        connection.execute(delete(RecordBase).where(RecordBase.id == record))
        if content is not None:
            connection.execute(
                insert(RecordBase).values(id=record, revision=revision, content=_json(content))
            )

    def local_record(self, space: str, record: str) -> LocalRecord | None:
        with self._engine.connect() as connection:
            local, stored = self._read_local(connection, record)
        # What the engine merges against; _settle compares it with what is there by then.
        self._seen[record] = stored
        return local

    def _read_local(
        self, connection: Connection, record: str
    ) -> tuple[LocalRecord | None, tuple[int, bool, str | None] | None]:
        row = connection.execute(
            select(
                RecordRow.record_type,
                RecordRow.revision,
                RecordRow.dirty,
                RecordRow.space_id,
                RecordContent.content,
            )
            .outerjoin(RecordContent, RecordContent.id == RecordRow.id)
            .where(RecordRow.id == record)
        ).first()
        if row is None:
            return None, None
        base = connection.scalar(
            select(RecordBase.content).where(
                RecordBase.id == record, RecordBase.revision == row.revision
            )
        )
        local = LocalRecord(
            space=row.space_id,
            record=record,
            revision=row.revision,
            content=None if row.content is None else sealed_content(row.content),
            base=None if base is None else json.loads(base),
            dirty=row.dirty,
            rules=merge_rules(row.record_type),
        )
        return local, (row.revision, row.dirty, row.content)

    def rules_for(self, content: Content) -> MergeRules:
        return merge_rules(str(content.get("type", "")))

    def apply_conflict(self, entry: OutboxEntry, settlement: Settlement) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(SyncOutboxRow).where(SyncOutboxRow.mutation_id == entry.mutation_id)
            )
            self._settle(connection, settlement)

    # --- pulls ------------------------------------------------------------------------------

    def cursors(self) -> dict[str, int]:
        with self._engine.connect() as connection:
            return {r.space_id: r.cursor for r in connection.execute(select(SyncCursorRow))}

    def apply_page(self, space: str, cursor: int, settlements: Sequence[Settlement]) -> None:
        with self._engine.begin() as connection:
            for settlement in settlements:
                self._settle(connection, settlement)
            connection.execute(
                text(
                    "INSERT INTO sync_cursors (space_id, cursor) VALUES (:s, :c) "
                    "ON CONFLICT (space_id) DO UPDATE SET cursor = excluded.cursor"
                ),
                {"s": space, "c": cursor},
            )

    def apply_carried(self, settlement: Settlement) -> None:
        with self._engine.begin() as connection:
            self._settle(connection, settlement, carried=True)

    def _settle(
        self, connection: Connection, settlement: Settlement, *, carried: bool = False
    ) -> None:
        """Store a settlement. ``carried``: another device's edit from a bundle merged in as a
        local change: the record keeps its revision, base and outbox entry."""
        remote = settlement.remote
        record = remote.record
        # An entry sealed before this merge would now be a stale compare-and-swap: the merged
        # content is sealed afresh (the server answers a re-sent old id as it did the first time).
        # Being a write, this also takes the database's write lock before the check below.
        if not carried:
            connection.execute(delete(SyncOutboxRow).where(SyncOutboxRow.record_id == record))
        seen = self._seen.pop(record, _UNSEEN)
        local, now = self._read_local(connection, record)
        if seen is not _UNSEEN and now != seen:
            # Saved here while the sync was merging: settle against what is here now, or the
            # remote version would overwrite an edit the person just made.
            rules = (
                local.rules
                if local is not None
                else merge_rules(str((remote.content or {}).get("type", "")))
            )
            settlement = settle(local, remote, rules)
        if settlement.content is None:
            self._tombstone(connection, record, remote.revision, settlement.dirty)
        else:
            data = {**settlement.content, "revision": remote.revision, "dirty": settlement.dirty}
            try:
                parsed = from_dict(data)
            except RecordFormatError as error:
                self._keep_conflict(
                    connection,
                    remote.space,
                    record,
                    UNREADABLE_FORMAT,
                    None,
                    None,
                    None,
                    str(error),
                )
                return
            self._records.write_in(connection, [parsed])
        if not carried:
            self._store_base(connection, record, remote.revision, remote.content)
            keep_blob(
                connection,
                remote.space,
                record,
                remote.revision,
                remote.seq,
                remote.author,
                remote.blob,
            )
        for conflict in settlement.conflicts:
            self._keep_conflict(
                connection,
                remote.space,
                record,
                FIELD_CONFLICT,
                conflict.field,
                conflict.base,
                conflict.mine,
                conflict.theirs,
            )
        for flag in sorted(settlement.flags):
            self._keep_conflict(
                connection, remote.space, record, flag.value, None, None, None, None
            )
        if settlement.duplicate is not None:
            duplicate = {**settlement.duplicate, "id": new_id(), "revision": 0, "dirty": True}
            self._records.write_in(connection, [from_dict(duplicate)])

    def _tombstone(self, connection: Connection, record: str, revision: int, dirty: bool) -> None:
        exists = connection.scalar(select(RecordRow.id).where(RecordRow.id == record))
        if exists is None:
            return  # deleted before this device ever had it: nothing to keep
        remove_record(connection, record)
        connection.execute(delete(RecordCode).where(RecordCode.record_id == record))
        connection.execute(delete(RecordContent).where(RecordContent.id == record))
        connection.execute(
            update(RecordRow)
            .where(RecordRow.id == record)
            .values(
                deleted=True,
                dirty=dirty,
                revision=revision,
                label="",
                status=None,
                kind=None,
                country=None,
                date_from=None,
                date_to=None,
            )
        )

    @staticmethod
    def _keep_conflict(
        connection: Connection,
        space: str,
        record: str,
        kind: str,
        field: str | None,
        base: Any,
        mine: Any,
        theirs: Any,
    ) -> None:
        if field is not None:
            # A newer merge of the same field supersedes an unsettled older one.
            connection.execute(
                delete(SyncConflictRow).where(
                    SyncConflictRow.record_id == record, SyncConflictRow.field == field
                )
            )
        connection.execute(
            insert(SyncConflictRow).values(
                record_id=record,
                space_id=space,
                kind=kind,
                field=field,
                base=_json(base),
                mine=_json(mine),
                theirs=_json(theirs),
            )
        )

    # --- people's decisions ----------------------------------------------------------------

    def conflicts(self) -> list[StoredConflict]:
        with self._engine.connect() as connection:
            rows = connection.execute(select(SyncConflictRow).order_by(SyncConflictRow.id)).all()
        return [
            StoredConflict(
                r.id,
                r.space_id,
                r.record_id,
                r.kind,
                r.field,
                json.loads(r.base),
                json.loads(r.mine),
                json.loads(r.theirs),
            )
            for r in rows
        ]

    def resolve_conflict(self, conflict_id: int, value: Any = None) -> None:
        with self._engine.begin() as connection:
            row = connection.execute(
                select(SyncConflictRow).where(SyncConflictRow.id == conflict_id)
            ).first()
            if row is None:
                return
            connection.execute(delete(SyncConflictRow).where(SyncConflictRow.id == conflict_id))
            if row.kind != FIELD_CONFLICT or row.field is None:
                return  # a flag: read and dismissed
            stored = connection.scalar(
                select(RecordContent.content).where(RecordContent.id == row.record_id)
            )
            if stored is None:
                return  # deleted since: nothing left to settle
            data = json.loads(stored)
            data[row.field] = value
            data["dirty"] = True
            self._records.write_in(connection, [from_dict(data)])

    # --- attachment transfers (sync.client.chunks.AttachmentState) ----------------------------

    def chunks_held(self, space: str) -> set[str]:
        with self._engine.connect() as connection:
            return set(
                connection.scalars(
                    select(SyncChunkHeldRow.address).where(SyncChunkHeldRow.space_id == space)
                )
            )

    def mark_held(self, space: str, addresses: Sequence[str]) -> None:
        if not addresses:
            return
        with self._engine.begin() as connection:
            for address in addresses:
                connection.execute(
                    text(
                        "INSERT INTO sync_chunks_held (space_id, address) VALUES (:s, :a) "
                        "ON CONFLICT DO NOTHING"
                    ),
                    {"s": space, "a": address},
                )

    def forget_held(self, space: str, addresses: Sequence[str]) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(SyncChunkHeldRow).where(
                    SyncChunkHeldRow.space_id == space, SyncChunkHeldRow.address.in_(addresses)
                )
            )

    def sealed_chunk(self, ref: AttachmentRef, index: int) -> bytes | None:
        if self._vault is None:
            return None
        try:
            with open(self._vault.path_of(ref.ref), "rb") as sealed:
                sealed.seek(ref.offset_of(index))
                return sealed.read(ref.sealed_chunk_size)
        except (FileNotFoundError, ValueError):
            return None

    def wanted_attachments(self, limit: int) -> list[AttachmentRef]:
        if self._vault is None:
            return []
        # Live records naming chunks whose file has no key row here yet.
        query = text(
            "SELECT r.space_id, c.content FROM records r JOIN record_contents c ON c.id = r.id "
            "WHERE r.deleted = 0 "
            "AND json_array_length(json_extract(c.content, '$.attachment_chunks')) > 0 "
            "AND json_extract(c.content, '$.attachment_ref') NOT IN "
            "(SELECT attachment_id FROM attachment_keys) "
            # A material's file only when this device keeps it (or its group) offline; the
            # others are fetched on demand (desktop.store.materials).
            "AND (r.record_type <> 'material_file' OR EXISTS (SELECT 1 FROM material_pins p "
            "WHERE p.target_id IN (r.parent_id, json_extract(c.content, '$.working_group_id')))) "
            "ORDER BY r.id LIMIT :limit"
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query, {"limit": limit}).all()
        found = []
        for row in rows:
            ref = AttachmentRef.of(row.space_id, json.loads(row.content))
            if ref is not None:
                found.append(ref)
        return found

    def received(self, space: str, address: str) -> tuple[bytes, bool] | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(SyncChunkReceivedRow.data, SyncChunkReceivedRow.complete).where(
                    SyncChunkReceivedRow.space_id == space,
                    SyncChunkReceivedRow.address == address,
                )
            ).first()
        return None if row is None else (bytes(row.data), bool(row.complete))

    def save_received(self, space: str, address: str, data: bytes, complete: bool) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO sync_chunks_received (space_id, address, data, complete) "
                    "VALUES (:s, :a, :d, :c) ON CONFLICT (space_id, address) "
                    "DO UPDATE SET data = excluded.data, complete = excluded.complete"
                ),
                {"s": space, "a": address, "d": data, "c": complete},
            )

    def drop_received(self, space: str, addresses: Sequence[str]) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(SyncChunkReceivedRow).where(
                    SyncChunkReceivedRow.space_id == space,
                    SyncChunkReceivedRow.address.in_(addresses),
                )
            )

    def store_attachment(self, ref: AttachmentRef, chunks: Sequence[bytes]) -> None:
        """The vault file first (written whole, then renamed), then its key row: a crash
        between leaves a file without a key, which ``sweep_orphans`` erases."""
        if self._vault is None:
            raise RuntimeError("no vault to store the attachment in")
        private_folder(self._vault.folder)
        final = self._vault.path_of(ref.ref)
        partial = final.with_suffix(".partial")
        sealed_size = len(ref.header) + sum(len(chunk) for chunk in chunks)
        try:
            with open_private(partial) as sink:
                sink.write(ref.header)
                for chunk in chunks:
                    sink.write(chunk)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(partial, final)
            fsync_folder(self._vault.folder)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        with self._engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO attachment_keys "
                    "(attachment_id, file_key, sha256, size, sealed_size) "
                    "VALUES (:i, :k, :h, :n, :z) ON CONFLICT DO NOTHING"
                ),
                {"i": ref.ref, "k": ref.key, "h": ref.sha256, "n": ref.size, "z": sealed_size},
            )
            connection.execute(
                delete(SyncChunkReceivedRow).where(
                    SyncChunkReceivedRow.space_id == ref.space,
                    SyncChunkReceivedRow.address.in_(ref.chunks),
                )
            )
