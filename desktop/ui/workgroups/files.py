"""A working group's material files: sealed into the profile's vault at import, opened in memory.

Every function here runs on a worker; none touches a widget, none writes plaintext to disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, insert

from desktop.domain.network_records import Material, ReadingPosition
from desktop.domain.records import edit
from desktop.domain.translation import N_
from desktop.store.errors import ProfileError
from desktop.store.evidence import EvidenceStore, media_type_of
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.schema import AttachmentKeyRow
from desktop.store.spaces import local_spaces


class MaterialFileMissing(ProfileError):
    code = "material_file_missing"
    message = N_(
        "This file is not on this computer yet. It will be fetched when you are connected."
    )


@dataclass(frozen=True)
class OpenedFile:
    """A material's file, decrypted in memory only."""

    filename: str
    media_type: str
    data: bytes


def import_material_file(profile: Profile, material: Material, path: Path) -> Material:
    """Seal ``path`` into the vault and save ``material`` with it attached.

    The order leaves nothing behind on failure: the sealed file, then its key, then the record.
    """
    vault = profile.attachments
    stored = vault.import_file(path)
    try:
        with profile.engine.begin() as connection:
            connection.execute(
                insert(AttachmentKeyRow).values(
                    attachment_id=stored.attachment_id,
                    file_key=stored.file_key,
                    sha256=stored.sha256,
                    size=stored.size,
                    sealed_size=stored.sealed_size,
                )
            )
        try:
            attached = edit(
                material, attachments=(*material.attachments, (stored.attachment_id, path.name))
            )
            saved = RecordStore(profile.engine).save(attached)
            assert isinstance(saved, Material)
            return saved
        except BaseException:
            with profile.engine.begin() as connection:
                connection.execute(
                    delete(AttachmentKeyRow).where(
                        AttachmentKeyRow.attachment_id == stored.attachment_id
                    )
                )
            raise
    except BaseException:
        vault.delete(stored)
        raise


def open_material_file(profile: Profile, attachment_ref: str, filename: str) -> OpenedFile:
    """The file's bytes, decrypted in memory; a clear error when it has not arrived yet."""
    stored = EvidenceStore.of(profile).stored(attachment_ref)
    if stored is None or not profile.attachments.path_of(attachment_ref).exists():
        raise MaterialFileMissing(attachment_ref)
    data = profile.attachments.read_bytes(stored)
    return OpenedFile(filename, media_type_of(filename), data)


def reading_position(store: RecordStore, material_id: str) -> ReadingPosition | None:
    for record in store.children(material_id, "reading_position"):
        if isinstance(record, ReadingPosition):
            return record
    return None


def remember_page(store: RecordStore, material_id: str, page: int) -> None:
    """Keep where the person stopped reading, in their "only me" space."""
    current = reading_position(store, material_id)
    if current is None:
        space = local_spaces(store).only_me.id
        store.save(ReadingPosition(space_id=space, material_id=material_id, page=page))
    elif current.page != page:
        store.save(edit(current, page=page))
