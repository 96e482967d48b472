"""A working group's material files on workers: import with the PDF's text, open, index later.

The store keeps files sealed and never imports Qt; reading a PDF's text is QtPdf's job, done
here from memory (a ``QBuffer``), so the text goes straight into the encrypted index and no
decrypted byte is written to disk. Every function runs on a worker; none touches a widget.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from desktop.domain.network_records import Material, MaterialFile
from desktop.store.materials import PDF, FileState, MaterialFileMissing, MaterialStore, OpenedFile
from desktop.store.profile import Profile
from desktop.store.sync_state import SpaceAccess, space_access
from desktop.ui.file_types import kind_of_file, mislabelled_text
from desktop.ui.pdf_text import pdf_pages

__all__ = [
    "MaterialFileMissing",
    "OpenedFile",
    "OpenedMaterial",
    "import_material_file",
    "open_material",
]


def import_material_file(profile: Profile, material: Material, path: Path) -> MaterialFile:
    """Save ``material`` (new or not) and seal ``path`` as one of its files, its text indexed.

    The PDF is read from the person's own file (already on their disk), not from anything
    Minga decrypted.
    """
    kind = kind_of_file(path)
    if kind.mislabelled:
        # A group reads what is shared: a damaged file would only show an empty viewer.
        raise MislabelledFile(mislabelled_text(path.name, kind))
    store = MaterialStore.of(profile)
    if store.records.get(material.id) is None:
        store.records.save(material)
    pages = pdf_pages(path.read_bytes()) if kind.media_type == PDF else None
    return store.import_file(material, path, pages=pages, media_type=kind.media_type)


class MislabelledFile(ValueError):
    """A file whose content is not what its name says; nothing was imported."""

    def user_message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class OpenedMaterial:
    """A material ready to read: its files (here or not), the one opened, the page to show."""

    material: Material
    files: list[FileState]
    opened: OpenedFile | None
    page: int
    #: This device's right in the material's space: a reader's notes can only be its own.
    access: SpaceAccess = SpaceAccess.LOCAL


def open_material(profile: Profile, material_id: str, file_id: str | None = None) -> OpenedMaterial:
    """Decrypt one file of a material into memory (the first, or ``file_id``).

    Raises:
        MaterialFileMissing: the file is not on this computer (it needs a connection).
    """
    store = MaterialStore.of(profile)
    material = store.records.require(material_id)
    assert isinstance(material, Material)
    if material.attachments:
        store.adopt_legacy_files(material_id)
        material = store.records.require(material_id)
        assert isinstance(material, Material)
    files = store.file_states(material_id)
    access = space_access(profile.engine, material.space_id)
    if not files:
        return OpenedMaterial(material, files, None, 0, access)
    chosen = next((f for f in files if f.file.id == file_id), files[0])
    opened = store.open(chosen.file.id)
    if store.needs_text(chosen.file):
        # A PDF that arrived by sync: its text joins the index the first time it is read.
        pages = pdf_pages(opened.data)
        if pages is not None:
            store.index_text(chosen.file, pages)
    return OpenedMaterial(material, files, opened, store.reading_page(material_id), access)
