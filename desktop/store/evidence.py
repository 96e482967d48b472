"""Evidence files of an incident: the sealed file, its key row and its Evidence record together.

Import, open, export and delete keep the three consistent and append to the chain of custody.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, delete, func, insert, select, text

from desktop.domain.records import Evidence, Incident, Record, append_custody
from desktop.domain.translation import N_
from desktop.store.attachments import AttachmentVault, StoredAttachment
from desktop.store.errors import AttachmentDamaged, ProfileError
from desktop.store.profile import Profile
from desktop.store.records import RecordNotFound, RecordStore
from desktop.store.schema import AttachmentKeyRow
from sync.client.chunks import GONE, sealed_layout
from sync.protocol import LIMITS

#: Custody actions (codes of the ``custody_actions`` vocabulary) this module appends.
IMPORTED = "imported"
#: Opening a file reads it whole and checks its SHA-256 against the one taken at import, so a
#: view is also a verified read.
VIEWED = "viewed"
EXPORTED = "exported"

_GENERIC_MEDIA_TYPE = "application/octet-stream"

#: A file's key and stream header (base64) and its sealed chunks' addresses, in order.
TransferFields = tuple[str, str, tuple[str, ...]]
R = TypeVar("R", bound=Record)


def media_type_of(filename: str) -> str:
    """The media type a file's name suggests; a generic one when nothing is known."""
    guessed, _encoding = mimetypes.guess_type(filename, strict=False)
    return guessed.lower() if guessed else _GENERIC_MEDIA_TYPE


def device_actor(profile: Profile) -> str:
    """Who a custody entry names when the person gave no name: this profile, by a short id.

    Stored and synced as is, so it is not translated; it names no person and no place.
    """
    return f"device {profile.profile_id[:8]}"


def transfer_fields(vault: AttachmentVault, stored: StoredAttachment) -> TransferFields:
    """What another member's device needs to fetch and open a file (sealed in its record):
    the file key and stream header (base64) and each sealed chunk's address, in order.

    A file of more chunks than a record may reference (16 MiB at 64 KiB chunks) stays on
    this device: the fields are left empty and sync sends the record alone.
    """
    with open(vault.path_of(stored.attachment_id), "rb") as sealed:
        header, addresses = sealed_layout(sealed)
    if len(addresses) > LIMITS.max_chunk_refs:
        return "", "", ()
    return (
        base64.b64encode(stored.file_key).decode("ascii"),
        base64.b64encode(header).decode("ascii"),
        tuple(addresses),
    )


@dataclass(frozen=True)
class OpenedEvidence:
    """An evidence file read into memory and verified, with its record after the custody entry."""

    evidence: Evidence
    data: bytes


class EvidenceNotFound(ProfileError):
    """The evidence's key row is gone (deleted here, or not yet arrived by sync)."""

    code = "evidence_not_found"
    message = N_(
        "This evidence file is not on this computer: it was deleted here, or it has not "
        "arrived yet."
    )


#: What a file brought back over its deletion says when no device could send its bytes again
#: (``sync.client.chunks.GONE``): the material's and evidence's open, export and Download.
FILE_GONE_MESSAGE = N_(
    "The file's content was removed before this was restored, and no device had a copy to "
    "send again. Ask whoever added it to add it again."
)


class EvidenceGone(EvidenceNotFound):
    """The evidence came back over its deletion, its bytes gone from the server and from every
    device that synced since (marked ``GONE``): it will not arrive."""

    code = "evidence_gone"
    message = FILE_GONE_MESSAGE


def gone_records(engine: Engine) -> set[str]:
    """Records whose file's bytes are gone (marked ``GONE`` beside them, ``record_extras``)."""
    with engine.connect() as connection:
        return set(
            connection.execute(
                text(
                    "SELECT record_id FROM record_extras "
                    f"WHERE json_extract(fields, '$.{GONE}') = 1"
                )
            ).scalars()
        )


class EvidenceStore:
    """Evidence of one unlocked profile. Every method runs on a worker, never the UI thread."""

    def __init__(self, engine: Engine, vault: AttachmentVault) -> None:
        self._engine = engine
        self._vault = vault
        self.records = RecordStore(engine)

    @classmethod
    def of(cls, profile: Profile) -> EvidenceStore:
        return cls(profile.engine, profile.attachments)

    # --- writing ------------------------------------------------------------------------------

    def import_file(
        self,
        incident: Incident,
        path: Path,
        *,
        actor: str,
        description: str = "",
        media_type: str | None = None,
    ) -> Evidence:
        """Seal ``path`` into the vault and record it as evidence of ``incident``.

        ``media_type``: what the file's content is, read by the caller (the store reads no
        content); by default, what its name suggests.
        """

        def evidence_of(stored: StoredAttachment, transfer: TransferFields) -> Evidence:
            key, header, chunks = transfer
            evidence = Evidence(
                space_id=incident.space_id,
                incident_id=incident.id,
                attachment_ref=stored.attachment_id,
                sha256=stored.sha256,
                filename=path.name,
                size=stored.size,
                media_type=media_type or media_type_of(path.name),
                description=description,
                attachment_key=key,
                attachment_header=header,
                attachment_chunks=chunks,
            )
            return append_custody(evidence, actor=actor, action=IMPORTED)

        return self.seal_and_save(path, evidence_of)

    def seal_and_save(
        self, path: Path, record_of: Callable[[StoredAttachment, TransferFields], R]
    ) -> R:
        """Seal ``path`` into the vault and save the record ``record_of`` makes for it.

        The order makes every failure leave nothing: the sealed file first, then its key row,
        then the record that points at both; if a later step fails the earlier ones are undone.
        Evidence and material files both import this way.
        """
        stored = self._vault.import_file(path)
        try:
            self.insert_key(stored)
            try:
                record = record_of(stored, transfer_fields(self._vault, stored))
                self.records.save(record)
            except BaseException:
                self.delete_key(stored.attachment_id)
                raise
        except BaseException:
            self._vault.delete(stored)
            raise
        return record

    def insert_key(self, stored: StoredAttachment) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                insert(AttachmentKeyRow).values(
                    attachment_id=stored.attachment_id,
                    file_key=stored.file_key,
                    sha256=stored.sha256,
                    size=stored.size,
                    sealed_size=stored.sealed_size,
                )
            )

    #: The name tests of orphan sweeping use.
    _insert_key = insert_key

    def delete_key(self, attachment_id: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(AttachmentKeyRow).where(AttachmentKeyRow.attachment_id == attachment_id)
            )

    def delete(self, evidence_id: str) -> None:
        """Delete the evidence record, then its key and its sealed file."""
        evidence = self.require(evidence_id)
        self.records.delete(evidence_id)
        self.erase(evidence.attachment_ref)

    def delete_incident(self, incident_id: str) -> None:
        """Delete an incident with everything under it, its evidence files included."""
        files = [
            child.attachment_ref
            for child in self.records.children(incident_id, "evidence")
            if isinstance(child, Evidence)
        ]
        self.records.delete(incident_id)
        for attachment_id in files:
            self.erase(attachment_id)

    def erase(self, attachment_id: str) -> None:
        """Erase a file's key row and sealed bytes (the record is the caller's)."""
        stored = self.stored(attachment_id)
        self.delete_key(attachment_id)
        if stored is not None:
            self._vault.delete(stored)

    def sweep_orphans(self) -> int:
        """Erase keys and sealed files no live record points at (after a crash).

        Not while anything may import: an import writes its key row before the record that
        names it is committed, and would lose its file here. What a received deletion leaves
        is erased by ``deleted_files.erase_deleted_files`` instead, which only looks at files
        deleted records name.

        Evidence and a material's file point at one file (``attachment_ref``); a material
        imported before files traveled at several (``attachments``, pairs of ref and name).
        Every one of them keeps its file: a sweep that knew only evidence would erase every
        material.

        Returns:
            How many attachments were erased.
        """
        referenced = (
            select(text("json_extract(c.content, '$.attachment_ref')"))
            .select_from(text("records AS r JOIN record_contents AS c ON c.id = r.id"))
            .where(text("r.record_type IN ('evidence', 'material_file') AND r.deleted = 0"))
            .union_all(
                select(text("json_extract(pair.value, '$[0]')"))
                .select_from(
                    text(
                        "records AS r JOIN record_contents AS c ON c.id = r.id, "
                        "json_each(c.content, '$.attachments') AS pair"
                    )
                )
                .where(text("r.record_type = 'material' AND r.deleted = 0"))
            )
        )
        with self._engine.connect() as connection:
            orphans = list(
                connection.scalars(
                    select(AttachmentKeyRow.attachment_id).where(
                        AttachmentKeyRow.attachment_id.not_in(referenced)
                    )
                )
            )
        for attachment_id in orphans:
            self.erase(attachment_id)
        return len(orphans)

    # --- reading ------------------------------------------------------------------------------

    def require(self, evidence_id: str) -> Evidence:
        record = self.records.require(evidence_id)
        if not isinstance(record, Evidence):
            raise RecordNotFound(evidence_id)
        return record

    def stored(self, attachment_id: str) -> StoredAttachment | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(
                    AttachmentKeyRow.file_key,
                    AttachmentKeyRow.sha256,
                    AttachmentKeyRow.size,
                    AttachmentKeyRow.sealed_size,
                ).where(AttachmentKeyRow.attachment_id == attachment_id)
            ).first()
        if row is None:
            return None
        return StoredAttachment(
            attachment_id, bytes(row.file_key), row.sha256, row.size, row.sealed_size
        )

    def _require_stored(self, evidence: Evidence) -> StoredAttachment:
        stored = self.stored(evidence.attachment_ref)
        if stored is None:
            if evidence.id in gone_records(self._engine):
                raise EvidenceGone(evidence.attachment_ref)
            raise EvidenceNotFound(evidence.attachment_ref)
        if stored.sha256 != evidence.sha256:
            # The record and the key row disagree: the file is not the one the record describes.
            raise AttachmentDamaged("altered", "key row and record differ")
        return stored

    def open(self, evidence_id: str, *, actor: str) -> OpenedEvidence:
        """The original in memory, verified; the custody log records the check."""
        evidence = self.require(evidence_id)
        data = self._vault.read_bytes(self._require_stored(evidence))
        evidence = append_custody(evidence, actor=actor, action=VIEWED)
        self.records.save(evidence)
        return OpenedEvidence(evidence, data)

    def export(self, evidence_id: str, destination: Path, *, actor: str) -> Evidence:
        """Write the original to ``destination``; the custody log records where it went."""
        evidence = self.require(evidence_id)
        self._vault.export(self._require_stored(evidence), destination)
        evidence = append_custody(evidence, actor=actor, action=EXPORTED, note=destination.name)
        self.records.save(evidence)
        return evidence

    def key_count(self) -> int:
        with self._engine.connect() as connection:
            return connection.execute(
                select(func.count()).select_from(AttachmentKeyRow)
            ).scalar_one()
