"""Issue 14, item 1 for notes and reading positions (rev-nest): under a working group or a
material that is deleted they were left where no screen reaches them. Through the real server
with three devices: shared notes (in the group's space) are a cascade like a material's files;
a person's own ("only me") notes and reading positions are dropped by each device under a
deletion it makes or receives, are no reason to bring the parent back, come back if an edit
elsewhere brings the parent back, and the person is told what went."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from desktop.domain.network_records import Material, Note, ReadingPosition
from desktop.domain.records import WorkingGroup, edit
from desktop.store.materials import MaterialStore
from desktop.store.spaces import local_spaces
from desktop.store.sync_state import TAKEN_WITH_PARENT
from sync.client.bundles import export_bundle, import_bundle
from sync.client.transport import Transport
from tests.helpers.server_process import free_port
from tests.integration.conftest import Device, Server, network_of
from tests.integration.test_meaning import _converge
from tests.integration.test_meaning_cascades import (
    _BACK,
    _directory_delete,
    _meet,
    _notes,
    _nothing_unreachable,
)


def _no_note_unreached(device: Device) -> None:
    """No live note or reading position names a deleted material or group (by either field),
    and nothing else is under a deleted record."""
    with device.profile.engine.connect() as connection:
        orphans = connection.execute(
            text(
                "SELECT c.id FROM records c JOIN record_contents cc ON cc.id = c.id "
                "JOIN records p ON p.id IN (json_extract(cc.content, '$.material_id'), "
                "json_extract(cc.content, '$.working_group_id')) "
                "WHERE c.deleted = 0 AND p.deleted = 1 "
                "AND c.record_type IN ('note', 'reading_position')"
            )
        ).all()
    assert orphans == [], device.name
    _nothing_unreachable(device)


def _group_with_material(space: str, devices: list[Device]) -> tuple[WorkingGroup, Material]:
    admin = devices[0]
    group = admin.records.save(WorkingGroup(space_id=space, name="Tierra y vivienda"))
    assert isinstance(group, WorkingGroup)
    material = admin.records.save(
        Material(
            space_id=space,
            working_group_id=group.id,
            title="Guía de protección",
            material_type="toolkit",
        )
    )
    assert isinstance(material, Material)
    _converge(devices, rounds=1)
    return group, material


def _shared_note(device: Device, space: str, **on: str) -> Note:
    note = device.records.save(Note(space_id=space, body="Leer antes de la brigada.", **on))
    assert isinstance(note, Note)
    return note


def _own_note(device: Device, material: Material) -> Note:
    """A note in the device's "only me" space, as the material's page saves it."""
    only_me = local_spaces(device.records).only_me.id
    note = device.records.save(
        Note(space_id=only_me, material_id=material.id, page=2, body="Mi duda: página 3.")
    )
    assert isinstance(note, Note)
    return note


def _live(device: Device, record: str) -> bool:
    return device.records.get(record) is not None


@pytest.mark.parametrize("deleter_first", [True, False], ids=["deleter-first", "editor-first"])
def test_shared_notes_go_with_their_group_and_come_back_with_it(
    server: Server, make_device: Any, deleter_first: bool
) -> None:
    """A note on the group and one on its material (in the group's space) go in the group's
    deletion's transaction; badu's edit beats it, and they come back with the group."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, material = _group_with_material(space, devices)
    on_group = _shared_note(admin, space, working_group_id=group.id)
    on_material = _shared_note(admin, space, material_id=material.id)
    _converge(devices, rounds=1)
    _directory_delete(alba, group.id)
    assert not _live(alba, on_group.id) and not _live(alba, on_material.id)
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    _meet(devices, deleter_first)
    for device in devices:
        assert _live(device, group.id) and _live(device, material.id), device.name
        back = device.records.require(on_material.id)
        assert isinstance(back, Note) and back.body == on_material.body, device.name
        assert [n.id for n in device.records.children(group.id, "note")] == [on_group.id]
        _no_note_unreached(device)
    # The deleter is told; the editor too when the deletion reached it first (editor first,
    # the server had the edit before the deletion: nothing of badu's was ever deleted).
    assert _notes(alba, group.id) & _BACK
    assert _notes(badu, group.id) & _BACK or not deleter_first


def test_shared_notes_go_everywhere_with_a_group_nobody_edited(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    admin, alba, _badu = devices
    group, material = _group_with_material(space, devices)
    notes = [
        _shared_note(admin, space, working_group_id=group.id).id,
        # A note naming both its material and its group.
        _shared_note(admin, space, material_id=material.id, working_group_id=group.id).id,
    ]
    _converge(devices, rounds=1)
    _directory_delete(alba, group.id)
    _converge(devices, rounds=2)
    for device in devices:
        assert not _live(device, group.id) and not _live(device, material.id), device.name
        assert not any(_live(device, note) for note in notes), device.name
        _no_note_unreached(device)
        assert not _notes(device, group.id) & _BACK, device.name


@pytest.mark.parametrize("deleter_first", [True, False], ids=["deleter-first", "editor-first"])
def test_a_shared_note_added_under_a_group_deleted_elsewhere_brings_it_back(
    server: Server, make_device: Any, deleter_first: bool
) -> None:
    """Badu adds a shared note on the material while alba deletes its group: the note is an
    addition under the deletion, so the material and the group come back for everyone, and
    both sides are told."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    group, material = _group_with_material(space, devices)
    _directory_delete(alba, group.id)
    note = _shared_note(badu, space, material_id=material.id)
    _meet(devices, deleter_first)
    for device in devices:
        assert _live(device, group.id) and _live(device, material.id), device.name
        assert _live(device, note.id), device.name
        _no_note_unreached(device)
    # The deleter is told; the editor too when the deletion reached it first (editor first,
    # the server had the edit before the deletion: nothing of badu's was ever deleted).
    assert _notes(alba, group.id) & _BACK
    assert _notes(badu, group.id) & _BACK or not deleter_first


def test_a_private_note_and_reading_position_go_with_a_group_deleted_elsewhere_and_come_back(
    server: Server, make_device: Any
) -> None:
    """Badu's own note and reading position on a material whose group alba deletes: no
    reason to bring the group back (alba cannot see them), so badu drops them and is told.
    Then the admin's edit, made before it saw the deletion, brings the group back: badu's
    note and position come back with it, as they were."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, material = _group_with_material(space, devices)
    own = _own_note(badu, material)
    materials = MaterialStore.of(badu.profile)
    materials.remember_page(material.id, 7)
    position = materials.reading_position_id(material.id)
    badu.sync()
    _directory_delete(alba, group.id)
    admin.records.save(edit(admin.records.require(group.id), description="Cuenca alta"))
    alba.sync()
    badu.sync()
    for device in (alba, badu):
        assert not _live(device, group.id) and not _live(device, material.id), device.name
        _no_note_unreached(device)
    assert not _live(badu, own.id) and not _live(badu, position)
    assert TAKEN_WITH_PARENT in _notes(badu, own.id)
    assert TAKEN_WITH_PARENT in _notes(badu, position)
    badu.sync()  # nothing more: the dropped note brings nothing back
    assert not _live(badu, group.id)
    admin.sync()  # its edit beats the deletion
    _converge(devices, rounds=3)
    for device in devices:
        assert _live(device, group.id) and _live(device, material.id), device.name
        _no_note_unreached(device)
    back = badu.records.require(own.id)
    assert isinstance(back, Note) and back.body == own.body and back.page == 2
    place = badu.records.require(position)
    assert isinstance(place, ReadingPosition) and place.page == 7
    assert MaterialStore.of(badu.profile).reading_page(material.id) == 7
    assert not _notes(badu, own.id) and not _notes(badu, position)
    assert _notes(badu, group.id) & _BACK
    # Never anyone else's: the note stayed in badu's "only me" space.
    assert not _live(alba, own.id) and not _live(admin, own.id)


@pytest.mark.parametrize("deleter_first", [True, False], ids=["deleter-first", "editor-first"])
def test_the_deleter_s_own_note_goes_with_the_material_and_comes_back_with_it(
    server: Server, make_device: Any, deleter_first: bool
) -> None:
    """Alba deletes a material she had her own note on (it goes in the same transaction);
    badu edits the material, which comes back, and alba's note with it."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    _group, material = _group_with_material(space, devices)
    own = _own_note(alba, material)
    MaterialStore.of(alba.profile).delete_material(material.id)
    assert not _live(alba, own.id)
    badu.records.save(edit(badu.records.require(material.id), description="Revisada."))
    _meet(devices, deleter_first)
    for device in devices:
        assert _live(device, material.id), device.name
        _no_note_unreached(device)
    back = alba.records.require(own.id)
    assert isinstance(back, Note) and back.body == own.body


def test_a_private_note_under_a_group_deleted_by_bundle_is_dropped(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Badu is reached only by a bundle that carries alba's deletion of the group: his own
    note on its material is dropped on import, brings nothing back, and he is told."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, material = _group_with_material(space, devices)
    own = _own_note(badu, material)
    badu.engine.transport.close()
    badu.engine.transport = Transport(f"http://127.0.0.1:{free_port()}")
    _directory_delete(alba, group.id)
    alba.sync()
    admin.sync()
    stick = tmp_path / "to-badu.mb"
    export_bundle(admin.engine, stick)
    got = import_bundle(badu.engine, stick)
    assert got.problem is None and got.restored == 0
    assert not _live(badu, group.id) and not _live(badu, own.id)
    assert TAKEN_WITH_PARENT in _notes(badu, own.id)
    _no_note_unreached(badu)
    back = tmp_path / "from-badu.mb"
    export_bundle(badu.engine, back)
    assert import_bundle(admin.engine, back).problem is None
    _converge([admin, alba], rounds=2)
    for device in devices:
        assert not _live(device, group.id), device.name
        _no_note_unreached(device)


@pytest.mark.parametrize("deleter_first", [True, False], ids=["deleter-first", "editor-first"])
def test_a_shared_note_on_a_group_edited_while_the_group_is_deleted_brings_it_back(
    server: Server, make_device: Any, deleter_first: bool
) -> None:
    """Badu edits a shared note on the group (named only in its content: its ``parent_id``
    column holds no material) while alba deletes the group: the edit beats the note's
    deletion, and the group comes back with its material for everyone."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, material = _group_with_material(space, devices)
    note = _shared_note(admin, space, working_group_id=group.id)
    _converge(devices, rounds=1)
    _directory_delete(alba, group.id)
    badu.records.save(edit(badu.records.require(note.id), body="Reunión el jueves."))
    _meet(devices, deleter_first)
    for device in devices:
        assert _live(device, group.id) and _live(device, material.id), device.name
        back = device.records.require(note.id)
        assert isinstance(back, Note) and back.body == "Reunión el jueves.", device.name
        _no_note_unreached(device)
    assert _notes(alba, group.id) & _BACK
