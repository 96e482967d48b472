"""The sync engine's view of an unlocked profile (``sync.client.state.SyncState``), in SQLCipher.
Bases, cursors, the sealed outbox, conflicts, device keys, statements, wraps and pins.

A conflict settled by keeping the value held writes a decision mark into the record's content
(``sync.client.merge.DECIDED``, kept in ``record_extras`` beside the newer-format fields and
sealed back with them), as well as the unsent ``sync_choices`` row: the row merges a text
against the question's base here; the mark tells every other device, once sent, that the field
was decided (sync/ENGINE.md, "Conflicts")."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from desktop.domain.fields import RecordFormatError
from desktop.domain.record_base import COMMON_FIELDS
from desktop.domain.records import RECORD_TYPES, Record, from_dict, new_id
from desktop.store.attachments import AttachmentVault
from desktop.store.bulk import delete_in, in_ids
from desktop.store.bundle_state import (
    BundleTables,
    Kept,
    drop_batch,
    keep_blobs,
    stored_mutation,
)
from desktop.store.came_back import (
    CAME_BACK,
    mark_came_back,
    readable_mark,
    unchanged_since_back,
)
from desktop.store.deleted_files import erase_deleted_files
from desktop.store.files import fsync_folder, open_private, private_folder
from desktop.store.records import (
    CASCADE_CHILDREN,
    CASCADE_PARENTS,
    CASCADES,
    Cascade,
    RecordStore,
    keep_last_content,
)
from desktop.store.schema import (
    FIELD_CONFLICT,
    UNSENT_KEPT,
    DeletedAloneRow,
    RecordBase,
    RecordCode,
    RecordContent,
    RecordExtraRow,
    RecordRow,
    SyncBatchBlobRow,
    SyncChoiceRow,
    SyncChunkHeldRow,
    SyncChunkReceivedRow,
    SyncConflictRow,
    SyncCursorRow,
    SyncDeviceRow,
    SyncInviteAnchorRow,
    SyncInviteRow,
    SyncLostSpaceRow,
    SyncOutboxRow,
    SyncPinRow,
    SyncRecordBlobRow,
    SyncReturnedRow,
    SyncSealedRecordRow,
    SyncSentBatchRow,
    SyncSpaceTrustRow,
    SyncStatementRow,
    SyncWrapRow,
)
from desktop.store.search import remove_record
from sync.client.chunks import GONE, AttachmentRef
from sync.client.engine import canonical, settle
from sync.client.merge import (
    DECIDED,
    FieldConflict,
    MergeFlag,
    decision_marks,
    merge,
    put_marks,
)
from sync.client.state import (
    Accepted,
    ConflictValue,
    Content,
    FirstUse,
    LocalInvite,
    LocalRecord,
    MergeRules,
    OutboxEntry,
    PendingChange,
    RemoteRecord,
    SentBatch,
    Settlement,
    StoredConflict,
    StoredWrap,
)
from sync.crypto.keys import DeviceKeys, DevicePublicKeys, KeyPins, Pin
from sync.crypto.spaces import MembershipStatement
from sync.protocol import Mutation, Role, chunk_hash

#: Local bookkeeping in ``to_dict``: never sealed, never merged.
_LOCAL_FIELDS = ("revision", "dirty")
#: Shown to people, never merged: the later text is kept (``MergeRules.stamps``).
_STAMPS = ("updated_at",)
#: A conflict kind for a record whose content this app cannot read (a newer schema).
UNREADABLE_FORMAT = "unreadable_format"
#: A note for a person's own note or reading position dropped with its deleted parent.
TAKEN_WITH_PARENT = "taken_with_parent"
#: A note on a file (material file, evidence) brought back over its deletion whose bytes
#: nobody could send again: the server had collected them and this device held none.
FILE_GONE = "file_gone"


#: Notes saying a record came back over a deletion: what that deletion took comes back too.
_BACK_FLAGS = (MergeFlag.DELETED_ELSEWHERE, MergeFlag.EDITED_ELSEWHERE, MergeFlag.RESTORED)


def _named(cascade: Cascade, child: str = "c", content: str = "cc") -> str:
    """SQL for the parent ``child`` names in ``cascade.field``: its ``parent_id`` column when
    that holds the field, else the field in ``content`` (the record's content, live, or the
    last content its deletion took, in ``record_bases``)."""
    if cascade.indexed:
        return f"{child}.parent_id"
    return f"json_extract({content}.content, '$.{cascade.field}')"


def _named_in_base(cascade: Cascade) -> ColumnElement[Any]:
    """The parent a child of ``cascade`` names, for a query over ``records`` joined to
    ``record_bases`` (the last content a deletion took): the column when it is indexed."""
    if cascade.indexed:
        return RecordRow.parent_id.expression
    return func.json_extract(RecordBase.content, f"$.{cascade.field}")


def _live_content(cascade: Cascade) -> str:
    """The join ``_named`` needs for a live child ``c``."""
    return "" if cascade.indexed else "JOIN record_contents cc ON cc.id = c.id"


def _noted(parent: str, notes: str) -> str:
    """SQL: the live record ``parent`` is back over its deletion, a came-back note (one of
    ``notes``) not yet read on it, or on a record it is itself a cascade child of: a material
    brought back with its working group brings back the files the group's deletion took, also
    when their deletions arrive in a later sync (the cascades nest, ``CASCADES``)."""
    note = "SELECT 1 FROM sync_conflicts n WHERE n.record_id = {} AND n.field IS NULL " + (
        f"AND n.kind IN ({notes})"
    )
    above = [
        f"({parent}.record_type = '{up.child}' AND EXISTS ("
        + note.format(
            f"{parent}.parent_id"
            if up.indexed
            else f"(SELECT json_extract(pc.content, '$.{up.field}') FROM record_contents pc "
            f"WHERE pc.id = {parent}.id)"
        )
        + "))"
        for up in CASCADES
        if up.child in CASCADE_PARENTS
    ]
    return "(" + " OR ".join([f"EXISTS ({note.format(f'{parent}.id')})", *above]) + ")"


#: A record's parent, read to order a nested cascade's changes together (``pending_changes``).
_ABOVE = aliased(RecordRow)
#: Types in the middle of a nested cascade (a material: its group's child, its files' parent),
#: and the types under them (a material's files).
_MIDDLE_TYPES = tuple(name for name in CASCADE_PARENTS if name in CASCADE_CHILDREN)
_BELOW_MIDDLE_TYPES = tuple(
    dict.fromkeys(cascade.child for cascade in CASCADES if cascade.parent in _MIDDLE_TYPES)
)

#: A deleted record's last content, where a deleted membership names its person or organization.
_TAKEN = aliased(RecordBase)
#: Parent types no child names in its ``parent_id`` column (a person, an organization: their
#: memberships name them in their content, the column holds the group).
_CONTENT_PARENTS = tuple(
    name
    for name in CASCADE_PARENTS
    if not any(cascade.indexed for cascade in CASCADES if cascade.parent == name)
)
#: Their cascades (a membership's person and its organization), each with the deletion
#: pending here of the parent it names.
_NAMED_IN_CONTENT = tuple(
    (cascade, aliased(RecordRow)) for cascade in CASCADES if cascade.parent in _CONTENT_PARENTS
)
#: Before an id, sorts it after every id (ids are hex digits, or ASCII letters and digits).
_LAST = "~"

#: Marks a record the engine never read before settling it (nothing to compare).
_UNSEEN: Any = object()


def sealed_content(stored: str, extras: str | None = None) -> Content:
    """A stored ``to_dict`` JSON as sync seals it: without the local bookkeeping, with the
    fields of a newer format this version set aside (``record_extras``) back in, unchanged."""
    data: dict[str, Any] = json.loads(stored)
    for name in _LOCAL_FIELDS:
        data.pop(name, None)
    if extras:
        data.update(json.loads(extras))
    return data


def open_content(data: Mapping[str, Any]) -> tuple[Record, dict[str, Any]]:
    """A record from a received or stored dict, and the fields of a newer format set aside.

    A record of this version's schema or a newer one opens if every field this version knows
    reads: fields it does not know (and the newer schema number) are returned, to be kept as
    they came and sealed back unchanged with every edit made here. The decision marks
    (``sync.client.merge.DECIDED``) of any schema are returned with them: kept beside the
    record in ``record_extras`` and sealed back with it (``sealed_content``).

    Raises:
        RecordFormatError: a type this version does not know, or a known field in a shape it
            cannot read: the record is kept sealed until a version that can opens it.
    """
    name = data.get("type")
    spec = RECORD_TYPES.get(name) if isinstance(name, str) else None
    if spec is None:
        raise RecordFormatError(f"unknown record type {name!r:.40}")
    body = dict(data)
    extras: dict[str, Any] = {}
    marks = decision_marks(body)
    body.pop(DECIDED, None)
    if body.pop(GONE, None) is True:
        # Any schema: a file whose bytes are gone (``sync.client.chunks.GONE``), kept beside
        # the record and sealed back with it, as the marks are; anything else there is dropped.
        extras[GONE] = True
    # Any schema: come back with its parent, unchanged (``desktop.store.came_back``), kept
    # beside the record and sealed back with it; anything else there is dropped.
    came_back = readable_mark(body.pop(CAME_BACK, None))
    version = body.get("schema")
    if isinstance(version, int) and not isinstance(version, bool):
        if version > spec.schema_version:
            extras["schema"] = version
            body["schema"] = spec.schema_version
        if version >= spec.schema_version:
            known = {"type", "schema", *_LOCAL_FIELDS, *(f.name for f in COMMON_FIELDS)}
            known |= set(spec.field_names)
            extras.update({key: body.pop(key) for key in list(body) if key not in known})
    # One mark per field the record has (known here, or of a newer format and kept): marks on
    # no field, or not of a mark's shape, are not kept, so an edit here never seals them back.
    fields = {*(f.name for f in COMMON_FIELDS), *spec.field_names, *extras} - {"schema"}
    put_marks(extras, {name: token for name, token in marks.items() if name in fields})
    if came_back is not None:
        extras[CAME_BACK] = came_back
    return from_dict(body), extras


def merge_rules(record_type: str) -> MergeRules:
    spec = RECORD_TYPES.get(record_type)
    if spec is None:
        return MergeRules(stamps=_STAMPS, marks=(CAME_BACK,))
    return MergeRules(
        fields={f.name: f.merge.value for f in spec.fields},
        append_only=spec.append_only,
        stamps=_STAMPS,
        marks=(CAME_BACK,),
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


_STORE_BASE = text(
    "INSERT INTO record_bases (id, revision, content) VALUES (:i, :v, :c) "
    "ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, content = excluded.content"
)


#: What ``resolve_conflict`` did: settled with the value, merged with a change made since the
#: conflict was kept, or kept open because the field moved since and the two do not merge.
RESOLVED = "settled"
MERGED = "merged"
MOVED = "moved"


@dataclass(frozen=True)
class KeptBy:
    """Who and when for the two sides of a conflict being kept."""

    mine_at: str
    theirs_author: str
    theirs_at: str
    #: Theirs came in an admin's snapshot: the author vouched for it (CRYPTO.md §5).
    theirs_vouched: bool = False


def _stamp(content: Content | None) -> str:
    stamp = (content or {}).get("updated_at")
    return stamp if isinstance(stamp, str) else ""


def _unchosen(values: Sequence[ConflictValue], shown: Sequence[Any]) -> list[dict[str, Any]]:
    """``values`` as stored, without those shown as mine or theirs, each value once."""
    seen = {canonical(value) for value in shown}
    kept = []
    for item in values:
        key = canonical(item.value)
        if key not in seen:
            seen.add(key)
            kept.append({"value": item.value, "author": item.author, "at": item.at})
    return kept


def _stored_conflict(row: Any, current: Any) -> StoredConflict:
    details = json.loads(row.details) if row.details else {}
    theirs = json.loads(row.theirs)
    return StoredConflict(
        row.id,
        row.space_id,
        row.record_id,
        row.kind,
        row.field,
        json.loads(row.base),
        json.loads(row.mine),
        theirs,
        # Rows kept before 0015 had mine in the record; what they offered as theirs is the
        # value a choice is weighed against.
        arose=theirs if row.arose is None else json.loads(row.arose),
        current=current,
        others=tuple(
            ConflictValue(o.get("value"), str(o.get("author", "")), str(o.get("at", "")))
            for o in details.get("others", [])
            if isinstance(o, dict)
        ),
        mine_at=str(details.get("mine_at", "")),
        theirs_author=str(details.get("theirs_author", "")),
        theirs_at=str(details.get("theirs_at", "")),
        theirs_vouched=details.get("theirs_vouched") is True,
    )


class ProfileSyncState(BundleTables):
    """``SyncState`` over one unlocked profile's engine; each method is one transaction.

    One class of some 2,200 lines because it is the one object the engine's ``SyncState``
    protocol names, grouped by the section comments below. What has its own rules and few
    ties to the rest moves out as functions over a connection (``deleted_files``, ``bulk``);
    the cascade rules (``keep_together`` and the holds of ``pending_changes``) are next.
    """

    def __init__(self, engine: Engine, vault: AttachmentVault | None = None) -> None:
        """``vault``: the profile's attachments; without it files are neither sent nor fetched."""
        self._engine = engine
        self._records = RecordStore(engine)
        self._seen: dict[str, tuple[int, bool, str | None] | None] = {}
        self._vault = vault
        #: Gone records (id, chunks named) this vault was found not to hold every chunk of:
        #: not read and hashed again at every round (``put_back_gone``).
        self._not_held: set[tuple[str, tuple[str, ...]]] = set()
        #: Files marked gone asked for once this session (``wanted_attachments``).
        self._gone_asked: set[str] = set()
        #: Records deleted here since their files were last looked at (``erase_deleted_files``);
        #: ``None`` until the first look of this session, which looks at every deletion.
        self._deleted_since: set[str] | None = None

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
                SyncReturnedRow,
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
            select(
                RecordRow.id,
                RecordRow.space_id,
                RecordRow.revision,
                RecordContent.content,
                RecordExtraRow.fields,
                DeletedAloneRow.record_id.label("alone"),
            )
            .outerjoin(RecordContent, RecordContent.id == RecordRow.id)
            .outerjoin(RecordExtraRow, RecordExtraRow.record_id == RecordRow.id)
            .outerjoin(DeletedAloneRow, DeletedAloneRow.record_id == RecordRow.id)
            .outerjoin(_ABOVE, _ABOVE.id == RecordRow.parent_id)
            .outerjoin(_TAKEN, and_(RecordRow.deleted.is_(True), _TAKEN.id == RecordRow.id))
        )
        for cascade, parent in _NAMED_IN_CONTENT:
            statement = statement.outerjoin(
                parent,
                and_(
                    RecordRow.deleted.is_(True),
                    RecordRow.record_type == cascade.child,
                    parent.id == func.json_extract(_TAKEN.content, f"$.{cascade.field}"),
                    parent.deleted.is_(True),
                    parent.dirty.is_(True),
                ),
            )
        # A membership deleted with its person or organization (its group live, or not deleted
        # here): ordered with that deletion, not with its group.
        deleted_with = func.coalesce(*(parent.id for _, parent in _NAMED_IN_CONTENT), None)
        statement = (
            statement.where(
                RecordRow.dirty.is_(True),
                RecordRow.space_id.in_(spaces),
                RecordRow.id.not_in(select(SyncOutboxRow.record_id)),
                # Its newest version needs a newer Minga: the edit waits here, to be merged
                # with it once this one is updated (pushing it would only meet it again).
                RecordRow.id.not_in(select(SyncSealedRecordRow.record_id)),
            )
            # A parent (an incident, a material, ``CASCADES``) next to what is under it: a
            # deletion and what it took go out in one push (one transaction on the server), so
            # no peer ever sees half of it. The parent's own deletion last: when they cannot
            # go in one (more than a push or a batch holds) and the sync is cut between, a peer
            # finds some children deleted under a live parent, never live children under a
            # deleted one (rule 1 would bring it back, "restored", though nobody changed
            # anything; rev-dels).
            # The cascades nest (a group, its materials, their files): each record goes with
            # the top of its chain, and the deletions deepest first, so a cut leaves files
            # deleted under a live material or materials under a live group, never the other
            # way round (rev-last).
            # A person's or organization's deletion, and the memberships it took, go last of
            # all: next to each other, the person's own deletion after theirs. A membership has
            # two parents, its group and its person (or organization), and goes with one only:
            # deleted with both, it goes with its group, and the person's deletion still after
            # it (before, ordered by the person's id, it could go before the membership's in
            # another push, and a peer pulling between brought the person back, "restored").
            .order_by(
                case(
                    (
                        and_(
                            RecordRow.deleted.is_(True),
                            RecordRow.record_type.in_(_CONTENT_PARENTS),
                        ),
                        literal(_LAST).concat(RecordRow.id),
                    ),
                    (
                        and_(
                            deleted_with.is_not(None),
                            or_(
                                _ABOVE.id.is_(None),
                                _ABOVE.deleted.is_(False),
                                _ABOVE.dirty.is_(False),
                            ),
                        ),
                        literal(_LAST).concat(deleted_with),
                    ),
                    (
                        RecordRow.record_type.in_(_MIDDLE_TYPES),
                        func.coalesce(RecordRow.parent_id, RecordRow.id),
                    ),
                    (
                        RecordRow.record_type.in_(_BELOW_MIDDLE_TYPES),
                        func.coalesce(_ABOVE.parent_id, RecordRow.parent_id, RecordRow.id),
                    ),
                    (RecordRow.record_type.in_(CASCADE_PARENTS), RecordRow.id),
                    else_=func.coalesce(RecordRow.parent_id, RecordRow.id),
                ),
                case(
                    (
                        and_(
                            RecordRow.deleted.is_(True),
                            RecordRow.record_type.in_(_MIDDLE_TYPES),
                        ),
                        1,
                    ),
                    (
                        and_(
                            RecordRow.deleted.is_(True),
                            or_(
                                RecordRow.parent_id.is_(None),
                                RecordRow.record_type.in_(CASCADE_PARENTS),
                            ),
                        ),
                        2,
                    ),
                    else_=0,
                ),
                RecordRow.id,
            )
            .limit(limit)
        )
        with self._engine.connect() as connection:
            held = self._deletions_held(connection)
            if held:
                # A parent's deletion and the rest of what it took wait together.
                statement = statement.where(
                    ~and_(RecordRow.deleted.is_(True), in_ids(RecordRow.id, sorted(held)))
                )
            rows = connection.execute(statement).all()
        return [
            PendingChange(
                row.space_id,
                row.id,
                row.revision,
                None if row.content is None else sealed_content(row.content, row.fields),
                # A child deleted by itself: its tombstone says so, for every device
                # (CRYPTO.md §2 "Tombstone facts"; ENGINE.md "Edit beats delete").
                alone=row.content is None and row.alone is not None,
            )
            for row in rows
        ]

    @classmethod
    def _deletions_held(cls, connection: Connection) -> set[str]:
        """Deletions that cannot go out yet, and everything the same decision took with them.

        A parent of ``CASCADES`` deleted here waits when its newest version is sealed (a newer
        Minga changed it: its deletion goes once this Minga is updated and can merge it), or
        that of a record its deletion took (up the table), or when a record under it waits for
        an answer (``_deletions_waiting``). The deletions of
        what it took wait with it, down the table (a group's materials and memberships, their
        files; a person's or organization's memberships, named in the last content the
        deletion took): sent alone, they would take what the newer version kept, on every
        device (rev14, built then for an incident's children only), or leave the server
        holding a deletion that is half a decision. And up again from anything held: a held
        child's other parent deleted here (a membership held with its group: its person's
        deletion) waits too."""
        sealed = set(
            connection.scalars(
                select(RecordRow.id).where(
                    RecordRow.deleted.is_(True),
                    RecordRow.record_type.in_((*CASCADE_PARENTS, *CASCADE_CHILDREN)),
                    RecordRow.id.in_(select(SyncSealedRecordRow.record_id)),
                )
            )
        )
        # A record held sealed under a deletion made here holds that deletion too, up the
        # table (a material a newer Minga changed, deleted with its group: the group's
        # deletion waits; sent alone, it left the server a live material under a deleted
        # group, which every other device brought back "restored").
        frontier = set(sealed)
        while frontier:
            above: set[str] = set()
            for cascade in CASCADES:
                named = _named_in_base(cascade)
                above.update(
                    connection.scalars(
                        select(_ABOVE.id).where(
                            _ABOVE.deleted.is_(True),
                            _ABOVE.record_type == cascade.parent,
                            _ABOVE.id.in_(
                                select(named)
                                .select_from(RecordRow)
                                .outerjoin(RecordBase, RecordBase.id == RecordRow.id)
                                .where(
                                    RecordRow.record_type == cascade.child,
                                    in_ids(RecordRow.id, sorted(frontier)),
                                )
                            ),
                        )
                    )
                )
            frontier = above - sealed
            sealed |= frontier
        held = cls._deletions_waiting(connection) | sealed
        frontier = set(held)
        while frontier:
            found: set[str] = set()
            for cascade in CASCADES:
                named = _named_in_base(cascade)
                found.update(
                    connection.scalars(
                        select(RecordRow.id)
                        .outerjoin(RecordBase, RecordBase.id == RecordRow.id)
                        .where(
                            RecordRow.deleted.is_(True),
                            RecordRow.record_type == cascade.child,
                            in_ids(named, sorted(frontier)),
                        )
                    )
                )
                # And up: another parent a held child names whose deletion waits here too (a
                # membership held with its group, and its person's or organization's deletion).
                # Sent alone, that deletion would leave the server holding a live child under
                # a deleted parent, which every other device brings back, "restored", though
                # nobody changed it (rev-dels).
                found.update(
                    connection.scalars(
                        select(_ABOVE.id)
                        .select_from(RecordRow)
                        .outerjoin(RecordBase, RecordBase.id == RecordRow.id)
                        .join(_ABOVE, _ABOVE.id == named)
                        .where(
                            RecordRow.deleted.is_(True),
                            RecordRow.record_type == cascade.child,
                            in_ids(RecordRow.id, sorted(frontier)),
                            _ABOVE.deleted.is_(True),
                            _ABOVE.dirty.is_(True),
                            _ABOVE.record_type == cascade.parent,
                        )
                    )
                )
            frontier = found - held
            held |= frontier
        return held

    @staticmethod
    def _deletions_waiting(connection: Connection) -> set[str]:
        """Deleted parents whose deletion cannot go out yet: a record under it was changed,
        the change sealed and sent without an answer (a cut, a crash), and then deleted here
        with the incident. That change goes again as it was (it may have reached the server)
        and the child's deletion only after its answer; sent before, the incident's deletion
        would leave the server holding a live child under a deleted incident, which the next
        device to pull takes for a change made apart and brings the incident back with
        everything (fault run seed 7481). It goes with the child's, and with the deletions
        of its other children (held with it), in the next round."""
        rows = connection.execute(
            select(SyncOutboxRow.content, RecordRow.parent_id)
            .outerjoin(RecordRow, RecordRow.id == SyncOutboxRow.record_id)
            .where(
                SyncOutboxRow.content.is_not(None),
                # Deleted here since it was sealed; a record never synced has no row left.
                or_(RecordRow.id.is_(None), RecordRow.deleted.is_(True)),
            )
        ).all()
        waiting: set[str] = set()
        for row in rows:
            # Every parent the change names (a membership: its group, person, organization).
            sealed = json.loads(row.content)
            named = [row.parent_id]
            named += [
                sealed.get(cascade.field)
                for cascade in CASCADES
                if cascade.child == sealed.get("type")
            ]
            waiting.update(parent for parent in named if isinstance(parent, str) and parent)
        # The cascades nest: a material whose deletion waits keeps its group's waiting too (sent
        # before, the group's deletion would leave the server holding a live material under a
        # deleted group, which rule 1 brings back on the next device to pull).
        frontier = set(waiting)
        while frontier:
            above = set(
                connection.scalars(
                    select(RecordRow.parent_id).where(
                        RecordRow.id.in_(frontier),
                        RecordRow.record_type.in_(_MIDDLE_TYPES),
                        RecordRow.parent_id.is_not(None),
                    )
                )
            )
            frontier = {parent for parent in above if parent} - waiting
            waiting |= frontier
        return waiting

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

    def sent_batches(self) -> list[SentBatch]:
        with self._engine.connect() as connection:
            rows = connection.execute(select(SyncSentBatchRow).order_by(SyncSentBatchRow.id))
            return [_sent(r) for r in rows]

    def add_sent_batch(self, batch: SentBatch) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                insert(SyncSentBatchRow).values(
                    batch_id=batch.batch_id, space_id=batch.space, blob=batch.blob
                )
            )

    def drop_sent_batch(self, batch_id: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(SyncSentBatchRow).where(SyncSentBatchRow.batch_id == batch_id)
            )

    def note_batch_failure(self, batch_id: str, now: float) -> SentBatch | None:
        row = SyncSentBatchRow
        with self._engine.begin() as connection:
            connection.execute(
                update(row)
                .where(row.batch_id == batch_id)
                .values(
                    failures=row.failures + 1,
                    # A wall clock set back (it was ahead when the failures began) restarts
                    # the day from now: else the batch would wait for that date to come round.
                    failing_since=func.min(func.coalesce(row.failing_since, now), now),
                )
            )
            found = connection.execute(select(row).where(row.batch_id == batch_id)).first()
        return None if found is None else _sent(found)

    def forget_batches(self, space: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(SyncSentBatchRow).where(SyncSentBatchRow.space_id == space))
            kept = connection.execute(
                select(SyncBatchBlobRow.digest, SyncBatchBlobRow.blob).where(
                    SyncBatchBlobRow.space_id == space
                )
            ).all()
            for digest, blob in kept:
                drop_batch(connection, digest, bytes(blob))

    def mark_lost(self, space: str, lost: bool) -> None:
        with self._engine.begin() as connection:
            if lost:
                connection.execute(
                    text(
                        "INSERT INTO sync_lost_spaces (space_id) VALUES (:s) ON CONFLICT DO NOTHING"
                    ),
                    {"s": space},
                )
            else:
                connection.execute(
                    delete(SyncLostSpaceRow).where(SyncLostSpaceRow.space_id == space)
                )

    def lost_spaces(self) -> set[str]:
        with self._engine.connect() as connection:
            return set(connection.scalars(select(SyncLostSpaceRow.space_id)))

    def set_batch_aside(self, batch_id: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                update(SyncSentBatchRow)
                .where(SyncSentBatchRow.batch_id == batch_id)
                .values(set_aside=True)
            )

    def apply_accepted(self, entry: OutboxEntry, revision: int, seq: int = 0) -> None:
        self.apply_accepted_all([Accepted(entry, revision, seq)])

    def apply_accepted_all(self, accepted: Sequence[Accepted]) -> None:
        """A whole answer's accepted entries in one transaction, each statement once for all
        (an entry per record: the outbox is keyed by record)."""
        if not accepted:
            return
        with self._engine.begin() as connection:
            self._accept_in(connection, accepted)

    # --- own changes back in a bundle (PROTOCOL.md §12.3) -----------------------------------

    def take_returned(
        self, entry: OutboxEntry, mutation: Mutation, base: Content | None, revision: int
    ) -> None:
        """The record takes its own unsent change as its version at ``revision``, as for an
        acceptance but without a seq (not handed on as the server's version), and the
        mutation is kept, with the content it started from, for the server to answer."""
        assert mutation.blob is not None
        with self._engine.begin() as connection:
            self._accept_in(connection, [Accepted(entry, revision, 0)])
            connection.execute(
                insert(SyncReturnedRow)
                .values(
                    mutation_id=mutation.id,
                    space_id=mutation.space,
                    record_id=mutation.record,
                    base_revision=mutation.base,
                    deleted=mutation.deleted,
                    epoch=mutation.epoch,
                    chunks=json.dumps(list(mutation.chunks)),
                    blob=mutation.blob,
                    base_content=None if base is None else _json(base),
                )
                .prefix_with("OR IGNORE")
            )
            # Until the server answers, the record is merged against the content its change
            # started from, not the change: a later version may be built on another device's
            # version of that revision, and merged against the change it would take its
            # fields back over this device's edit as "changed there only" (issue 14). Where
            # the change was not its first one handed back, ``base`` is that base already.
            # A deletion keeps the acceptance's base, as before: merged against the content it
            # started from, a version restoring that content (an edit beat the deletion) would
            # read as "unchanged there" and the deletion would go out again over the restore
            # (test_a_deletion_carried_by_a_courier_keeps_the_couriers_unsettled_value); a
            # version built on another device's revision loses nothing to a deletion taken as
            # accepted (an edit there beats it anyway), and the server's answer online reopens
            # it if the server never took it.
            if not mutation.deleted and base is None:
                connection.execute(delete(RecordBase).where(RecordBase.id == mutation.record))
            elif not mutation.deleted:
                connection.execute(
                    _STORE_BASE, {"i": mutation.record, "v": revision, "c": _json(base)}
                )

    def returned(self) -> list[Mutation]:
        with self._engine.connect() as connection:
            # A record's changes in the order they were made: each is based on the one before.
            rows = connection.execute(
                select(SyncReturnedRow).order_by(
                    SyncReturnedRow.record_id, SyncReturnedRow.base_revision
                )
            )
            return [stored_mutation(row) for row in rows]

    def confirm_returned(self, confirmed: Sequence[tuple[Mutation, int, int]]) -> None:
        """The server took these (mutation, revision, seq): their versions are the server's,
        kept for bundles with their seqs like any accepted push."""
        if not confirmed:
            return
        with self._engine.begin() as connection:
            delete_in(
                connection,
                "DELETE FROM sync_returned WHERE mutation_id IN ({ids})",
                [mutation.id for mutation, _revision, _seq in confirmed],
            )
            raw_keys = connection.scalar(select(SyncDeviceRow.device_keys))
            if raw_keys is None:
                return
            device = DeviceKeys.from_bytes(raw_keys).device_id
            keep_blobs(
                connection,
                (
                    Kept(m.space, m.record, revision, seq, device, m.blob, deleted=m.deleted)
                    for m, revision, seq in confirmed
                ),
            )
            # The server's version now: the record, still at it and not edited since (so its
            # content is the change's), is merged against it from here on (``take_returned``
            # kept the content the change started from meanwhile).
            waiting = set(
                connection.scalars(
                    select(SyncReturnedRow.record_id).where(
                        in_ids(SyncReturnedRow.record_id, [m.record for m, _r, _s in confirmed])
                    )
                )
            )
            held = self._read_locals(connection, [m.record for m, _r, _s in confirmed])
            for mutation, revision, _seq in confirmed:
                found = held.get(mutation.record)
                if mutation.record in waiting or found is None:
                    continue
                local = found[0]
                if local.revision == revision and not local.dirty and local.content is not None:
                    connection.execute(
                        _STORE_BASE,
                        {"i": mutation.record, "v": revision, "c": _json(local.content)},
                    )

    def reopen_returned(self, mutation_ids: Sequence[str]) -> None:
        """The server never took these and now will not as they are (a conflict: the record
        moved on there; or a refusal): each record goes back to the revision and base its
        change started from, dirty with what it holds now, so the next push merges it with
        the server's version three ways as any unsent edit. Its entry sealed since against
        the version it took is dropped (a stale compare-and-swap) and sealed again."""
        if not mutation_ids:
            return
        with self._engine.begin() as connection:
            # Newest first, so that where several changes of one record are reopened the
            # record ends at the base of the oldest: the server took none of them.
            rows = connection.execute(
                select(SyncReturnedRow)
                .where(in_ids(SyncReturnedRow.mutation_id, mutation_ids))
                .order_by(SyncReturnedRow.base_revision.desc())
            ).all()
            for row in rows:
                record = row.record_id
                connection.execute(delete(SyncOutboxRow).where(SyncOutboxRow.record_id == record))
                # Its version is not the server's: a bundle must not hand it on.
                connection.execute(
                    delete(SyncRecordBlobRow).where(
                        SyncRecordBlobRow.record_id == record,
                        SyncRecordBlobRow.revision > row.base_revision,
                    )
                )
                connection.execute(
                    text("UPDATE records SET revision = :v, dirty = 1 WHERE id = :i"),
                    {"i": record, "v": row.base_revision},
                )
                stored = connection.scalar(
                    select(RecordContent.content).where(RecordContent.id == record)
                )
                if stored is not None:
                    data = json.loads(stored)
                    data.update(revision=row.base_revision, dirty=True)
                    connection.execute(
                        text("UPDATE record_contents SET content = :c WHERE id = :i"),
                        {"i": record, "c": json.dumps(data, ensure_ascii=False, sort_keys=True)},
                    )
                if row.base_content is None:
                    connection.execute(delete(RecordBase).where(RecordBase.id == record))
                else:
                    connection.execute(
                        _STORE_BASE,
                        {"i": record, "v": row.base_revision, "c": row.base_content},
                    )
            delete_in(
                connection, "DELETE FROM sync_returned WHERE mutation_id IN ({ids})", mutation_ids
            )

    def _accept_in(self, connection: Connection, accepted: Sequence[Accepted]) -> None:
        delete_in(
            connection,
            "DELETE FROM sync_outbox WHERE mutation_id IN ({ids})",
            [item.entry.mutation_id for item in accepted],
        )
        raw_keys = connection.scalar(select(SyncDeviceRow.device_keys))
        if raw_keys is not None:
            device = DeviceKeys.from_bytes(raw_keys).device_id
            keep_blobs(
                connection,
                (
                    Kept(
                        a.entry.space,
                        a.entry.record,
                        a.revision,
                        a.seq,
                        device,
                        a.entry.blob,
                        a.batch,
                        a.batch_index,
                        a.entry.content is None,
                    )
                    for a in accepted
                ),
            )
        query = (
            select(
                RecordRow.id,
                RecordRow.revision,
                RecordContent.content,
                RecordExtraRow.fields,
            )
            .outerjoin(RecordContent, RecordContent.id == RecordRow.id)
            .outerjoin(RecordExtraRow, RecordExtraRow.record_id == RecordRow.id)
            .where(in_ids(RecordRow.id, [item.entry.record for item in accepted]))
        )
        rows = {row.id: row for row in connection.execute(query)}
        tombstones: list[Accepted] = []
        states: list[dict[str, Any]] = []
        contents: list[dict[str, Any]] = []
        bases: list[tuple[str, int, Content | None]] = []
        for item in accepted:
            entry, revision = item.entry, item.revision
            row = rows.get(entry.record)
            if row is None and entry.content is not None:
                # Never synced, deleted here while its first push was in flight: the
                # server took it anyway. Keep a dirty tombstone so the deletion follows it
                # there, instead of the record coming back with the next pull.
                tombstones.append(item)
                bases.append((entry.record, revision, entry.content))
                continue
            if row is None or row.revision >= revision:
                continue  # a re-sent entry answered again, after newer versions were merged
            current = None if row.content is None else sealed_content(row.content, row.fields)
            # Edited again while the push was in flight: the newer edit still waits.
            dirty = canonical(current) != canonical(entry.content)
            states.append({"i": entry.record, "v": revision, "d": dirty})
            if row.content is not None:
                # The JSON copy carries the same bookkeeping, which ``RecordStore.get`` reads.
                data = json.loads(row.content)
                data.update(revision=revision, dirty=dirty)
                stored = json.dumps(data, ensure_ascii=False, sort_keys=True)
                contents.append({"i": entry.record, "c": stored})
            bases.append((entry.record, revision, entry.content))
        if tombstones:
            connection.execute(
                insert(RecordRow),
                [
                    {
                        "id": item.entry.record,
                        "record_type": str((item.entry.content or {}).get("type", "")),
                        "space_id": item.entry.space,
                        "revision": item.revision,
                        "dirty": True,
                        "deleted": True,
                        "created_at": str((item.entry.content or {}).get("created_at", "")),
                        "updated_at": str((item.entry.content or {}).get("updated_at", "")),
                        "label": "",
                    }
                    for item in tombstones
                ],
            )
        if states:
            connection.execute(
                text("UPDATE records SET revision = :v, dirty = :d WHERE id = :i"), states
            )
        if contents:
            connection.execute(
                text("UPDATE record_contents SET content = :c WHERE id = :i"), contents
            )
        self._store_bases(connection, bases)

    @staticmethod
    def _store_bases(
        connection: Connection, bases: Sequence[tuple[str, int, Content | None]]
    ) -> None:
        """Each record's content at its revision (record, revision, content), replacing the one
        held. A deletion (``None``) leaves the last content (at its older revision, so no merge
        takes it for a base) as what the deletion took, to bring back if an edit under it or to
        it wins (``keep_together``)."""
        kept = [
            {"i": record, "v": revision, "c": _json(content)}
            for record, revision, content in bases
            if content is not None
        ]
        if kept:
            connection.execute(_STORE_BASE, kept)

    def local_record(self, space: str, record: str) -> LocalRecord | None:
        return self.local_records(space, [record]).get(record)

    def local_records(self, space: str, records: Sequence[str]) -> dict[str, LocalRecord]:
        with self._engine.connect() as connection:
            found = self._read_locals(connection, records)
        held: dict[str, LocalRecord] = {}
        for record in records:
            local, stored = found.get(record, (None, None))
            # What the engine merges against; _settle_run compares it with what is there then.
            self._seen[record] = stored
            if local is not None:
                held[record] = local
        return held

    def _read_local(
        self, connection: Connection, record: str
    ) -> tuple[LocalRecord | None, tuple[int, bool, str | None] | None]:
        return self._read_locals(connection, [record]).get(record, (None, None))

    def _read_locals(
        self, connection: Connection, records: Sequence[str]
    ) -> dict[str, tuple[LocalRecord, tuple[int, bool, str | None]]]:
        """The records held of ``records``, with their base at their revision, in one query;
        each with what was read, to notice a save made in between."""
        found: dict[str, tuple[LocalRecord, tuple[int, bool, str | None]]] = {}
        if not records:
            return found
        query = (
            select(
                RecordRow.id,
                RecordRow.record_type,
                RecordRow.revision,
                RecordRow.dirty,
                RecordRow.space_id,
                RecordContent.content,
                RecordExtraRow.fields,
                RecordBase.content.label("base"),
                DeletedAloneRow.record_id.label("alone"),
            )
            .outerjoin(RecordContent, RecordContent.id == RecordRow.id)
            .outerjoin(RecordExtraRow, RecordExtraRow.record_id == RecordRow.id)
            .outerjoin(DeletedAloneRow, DeletedAloneRow.record_id == RecordRow.id)
            .outerjoin(
                RecordBase,
                and_(RecordBase.id == RecordRow.id, RecordBase.revision == RecordRow.revision),
            )
            .where(in_ids(RecordRow.id, sorted(set(records))))
        )
        # Conflicts settled here by keeping the held value, while the record is still at the
        # revision they were settled at (not sent yet): what the merge weighs them against.
        chosen: dict[str, dict[str, Any]] = {}
        for choice in connection.execute(
            select(SyncChoiceRow.record_id, SyncChoiceRow.field, SyncChoiceRow.question)
            .join(
                RecordRow,
                and_(
                    RecordRow.id == SyncChoiceRow.record_id,
                    RecordRow.revision == SyncChoiceRow.revision,
                ),
            )
            .where(in_ids(SyncChoiceRow.record_id, sorted(set(records))))
        ):
            chosen.setdefault(choice.record_id, {})[choice.field] = json.loads(choice.question)
        # A record holding its own change handed back, not answered yet by the server: the
        # change is still this device's edit against the base it started from, merged as one
        # (``take_returned``) and never taken over by a version built on another device's.
        waiting = set(
            connection.scalars(
                select(SyncReturnedRow.record_id).where(
                    in_ids(SyncReturnedRow.record_id, sorted(set(records)))
                )
            )
        )
        for row in connection.execute(query):
            local = LocalRecord(
                space=row.space_id,
                record=row.id,
                revision=row.revision,
                content=None if row.content is None else sealed_content(row.content, row.fields),
                base=None if row.base is None else json.loads(row.base),
                # Only while the record holds the change's content: a deletion handed back is
                # taken as accepted (``take_returned``).
                dirty=row.dirty or (row.id in waiting and row.content is not None),
                rules=merge_rules(row.record_type),
                chosen=chosen.get(row.id, {}),
                alone=row.content is None and row.alone is not None,
            )
            found[row.id] = (local, (row.revision, row.dirty, row.content))
        return found

    def rules_for(self, content: Content) -> MergeRules:
        return merge_rules(str(content.get("type", "")))

    def apply_conflict(self, entry: OutboxEntry, settlement: Settlement) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(SyncOutboxRow).where(SyncOutboxRow.mutation_id == entry.mutation_id)
            )
            self._settle_all(connection, [settlement])

    # --- pulls ------------------------------------------------------------------------------

    def cursors(self) -> dict[str, int]:
        with self._engine.connect() as connection:
            return {r.space_id: r.cursor for r in connection.execute(select(SyncCursorRow))}

    def apply_page(self, space: str, cursor: int, settlements: Sequence[Settlement]) -> None:
        """A page's records and the cursor past them in one transaction: a crash before the
        commit leaves the cursor where it was, so the whole page comes again."""
        with self._engine.begin() as connection:
            self._settle_all(connection, settlements)
            connection.execute(
                text(
                    "INSERT INTO sync_cursors (space_id, cursor) VALUES (:s, :c) "
                    "ON CONFLICT (space_id) DO UPDATE SET cursor = excluded.cursor"
                ),
                {"s": space, "c": cursor},
            )

    def apply_carried(self, settlement: Settlement) -> None:
        with self._engine.begin() as connection:
            self._settle_all(connection, [settlement], carried=True)

    def _settle(
        self, connection: Connection, settlement: Settlement, *, carried: bool = False
    ) -> None:
        """Store one settlement inside the caller's transaction (``_settle_all``)."""
        self._settle_all(connection, [settlement], carried=carried)

    def _settle_all(
        self, connection: Connection, settlements: Sequence[Settlement], *, carried: bool = False
    ) -> None:
        """Store settlements in order, inside the caller's transaction: runs of distinct
        records at a time, so each run reads its records once and writes them in bulk."""
        run: list[Settlement] = []
        in_run: set[str] = set()
        for settlement in settlements:
            if settlement.remote.record in in_run:
                self._settle_run(connection, run, carried)
                run, in_run = [], set()
            run.append(settlement)
            in_run.add(settlement.remote.record)
        if run:
            self._settle_run(connection, run, carried)

    def _settle_run(
        self, connection: Connection, settlements: Sequence[Settlement], carried: bool
    ) -> None:
        """Store settlements of distinct records. ``carried``: other devices' edits from a
        bundle merged in as local changes: records keep their revision, base and outbox entry.

        The common case, a readable version taken or merged with nothing to tell anyone, is
        written for the whole run at once; a deletion, a conflict, a flag, a duplicate, a
        record back over its deletion or an unreadable format goes through
        ``_store_settlement`` one by one.
        """
        records = [settlement.remote.record for settlement in settlements]
        # An entry sealed before this merge would now be a stale compare-and-swap: the merged
        # content is sealed afresh (the server answers a re-sent old id as it did the first time).
        # Being a write, this also takes the database's write lock before the check below.
        if not carried:
            delete_in(connection, "DELETE FROM sync_outbox WHERE record_id IN ({ids})", records)
        now = self._read_locals(connection, records)
        plain: list[tuple[Settlement, Record, dict[str, Any]]] = []
        forward: list[dict[str, Any]] = []
        # The versions to keep for bundles, for the whole run at once: keep_blobs reads each
        # kept batch naming one of them (its whole manifest) once per call, so a call per
        # record made a batch of n deletions parse n manifests of n entries.
        kept: list[Kept] = []
        for settlement in settlements:
            remote = settlement.remote
            seen = self._seen.pop(remote.record, _UNSEEN)
            local, stored = now.get(remote.record, (None, None))
            if seen is not _UNSEEN and stored != seen:
                # Saved here while the sync was merging: settle against what is here now, or
                # the remote version would overwrite an edit the person just made.
                rules = (
                    local.rules
                    if local is not None
                    else merge_rules(str((remote.content or {}).get("type", "")))
                )
                settlement = settle(local, remote, rules)
            forward.extend(self._choices_kept(settlement, local, carried))
            opened = self._plain(settlement, local)
            if opened is None:
                if self._store_settlement(connection, settlement, local, carried):
                    kept.append(_kept(settlement.remote))
            else:
                plain.append((settlement, *opened))
        if forward:
            connection.execute(
                text("UPDATE sync_choices SET revision = :v WHERE record_id = :r AND field = :f"),
                forward,
            )
        if plain:
            self._write_plain(connection, plain, carried, kept)
        if kept:
            keep_blobs(connection, kept)
        self._note_alone(connection, settlements)

    @staticmethod
    def _note_alone(connection: Connection, settlements: Sequence[Settlement]) -> None:
        """What a signed tombstone says of the deletion it took (CRYPTO.md §2 "Tombstone
        facts"): a child of a cascade (``CASCADE_CHILDREN``: an act, source, evidence or
        follow-up, a material's file, a membership) deleted by itself is kept as such here
        (``deleted_alone``), so an edit that beats its parent's deletion never brings it back
        on this device either, whoever synced first. A tombstone that does not say so (a
        deletion with its incident, or from a Minga before tombstone facts) and is now the
        record's state ends that, unless a deletion of this device's own still waits to go.
        The flag on anything but a child is never stored: ``keep_together`` asks it only of
        children, so a member's app that sends it on an incident changes nothing."""
        alone = [
            {"r": s.remote.record}
            for s in settlements
            if s.remote.content is None and s.content is None and s.remote.alone
        ]
        ended = [
            s.remote.record
            for s in settlements
            if s.remote.content is None and s.content is None and not s.remote.alone and not s.dirty
        ]
        if alone:
            children = ", ".join(f"'{name}'" for name in CASCADE_CHILDREN)
            connection.execute(
                text(
                    "INSERT INTO deleted_alone (record_id) SELECT id FROM records "
                    f"WHERE id = :r AND deleted = 1 AND record_type IN ({children}) "
                    "ON CONFLICT (record_id) DO NOTHING"
                ),
                alone,
            )
        if ended:
            delete_in(connection, "DELETE FROM deleted_alone WHERE record_id IN ({ids})", ended)

    def _write_plain(
        self,
        connection: Connection,
        plain: Sequence[tuple[Settlement, Record, dict[str, Any]]],
        carried: bool,
        kept: list[Kept],
    ) -> None:
        """Write the run's readable versions that need nothing else, each statement once."""
        written = [settlement.remote.record for settlement, _record, _extras in plain]
        self._records.write_in(connection, [record for _settlement, record, _extras in plain])
        delete_in(connection, "DELETE FROM record_extras WHERE record_id IN ({ids})", written)
        extras = [
            {"r": settlement.remote.record, "f": _json(fields)}
            for settlement, _record, fields in plain
            if fields
        ]
        if extras:
            connection.execute(
                text("INSERT INTO record_extras (record_id, fields) VALUES (:r, :f)"), extras
            )
        # Readable now: a sealed older version of each is superseded.
        delete_in(connection, "DELETE FROM sync_sealed_records WHERE record_id IN ({ids})", written)
        delete_in(
            connection,
            "DELETE FROM sync_conflicts WHERE record_id IN ({ids}) AND kind = :kind",
            written,
            kind=UNREADABLE_FORMAT,
        )
        if not carried:
            remotes = [settlement.remote for settlement, _record, _extras in plain]
            self._store_bases(connection, [(r.record, r.revision, r.content) for r in remotes])
            kept.extend(_kept(r) for r in remotes)

    @staticmethod
    def _choices_kept(
        settlement: Settlement, local: LocalRecord | None, carried: bool
    ) -> list[dict[str, Any]]:
        """Kept-value choices still unsent after this merge moves the record to a newer
        revision: the field holds the kept value and nobody is asked about it, so the choice
        goes on to the new revision (rev-14). Dropped, it would leave the kept value equal to
        the new base, "unchanged here", and a value chosen apart arriving next would pass it
        by unseen, the loss the row is for."""
        if (
            carried  # a carried edit keeps the record's revision: the row is still valid
            or local is None
            or not local.chosen
            or local.content is None
            or settlement.content is None
            or not settlement.dirty
        ):
            return []
        asked = {conflict.field for conflict in settlement.conflicts}
        return [
            {"r": settlement.remote.record, "f": name, "v": settlement.remote.revision}
            for name in local.chosen
            if name not in asked
            and canonical(settlement.content.get(name)) == canonical(local.content.get(name))
        ]

    @staticmethod
    def _plain(
        settlement: Settlement, local: LocalRecord | None
    ) -> tuple[Record, dict[str, Any]] | None:
        """The record (and fields of a newer format) to write when ``settlement`` needs
        nothing but its record, base and blob written; None: it goes ``_store_settlement``."""
        if (
            settlement.content is None
            or settlement.remote.content is None
            or settlement.conflicts
            or settlement.flags
            or settlement.duplicate is not None
            # Back over a deletion made here: that device is told (a flag).
            or (local is not None and local.content is None and not local.dirty)
        ):
            return None
        data = {
            **settlement.content,
            "revision": settlement.remote.revision,
            "dirty": settlement.dirty,
        }
        try:
            return open_content(data)
        except RecordFormatError:
            return None  # kept sealed, the long way

    def _store_settlement(
        self,
        connection: Connection,
        settlement: Settlement,
        local: LocalRecord | None,
        carried: bool,
    ) -> bool:
        """Store one settlement whose record ``_settle_run`` read (``local``) and re-settled;
        whether its version is to be kept for bundles (``_settle_run`` keeps a run's at once)."""
        remote = settlement.remote
        record = remote.record
        if (
            settlement.content is None
            and local is not None
            and local.content is not None
            and self._holds_field_conflict(connection, record)
        ):
            # An open conflict here holds a value this person saved that nobody else has seen
            # (mine, kept out of the record until chosen): an edit, and an edit beats a
            # deletion. Tombstoned, the choice made later would have nothing to land on.
            settlement = replace(
                settlement,
                content=dict(local.content),
                dirty=True,
                flags=settlement.flags | {MergeFlag.DELETED_ELSEWHERE},
            )
        if settlement.content is None:
            self._tombstone(connection, record, remote.revision, settlement.dirty)
        else:
            data = {**settlement.content, "revision": remote.revision, "dirty": settlement.dirty}
            try:
                parsed, extras = open_content(data)
            except RecordFormatError as error:
                self._keep_sealed(connection, settlement, str(error))
                if (
                    local is not None
                    and local.content is None
                    and self._back_as_read(connection, record)
                ):
                    # Deleted here, and a newer Minga's edit came: an edit beats a deletion.
                    flag = MergeFlag.EDITED_ELSEWHERE if local.dirty else MergeFlag.RESTORED
                    self._keep_flag(connection, remote.space, record, flag.value)
                return False
            self._records.write_in(connection, [parsed])
            self._store_extras(connection, record, extras)
        # Readable now (or deleted): a sealed older version of it is superseded.
        connection.execute(
            delete(SyncSealedRecordRow).where(SyncSealedRecordRow.record_id == record)
        )
        connection.execute(
            delete(SyncConflictRow).where(
                SyncConflictRow.record_id == record, SyncConflictRow.kind == UNREADABLE_FORMAT
            )
        )
        if not carried:
            self._store_bases(connection, [(record, remote.revision, remote.content)])
        theirs_at = _stamp(remote.content)
        mine_at = _stamp(local.content) if local is not None else ""
        for conflict in settlement.conflicts:
            self._keep_field_conflict(
                connection,
                remote.space,
                record,
                conflict,
                KeptBy(mine_at, remote.author, theirs_at, remote.vouched),
            )
        for flag in sorted(settlement.flags):
            self._keep_flag(connection, remote.space, record, flag.value)
        if (
            settlement.content is not None
            and local is not None
            and local.content is None
            and not local.dirty
        ):
            # Deleted here, and back because someone edited it: whoever deleted it is told.
            self._keep_flag(connection, remote.space, record, MergeFlag.RESTORED.value)
        if settlement.duplicate is not None:
            duplicate = {**settlement.duplicate, "id": new_id(), "revision": 0, "dirty": True}
            copy, extras = open_content(duplicate)
            self._records.write_in(connection, [copy])
            self._store_extras(connection, copy.id, extras)
        return not carried

    def _keep_sealed(self, connection: Connection, settlement: Settlement, reason: str) -> None:
        """A version this app cannot open: kept as it came, with one note for the record, and
        nothing here changed (a local edit stays, held until a version that can merge it)."""
        remote = settlement.remote
        connection.execute(
            text(
                "INSERT INTO sync_sealed_records "
                "(record_id, space_id, revision, author, content, reason) "
                "VALUES (:r, :s, :v, :a, :c, :why) ON CONFLICT (record_id) DO UPDATE SET "
                "space_id = excluded.space_id, revision = excluded.revision, "
                "author = excluded.author, content = excluded.content, reason = excluded.reason"
            ),
            {
                "r": remote.record,
                "s": remote.space,
                "v": remote.revision,
                "a": remote.author,
                "c": _json(remote.content),
                "why": reason[:500],
            },
        )
        self._keep_flag(connection, remote.space, remote.record, UNREADABLE_FORMAT)

    @staticmethod
    def _store_extras(connection: Connection, record: str, extras: Mapping[str, Any]) -> None:
        connection.execute(delete(RecordExtraRow).where(RecordExtraRow.record_id == record))
        if extras:
            connection.execute(
                insert(RecordExtraRow).values(record_id=record, fields=_json(extras))
            )

    def reopen_sealed(self) -> int:
        opened = 0
        with self._engine.begin() as connection:
            for row in connection.execute(select(SyncSealedRecordRow)).all():
                content = json.loads(row.content)
                try:
                    open_content({**content, "revision": row.revision, "dirty": False})
                except RecordFormatError:
                    continue  # still needs a newer version than this one
                local, _stored = self._read_local(connection, row.record_id)
                self._seen.pop(row.record_id, None)
                if local is not None and local.revision >= row.revision:
                    connection.execute(
                        delete(SyncSealedRecordRow).where(
                            SyncSealedRecordRow.record_id == row.record_id
                        )
                    )
                    continue
                remote = RemoteRecord(
                    row.space_id, row.record_id, row.revision, row.author, content
                )
                rules = local.rules if local is not None else self.rules_for(content)
                self._settle(connection, settle(local, remote, rules))
                opened += 1
        return opened

    def sealed_title(self, record: str) -> str | None:
        """A name for a record kept sealed, to list it ("needs a newer Minga")."""
        with self._engine.connect() as connection:
            content = connection.scalar(
                select(SyncSealedRecordRow.content).where(SyncSealedRecordRow.record_id == record)
            )
        if content is None:
            return None
        data = json.loads(content) or {}
        for name in ("title", "name", "summary", "filename"):
            value = data.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip().splitlines()[0][:80]
        return ""

    def taken(self, record: str) -> Record | None:
        """A deleted record as its deletion took it (the last content kept in
        ``record_bases``, to come back with its parent), to name it where a person is told it
        went; None when it is live, or nothing of it is kept or readable."""
        with self._engine.connect() as connection:
            content = connection.scalar(
                select(RecordBase.content)
                .join(RecordRow, RecordRow.id == RecordBase.id)
                .where(RecordBase.id == record, RecordRow.deleted.is_(True))
            )
        if content is None:
            return None
        try:
            return open_content({**json.loads(content), "revision": 0, "dirty": False})[0]
        except RecordFormatError:
            return None

    def _tombstone(self, connection: Connection, record: str, revision: int, dirty: bool) -> None:
        exists = connection.scalar(select(RecordRow.id).where(RecordRow.id == record))
        if exists is None:
            return  # deleted before this device ever had it: nothing to keep
        if self._deleted_since is not None:
            self._deleted_since.add(record)  # its files are looked at after the round
        remove_record(connection, record)
        connection.execute(delete(RecordCode).where(RecordCode.record_id == record))
        connection.execute(delete(RecordContent).where(RecordContent.id == record))
        connection.execute(delete(RecordExtraRow).where(RecordExtraRow.record_id == record))
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
    def _holds_field_conflict(connection: Connection, record: str) -> bool:
        return (
            connection.scalar(
                select(SyncConflictRow.id).where(
                    SyncConflictRow.record_id == record, SyncConflictRow.kind == FIELD_CONFLICT
                )
            )
            is not None
        )

    @staticmethod
    def _keep_flag(connection: Connection, space: str, record: str, kind: str) -> None:
        """One note of a kind per record: told once, not once per sync that meets it again."""
        held = connection.scalar(
            select(SyncConflictRow.id).where(
                SyncConflictRow.record_id == record,
                SyncConflictRow.kind == kind,
                SyncConflictRow.field.is_(None),
            )
        )
        if held is None:
            connection.execute(
                insert(SyncConflictRow).values(
                    record_id=record,
                    space_id=space,
                    kind=kind,
                    field=None,
                    base=_json(None),
                    mine=_json(None),
                    theirs=_json(None),
                )
            )

    @staticmethod
    def _keep_field_conflict(
        connection: Connection, space: str, record: str, conflict: FieldConflict, kept: KeptBy
    ) -> None:
        """Keep a field conflict; an older unsettled one on the same field is folded in, its
        values nobody chose yet kept as ``others`` (a newer conflict never erases them)."""
        others: list[ConflictValue] = []
        older = connection.execute(
            select(SyncConflictRow).where(
                SyncConflictRow.record_id == record,
                SyncConflictRow.field == conflict.field,
                SyncConflictRow.kind == FIELD_CONFLICT,
            )
        ).all()
        for row in older:
            was = _stored_conflict(row, current=None)
            others += [
                *was.others,
                ConflictValue(was.mine, "", was.mine_at),
                ConflictValue(was.theirs, was.theirs_author, was.theirs_at),
            ]
            connection.execute(delete(SyncConflictRow).where(SyncConflictRow.id == row.id))
        details = {
            "mine_at": kept.mine_at,
            "theirs_author": kept.theirs_author,
            "theirs_at": kept.theirs_at,
            "theirs_vouched": kept.theirs_vouched,
            "others": _unchosen(others, (conflict.mine, conflict.theirs)),
        }
        connection.execute(
            insert(SyncConflictRow).values(
                record_id=record,
                space_id=space,
                kind=FIELD_CONFLICT,
                field=conflict.field,
                base=_json(conflict.base),
                mine=_json(conflict.mine),
                theirs=_json(conflict.theirs),
                # The merge keeps theirs in the record until someone decides.
                arose=_json(conflict.theirs),
                details=_json(details),
            )
        )

    # --- a deletion and what it took ------------------------------------------------------

    def keep_together(self) -> int:
        """A deletion and what it took (``CASCADES``) stay one decision after a sync: a live
        child under a deleted parent brings the parent back, and a parent back over its
        deletion brings back the children the deletion took (not one deleted alone); first,
        a child that came back with one parent and nobody changed since goes with another
        parent's deletion (``_take_back_unchanged``) rather than bringing it back. Then the
        files of what stays deleted are erased (``erase_deleted_files``)."""
        waiting: set[str] | None = None
        with self._engine.begin() as connection:
            restored = 0
            notes = ", ".join(f"'{flag.value}'" for flag in _BACK_FLAGS)
            # The cascades nest (a group's materials, their files): each pass brings back one
            # level more, and the loop ends after a pass that brings back nothing: three passes
            # at most with the table two deep (the bound, one per parent type, is a guard).
            for _level in range(len(CASCADE_PARENTS)):
                before = restored
                # What came back with a parent, unchanged, under another parent still deleted:
                # that deletion takes it (it is no one's edit against it), before the first rule
                # below would count it as one.
                took = self._take_back_unchanged(connection)
                # A live child under a deleted parent: the parent comes back (no orphans a screen
                # cannot reach), and below with it everything its deletion took.
                orphaned = connection.execute(
                    text(
                        "SELECT DISTINCT id, space_id FROM ("
                        + " UNION ".join(
                            "SELECT p.id AS id, p.space_id AS space_id FROM records c "
                            f"{_live_content(cascade)} JOIN records p ON p.id = {_named(cascade)} "
                            f"WHERE c.deleted = 0 AND c.record_type = '{cascade.child}' "
                            f"AND p.deleted = 1 AND p.record_type = '{cascade.parent}'"
                            # A person's own note is no reason: it is dropped (``_drop_own``).
                            + (" AND c.space_id = p.space_id" if cascade.own_apart else "")
                            for cascade in CASCADES
                        )
                        + ") ORDER BY id"
                    )
                ).all()
                for parent in orphaned:
                    if self._back_as_read(connection, parent.id) or self._restore(
                        connection, parent.id
                    ):
                        restored += 1
                        self._keep_flag(
                            connection, parent.space_id, parent.id, MergeFlag.RESTORED.value
                        )
                # A child deleted alone here is that until it lives again (an edit elsewhere beat
                # its own deletion) or is gone: only then may a deletion of its parent take it.
                connection.execute(
                    text(
                        "DELETE FROM deleted_alone WHERE NOT EXISTS (SELECT 1 FROM records r "
                        "WHERE r.id = deleted_alone.record_id AND r.deleted = 1)"
                    )
                )
                # A parent back over its deletion (a note on it not yet read): what that deletion
                # took comes back too, also when its children's deletions arrive after it; not a
                # child a person here deleted by itself (rev14: an act naming a witness, deleted
                # alone and then its incident with no sync between, came back with the incident),
                # nor one any of whose other parents is still deleted: a membership its person's
                # deletion took stays deleted when its group comes back (before, it came back with
                # the group and, live under a deleted person, brought the person back everywhere);
                # nor one naming a parent that is nowhere here: a group made and deleted before it
                # ever synced went for good, and a membership of it kept with its person, who comes
                # back, stays gone (rev2: it came back naming a group no device had, and reached
                # every device on no screen).
                taken = connection.execute(
                    text(
                        "SELECT DISTINCT id FROM ("
                        + " UNION ".join(
                            "SELECT c.id AS id FROM records c JOIN record_bases cc ON cc.id = c.id "
                            f"JOIN records p ON p.id = {_named(cascade)} "
                            f"WHERE c.deleted = 1 AND c.record_type = '{cascade.child}' "
                            f"AND p.deleted = 0 AND p.record_type = '{cascade.parent}' "
                            "AND NOT EXISTS "
                            "(SELECT 1 FROM deleted_alone a WHERE a.record_id = c.id) "
                            + "".join(
                                f"AND (COALESCE({_named(other)}, '') = '' OR EXISTS "
                                "(SELECT 1 FROM records q WHERE "
                                f"q.id = {_named(other)} AND q.deleted = 0)) "
                                for other in CASCADES
                                if other.child == cascade.child
                            )
                            + f"AND {_noted('p', notes)}"
                            for cascade in CASCADES
                        )
                        + ") ORDER BY id"
                    )
                ).scalars()
                for child in list(taken):
                    restored += self._restore(connection, child, with_parent=True)
                if restored == before and not took:
                    break
            self._drop_own(connection)
            # What stayed deleted takes its files with it, as on the device that deleted it:
            # keys, sealed bytes, chunks received, indexed text (SECURITY.md).
            if self._vault is not None:
                waiting = erase_deleted_files(connection, self._vault, self._deleted_since)
            # What no decision can bring back any more is not kept: the last content of a
            # deleted record that is neither a parent nor a child in ``CASCADES`` (an edit
            # elsewhere brings its own content), and of a child deleted under live parents
            # (none deleted, none back over a deletion).
            parents = ", ".join(f"'{name}'" for name in CASCADE_PARENTS)
            children = ", ".join(f"'{name}'" for name in CASCADE_CHILDREN)

            def parent_named(condition: str) -> str:
                return " OR ".join(
                    f"(r.record_type = '{cascade.child}' AND EXISTS (SELECT 1 FROM records p "
                    f"WHERE p.id = {_named(cascade, 'r', 'b')} AND {condition}))"
                    for cascade in CASCADES
                )

            noted = _noted("p", notes)
            connection.execute(
                text(
                    "DELETE FROM record_bases WHERE id IN (SELECT r.id FROM records r "
                    "JOIN record_bases b ON b.id = r.id "
                    "WHERE r.deleted = 1 AND r.dirty = 0 AND r.revision > b.revision "
                    f"AND r.record_type NOT IN ({parents}) "
                    f"AND (r.record_type NOT IN ({children}) "
                    f"OR (({parent_named(f'p.deleted = 0 AND NOT {noted}')}) "
                    f"AND NOT ({parent_named(f'(p.deleted = 1 OR {noted})')}))))"
                )
            )
            # A kept-value choice is done once its record moved on (sent, or merged with what
            # came): the merge met it or the server holds it. Not kept longer than needed.
            connection.execute(
                text(
                    "DELETE FROM sync_choices WHERE NOT EXISTS (SELECT 1 FROM records r "
                    "WHERE r.id = sync_choices.record_id AND r.deleted = 0 "
                    "AND r.revision = sync_choices.revision)"
                )
            )
            # One note, on the parent: its children's own "back" notes would only repeat it.
            connection.execute(
                text(
                    "DELETE FROM sync_conflicts WHERE field IS NULL AND kind = :restored "
                    "AND record_id IN ("
                    + " UNION ".join(
                        f"SELECT c.id FROM records c {_live_content(cascade)} "
                        f"JOIN sync_conflicts n ON n.record_id = {_named(cascade)} "
                        f"AND n.field IS NULL AND n.kind IN ({notes}) "
                        f"WHERE c.record_type = '{cascade.child}'"
                        for cascade in CASCADES
                    )
                    + ")"
                ),
                {"restored": MergeFlag.RESTORED.value},
            )
            # A note of one's own back with its parent: the parent's note says so; an edit
            # of it never sent and not what came back, a conflict.
            self._unsent_back(connection)
            # Not a note of its own saying the person deleted it while someone edited it (its
            # drop met an edit): the device dropped it, nobody here deleted it (rev-dismiss).
            connection.execute(
                text(
                    f"DELETE FROM sync_conflicts WHERE field IS NULL AND kind IN ({notes}) "
                    "AND record_id IN (SELECT n.record_id FROM sync_conflicts n "
                    "JOIN records r ON r.id = n.record_id WHERE n.field IS NULL "
                    "AND n.kind IN (:taken, :kept) AND r.deleted = 0)"
                ),
                {"taken": TAKEN_WITH_PARENT, "kept": UNSENT_KEPT},
            )
            connection.execute(
                text(
                    "DELETE FROM sync_conflicts WHERE field IS NULL AND kind IN (:taken, :kept) "
                    "AND record_id IN (SELECT id FROM records WHERE deleted = 0)"
                ),
                {"taken": TAKEN_WITH_PARENT, "kept": UNSENT_KEPT},
            )
        if waiting is not None:  # committed: what still waits is looked at again
            self._deleted_since = waiting
        return restored

    def _take_back_unchanged(self, connection: Connection) -> bool:
        """A child come back with one parent and changed by nobody since
        (``desktop.store.came_back``), live under another parent that is deleted, is deleted
        here as that deletion would have taken it had the deleting device seen it live: its
        last content kept (it comes back if that parent does), its deletion sent, not as one
        "alone". Not when anything else live under that parent is a reason to bring it back
        (the first rule then brings the parent back, and the child stays), nor under a parent
        whose newest version is sealed (a newer Minga's edit beat that deletion), nor when the
        child holds an open field conflict: the record then holds the version the mark vouches
        for while the person's own value waits in the conflict (an edit, which beats a
        deletion; rev-back: taken, the value was on no live record anywhere).

        Before (fault seed 10135), such a child brought the deleted parent back by the first
        rule: a person deleted after their group's deletion had taken their membership came
        back on every device when the group came back edited elsewhere, the membership with
        it, though nobody had changed either. True when it deleted anything."""
        rows = connection.execute(
            text(
                "SELECT DISTINCT child, revision, parent FROM ("
                + " UNION ".join(
                    "SELECT c.id AS child, c.revision AS revision, p.id AS parent "
                    f"FROM records c {_live_content(cascade)} "
                    f"JOIN records p ON p.id = {_named(cascade)} "
                    f"WHERE c.deleted = 0 AND c.record_type = '{cascade.child}' "
                    f"AND p.deleted = 1 AND p.record_type = '{cascade.parent}' "
                    "AND p.id NOT IN (SELECT record_id FROM sync_sealed_records)"
                    + (" AND c.space_id = p.space_id" if cascade.own_apart else "")
                    for cascade in CASCADES
                )
                + ") ORDER BY parent, child"
            )
        ).all()
        if not rows:
            return False
        unchanged = unchanged_since_back(connection, {row.child for row in rows})
        # An open field conflict holds a value a person here saved against the version the
        # mark vouches for (mine, kept out of the record until chosen): an edit, not taken.
        unchanged -= set(
            connection.scalars(
                select(SyncConflictRow.record_id).where(
                    in_ids(SyncConflictRow.record_id, sorted(unchanged)),
                    SyncConflictRow.kind == FIELD_CONFLICT,
                )
            )
        )
        reasons = {row.parent for row in rows if row.child not in unchanged}
        taken = {row.child: row.revision for row in rows if row.parent not in reasons}
        keep_last_content(connection, sorted(taken))
        for child, revision in sorted(taken.items()):
            self._tombstone(connection, child, revision, True)
        return bool(taken)

    def _drop_own(self, connection: Connection) -> None:
        """A person's own note or reading position (``Cascade.own_apart``: in a space other
        than its parent's) live under a deleted parent is deleted here, as the deletion took
        the shared ones: not a reason to bring the parent back, since devices that deleted it
        may never see it (rev-nest: kept, it was on no screen). Its last content stays in
        ``record_bases``, an edit not sent yet included, so it comes back if its parent does
        (``keep_together``'s second rule), and the person is told (``TAKEN_WITH_PARENT``).
        Its deletion goes out in its space like any change; one never synced (revision 0) has
        nothing to tell the server, and stays here, deleted, only to come back."""
        rows = connection.execute(
            text(
                "SELECT DISTINCT id, space_id, revision, dirty FROM ("
                + " UNION ".join(
                    "SELECT c.id AS id, c.space_id AS space_id, c.revision AS revision, "
                    f"c.dirty AS dirty FROM records c {_live_content(cascade)} "
                    f"JOIN records p ON p.id = {_named(cascade)} "
                    f"WHERE c.deleted = 0 AND c.record_type = '{cascade.child}' "
                    f"AND p.deleted = 1 AND p.record_type = '{cascade.parent}' "
                    "AND c.space_id <> p.space_id"
                    for cascade in CASCADES
                    if cascade.own_apart
                )
                + ") ORDER BY id"
            )
        ).all()
        keep_last_content(connection, [row.id for row in rows])
        for row in rows:
            self._tombstone(connection, row.id, row.revision, row.revision > 0)
            # A note that it is here or back (an edit of it met a deletion of it first) is
            # no longer true: this one says what happened since.
            connection.execute(
                delete(SyncConflictRow).where(
                    SyncConflictRow.record_id == row.id,
                    SyncConflictRow.field.is_(None),
                    SyncConflictRow.kind.in_([flag.value for flag in _BACK_FLAGS]),
                )
            )
            self._keep_flag(connection, row.space_id, row.id, TAKEN_WITH_PARENT)
            if row.dirty and row.revision > 0:
                # An edit never sent: the note says what it held (``_unsent_back``), for the
                # base may be overwritten by another version before the note comes back.
                connection.execute(
                    update(SyncConflictRow)
                    .where(
                        SyncConflictRow.record_id == row.id,
                        SyncConflictRow.kind == TAKEN_WITH_PARENT,
                        SyncConflictRow.field.is_(None),
                    )
                    .values(
                        mine=select(RecordBase.content)
                        .where(RecordBase.id == row.id)
                        .scalar_subquery()
                    )
                )

    def _unsent_back(self, connection: Connection) -> None:
        """An own note dropped with an edit never sent (``_drop_own``) and live again: where
        what came back differs from that edit, each such field is kept as a conflict, the edit
        as mine. It may come back as another device last sent it, not as this one kept it:
        the person's second device dropped it too, offline, with an edit only it held, and
        the first brought it back first with its own last content; before (rev-dels), that
        version was merged over the dropped note and the edit was gone without a word. Also
        when the person dismissed the note meanwhile: the edit was kept apart from it
        (``UNSENT_KEPT``)."""
        rows = connection.execute(
            select(
                SyncConflictRow.space_id,
                SyncConflictRow.record_id,
                SyncConflictRow.mine,
                RecordContent.content,
                RecordExtraRow.fields,
            )
            .join(RecordRow, RecordRow.id == SyncConflictRow.record_id)
            .join(RecordContent, RecordContent.id == SyncConflictRow.record_id)
            .outerjoin(RecordExtraRow, RecordExtraRow.record_id == SyncConflictRow.record_id)
            .where(
                SyncConflictRow.kind.in_([TAKEN_WITH_PARENT, UNSENT_KEPT]),
                SyncConflictRow.field.is_(None),
                RecordRow.deleted.is_(False),
            )
        ).all()
        for row in rows:
            kept = json.loads(row.mine)
            if not isinstance(kept, dict):
                continue
            now = sealed_content(row.content, row.fields)
            kind = RECORD_TYPES.get(str(now.get("type")))
            if kind is None:
                continue
            for spec in kind.fields:
                mine, theirs = kept.get(spec.name), now.get(spec.name)
                if canonical(mine) != canonical(theirs):
                    self._keep_field_conflict(
                        connection,
                        row.space_id,
                        row.record_id,
                        FieldConflict(spec.name, None, mine, theirs),
                        KeptBy(_stamp(kept), "", _stamp(now)),
                    )

    def _back_as_read(self, connection: Connection, record: str) -> bool:
        """A parent of ``CASCADES`` deleted here whose newest version is sealed (a newer Minga
        edited it): an edit beats a deletion, so it is back here as this device last read it,
        clean, its base kept, for the sealed version to merge over once this Minga is updated.
        Below it, what the deletion took comes back (``keep_together``'s second rule: a note is
        on it).

        Before (rev14), the deletion was only held: its act, source and follow-up deletions,
        sent with it and accepted, took everything under an incident the newer edit kept, on
        every device; and brought back dirty without a base, the incident would have met the
        sealed version as created on both sides, every field a newer Minga changed a conflict.
        False when it is not such an incident, or this device never read its content."""
        row = connection.execute(
            select(RecordRow.revision).where(
                RecordRow.id == record,
                RecordRow.deleted.is_(True),
                RecordRow.record_type.in_(CASCADE_PARENTS),
                RecordRow.id.in_(select(SyncSealedRecordRow.record_id)),
            )
        ).first()
        taken = connection.scalar(select(RecordBase.content).where(RecordBase.id == record))
        if row is None or taken is None:
            return False
        try:
            data = {**json.loads(taken), "revision": row.revision, "dirty": False}
            parsed, extras = open_content(data)
        except RecordFormatError:
            return False
        # Its deletion waiting here is answered: the newer version beat it.
        connection.execute(delete(SyncOutboxRow).where(SyncOutboxRow.record_id == record))
        self._records.write_in(connection, [parsed])
        self._store_extras(connection, record, extras)
        return True

    def _restore(self, connection: Connection, record: str, *, with_parent: bool = False) -> bool:
        """A deleted record back with the content its deletion took, dirty: sent as an edit
        over the deletion. ``with_parent``: it comes back because its parent did (the second
        rule of ``keep_together``), marked so (``desktop.store.came_back``); else it comes back
        for an edit under it (the first rule), and an older such mark it held goes.
        False when this device never held its content."""
        row = connection.execute(
            select(RecordRow.revision).where(RecordRow.id == record, RecordRow.deleted.is_(True))
        ).first()
        taken = connection.scalar(select(RecordBase.content).where(RecordBase.id == record))
        if row is None or taken is None:
            return False
        data = {**json.loads(taken), "revision": row.revision, "dirty": True}
        try:
            parsed, extras = open_content(data)
        except RecordFormatError:
            return False
        # A sealed deletion of it waiting for an answer would now be a stale one.
        connection.execute(delete(SyncOutboxRow).where(SyncOutboxRow.record_id == record))
        # No base: merged as created here, so a deletion that reaches it again cannot take it
        # for "unchanged here" and win; an identical restore from another device merges clean.
        connection.execute(delete(RecordBase).where(RecordBase.id == record))
        extras.pop(CAME_BACK, None)
        self._records.write_in(connection, [parsed])
        self._store_extras(connection, record, extras)
        if with_parent:
            mark_came_back(connection, record)
        return True

    # --- people's decisions ----------------------------------------------------------------

    def conflicts(self) -> list[StoredConflict]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(
                    *SyncConflictRow.__table__.c,
                    RecordContent.content.label("record_content"),
                    RecordExtraRow.fields.label("record_extras"),
                )
                .outerjoin(RecordContent, RecordContent.id == SyncConflictRow.record_id)
                .outerjoin(RecordExtraRow, RecordExtraRow.record_id == SyncConflictRow.record_id)
                .where(SyncConflictRow.kind != UNSENT_KEPT)  # nothing to ask anyone
                .order_by(SyncConflictRow.id)
            ).all()
        found = []
        for row in rows:
            current = None
            if row.record_content is not None and row.field is not None:
                held = sealed_content(row.record_content, row.record_extras)
                current = held.get(row.field)
            found.append(_stored_conflict(row, current))
        return found

    def resolve_conflict(self, conflict_id: int, value: Any = None) -> str:
        with self._engine.begin() as connection:
            row = connection.execute(
                select(SyncConflictRow).where(SyncConflictRow.id == conflict_id)
            ).first()
            if row is None:
                return RESOLVED
            conflict = _stored_conflict(row, current=None)
            stored = connection.execute(
                select(RecordContent.content, RecordRow.record_type, RecordExtraRow.fields)
                .join(RecordRow, RecordRow.id == RecordContent.id)
                .outerjoin(RecordExtraRow, RecordExtraRow.record_id == RecordContent.id)
                .where(RecordContent.id == row.record_id)
            ).first()
            if row.kind == UNREADABLE_FORMAT and connection.scalar(
                select(SyncSealedRecordRow.record_id).where(
                    SyncSealedRecordRow.record_id == row.record_id
                )
            ):
                return RESOLVED  # listed until a newer version opens it: not to be dismissed
            if row.kind == UNSENT_KEPT:
                # Already read (a second press, or a list shown before the first): the edit
                # kept apart stays. Before (rev-back), a second "Understood" on the note took
                # the row for a note read and deleted it, and the edit with it.
                return RESOLVED
            if conflict.field is None and row.kind == TAKEN_WITH_PARENT and conflict.mine:
                # The note read holds an edit never sent: the note goes, the edit stays apart
                # from it, to be a conflict if the note comes back other (``_unsent_back``).
                # Reading a note decides nothing; before, the edit went with it, unseen.
                connection.execute(
                    update(SyncConflictRow)
                    .where(SyncConflictRow.id == conflict_id)
                    .values(kind=UNSENT_KEPT)
                )
                return RESOLVED
            if conflict.field is None or stored is None:
                # A note read and dismissed, or the record was deleted since.
                connection.execute(delete(SyncConflictRow).where(SyncConflictRow.id == conflict_id))
                return RESOLVED
            name = conflict.field
            data = json.loads(stored.content)
            extras: dict[str, Any] = json.loads(stored.fields) if stored.fields else {}
            now = {**data, **extras}.get(name)
            outcome = RESOLVED
            if canonical(now) != canonical(conflict.arose):
                # Someone changed the field since the conflict was kept: the choice is merged
                # with what it holds now, never written over it unseen.
                rules = merge_rules(stored.record_type).fields
                # Picking the value it arose against is a choice too, not "unchanged": it is
                # weighed against the conflict's base, so the value that came since does not
                # pass it by (as for a choice that meets a value on its way out, below).
                result = merge(
                    {name: conflict.arose},
                    {name: value},
                    {name: now},
                    {name: rules.get(name, "value")},
                    chosen={name: conflict.base},
                )
                if result.conflicts or result.merged is None:
                    asked = result.conflicts[0].base if result.conflicts else conflict.arose
                    details = {
                        "mine_at": "",
                        "theirs_author": self._author_of_held(connection, row.record_id, data),
                        "theirs_at": _stamp(data),
                        "others": _unchosen(conflict.others, (value, now)),
                    }
                    connection.execute(
                        update(SyncConflictRow)
                        .where(SyncConflictRow.id == conflict_id)
                        .values(
                            base=_json(asked),
                            mine=_json(value),
                            theirs=_json(now),
                            arose=_json(now),
                            details=_json(details),
                        )
                    )
                    return MOVED
                value = result.merged.get(name)
                outcome = MERGED
            connection.execute(delete(SyncConflictRow).where(SyncConflictRow.id == conflict_id))
            kept = dict(extras)
            if name in extras or name == DECIDED:
                # A field of a newer format (or the marks, asked about by a version before
                # them): settled among the fields kept for it.
                kept[name] = value
            else:
                data[name] = value
            if name != DECIDED:
                # A choice keeping the value held writes nothing new: a decision mark goes in
                # the content instead, so the revision sent differs from the one before and a
                # value chosen apart meets it as a decision there (merge's ``DECIDED``). A
                # choice that changes the value is an edit, and an edit drops the field's mark.
                marks = decision_marks(extras)
                marks.pop(name, None)
                if canonical(value) == canonical(now):
                    marks[name] = secrets.token_hex(8)
                put_marks(kept, marks)
            if kept != extras:
                self._store_extras(connection, row.record_id, kept)
            data["dirty"] = True
            self._records.write_in(connection, [from_dict(data)])
            self._remember_choice(connection, row.record_id, name, conflict.base, value, now, data)
            return outcome

    @staticmethod
    def _remember_choice(
        connection: Connection,
        record: str,
        name: str,
        question: Any,
        value: Any,
        held: Any,
        data: Mapping[str, Any],
    ) -> None:
        """A choice that keeps the value held writes nothing new: remember it until it is
        sent, so a value settled differently elsewhere meets it as a conflict (merge's
        ``chosen``). A choice that changes the value is an edit and needs nothing more."""
        connection.execute(
            delete(SyncChoiceRow).where(
                SyncChoiceRow.record_id == record, SyncChoiceRow.field == name
            )
        )
        if canonical(value) == canonical(held):
            connection.execute(
                insert(SyncChoiceRow).values(
                    record_id=record,
                    field=name,
                    question=_json(question),
                    revision=int(data.get("revision") or 0),
                )
            )

    @staticmethod
    def _author_of_held(connection: Connection, record: str, data: Mapping[str, Any]) -> str:
        """The device that wrote the version held, where known: the author of the verified
        version at its revision, unless it was edited here since (this device: empty)."""
        if data.get("dirty"):
            return ""
        author = connection.scalar(
            select(SyncRecordBlobRow.author).where(
                SyncRecordBlobRow.record_id == record,
                SyncRecordBlobRow.revision == data.get("revision"),
            )
        )
        return author or ""

    def device_fingerprints(self) -> dict[str, str]:
        """Each member device's fingerprint (its first group), to say who wrote a value."""
        found: dict[str, str] = {}
        for space in self.spaces():
            blobs = self.statements(space)
            if blobs:
                for member in MembershipStatement.from_bytes(blobs[-1]).members:
                    found[member.device] = member.keys.fingerprint.groups[0]
        return found

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
        wanted = (
            "SELECT r.id, r.space_id, c.content FROM records r "
            "JOIN record_contents c ON c.id = r.id "
            "WHERE r.deleted = 0 "
            "AND json_array_length(json_extract(c.content, '$.attachment_chunks')) > 0 "
            "AND json_extract(c.content, '$.attachment_ref') NOT IN "
            "(SELECT attachment_id FROM attachment_keys) "
            # A material's file only when this device keeps it (or its group) offline; the
            # others are fetched on demand (desktop.store.materials).
            "AND (r.record_type <> 'material_file' OR EXISTS (SELECT 1 FROM material_pins p "
            "WHERE p.target_id IN (r.parent_id, json_extract(c.content, '$.working_group_id')))) "
            "AND r.id {} (SELECT record_id FROM record_extras "
            "WHERE json_extract(fields, '$.attachment_gone') = 1) "
            "ORDER BY r.id"
        )
        with self._engine.connect() as connection:
            # Not a file whose bytes are gone (marked so: nothing to fetch, asked for no
            # more) ...
            rows = list(
                connection.execute(
                    text(wanted.format("NOT IN") + " LIMIT :limit"), {"limit": limit}
                )
            )
            # ... but once a session: a mark a server's false chunk_missing set, with no
            # device holding the file to put it back, is undone if the bytes come (then this
            # device holds them and puts the file back, ``put_back_gone``). Few: one per file.
            for row in connection.execute(text(wanted.format("IN"))):
                if len(rows) < limit and row.id not in self._gone_asked:
                    self._gone_asked.add(row.id)
                    rows.append(row)
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

    def mark_gone(self, space: str, record: str) -> None:
        with self._engine.begin() as connection:
            held = connection.scalar(
                select(RecordExtraRow.fields).where(RecordExtraRow.record_id == record)
            )
            extras = dict(json.loads(held)) if held else {}
            extras[GONE] = True
            self._store_extras(connection, record, extras)
            connection.execute(update(RecordRow).where(RecordRow.id == record).values(dirty=True))
            self._keep_flag(connection, space, record, FILE_GONE)

    def put_back_gone(self) -> int:
        if self._vault is None:
            return 0
        # Live records marked gone whose file has a key row here (few: one per file lost).
        query = text(
            "SELECT r.id, r.space_id, x.fields, c.content, "
            "json_extract(c.content, '$.attachment_ref') AS ref "
            "FROM record_extras x JOIN records r ON r.id = x.record_id "
            "JOIN record_contents c ON c.id = r.id "
            "WHERE r.deleted = 0 AND json_extract(x.fields, '$.attachment_gone') = 1 "
            "AND json_extract(c.content, '$.attachment_ref') IN "
            "(SELECT attachment_id FROM attachment_keys)"
        )
        put_back = 0
        with self._engine.begin() as connection:
            for row in connection.execute(query).all():
                if not self._vault.path_of(str(row.ref)).exists():
                    continue
                content = json.loads(row.content)
                if not self._holds_every_chunk(str(row.space_id), str(row.id), content):
                    # Another file under that ref (a member's forged record, a copy gone bad):
                    # put back, it would claim chunks this vault cannot send, be refused
                    # chunk_missing, marked gone and put back again at every round.
                    continue
                # The server lacks them (that is what the mark says): asked about again, not
                # skipped as held from when this device fetched them.
                addresses = [str(a) for a in content.get("attachment_chunks", [])]
                connection.execute(
                    delete(SyncChunkHeldRow).where(
                        SyncChunkHeldRow.space_id == row.space_id,
                        SyncChunkHeldRow.address.in_(addresses),
                    )
                )
                extras = dict(json.loads(row.fields))
                extras.pop(GONE, None)
                self._store_extras(connection, row.id, extras)
                connection.execute(
                    update(RecordRow).where(RecordRow.id == row.id).values(dirty=True)
                )
                connection.execute(
                    delete(SyncConflictRow).where(
                        SyncConflictRow.record_id == row.id, SyncConflictRow.kind == FILE_GONE
                    )
                )
                put_back += 1
        return put_back

    def _holds_every_chunk(self, space: str, record: str, content: Mapping[str, Any]) -> bool:
        """Whether this vault's file under the ref ``content`` names gives, chunk by chunk,
        exactly the addresses it names (read and hashed; a failure is remembered)."""
        ref = AttachmentRef.of(space, content)
        if ref is None:
            return False
        asked = (record, ref.chunks)
        if asked in self._not_held:
            return False
        for index, address in enumerate(ref.chunks):
            data = self.sealed_chunk(ref, index)
            if data is None or chunk_hash(data) != address:
                self._not_held.add(asked)
                return False
        return True

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


def _kept(remote: RemoteRecord) -> Kept:
    """What bundles keep of a verified version: its envelope, or the batch it came in."""
    return Kept(
        remote.space,
        remote.record,
        remote.revision,
        remote.seq,
        remote.author,
        remote.blob,
        remote.batch,
        remote.batch_index,
        remote.content is None,
    )


def _sent(row: Any) -> SentBatch:
    return SentBatch(
        row.space_id,
        row.batch_id,
        row.blob,
        int(row.failures or 0),
        None if row.failing_since is None else float(row.failing_since),
        bool(row.set_aside),
    )
