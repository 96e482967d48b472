"""Working-group materials in the store: files with transfer fields, pins, PDF text, pages read.

PDF text is handed in as the UI's extraction would (core never reads PDFs itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.domain.network_records import Material, MaterialFile, ReadingPosition
from desktop.domain.records import WorkingGroup, edit
from desktop.domain.translation import set_language
from desktop.store.evidence import EvidenceStore
from desktop.store.materials import MaterialFileMissing, MaterialStore
from desktop.store.profile import Profile
from desktop.store.spaces import local_spaces
from desktop.store.sync_state import ProfileSyncState
from tests.helpers.profiles import files_containing, new_profile

CANARY = "CANARYxMATERIALxSTOREx4410"


@pytest.fixture
def profile(tmp_path: Path) -> Iterator[Profile]:
    set_language("en")
    profile, _ = new_profile(tmp_path / "p")
    yield profile
    profile.close()


@pytest.fixture
def store(profile: Profile) -> MaterialStore:
    return MaterialStore.of(profile)


def _material(store: MaterialStore, title: str = "Guía") -> Material:
    space = local_spaces(store.records).network.id
    group = store.records.save(WorkingGroup(space_id=space, name="Tierra"))
    return store.records.save(
        Material(space_id=space, working_group_id=group.id, title=title, material_type="toolkit")
    )


def _file(tmp_path: Path, name: str, body: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def test_an_imported_file_is_sealed_with_what_another_device_needs(
    store: MaterialStore, profile: Profile, tmp_path: Path
) -> None:
    material = _material(store)
    body = (CANARY.encode() + b"\n") * 5000  # 135 kB: three chunks
    first = store.import_file(material, _file(tmp_path, "guia.txt", body))
    second = store.import_file(material, _file(tmp_path, "anexo.txt", b"annex"))
    assert [f.filename for f in store.files(material.id)] == ["guia.txt", "anexo.txt"]
    assert len(first.attachment_chunks) == 3 and first.attachment_key and first.size == len(body)
    ref = store.reference(first)
    assert (
        ref is not None
        and ref.ref == first.attachment_ref
        and ref.chunks == first.attachment_chunks
    )
    assert store.open(first.id).data == body and store.open(second.id).data == b"annex"
    (tmp_path / "guia.txt").unlink()
    assert files_containing([profile.folder], CANARY) == []
    # The orphan sweep knows material files: nothing of them is erased.
    assert EvidenceStore.of(profile).sweep_orphans() == 0
    assert store.held(first) and store.held(second)


def test_pdf_text_is_searchable_and_goes_with_the_material(
    store: MaterialStore, profile: Profile, tmp_path: Path
) -> None:
    material = _material(store, "Informe")
    other = _material(store, "Otro")
    pdf = store.import_file(
        material, _file(tmp_path, "informe.pdf", b"%PDF-1.4 sealed"), pages=["uno", "desalojos"]
    )
    assert not store.needs_text(pdf)
    assert store.search("desalojos") == [material.id]
    assert store.search("desalojo") == [material.id]  # as typed: the last word is a prefix
    assert store.search("desalojos", other.working_group_id) == []
    assert store.search("inexistente") == []
    store.delete_material(material.id)
    assert store.search("desalojos") == []
    assert not store.held(pdf)


def test_a_received_pdf_needs_its_text_indexed(store: MaterialStore, tmp_path: Path) -> None:
    material = _material(store)
    pdf = store.import_file(material, _file(tmp_path, "a.pdf", b"%PDF-1.4"))
    assert store.needs_text(pdf) and store.files_needing_text() == [pdf]
    store.index_text(pdf, ["texto"])
    assert store.files_needing_text() == []


def test_only_pinned_files_are_wanted_and_unpinning_frees_only_uploaded_ones(
    store: MaterialStore, profile: Profile, tmp_path: Path
) -> None:
    material = _material(store)
    file = store.import_file(material, _file(tmp_path, "a.txt", b"a" * 70_000))
    sync = ProfileSyncState(profile.engine, profile.attachments)
    # As a device that received the record but not the file.
    EvidenceStore.of(profile).erase(file.attachment_ref)
    assert store.wanted() == [] and sync.wanted_attachments(10) == []
    store.pin_group(material.working_group_id)
    assert store.is_pinned(material)
    assert [r.ref for r in store.wanted()] == [file.attachment_ref]
    assert [r.ref for r in sync.wanted_attachments(10)] == [file.attachment_ref]
    store.unpin_group(material.working_group_id)
    store.pin_material(material.id)
    assert [r.ref for r in sync.wanted_attachments(10)] == [file.attachment_ref]

    # A file imported here and not uploaded is the only copy: unpinning keeps it.
    kept = store.import_file(material, _file(tmp_path, "b.txt", b"b" * 10))
    assert store.unpin_material(material.id) == 0 and store.held(kept)
    sync.mark_held(kept.space_id, list(kept.attachment_chunks))
    assert store.release_unpinned() == 1 and not store.held(kept)
    with pytest.raises(MaterialFileMissing):
        store.open(kept.id)


def test_each_device_keeps_its_own_reading_position(store: MaterialStore, profile: Profile) -> None:
    material = _material(store)
    other_device = MaterialStore(profile.engine, profile.attachments, "another-device")
    assert store.reading_page(material.id) == 0
    store.remember_page(material.id, 3)
    other_device.remember_page(material.id, 7)
    positions = store.records.children(material.id, "reading_position")
    assert len(positions) == 2  # two records: neither device ever edits the other's
    assert {p.id for p in positions} == {
        store.reading_position_id(material.id),
        other_device.reading_position_id(material.id),
    }
    assert store.reading_page(material.id) == 7  # the most recently updated
    store.remember_page(material.id, 4)
    assert other_device.reading_page(material.id) == 4
    mine = store.records.get(store.reading_position_id(material.id))
    assert isinstance(mine, ReadingPosition) and mine.page == 4
    assert mine.space_id == local_spaces(store.records).only_me.id


def test_material_file_validates_its_transfer_fields(store: MaterialStore, tmp_path: Path) -> None:
    material = _material(store)
    file = store.import_file(material, _file(tmp_path, "a.txt", b"x"))
    bad = edit(file, attachment_chunks=("not-a-hash",))
    assert [e.field for e in bad.validate()] == ["attachment_chunks[0]"]
    assert isinstance(file, MaterialFile) and file.validate() == []


def test_a_file_imported_before_files_traveled_is_adopted_where_it_is(
    store: MaterialStore, profile: Profile, tmp_path: Path
) -> None:
    material = _material(store)
    # As the first version imported: sealed file and key here, a pair on the material.
    here = profile.attachments.import_file(_file(tmp_path, "viejo.txt", b"old file"))
    EvidenceStore.of(profile).insert_key(here)
    elsewhere = "ab" * 16  # imported on another device: not in this vault
    legacy = store.records.save(
        edit(material, attachments=((here.attachment_id, "viejo.txt"), (elsewhere, "otro.txt")))
    )
    assert store.adopt_legacy_files() == 1
    [file] = store.files(material.id)
    assert file.attachment_ref == here.attachment_id and file.attachment_chunks
    assert store.open(file.id).data == b"old file"
    after = store.records.require(legacy.id)
    assert isinstance(after, Material) and after.attachments == ((elsewhere, "otro.txt"),)
    assert store.adopt_legacy_files() == 0
