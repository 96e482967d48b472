"""The files of a deletion received from another device are erased there too (SECURITY.md,
"The files of a deletion received from another device"; sync/ENGINE.md "Deletes").

Through the real server with real profiles: device A deletes a material with a file, a working
group, or an incident with evidence; device B, which had downloaded the file and opened it (and
indexed a PDF's text), receives the deletion by a sync, a bundle or a courier's carried
mutation. Then nothing of the file is left on B for someone who unlocks its profile: no sealed
bytes, no key row, no indexed text, and the canary inside the file is readable nowhere (the
profile's files as they lie, every sealed file opened with every key row held, every page and
WAL frame of the database decrypted). A file being imported on B meanwhile keeps its key and
bytes; a file that comes back (an edit beat the deletion) is fetched again and opens.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from desktop.domain.network_records import Material, MaterialFile
from desktop.domain.records import Evidence, Incident, WorkingGroup, edit
from desktop.store.attachments import StoredAttachment
from desktop.store.errors import AttachmentDamaged
from desktop.store.evidence import EvidenceStore
from desktop.store.materials import MaterialStore, material_file
from desktop.store.profile import DATABASE_FILE
from desktop.ui.pdf_text import index_pending_texts
from sync.client.bundles import export_bundle, import_bundle
from tests.helpers.pdf import make_pdf
from tests.helpers.profiles import files_containing, raw_key
from tests.helpers.sqlcipher_pages import pages_holding
from tests.integration.conftest import Device, Server, network_of
from tests.integration.devices import make_with_files, opened
from tests.integration.test_courier import _offline

CANARY = "Kalakmulcanary"


def _material(device: Device, space: str, folder: Path) -> tuple[Material, MaterialFile]:
    """A group with a material holding one PDF whose text carries the canary."""
    group = device.records.save(WorkingGroup(space_id=space, name="Tierra y vivienda"))
    material = device.records.save(
        Material(
            space_id=space,
            working_group_id=group.id,
            title="Guía de protección",
            material_type="toolkit",
        )
    )
    assert isinstance(material, Material)
    folder.mkdir(parents=True, exist_ok=True)
    pdf = make_pdf(folder / "registro.pdf", ["Registro de desalojos", f"Testigo {CANARY}"])
    return material, MaterialStore.of(device.profile).import_file(material, pdf)


def _evidence(device: Device, space: str, folder: Path) -> tuple[Incident, Evidence]:
    incident = device.records.save(Incident(space_id=space, title="Desalojo en Barrio Sur"))
    assert isinstance(incident, Incident)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "declaracion.txt"
    path.write_bytes(f"Declaracion de la testigo {CANARY}\n".encode() * 2000)
    return incident, EvidenceStore.of(device.profile).import_file(incident, path, actor="tester")


def _held_and_read(device: Device, record: MaterialFile | Evidence) -> None:
    """The file is here and its person opened it (a PDF's text indexed, as the app does after
    a sync); opening evidence adds to its custody log, sent with the next sync."""
    if isinstance(record, MaterialFile):
        materials = MaterialStore.of(device.profile)
        materials.pin_group(record.working_group_id)
        device.sync()
        assert materials.held(materials.records.require(record.id))  # type: ignore[arg-type]
        assert index_pending_texts(device.profile) == 1
        assert CANARY.encode() in materials.open(record.id).data
    else:
        device.sync()
        assert CANARY.encode() in opened(device, record.id)
        device.sync()


def _opened_holding(device: Device, word: str) -> list[str]:
    """Sealed files of the vault that, opened with a key row held here, contain ``word``."""
    evidence = EvidenceStore.of(device.profile)
    vault = device.profile.attachments
    found = []
    with device.profile.engine.connect() as connection:
        ids = list(connection.scalars(text("SELECT attachment_id FROM attachment_keys")))
    for attachment in ids:
        stored = evidence.stored(attachment)
        if stored is None:
            continue
        try:
            data = vault.read_bytes(stored)
        except AttachmentDamaged:
            continue
        if word.encode() in data:
            found.append(attachment)
    return found


def _text_rows(device: Device, file_id: str) -> int:
    with device.profile.engine.connect() as connection:
        return int(
            connection.scalar(
                text(
                    "SELECT (SELECT count(*) FROM search_keys WHERE record_id = :t) "
                    "+ (SELECT count(*) FROM material_texts WHERE file_id = :f)"
                ),
                {"t": file_id + ":text", "f": file_id},
            )
        )


def _nothing_left(device: Device, record: MaterialFile | Evidence, key: bytes) -> None:
    """No sealed bytes, key row or indexed text of the file; then, the profile locked (the WAL
    folded in, as at every lock), the canary and the file's key are readable nowhere in it."""
    assert device.records.get(record.id) is None
    assert not device.profile.attachments.path_of(record.attachment_ref).exists()
    assert EvidenceStore.of(device.profile).stored(record.attachment_ref) is None
    assert _text_rows(device, record.id) == 0
    assert _opened_holding(device, CANARY) == []
    folder = device.profile.folder
    device.profile.close()
    database_key = raw_key(folder)
    assert files_containing([folder], CANARY) == []
    for word in (CANARY.encode(), CANARY.lower().encode(), key):
        assert pages_holding(folder / DATABASE_FILE, database_key, word) == []


def _file_key(device: Device, record: MaterialFile | Evidence) -> bytes:
    stored = EvidenceStore.of(device.profile).stored(record.attachment_ref)
    assert stored is not None
    return stored.file_key


def _delete(device: Device, kind: str, parent: Material | Incident) -> None:
    """As the app deletes: a material or a group in the directory, an incident in its editor."""
    if kind == "incident":
        EvidenceStore.of(device.profile).delete_incident(parent.id)
    elif kind == "group":
        assert isinstance(parent, Material)
        MaterialStore.of(device.profile).delete_with_files(parent.working_group_id)
    else:
        MaterialStore.of(device.profile).delete_with_files(parent.id)


def _made(kind: str, device: Device, space: str, folder: Path) -> tuple[Any, Any]:
    return (
        _evidence(device, space, folder) if kind == "incident" else _material(device, space, folder)
    )


@pytest.mark.parametrize("kind", ["material", "group", "incident"])
def test_a_deletion_received_by_sync_erases_the_file_s_key_bytes_and_text(
    server: Server, make_device: Any, tmp_path: Path, kind: str
) -> None:
    _space, (alba, badu) = network_of(server, make_with_files(make_device), 2)
    parent, record = _made(kind, alba, _space, tmp_path / "in")
    alba.sync()
    _held_and_read(badu, record)
    alba.sync()  # badu's custody entry (opening evidence) reaches alba before her deletion
    key = _file_key(badu, record)
    # The check can fail: before the deletion the canary opens from badu's vault.
    assert _opened_holding(badu, CANARY) == [record.attachment_ref]
    _delete(alba, kind, parent)
    alba.sync()
    badu.sync()
    _nothing_left(badu, record, key)


@pytest.mark.parametrize("path", ["bundle", "carried"])
def test_a_deletion_received_by_bundle_erases_the_file(
    server: Server, make_device: Any, tmp_path: Path, path: str
) -> None:
    """``bundle``: the deletion reaches an offline device in a bundle exported by one that
    synced it. ``carried``: the deleting device is offline; a courier imports its bundle and
    carries the deletion (the courier had the file)."""
    space, (alba, badu) = network_of(server, make_with_files(make_device), 2)
    incident, evidence = _evidence(alba, space, tmp_path / "in")
    alba.sync()
    _held_and_read(badu, evidence)
    alba.sync()
    deleter, receiver = alba, badu
    key = _file_key(receiver, evidence)
    if path == "bundle":
        _offline(receiver)
        _delete(deleter, "incident", incident)
        deleter.sync()
    else:
        _offline(deleter)
        _delete(deleter, "incident", incident)
    export_bundle(deleter.engine, tmp_path / "a.mbundle")
    report = import_bundle(receiver.engine, tmp_path / "a.mbundle")
    assert report.problem is None and report.refused == [], report
    _nothing_left(receiver, evidence, key)


def test_a_file_imported_while_a_deletion_is_received_keeps_its_key_and_bytes(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """The import is held at the point between its key row and its record's commit (the
    moment a sweep of every key no live record names would erase it) while badu's sync
    receives the deletion and erases the deleted file; then it finishes and its file opens."""
    space, (alba, badu) = network_of(server, make_with_files(make_device), 2)
    doomed, record = _material(alba, space, tmp_path / "in")
    kept = alba.records.save(
        Material(
            space_id=space,
            working_group_id=doomed.working_group_id,
            title="Acta",
            material_type="toolkit",
        )
    )
    assert isinstance(kept, Material)
    alba.sync()
    _held_and_read(badu, record)
    key = _file_key(badu, record)
    new_file = tmp_path / "acta.txt"
    new_file.write_bytes(b"Acuerdos de la asamblea " * 3000)
    between = threading.Event()
    go_on = threading.Event()
    imported: list[MaterialFile] = []
    failed: list[BaseException] = []

    def record_of(stored: StoredAttachment, transfer: Any) -> MaterialFile:
        between.set()  # its key row is written; its record is not yet
        assert go_on.wait(60)
        return material_file(kept, stored, new_file.name, transfer)

    def run() -> None:
        try:
            imported.append(EvidenceStore.of(badu.profile).seal_and_save(new_file, record_of))
        except BaseException as error:  # reported below
            failed.append(error)

    MaterialStore.of(alba.profile).delete_with_files(doomed.id)
    alba.sync()
    importer = threading.Thread(target=run)
    importer.start()
    try:
        assert between.wait(60)
        badu.sync()  # receives the deletion and erases the deleted file meanwhile
        assert not badu.profile.attachments.path_of(record.attachment_ref).exists()
    finally:
        go_on.set()
        importer.join(60)
    assert failed == []
    [file] = imported
    materials = MaterialStore.of(badu.profile)
    assert materials.held(file)
    assert materials.open(file.id).data == new_file.read_bytes()
    badu.sync()
    assert materials.open(file.id).data == new_file.read_bytes()
    _nothing_left(badu, record, key)


def test_a_file_erased_on_receipt_comes_back_with_an_edit_and_opens(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """badu's copy is erased when the deletion arrives; cira's edit, made before she saw the
    deletion, beats it: the material and its file come back, and badu fetches the file again
    from the server and opens it (the record's content carries what it needs)."""
    space, (alba, badu, cira) = network_of(server, make_with_files(make_device), 3)
    material, record = _material(alba, space, tmp_path / "in")
    alba.sync()
    cira.sync()
    _held_and_read(badu, record)
    data = MaterialStore.of(badu.profile).open(record.id).data
    described = "Para las brigadas y los acompañantes."
    cira.records.save(edit(cira.records.require(material.id), description=described))
    MaterialStore.of(alba.profile).delete_material(material.id)
    alba.sync()
    badu.sync()
    assert badu.records.get(record.id) is None
    assert not badu.profile.attachments.path_of(record.attachment_ref).exists()
    assert EvidenceStore.of(badu.profile).stored(record.attachment_ref) is None
    cira.sync()  # her edit beats the deletion: the material and its file come back
    badu.sync()  # kept offline (its group pinned): fetched again in the same sync
    back = badu.records.require(material.id)
    assert isinstance(back, Material) and back.description == described
    materials = MaterialStore.of(badu.profile)
    file = materials.records.require(record.id)
    assert isinstance(file, MaterialFile) and materials.held(file)
    assert materials.open(record.id).data == data
    badu.sync()  # and it stays: nothing erases a file a live record names
    assert materials.open(record.id).data == data


def test_a_file_another_live_record_names_is_kept(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Two records can name one file: a material imported before files traveled names its
    files by pairs (``Material.attachments``), and the file record adopted from a pair names
    the same one. The file record's deletion arriving leaves the file to the material."""
    space, (alba, badu) = network_of(server, make_with_files(make_device), 2)
    material, record = _material(alba, space, tmp_path / "in")
    alba.sync()
    _held_and_read(badu, record)
    named = edit(
        badu.records.require(material.id),
        attachments=((record.attachment_ref, record.filename),),
    )
    badu.records.save(named)
    badu.sync()
    alba.sync()
    alba.records.delete(record.id)  # the file record alone
    alba.sync()
    badu.sync()
    assert badu.records.get(record.id) is None
    assert EvidenceStore.of(badu.profile).stored(record.attachment_ref) is not None
    assert badu.profile.attachments.path_of(record.attachment_ref).exists()
    assert _opened_holding(badu, CANARY) == [record.attachment_ref]
