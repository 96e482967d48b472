"""Working-group materials on this device: their files, what is kept offline, their text.

A material's files are ``MaterialFile`` records, each sealed in the vault with the transfer
fields sync needs (as Evidence). Which materials this device keeps offline is a local choice
(``material_pins``): sync fetches their files after records; the others are fetched on demand.
Unpinning frees a file at once, unless its chunks have not reached the server yet: then it is
the only copy and stays (``release_unpinned`` frees it once it is uploaded).

PDF text is extracted by the caller (the UI reads the PDF with QtPdf from memory; core never
imports Qt) and goes into the encrypted FTS5 index only, under ``<file id>:text``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, delete, exists, insert, select, text

from desktop.domain.network_records import Material, MaterialFile, Note, ReadingPosition
from desktop.domain.records import WorkingGroup, edit, from_dict, to_dict
from desktop.domain.translation import N_
from desktop.store.attachments import AttachmentVault, StoredAttachment
from desktop.store.errors import ProfileError
from desktop.store.evidence import (
    FILE_GONE_MESSAGE,
    EvidenceStore,
    TransferFields,
    gone_records,
    media_type_of,
    transfer_fields,
)
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.schema import (
    MaterialPinRow,
    MaterialTextRow,
    SyncChunkHeldRow,
)
from desktop.store.search import index_records, remove_record, search
from desktop.store.spaces import local_spaces
from sync.client.chunks import AttachmentRef

PDF = "application/pdf"
_MATERIAL = "material"
_GROUP = "group"
#: The search index's key for a file's extracted text (a record's own entry is its id).
_TEXT_SUFFIX = ":text"
_TEXT_TYPE = "material_text"


class MaterialFileMissing(ProfileError):
    """The file's record is here, its sealed bytes are not (not kept offline, not fetched)."""

    code = "material_file_missing"
    message = N_("This file is not on this computer. Connect to the server to download it.")


class MaterialFileGone(MaterialFileMissing):
    """The file came back over its deletion and no device could send its bytes again."""

    code = "material_file_gone"
    message = FILE_GONE_MESSAGE


@dataclass(frozen=True)
class OpenedFile:
    """A material's file, decrypted in memory only."""

    file_id: str
    filename: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class FileState:
    """One file as the materials list shows it: is it here, and how big is it."""

    file: MaterialFile
    held: bool
    #: Its bytes are gone (``MaterialFileGone``): it will not arrive; Download says so.
    gone: bool = False

    @property
    def size(self) -> int:
        return self.file.size


def material_file(
    material: Material,
    stored: StoredAttachment,
    filename: str,
    transfer: TransferFields,
    media_type: str | None = None,
) -> MaterialFile:
    """The record of one sealed file of ``material``, with what sync needs to carry it."""
    key, header, chunks = transfer
    return MaterialFile(
        space_id=material.space_id,
        material_id=material.id,
        working_group_id=material.working_group_id,
        attachment_ref=stored.attachment_id,
        filename=filename,
        sha256=stored.sha256,
        size=stored.size,
        media_type=media_type or media_type_of(filename),
        attachment_key=key,
        attachment_header=header,
        attachment_chunks=chunks,
    )


class MaterialStore:
    """Materials of one unlocked profile. Every method runs on a worker, never the UI thread.

    Args:
        device: this device's stable id (the profile id), which names its reading positions.
    """

    def __init__(self, engine: Engine, vault: AttachmentVault, device: str) -> None:
        self._engine = engine
        self._vault = vault
        self._device = device
        self.records = RecordStore(engine)
        self._evidence = EvidenceStore(engine, vault)

    @classmethod
    def of(cls, profile: Profile) -> MaterialStore:
        return cls(profile.engine, profile.attachments, profile.profile_id)

    # --- files --------------------------------------------------------------------------------

    def import_file(
        self,
        material: Material,
        path: Path,
        *,
        pages: list[str] | None = None,
        media_type: str | None = None,
    ) -> MaterialFile:
        """Seal ``path`` into the vault and record it as a file of ``material``.

        ``pages`` is the text of each page of a PDF, read by the caller, indexed here. The
        order leaves nothing behind on failure (``EvidenceStore.seal_and_save``).
        """

        file = self._evidence.seal_and_save(
            path,
            lambda stored, transfer: material_file(
                material, stored, path.name, transfer, media_type
            ),
        )
        if pages is not None:
            self.index_text(file, pages)
        return file

    def adopt_legacy_files(self, material_id: str | None = None) -> int:
        """Turn files imported before files traveled (``Material.attachments`` pairs) into
        ``MaterialFile`` records, on the device that holds them, so they travel from now on.

        A pair whose file is not here (another device imported it) stays as it is: only that
        device can adopt it. Returns how many files were adopted.
        """
        materials = (
            [self.records.require(material_id)]
            if material_id is not None
            else self._legacy_materials()
        )
        adopted = 0
        for material in materials:
            if not isinstance(material, Material) or not material.attachments:
                continue
            files: list[MaterialFile] = []
            kept: list[tuple[str, str]] = []
            for ref, name in material.attachments:
                stored = self._evidence.stored(ref)
                if stored is None or not self._vault.path_of(ref).exists():
                    kept.append((ref, name))
                    continue
                transfer = transfer_fields(self._vault, stored)
                files.append(material_file(material, stored, name, transfer))
            if files:
                # One transaction: the files and the material without their pairs.
                self.records.save_all([*files, edit(material, attachments=tuple(kept))])
                adopted += len(files)
        return adopted

    def _legacy_materials(self) -> list[Material]:
        with self._engine.connect() as connection:
            contents = connection.scalars(
                text(
                    "SELECT c.content FROM records r JOIN record_contents c ON c.id = r.id "
                    "WHERE r.record_type = 'material' AND r.deleted = 0 "
                    "AND json_array_length(json_extract(c.content, '$.attachments')) > 0"
                )
            ).all()
        found = [from_dict(json.loads(content)) for content in contents]
        return [m for m in found if isinstance(m, Material)]

    def files(self, material_id: str) -> list[MaterialFile]:
        return [
            f
            for f in self.records.children(material_id, "material_file")
            if isinstance(f, MaterialFile)
        ]

    def held(self, file: MaterialFile) -> bool:
        """Whether the file's sealed bytes and key are on this device."""
        stored = self._evidence.stored(file.attachment_ref)
        return stored is not None and self._vault.path_of(file.attachment_ref).exists()

    def file_states(self, material_id: str) -> list[FileState]:
        gone = gone_records(self._engine)
        states = []
        for file in self.files(material_id):
            held = self.held(file)
            states.append(FileState(file, held, not held and file.id in gone))
        return states

    def gone(self, file: MaterialFile) -> bool:
        """Whether the file's bytes are gone for good unless a device holding them syncs."""
        return file.id in gone_records(self._engine) and not self.held(file)

    def open(self, file_id: str) -> OpenedFile:
        """The file's bytes, decrypted into memory and verified; clear error if absent."""
        file = self.records.require(file_id)
        if not isinstance(file, MaterialFile):
            raise MaterialFileMissing(file_id)
        stored = self._evidence.stored(file.attachment_ref)
        if stored is None or not self._vault.path_of(file.attachment_ref).exists():
            if file.id in gone_records(self._engine):
                raise MaterialFileGone(file_id)
            raise MaterialFileMissing(file_id)
        data = self._vault.read_bytes(stored)
        return OpenedFile(file.id, file.filename, file.media_type, data)

    def reference(self, file: MaterialFile, *, asked: bool = False) -> AttachmentRef | None:
        """What sync's ``chunks.download`` needs to fetch the file; ``None`` if it cannot travel
        or its bytes are gone (nothing to ask the server for) unless the person ``asked`` for
        it: the mark may be false (a server's wrong ``chunk_missing``), and a file that comes
        is put back for everyone at the next sync (``put_back_gone``)."""
        if not asked and file.id in gone_records(self._engine):
            return None
        return AttachmentRef.of(file.space_id, to_dict(file))

    def delete_material(self, material_id: str) -> None:
        """Delete a material with its files (``delete_with_files``)."""
        self.delete_with_files(material_id)

    def delete_with_files(self, record_id: str) -> None:
        """Delete a record with what ``CASCADES`` takes with it, in one transaction
        (``RecordStore.delete``: a material's files; a working group's memberships, materials
        and their files; a person's memberships), then the keys, sealed bytes and indexed text
        of every file taken, so none stays on this computer. Restored by sync (an edit elsewhere
        beat the deletion), a file's bytes are fetched again from the server like any file not
        here."""
        record = self.records.require(record_id)
        if isinstance(record, Material):
            materials = [record.id]
        elif isinstance(record, WorkingGroup):
            materials = [m.id for m in self.records.children(record.id, "material")]
        else:
            materials = []
        files = [file for material in materials for file in self.files(material)]
        self.records.delete(record_id)
        for file in files:
            self._forget_text(file.id)
            self._evidence.erase(file.attachment_ref)

    # --- keeping offline ----------------------------------------------------------------------

    def pin_material(self, material_id: str) -> None:
        self._pin(material_id, _MATERIAL)

    def pin_group(self, group_id: str) -> None:
        self._pin(group_id, _GROUP)

    def _pin(self, target_id: str, target_type: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO material_pins (target_id, target_type) VALUES (:i, :t) "
                    "ON CONFLICT (target_id) DO NOTHING"
                ),
                {"i": target_id, "t": target_type},
            )

    def unpin_material(self, material_id: str) -> int:
        """Stop keeping a material offline; returns how many files were freed."""
        self._unpin(material_id)
        return self.release_unpinned()

    def unpin_group(self, group_id: str) -> int:
        """Stop keeping a group offline (materials pinned one by one stay); files freed."""
        self._unpin(group_id)
        return self.release_unpinned()

    def _unpin(self, target_id: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(MaterialPinRow).where(MaterialPinRow.target_id == target_id))

    def pinned_ids(self) -> set[str]:
        """Material and group ids this device keeps offline."""
        with self._engine.connect() as connection:
            return set(connection.scalars(select(MaterialPinRow.target_id)))

    def is_pinned(self, material: Material) -> bool:
        pins = self.pinned_ids()
        return material.id in pins or material.working_group_id in pins

    def _file_pinned(self, file: MaterialFile, pins: set[str]) -> bool:
        return file.material_id in pins or file.working_group_id in pins

    def wanted(self) -> list[AttachmentRef]:
        """Files of pinned materials not on this device yet (what a background fetch gets)."""
        pins = self.pinned_ids()
        gone = gone_records(self._engine)
        found = []
        for file in self._all_files():
            if self._file_pinned(file, pins) and file.id not in gone and not self.held(file):
                ref = self.reference(file)
                if ref is not None:
                    found.append(ref)
        return found

    def release_unpinned(self) -> int:
        """Free the files of materials not pinned here, if the server holds every chunk.

        A file whose chunks are not all known held (imported here, not uploaded yet, or from
        before files traveled) is the only copy anywhere: it stays until it has been sent.
        """
        pins = self.pinned_ids()
        gone = gone_records(self._engine)  # held here, this may be the only copy left
        freed = 0
        for file in self._all_files():
            if self._file_pinned(file, pins) or not file.attachment_chunks or file.id in gone:
                continue
            if not self.held(file) or not self._uploaded(file):
                continue
            self._evidence.erase(file.attachment_ref)
            freed += 1
        return freed

    def _uploaded(self, file: MaterialFile) -> bool:
        with self._engine.connect() as connection:
            held = set(
                connection.scalars(
                    select(SyncChunkHeldRow.address).where(
                        SyncChunkHeldRow.space_id == file.space_id,
                        SyncChunkHeldRow.address.in_(file.attachment_chunks),
                    )
                )
            )
        return held >= set(file.attachment_chunks)

    def _all_files(self) -> list[MaterialFile]:
        with self._engine.connect() as connection:
            contents = connection.scalars(
                text(
                    "SELECT c.content FROM records r JOIN record_contents c ON c.id = r.id "
                    "WHERE r.record_type = 'material_file' AND r.deleted = 0 ORDER BY r.id"
                )
            ).all()
        found = []
        for content in contents:
            record = from_dict(json.loads(content))
            if isinstance(record, MaterialFile):
                found.append(record)
        return found

    # --- text search --------------------------------------------------------------------------

    def index_text(self, file: MaterialFile, pages: list[str]) -> None:
        """Put a file's extracted text into the encrypted index (once; again replaces it)."""
        with self._engine.begin() as connection:
            index_records(
                connection,
                [{"i": file.id + _TEXT_SUFFIX, "t": _TEXT_TYPE, "texts": list(pages)}],
            )
            connection.execute(delete(MaterialTextRow).where(MaterialTextRow.file_id == file.id))
            connection.execute(
                insert(MaterialTextRow).values(
                    file_id=file.id, material_id=file.material_id, pages=len(pages)
                )
            )

    def needs_text(self, file: MaterialFile) -> bool:
        """A PDF here whose text is not indexed yet (received by sync, or imported without)."""
        if file.media_type != PDF or not self.held(file):
            return False
        with self._engine.connect() as connection:
            return not connection.scalar(select(exists().where(MaterialTextRow.file_id == file.id)))

    def files_needing_text(self) -> list[MaterialFile]:
        return [file for file in self._all_files() if self.needs_text(file)]

    def _forget_text(self, file_id: str) -> None:
        with self._engine.begin() as connection:
            remove_record(connection, file_id + _TEXT_SUFFIX)
            connection.execute(delete(MaterialTextRow).where(MaterialTextRow.file_id == file_id))

    def search(self, query: str, working_group_id: str | None = None) -> list[str]:
        """Ids of materials whose title, description, notes, file names or PDF text match."""
        with self._engine.connect() as connection:
            hits = search(
                connection, query, ["material", "note", "material_file", _TEXT_TYPE], limit=500
            )
        found: dict[str, None] = {}
        for hit in hits:
            record_id = hit.removesuffix(_TEXT_SUFFIX)
            record = self.records.get(record_id)
            material_id = None
            if isinstance(record, Material):
                material_id = record.id
            elif isinstance(record, MaterialFile | Note):
                material_id = record.material_id
            if material_id is None:
                continue
            if working_group_id is not None:
                material = self.records.get(material_id)
                if not isinstance(material, Material) or (
                    material.working_group_id != working_group_id
                ):
                    continue
            found.setdefault(material_id, None)
        return list(found)

    # --- reading position ---------------------------------------------------------------------

    def reading_position_id(self, material_id: str) -> str:
        """This device's reading-position record for a material: the same id every time, and
        another device's never, so each device edits only its own and nothing conflicts. A
        hash, so the id names neither the device nor the material."""
        seed = f"reading_position\0{self._device}\0{material_id}".encode()
        return hashlib.sha256(seed).hexdigest()[:32]

    def reading_page(self, material_id: str) -> int:
        """The page to open at: the most recently updated position of any of the person's
        devices (a choice the reader makes, not a merge: every position stays as written)."""
        positions = [
            r
            for r in self.records.children(material_id, "reading_position")
            if isinstance(r, ReadingPosition)
        ]
        if not positions:
            return 0
        return max(positions, key=lambda p: (p.updated_at, p.id)).page

    def remember_page(self, material_id: str, page: int) -> None:
        """Keep where the person stopped reading, in their "only me" space."""
        record_id = self.reading_position_id(material_id)
        current = self.records.get(record_id)
        if isinstance(current, ReadingPosition):
            if current.page != page:
                self.records.save(edit(current, page=page))
            return
        space = local_spaces(self.records).only_me.id
        self.records.save(
            ReadingPosition(id=record_id, space_id=space, material_id=material_id, page=page)
        )
