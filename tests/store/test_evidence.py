"""Evidence files: sealed file, key row and record stay consistent; custody records each use.

A failed import leaves nothing; deleting evidence or its incident erases the key and the file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.domain.records import Evidence, Incident, new_id
from desktop.domain.translation import set_language
from desktop.store.attachments import ATTACHMENTS_FOLDER
from desktop.store.errors import AttachmentDamaged
from desktop.store.evidence import EvidenceNotFound, EvidenceStore, device_actor
from desktop.store.profile import Profile
from desktop.store.records import InvalidRecord
from desktop.store.spaces import local_spaces
from tests.helpers.profiles import files_containing, new_profile

CANARY = "river-poisoning-canary-7731"


@pytest.fixture
def profile(tmp_path: Path) -> Iterator[Profile]:
    set_language("en")
    profile, _ = new_profile(tmp_path / "p")
    yield profile
    profile.close()


@pytest.fixture
def incident(profile: Profile) -> Incident:
    store = EvidenceStore.of(profile)
    space = local_spaces(store.records).network
    return store.records.save(Incident(space_id=space.id, title="Spill at the river"))


def _sealed_files(profile: Profile) -> list[Path]:
    return sorted((profile.folder / ATTACHMENTS_FOLDER).glob("*"))


def _original(tmp_path: Path, name: str = "photo.jpg", data: bytes | None = None) -> Path:
    path = tmp_path / "originals" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data if data is not None else CANARY.encode() + os.urandom(70_000))
    return path


def test_import_seals_the_file_and_records_it_with_custody(
    profile: Profile, incident: Incident, tmp_path: Path
) -> None:
    store = EvidenceStore.of(profile)
    original = _original(tmp_path)
    evidence = store.import_file(incident, original, actor=device_actor(profile))

    assert evidence.filename == "photo.jpg"
    assert evidence.media_type == "image/jpeg"
    assert evidence.size == original.stat().st_size
    assert evidence.sha256 == hashlib.sha256(original.read_bytes()).hexdigest()
    assert [entry.action for entry in evidence.custody] == ["imported"]
    assert evidence.custody[0].actor == device_actor(profile)
    assert store.records.get(evidence.id) == evidence
    assert store.key_count() == 1
    assert len(_sealed_files(profile)) == 1
    # The profile folder holds the file only sealed.
    assert files_containing([profile.folder], CANARY) == []


def test_open_returns_the_original_and_logs_the_check(
    profile: Profile, incident: Incident, tmp_path: Path
) -> None:
    store = EvidenceStore.of(profile)
    original = _original(tmp_path)
    evidence = store.import_file(incident, original, actor="Amina")
    opened = store.open(evidence.id, actor="Amina")
    assert opened.data == original.read_bytes()
    assert [e.action for e in opened.evidence.custody] == ["imported", "viewed"]
    assert store.require(evidence.id).custody == opened.evidence.custody


def test_export_writes_the_original_and_logs_where(
    profile: Profile, incident: Incident, tmp_path: Path
) -> None:
    store = EvidenceStore.of(profile)
    original = _original(tmp_path)
    evidence = store.import_file(incident, original, actor="Amina")
    destination = tmp_path / "out" / "for-the-lawyer.jpg"
    destination.parent.mkdir()
    exported = store.export(evidence.id, destination, actor="Amina")
    assert destination.read_bytes() == original.read_bytes()
    assert exported.custody[-1].action == "exported"
    assert exported.custody[-1].note == "for-the-lawyer.jpg"


def test_a_tampered_file_is_refused_and_custody_unchanged(
    profile: Profile, incident: Incident, tmp_path: Path
) -> None:
    store = EvidenceStore.of(profile)
    evidence = store.import_file(incident, _original(tmp_path), actor="Amina")
    (sealed,) = _sealed_files(profile)
    data = bytearray(sealed.read_bytes())
    data[-40] ^= 0x01
    sealed.write_bytes(bytes(data))
    with pytest.raises(AttachmentDamaged):
        store.open(evidence.id, actor="Amina")
    assert len(store.require(evidence.id).custody) == 1


def test_a_failed_record_save_leaves_no_key_and_no_file(profile: Profile, tmp_path: Path) -> None:
    store = EvidenceStore.of(profile)
    # An incident id that is not an id: the Evidence record fails validation after sealing.
    broken = Incident(id="not-an-id", space_id="0" * 32, title="x")
    with pytest.raises(InvalidRecord):
        store.import_file(broken, _original(tmp_path), actor="Amina")
    assert store.key_count() == 0
    assert _sealed_files(profile) == []


def test_delete_erases_record_key_and_file(
    profile: Profile, incident: Incident, tmp_path: Path
) -> None:
    store = EvidenceStore.of(profile)
    evidence = store.import_file(incident, _original(tmp_path), actor="Amina")
    store.delete(evidence.id)
    assert store.records.get(evidence.id) is None
    assert store.key_count() == 0
    assert _sealed_files(profile) == []
    with pytest.raises(EvidenceNotFound):
        store._require_stored(evidence)


def test_deleting_the_incident_erases_its_evidence_files(
    profile: Profile, incident: Incident, tmp_path: Path
) -> None:
    store = EvidenceStore.of(profile)
    first = store.import_file(incident, _original(tmp_path, "a.pdf"), actor="Amina")
    second = store.import_file(incident, _original(tmp_path, "b.png"), actor="Amina")
    assert second.media_type == "image/png" and first.media_type == "application/pdf"
    store.delete_incident(incident.id)
    assert store.records.get(incident.id) is None
    assert store.records.children(incident.id, "evidence") == []
    assert store.key_count() == 0
    assert _sealed_files(profile) == []


def test_sweep_erases_only_what_no_record_points_at(
    profile: Profile, incident: Incident, tmp_path: Path
) -> None:
    store = EvidenceStore.of(profile)
    kept = store.import_file(incident, _original(tmp_path, "kept.jpg"), actor="Amina")
    # A crash after sealing and keying, before the record: an orphan.
    orphan = profile.attachments.import_file(_original(tmp_path, "orphan.jpg"))
    store._insert_key(orphan)
    assert store.sweep_orphans() == 1
    assert store.key_count() == 1
    assert store.stored(kept.attachment_ref) is not None
    assert store.stored(orphan.attachment_id) is None
    assert [p.stem for p in _sealed_files(profile)] == [kept.attachment_ref]


def test_an_unknown_file_type_gets_a_generic_media_type(
    profile: Profile, incident: Incident, tmp_path: Path
) -> None:
    store = EvidenceStore.of(profile)
    evidence = store.import_file(incident, _original(tmp_path, "notes.zzqx"), actor="Amina")
    assert evidence.media_type == "application/octet-stream"
    assert isinstance(store.records.get(evidence.id), Evidence)


def test_sweep_keeps_the_files_of_materials(profile: Profile, tmp_path: Path) -> None:
    from desktop.domain.network_records import Material
    from desktop.store.records import RecordStore

    store = EvidenceStore.of(profile)
    stored = profile.attachments.import_file(_original(tmp_path, "guide.pdf"))
    store._insert_key(stored)
    material = Material(
        space_id=new_id(),
        working_group_id=new_id(),
        title="Guía de monitoreo",
        material_type="toolkit",
        attachments=((stored.attachment_id, "guide.pdf"),),
    )
    RecordStore(profile.engine).save(material)
    assert store.sweep_orphans() == 0
    assert store.stored(stored.attachment_id) is not None
