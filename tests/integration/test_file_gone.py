"""Issue 14, a file brought back over its deletion after the server's chunk collection ran
(ENGINE.md "A file whose bytes are gone"). Through a real server whose `minga-server collect`
runs with short graces: a deleted record's chunks outlive the orphan grace, so the file opens
again; past the longer grace, bytes a device still holds go up again; held by nobody, the file
comes back marked unavailable, said so where it is opened, and the sync settles."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from desktop.domain.network_records import Material, MaterialFile
from desktop.domain.records import Evidence, Incident, WorkingGroup, edit
from desktop.store.evidence import EvidenceGone, EvidenceStore, gone_records
from desktop.store.materials import MaterialFileGone, MaterialStore
from desktop.store.sync_state import FILE_GONE
from tests.helpers.server_process import run_cli
from tests.integration.conftest import Device, Server, network_of
from tests.integration.devices import import_evidence, make_with_files
from tests.integration.test_meaning import _converge
from tests.integration.test_meaning_cascades import _material_with_file, _opens


def _collect(server: Server, grace: int, released: int | None = None) -> str:
    """What an operator's `minga-server collect` does, with the graces given (seconds)."""
    env = {"MINGA_SERVER_CHUNK_GRACE_SECONDS": str(grace)}
    if released is not None:
        env["MINGA_SERVER_RELEASED_CHUNK_GRACE_SECONDS"] = str(released)
    time.sleep(1.1)  # ages are whole seconds: everything is older than "now - 0"
    result = run_cli(server.data_dir, "collect", extra_env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _dirty(device: Device) -> list[str]:
    """Records waiting to be sent: none once every sync settled."""
    with device.profile.engine.connect() as connection:
        return list(connection.execute(text("SELECT id FROM records WHERE dirty")).scalars())


def _edit_material(device: Device, material: Material) -> None:
    held = device.records.require(material.id)
    device.records.save(edit(held, description="Para las brigadas y los acompañantes."))


def test_a_deleted_file_s_chunks_outlive_the_orphan_grace_and_it_opens_again(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Before: a deleted record's chunks were collected with the one-day grace of chunks no
    record named (counted from their upload, so at the first collection after the deletion),
    and the file an edit brought back could not be fetched by anyone."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    _admin, alba, badu = devices
    material, file, data = _material_with_file(space, devices, tmp_path / "in")
    MaterialStore.of(alba.profile).delete_material(material.id)  # its key and bytes erased
    alba.sync()
    # Past the orphan grace (0 s), within the released one (the default, 30 days).
    assert "removed 0 unreferenced chunks" in _collect(server, grace=0)
    _edit_material(badu, material)  # badu never downloaded the file: only the server has it
    badu.sync()
    _converge(devices, rounds=3)
    for device in devices:
        _opens(device, file.id, data)
        assert _dirty(device) == [], device.name
    # Past the released grace too, with the record live again: its chunks stay.
    assert "removed 0 unreferenced chunks" in _collect(server, grace=0, released=0)


def test_bytes_the_editor_still_holds_go_up_again_after_collection(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """The chunks were collected (both graces past); badu, whose edit beats the deletion, has
    the file: the push naming them is refused `chunk_missing`, the next sync sends them, and
    the deleter opens the file again."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    _admin, alba, badu = devices
    material, file, data = _material_with_file(space, devices, tmp_path / "in")
    _opens(badu, file.id, data)  # badu keeps the bytes
    MaterialStore.of(alba.profile).delete_material(material.id)
    alba.sync()
    assert "removed 3 unreferenced chunks" in _collect(server, grace=0, released=0)
    _edit_material(badu, material)
    refused = badu.engine.sync_once()
    assert [r.code for r in refused.rejected] == ["chunk_missing"]  # the file, collected
    again = badu.engine.sync_once()  # asks what is missing and sends it from its vault
    assert again.rejected == [] and again.chunks_up == 3, again
    _converge(devices, rounds=2)
    for device in devices:
        _opens(device, file.id, data)
        assert _dirty(device) == [], device.name


def _alba_s_material(space: str, devices: list[Device], folder: Path) -> tuple[Material, str]:
    """A material whose file alba added: only alba (and the server) ever hold its bytes."""
    _admin, alba, _badu = devices
    group = alba.records.save(WorkingGroup(space_id=space, name="Tierra y vivienda"))
    material = alba.records.save(
        Material(space_id=space, working_group_id=group.id, title="Guía", material_type="toolkit")
    )
    assert isinstance(material, Material)
    folder.mkdir(exist_ok=True)
    (folder / "mapa.bin").write_bytes(bytes(range(256)) * 600)  # three chunks
    file = MaterialStore.of(alba.profile).import_file(material, folder / "mapa.bin")
    _converge(devices, rounds=2)
    return material, file.id


def _gone_notes(device: Device, record: str) -> int:
    return sum(1 for c in device.state.conflicts() if c.record == record and c.kind == FILE_GONE)


def test_a_file_whose_bytes_nobody_holds_comes_back_marked_gone_and_the_sync_settles(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Before: the push bringing the file back was rejected `chunk_missing` at every sync and
    stayed dirty for good; Download ended without a word. Now it goes marked gone, without
    its chunks, once; every device says so where the file is opened; nothing repeats."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    _admin, alba, badu = devices
    material, file_id = _alba_s_material(space, devices, tmp_path / "in")
    MaterialStore.of(alba.profile).delete_material(material.id)  # the only copy, erased
    alba.sync()
    assert "removed 3 unreferenced chunks" in _collect(server, grace=0, released=0)
    _edit_material(badu, material)
    report = badu.sync()  # no rejection left: the file went marked gone, in the same sync
    assert report.files_gone == 1, report
    _converge(devices, rounds=2)
    for device in devices:
        materials = MaterialStore.of(device.profile)
        file = device.records.require(file_id)
        assert isinstance(file, MaterialFile)
        assert [f.id for f in materials.files(material.id)] == [file_id], device.name
        assert materials.gone(file), device.name
        assert [s.gone for s in materials.file_states(material.id)] == [True], device.name
        with pytest.raises(MaterialFileGone):
            materials.open(file_id)
        assert materials.reference(file) is None and materials.wanted() == []
        assert _dirty(device) == [], device.name
    assert _gone_notes(badu, file_id) == 1  # told once, where it was found out
    # A second and a third sync push nothing and add no note.
    for _round in range(2):
        for device in devices:
            quiet = device.sync()
            assert (quiet.pushed, quiet.files_gone, quiet.chunks_up) == (0, 0, 0), device.name
    assert _gone_notes(badu, file_id) == 1


def test_a_device_holding_a_file_marked_gone_puts_its_bytes_back(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """The admin kept the file offline and was away while alba deleted it and badu, who never
    had it, brought it back marked gone: the admin's next sync sends its chunks and the record
    without the mark, and the file opens on every device again."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    admin, alba, badu = devices
    material, file_id = _alba_s_material(space, devices, tmp_path / "in")
    data = bytes(range(256)) * 600
    _opens(admin, file_id, data)  # the admin fetched it before going away
    MaterialStore.of(alba.profile).delete_material(material.id)
    alba.sync()
    assert "removed 3 unreferenced chunks" in _collect(server, grace=0, released=0)
    _edit_material(badu, material)
    assert badu.sync().files_gone == 1
    back = admin.sync()
    assert back.files_put_back == 1 and back.chunks_up == 3, back
    _converge([alba, badu, admin], rounds=2)
    for device in devices:
        _opens(device, file_id, data)
        file = device.records.require(file_id)
        assert isinstance(file, MaterialFile)
        assert not MaterialStore.of(device.profile).gone(file), device.name
        assert _dirty(device) == [], device.name
    assert _gone_notes(badu, file_id) == 1  # what it was told stays until read


def test_evidence_whose_bytes_nobody_holds_says_so_when_opened(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """The same for an incident's evidence: the incident deleted with it on alba (the only
    copy erased), brought back by badu's edit after collection; opening it says why it will
    not come, on every device, and the sync settles."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    admin, alba, badu = devices
    evidence = import_evidence(alba, space, tmp_path / "in", 3 * 65_536, "foto.jpg")
    for device in (admin, badu):
        device.engine.fetch_attachments = False  # the records come; the file not yet
    _converge(devices, rounds=2)
    EvidenceStore.of(alba.profile).delete_incident(evidence.incident_id)
    alba.sync()
    assert "removed 3 unreferenced chunks" in _collect(server, grace=0, released=0)
    incident = badu.records.require(evidence.incident_id)
    assert isinstance(incident, Incident)
    badu.records.save(edit(incident, title="Desalojo en Barrio Sur"))
    assert badu.sync().files_gone == 1
    _converge(devices, rounds=2)
    for device in devices:
        device.engine.fetch_attachments = True  # a file marked gone is not asked for
        assert isinstance(device.records.get(evidence.id), Evidence), device.name
        with pytest.raises(EvidenceGone):
            EvidenceStore.of(device.profile).open(evidence.id, actor="t")
        assert _dirty(device) == [], device.name
        quiet = device.sync()
        assert (quiet.pushed, quiet.chunks_down, quiet.files_gone) == (0, 0, 0), device.name


def test_a_record_marked_gone_naming_a_held_file_with_other_chunks_is_not_put_back(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """A hostile member (or a vault copy gone bad) and put back: badu adds a file record
    naming the admin's file (its ref and key, which members read) with chunk addresses that
    are not its chunks, marked gone. Before: the admin, holding a file under that ref, took it
    for its own, dropped the mark and sent the record claiming chunks it could not send; the
    server refused it `chunk_missing`, the admin marked it gone again, sent it, put it back
    again: a new version to every device and a false "gone" note on the admin, round after
    round, at every sync. Now a file is put back only when this vault holds every chunk the
    record names."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    admin, _alba, badu = devices
    material, file, _data = _material_with_file(space, devices, tmp_path / "in")
    forged = badu.records.save(
        MaterialFile(
            space_id=space,
            material_id=material.id,
            working_group_id=file.working_group_id,
            attachment_ref=file.attachment_ref,
            filename="copia.bin",
            sha256=file.sha256,
            size=file.size,
            media_type=file.media_type,
            attachment_key=file.attachment_key,
            attachment_header=file.attachment_header,
            attachment_chunks=tuple(f"{n:064x}" for n in range(1, len(file.attachment_chunks) + 1)),
        )
    )
    badu.state.mark_gone(space, forged.id)  # what a hostile client can send: no chunk claim
    assert badu.sync().rejected == []
    first = admin.sync()
    assert (first.files_put_back, first.files_gone, first.rejected) == (0, 0, []), first
    assert _gone_notes(admin, forged.id) == 0  # not told a false loss
    quiet = admin.sync()
    assert (quiet.pushed, quiet.files_put_back) == (0, 0), quiet
    assert _dirty(admin) == []
    assert forged.id in gone_records(admin.profile.engine)  # the mark stays as it came
    assert MaterialStore.of(admin.profile).open(file.id).data == _data  # its own file intact


def test_a_false_chunk_missing_for_a_record_naming_no_file_marks_nothing(
    server: Server, make_device: Any
) -> None:
    """A hostile server answers `chunk_missing` to the push of an organization (no file, no
    chunks claimed). Before: the engine took it for a file whose bytes were gone, marked the
    organization's content `attachment_gone`, told the person "The file's content was
    removed…" about an organization and sent it again so marked to every device. Now such an
    answer is a rejection like any other: the edit stays dirty and goes at the next sync."""
    from tests.helpers.hostile_server import Exchange, HostileServer
    from tests.integration.conftest import organization
    from tests.integration.test_malicious_server import behind

    space, devices = network_of(server, make_with_files(make_device), 2)
    admin, alba = devices
    with HostileServer(server.url) as hostile:
        behind(alba, hostile.url)
        org = organization(space, "Colectivo Tierra Viva")
        alba.records.save(org)

        def missing(exchange: Exchange) -> dict[str, Any] | None:
            push = (exchange.request or {}).get("push")
            if exchange.route != "/v1/sync" or not push or exchange.answer is None:
                return None
            answer = dict(exchange.answer)
            answer["results"] = [
                {
                    "id": m["id"],
                    "status": "rejected",
                    "code": "chunk_missing",
                    "missing": ["0" * 64],
                }
                for m in push
            ]
            return answer

        hostile.rewrites[:] = [missing]
        lied = alba.engine.sync_once()
        assert lied.files_gone == 0, lied
        assert [r.code for r in lied.rejected] == ["chunk_missing"]
        assert org.id not in gone_records(alba.profile.engine)
        assert _gone_notes(alba, org.id) == 0
        hostile.rewrites[:] = []
        assert alba.sync().rejected == []
    admin.sync()
    assert org.id not in gone_records(admin.profile.engine)
    assert admin.records.require(org.id).name == "Colectivo Tierra Viva"  # type: ignore[attr-defined]


def test_evidence_marked_gone_falsely_is_asked_for_once_and_put_back(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """The server still holds the evidence's bytes, but badu, who never fetched them, marked it
    gone (what its engine does with a server's false `chunk_missing`), and alba, who added it,
    is away. Before: no device asked for a file marked gone again, and evidence has no
    Download: it could not be opened anywhere though the server had it. Now each session asks
    once; the bytes come, and the next sync puts the file back for everyone."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    admin, alba, badu = devices
    evidence = import_evidence(alba, space, tmp_path / "in", 3 * 65_536, "foto.jpg")
    for device in (admin, badu):
        device.engine.fetch_attachments = False  # the records come; the file not yet
    _converge(devices, rounds=2)
    badu.state.mark_gone(space, evidence.id)
    assert badu.sync().rejected == []
    admin.engine.fetch_attachments = True
    fetched = admin.sync()  # the gone version arrives, and the file is asked for once
    assert fetched.files_received == 1, fetched
    back = admin.sync()
    assert back.files_put_back == 1 and back.rejected == [], back
    badu.engine.fetch_attachments = True
    badu.sync()
    for device in (admin, badu):
        assert evidence.id not in gone_records(device.profile.engine), device.name
        assert _dirty(device) == [], device.name
        opened = EvidenceStore.of(device.profile).open(evidence.id, actor="t")  # logs custody
        assert opened is not None, device.name
