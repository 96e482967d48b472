"""The encrypted store's tables as SQLAlchemy 2 models; Alembic migrations follow them.

Later record tables join ``StoreBase`` here (or in modules imported from here) so that one
metadata describes the whole database for migrations and tests.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class StoreBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SettingRow(StoreBase):
    """One setting's value, JSON-encoded; the schema in ``desktop.domain.settings`` types it."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(nullable=False)


class RecordRow(StoreBase):
    """Every record of every type: identity, sync state and the columns lists filter on.

    The list columns (``label``, ``status``, ``kind``, ``country``, ``date_from``, ``date_to``,
    ``parent_id``) are copies made on save; the content itself lives in ``record_contents``.
    Keeping these rows thin is what lets a count or filter over 100,000 incidents stay fast:
    a scan reads a few MB of pages, not every record's JSON.
    """

    __tablename__ = "records"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_type: Mapped[str] = mapped_column(String(32), nullable=False)
    space_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    revision: Mapped[int] = mapped_column(nullable=False, default=0)
    dirty: Mapped[bool] = mapped_column(nullable=False, default=True)
    deleted: Mapped[bool] = mapped_column(nullable=False, default=False)
    created_at: Mapped[str] = mapped_column(String(32), nullable=False)
    updated_at: Mapped[str] = mapped_column(String(32), nullable=False)
    label: Mapped[str] = mapped_column(Text, nullable=False, default="")
    parent_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    country: Mapped[str | None] = mapped_column(String(8), nullable=True)
    date_from: Mapped[str | None] = mapped_column(String(10), nullable=True)
    date_to: Mapped[str | None] = mapped_column(String(10), nullable=True)

    # ``deleted`` second in each: lists ask for live records, and then never touch the table.
    __table_args__ = (
        Index("ix_records_type_label", "record_type", "deleted", "label"),
        Index("ix_records_type_status", "record_type", "deleted", "status"),
        Index("ix_records_type_country", "record_type", "deleted", "country"),
        Index("ix_records_type_date", "record_type", "deleted", "date_from", "date_to"),
        Index("ix_records_type_updated", "record_type", "deleted", "updated_at"),
        # The objectives counts: every incident's place, kind and dates, and every incident's
        # acts by type, read from the index alone (the rows carry titles and are ten times
        # larger, and each page read is decrypted).
        Index(
            "ix_records_type_dates_place",
            "record_type",
            "deleted",
            "date_from",
            "date_to",
            "country",
            "kind",
        ),
        Index("ix_records_parent_type_label", "parent_id", "record_type", "deleted", "label"),
        Index("ix_records_dirty", "dirty", sqlite_where=text("dirty = 1")),
        # Keyed by id itself, so every index carries the id: a filter that matches ids (codes,
        # search hits) is answered from the index without visiting the table.
        {"sqlite_with_rowid": False},
    )


class RecordContent(StoreBase):
    """A live record's whole content, as ``to_dict`` JSON; a tombstone has none."""

    __tablename__ = "record_contents"

    id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), primary_key=True)
    content: Mapped[str] = mapped_column(Text, nullable=False)


class RecordCode(StoreBase):
    """One vocabulary code a record carries in a multi-valued field (rights, objectives...)."""

    __tablename__ = "record_codes"

    record_id: Mapped[str] = mapped_column(
        ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(String(32), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (Index("ix_record_codes_field_code", "field", "code"),)


class RecordBase(StoreBase):
    """The last version both this device and the server agreed on: the base of a 3-way merge."""

    __tablename__ = "record_bases"

    id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), primary_key=True)
    revision: Mapped[int] = mapped_column(nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)


class AttachmentKeyRow(StoreBase):
    """The per-file key of one sealed attachment, and what was recorded of it at import.

    Kept apart from the records' JSON so a file can be reopened; deleting the row (and the
    sealed file) erases the attachment for good.
    """

    __tablename__ = "attachment_keys"

    attachment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(nullable=False)
    sealed_size: Mapped[int] = mapped_column(nullable=False)


# --- sync state (sync/ENGINE.md): kept inside the encrypted database like everything else ----


class SyncDeviceRow(StoreBase):
    """This profile's device on its server: the server's address and the private keys."""

    __tablename__ = "sync_device"

    id: Mapped[int] = mapped_column(primary_key=True)
    server_url: Mapped[str] = mapped_column(Text, nullable=False)
    #: ``DeviceKeys.to_bytes``: never leaves the encrypted database.
    device_keys: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class SyncPinRow(StoreBase):
    """The public keys first seen for a device; a change is a loud warning, never silent."""

    __tablename__ = "sync_pins"

    device_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sign_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    box_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    verified: Mapped[bool] = mapped_column(nullable=False, default=False)


class SyncSpaceTrustRow(StoreBase):
    """A space whose genesis statement was trusted on first use (found by discovery, not made
    here): its admin's fingerprint waits for the person to compare it out of band.

    ``state`` is ``pending`` (pulled, outbox held, warned about), ``confirmed`` (the digits
    matched), ``forked`` (two statements met for one place in its history: outbox held, the
    person warned) or ``refused`` (they did not match: its statements, keys and records are
    forgotten and discovery skips the space from then on).
    """

    __tablename__ = "sync_space_trust"

    space_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    admin_device: Mapped[str] = mapped_column(String(32), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)


class SyncInviteRow(StoreBase):
    """An invite this device made: the role the admin chose (what a newcomer is admitted
    as, whatever the server lists) and the statement it commits to (its hash)."""

    __tablename__ = "sync_invites"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    space_id: Mapped[str] = mapped_column(String(64), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    statement: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class SyncInviteAnchorRow(StoreBase):
    """The statement commitment an invite brought this device; ``space_id`` once a space's
    chain was found to contain it (a chain without it is refused)."""

    __tablename__ = "sync_invite_anchors"

    anchor: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    space_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class SyncStatementRow(StoreBase):
    """A verified membership statement of a space, in chain order."""

    __tablename__ = "sync_statements"

    space_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    blob: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class SyncWrapRow(StoreBase):
    """A space key wrapped to this device for one epoch (re-verified each time it is loaded)."""

    __tablename__ = "sync_wraps"

    space_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    epoch: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(32), nullable=False)
    wrap: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class SyncCursorRow(StoreBase):
    """How far this device has applied each space's changes (the server's per-space seq)."""

    __tablename__ = "sync_cursors"

    space_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[int] = mapped_column(nullable=False)


class SyncOutboxRow(StoreBase):
    """A sealed mutation sent or about to be sent, kept until the server answers it.

    Its id and bytes are re-sent unchanged after a lost answer, so the server applies it once.
    ``content`` is what was sealed (JSON; NULL for a deletion), the base once accepted.
    """

    __tablename__ = "sync_outbox"

    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mutation_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    space_id: Mapped[str] = mapped_column(String(64), nullable=False)
    base_revision: Mapped[int] = mapped_column(nullable=False)
    blob: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    content: Mapped[str | None] = mapped_column(Text, nullable=True)


class SyncSentBatchRow(StoreBase):
    """A sealed batch (PROTOCOL.md §13) sent or about to be sent, kept until the server answers
    it: re-sent unchanged after a lost answer, the server answers it as the first time."""

    __tablename__ = "sync_sent_batches"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    space_id: Mapped[str] = mapped_column(String(64), nullable=False)
    blob: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    #: Answers that were a server error (5xx) in a row, and since when (migration 0021).
    failures: Mapped[int] = mapped_column(nullable=False, default=0, server_default=text("0"))
    failing_since: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Not sent again: its records go as single mutations (``sync.client.batches``).
    set_aside: Mapped[bool] = mapped_column(nullable=False, default=False, server_default=text("0"))


class SyncLostSpaceRow(StoreBase):
    """A space the server answered ``space_not_found`` for (this device was removed): its
    edits are not sealed or sent until a page of it comes back (migration 0022)."""

    __tablename__ = "sync_lost_spaces"

    space_id: Mapped[str] = mapped_column(String(64), primary_key=True)


#: ``SyncConflictRow.kind`` of a field both sides changed differently (the store's records
#: module settles these when a record is deleted, the sync state writes them).
FIELD_CONFLICT = "field"
#: ``SyncConflictRow.kind`` of an edit never sent, kept apart from a "taken with its parent"
#: note the person dismissed (``resolve_conflict``): no question for anyone, never listed,
#: only there to become a conflict if the note comes back other than that edit.
UNSENT_KEPT = "unsent_kept"


class SyncConflictRow(StoreBase):
    """A field both sides changed differently, or a flag (edit kept over a deletion), for a
    person to settle. Values are JSON; ``field`` is NULL for a flag."""

    __tablename__ = "sync_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    space_id: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    field: Mapped[str | None] = mapped_column(String(64), nullable=True)
    base: Mapped[str] = mapped_column(Text, nullable=False)
    mine: Mapped[str] = mapped_column(Text, nullable=False)
    theirs: Mapped[str] = mapped_column(Text, nullable=False)
    #: The field's value in the record when the conflict was kept (resolving merges against
    #: what it holds by then if it moved since); NULL in rows kept before migration 0015.
    arose: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: JSON: who and when for each side, and ``others``: values of earlier conflicts on the
    #: same field nobody chose yet.
    details: Mapped[str | None] = mapped_column(Text, nullable=True)


class SyncSealedRecordRow(StoreBase):
    """A verified record this version cannot open (a newer Minga's type or field shapes), kept
    as it came: listed as "needs a newer Minga", opened by the version that can."""

    __tablename__ = "sync_sealed_records"

    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    space_id: Mapped[str] = mapped_column(String(64), nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    author: Mapped[str] = mapped_column(String(64), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)


class RecordExtraRow(StoreBase):
    """Fields of a newer format this version does not know (and the newer schema number), kept
    as they came and sealed back unchanged with every edit made here."""

    __tablename__ = "record_extras"

    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    fields: Mapped[str] = mapped_column(Text, nullable=False)


class SyncChoiceRow(StoreBase):
    """A conflict a person settled by keeping the value the field held: no edit, so nothing
    else marks it. Until the record is sent (while it stays at ``revision``) another value
    arriving for the field meets it as a conflict against ``question``, the conflict's base
    (JSON), instead of passing it by (``sync.client.merge``)."""

    __tablename__ = "sync_choices"

    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    question: Mapped[str] = mapped_column(Text, nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)


class DeletedAloneRow(StoreBase):
    """A child (act, source, evidence, follow-up) a person deleted by itself, not with its
    incident, here or on another device (its signed tombstone says so: ``alone``, sync/CRYPTO.md
    §2 "Tombstone facts"). When an edit elsewhere beats the incident's deletion and brings back
    everything that deletion took (``keep_together``), these stay deleted: a decision of their
    own (migration 0024; sync/ENGINE.md "Deletes")."""

    __tablename__ = "deleted_alone"

    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class SyncChunkHeldRow(StoreBase):
    """A sealed chunk the server is known to hold in a space (uploaded, or seen by ``HEAD``/
    ``GET``), so a resumed upload asks only about the others."""

    __tablename__ = "sync_chunks_held"

    space_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)


class SyncChunkReceivedRow(StoreBase):
    """A sealed chunk being downloaded: the bytes received so far (``complete`` once its SHA-256
    matched). Kept until its file is assembled into the vault; a cut download resumes here."""

    __tablename__ = "sync_chunks_received"

    space_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    complete: Mapped[bool] = mapped_column(nullable=False)


# --- courier bundles (sync/client/bundles.py) ---------------------------------------------


class SyncRecordBlobRow(StoreBase):
    """The sealed, author-signed blob of a record's newest server version held here, with its
    space seq: what a bundle hands another device exactly as the server would (no re-sealing).
    Written with every pulled, accepted or imported version."""

    __tablename__ = "sync_record_blobs"

    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    space_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    revision: Mapped[int] = mapped_column(nullable=False)
    seq: Mapped[int] = mapped_column(nullable=False)
    author: Mapped[str] = mapped_column(String(32), nullable=False)
    #: Empty when the version came in a batch (migration 0017): ``batch`` then names the kept
    #: batch that carries it and ``batch_index`` its entry there.
    blob: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    batch: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    batch_index: Mapped[int | None] = mapped_column(nullable=True)


class SyncBatchBlobRow(StoreBase):
    """A sealed batch kept as received (or as pushed) while it carries a version held here
    that has no envelope of its own: a bundle hands it on whole (PROTOCOL.md §12.3)."""

    __tablename__ = "sync_batch_blobs"

    #: SHA-256 of ``blob``: one batch, one row, whatever id its author wrote inside.
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    space_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    author: Mapped[str] = mapped_column(String(32), nullable=False)
    blob: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class SyncBatchEntryRow(StoreBase):
    """A record a kept batch's manifest names (migration 0020): the batches a pulled page may
    spoil or empty are found from the page's records, not by reading every kept batch."""

    __tablename__ = "sync_batch_entries"
    __table_args__ = ({"sqlite_with_rowid": False},)

    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)


class SyncBlobFloorRow(StoreBase):
    """Per space, the seq below which this device may lack blobs (its cursor when blobs began
    to be kept, migration 0011): a bundle vouches for completeness only above it."""

    __tablename__ = "sync_blob_floors"

    space_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    floor: Mapped[int] = mapped_column(nullable=False)


class SyncCarriedRow(StoreBase):
    """Another device's sealed mutation that arrived in a bundle: relayed to the server by the
    next online sync (``relayed`` then set, kept so a second import changes nothing), and
    carried on in this device's own bundles until then."""

    __tablename__ = "sync_carried"

    author: Mapped[str] = mapped_column(String(32), primary_key=True)
    mutation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    space_id: Mapped[str] = mapped_column(String(64), nullable=False)
    record_id: Mapped[str] = mapped_column(String(64), nullable=False)
    base_revision: Mapped[int] = mapped_column(nullable=False)
    deleted: Mapped[bool] = mapped_column(nullable=False)
    epoch: Mapped[int | None] = mapped_column(nullable=True)
    chunks: Mapped[str] = mapped_column(Text, nullable=False)
    blob: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    relayed: Mapped[bool] = mapped_column(nullable=False)


class SyncReturnedRow(StoreBase):
    """This device's own mutation that came back in a bundle before the server answered it:
    the record took it as its version, but only the server's answer confirms it, so it is
    handed in at the next online sync (migration 0023)."""

    __tablename__ = "sync_returned"

    mutation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    space_id: Mapped[str] = mapped_column(String(64), nullable=False)
    record_id: Mapped[str] = mapped_column(String(64), nullable=False)
    base_revision: Mapped[int] = mapped_column(nullable=False)
    deleted: Mapped[bool] = mapped_column(nullable=False)
    epoch: Mapped[int | None] = mapped_column(nullable=True)
    chunks: Mapped[str] = mapped_column(Text, nullable=False)
    blob: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    #: The content the change started from (at ``base_revision``): the base it is merged
    #: against again if the server never took it (``reopen_returned``).
    base_content: Mapped[str | None] = mapped_column(Text, nullable=True)


class SyncBundlePeerRow(StoreBase):
    """What a device's last bundle said it held of a space (its seq cursor): the next bundle
    made for it carries only newer versions."""

    __tablename__ = "sync_bundle_peers"

    device: Mapped[str] = mapped_column(String(32), primary_key=True)
    space_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[int] = mapped_column(nullable=False)


class SyncCourierGrantRow(StoreBase):
    """An offline device's signed grant from its last bundle: with it this device, once
    online, downloads for that device what it may read (PROTOCOL.md §12)."""

    __tablename__ = "sync_courier_grants"

    device: Mapped[str] = mapped_column(String(32), primary_key=True)
    grant: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class SyncBundleSeenRow(StoreBase):
    """A bundle imported whole (its random id): importing it again is refused as a replay."""

    __tablename__ = "sync_bundles_seen"

    bundle_id: Mapped[str] = mapped_column(String(32), primary_key=True)


# --- working-group materials on this device (not synced) ----------------------------------


class MaterialPinRow(StoreBase):
    """A material or a whole working group this device keeps offline.

    Per device on purpose: a phone with little space and a laptop choose differently. The
    synced ``Material.pinned`` is only the group's recommendation.
    """

    __tablename__ = "material_pins"

    target_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_type: Mapped[str] = mapped_column(String(16), nullable=False)  # material | group


class MaterialTextRow(StoreBase):
    """A material file whose text has been extracted into the search index (PDF pages).

    The text itself is only in the FTS5 index, under ``search_keys.record_id = <file id>:text``;
    this row says it is done (so a file is read once) and how many pages it had.
    """

    __tablename__ = "material_texts"

    file_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    material_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    pages: Mapped[int] = mapped_column(nullable=False)


# --- editors' drafts on this device (not synced) ------------------------------------------


class EditorDraftRow(StoreBase):
    """An editor's unsaved form state, kept when the lock closed the editor.

    ``state`` is the editor's raw fields as JSON, not a validated record: what was typed is kept
    even when it would not save yet. One row per open editor; saving or discarding removes it.
    """

    __tablename__ = "editor_drafts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    editor: Mapped[str] = mapped_column(String(32), nullable=False)
    record_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    space_id: Mapped[str] = mapped_column(String(64), nullable=False)
    is_new: Mapped[bool] = mapped_column(nullable=False)
    label: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False)
    saved_at: Mapped[str] = mapped_column(String(32), nullable=False)
