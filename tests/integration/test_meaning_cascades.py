"""Issue 14, item 1 for every cascade the app makes, not only an incident's: a material with
its files, a working group, person or organization with the memberships naming it. Through the
real server with three devices: a deletion and what it took are one decision, an edit or an
addition under a deleted record brings it back with everything, both sides are told, no record
is left that no screen can reach, and a restored file opens (its bytes fetched again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from desktop.domain.network_records import Material, MaterialFile
from desktop.domain.records import (
    Membership,
    MembershipRole,
    Organization,
    Person,
    PersonKind,
    WorkingGroup,
    edit,
)
from desktop.store.evidence import EvidenceStore
from desktop.store.materials import MaterialStore
from sync.client.merge import MergeFlag
from tests.helpers.records import file_without_bytes
from tests.integration.conftest import Device, Server, network_of
from tests.integration.devices import make_with_files
from tests.integration.test_meaning import _converge

#: Notes telling a person that a record came back over a deletion.
_BACK = {
    MergeFlag.RESTORED.value,
    MergeFlag.EDITED_ELSEWHERE.value,
    MergeFlag.DELETED_ELSEWHERE.value,
}


def _notes(device: Device, record: str) -> set[str]:
    return {c.kind for c in device.state.conflicts() if c.record == record and c.field is None}


def _nothing_unreachable(device: Device) -> None:
    """No live record under a deleted one: a file under its material, a membership under its
    group or naming its person or organization, anything under its ``parent_id``."""
    with device.profile.engine.connect() as connection:
        orphans = connection.execute(
            text(
                "SELECT c.id FROM records c JOIN record_contents cc ON cc.id = c.id "
                "JOIN records p ON p.id IN (c.parent_id, "
                "json_extract(cc.content, '$.person_id'), "
                "json_extract(cc.content, '$.organization_id')) "
                "WHERE c.deleted = 0 AND p.deleted = 1"
            )
        ).all()
    assert orphans == [], device.name


def _directory_delete(device: Device, record_id: str) -> None:
    """What the directory page does to delete a record: its cascades in one transaction, and
    the keys and bytes of any file they take erased (``MaterialStore.delete_with_files``)."""
    MaterialStore.of(device.profile).delete_with_files(record_id)


def _meet(devices: list[Device], deleter_first: bool) -> None:
    """Alba (who deleted) and badu (who edited) sync in the order asked, then everyone
    converges."""
    _admin, alba, badu = devices
    for device in (alba, badu) if deleter_first else (badu, alba):
        device.sync()
    _converge(devices, rounds=3)


def _material_with_file(
    space: str, devices: list[Device], folder: Path
) -> tuple[Material, MaterialFile, bytes]:
    admin = devices[0]
    group = admin.records.save(WorkingGroup(space_id=space, name="Tierra y vivienda"))
    material = admin.records.save(
        Material(
            space_id=space,
            working_group_id=group.id,
            title="Guía de protección",
            material_type="toolkit",
            description="Para las brigadas.",
        )
    )
    assert isinstance(material, Material)
    folder.mkdir(exist_ok=True)
    data = bytes(range(256)) * 600  # three chunks
    (folder / "mapa.bin").write_bytes(data)
    file = MaterialStore.of(admin.profile).import_file(material, folder / "mapa.bin")
    _converge(devices, rounds=1)
    return material, file, data


def _opens(device: Device, file_id: str, data: bytes) -> None:
    """The file is listed under its material and opens, fetched from the server if not here."""
    materials = MaterialStore.of(device.profile)
    file = device.records.require(file_id)
    assert isinstance(file, MaterialFile)
    if not materials.held(file):
        ref = materials.reference(file)
        assert ref is not None and device.engine.chunks is not None
        assert device.engine.chunks.download(ref), device.name
    assert materials.open(file_id).data == data, device.name


def test_a_material_deleted_while_its_description_is_edited_comes_back_with_its_files(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, devices = network_of(server, make_with_files(make_device), 3)
    _admin, alba, badu = devices
    material, file, data = _material_with_file(space, devices, tmp_path / "in")
    MaterialStore.of(alba.profile).delete_material(material.id)  # its file goes with it
    assert alba.records.get(file.id) is None
    described = "Para las brigadas y los acompañantes."
    badu.records.save(edit(badu.records.require(material.id), description=described))
    alba.sync()
    badu.sync()
    _converge(devices, rounds=3)
    for device in devices:
        back = device.records.require(material.id)
        assert isinstance(back, Material) and back.description == described, device.name
        assert [f.id for f in MaterialStore.of(device.profile).files(material.id)] == [file.id]
        _opens(device, file.id, data)
        _nothing_unreachable(device)
    # The one who deleted is told, as the one who edited.
    assert _notes(alba, material.id) & _BACK
    assert _notes(badu, material.id) & _BACK


def test_a_file_added_to_a_material_deleted_elsewhere_brings_the_material_back(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, devices = network_of(server, make_with_files(make_device), 3)
    _admin, alba, badu = devices
    material, first, data = _material_with_file(space, devices, tmp_path / "in")
    MaterialStore.of(alba.profile).delete_material(material.id)
    (tmp_path / "acta.txt").write_text("Acuerdos de la asamblea", encoding="utf-8")
    on_badu = badu.records.require(material.id)
    assert isinstance(on_badu, Material)
    added = MaterialStore.of(badu.profile).import_file(on_badu, tmp_path / "acta.txt")
    alba.sync()
    badu.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(material.id), Material), device.name
        files = {f.id for f in MaterialStore.of(device.profile).files(material.id)}
        assert files == {first.id, added.id}, device.name
        _opens(device, first.id, data)
        _opens(device, added.id, b"Acuerdos de la asamblea")
        _nothing_unreachable(device)
    assert _notes(alba, material.id) & _BACK


def _group_with_member(space: str, devices: list[Device]) -> tuple[WorkingGroup, Person, str]:
    group = WorkingGroup(space_id=space, name="Agua")
    person = Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="Rosa")
    membership = Membership(space_id=space, working_group_id=group.id, person_id=person.id)
    devices[0].records.save_all([group, person, membership])
    _converge(devices, rounds=1)
    return group, person, membership.id


def test_a_working_group_deleted_while_a_membership_is_added_leaves_no_orphan(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    group, _person, first = _group_with_member(space, devices)
    _directory_delete(alba, group.id)  # the directory's delete: its membership too
    assert alba.records.get(first) is None
    joining = Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="Tomás")
    added = Membership(space_id=space, working_group_id=group.id, person_id=joining.id)
    badu.records.save_all([joining, added])
    alba.sync()
    badu.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        members = {m.id for m in device.records.children(group.id, "membership")}
        assert members == {first, added.id}, device.name
        _nothing_unreachable(device)
    assert _notes(alba, group.id) & _BACK


def test_a_person_deleted_while_edited_comes_back_with_their_memberships(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    group, person, membership = _group_with_member(space, devices)
    _directory_delete(alba, person.id)  # the membership naming her goes with her
    assert alba.records.get(membership) is None
    badu.records.save(edit(badu.records.require(person.id), name="Rosa Quispe"))
    alba.sync()
    badu.sync()
    _converge(devices, rounds=3)
    for device in devices:
        back = device.records.require(person.id)
        assert isinstance(back, Person) and back.name == "Rosa Quispe", device.name
        members = [m.id for m in device.records.children(group.id, "membership")]
        assert members == [membership], device.name
        _nothing_unreachable(device)
    assert _notes(alba, person.id) & _BACK
    assert _notes(badu, person.id) & _BACK


@pytest.mark.parametrize("deleter_first", [True, False], ids=["deleter-first", "editor-first"])
def test_a_membership_removed_alone_stays_removed_when_its_group_comes_back(
    server: Server, make_device: Any, deleter_first: bool
) -> None:
    """Alba removes one membership by itself, then deletes the group; badu edits the group.
    The group comes back with the membership its deletion took, never the one removed alone
    (its tombstone says so), whoever syncs first."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    group, _person, kept = _group_with_member(space, devices)
    other = Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="Tomás")
    removed = Membership(space_id=space, working_group_id=group.id, person_id=other.id)
    devices[0].records.save_all([other, removed])
    _converge(devices, rounds=1)
    alba.records.delete(removed.id)  # removed from the group by itself
    _directory_delete(alba, group.id)
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    _meet(devices, deleter_first)
    for device in devices:
        back = device.records.require(group.id)
        assert isinstance(back, WorkingGroup) and back.description == "Cuenca alta"
        members = [m.id for m in device.records.children(group.id, "membership")]
        assert members == [kept], device.name
        _nothing_unreachable(device)


@pytest.mark.parametrize("deleter_first", [True, False], ids=["deleter-first", "editor-first"])
def test_a_person_deleted_earlier_stays_deleted_when_a_group_of_theirs_comes_back(
    server: Server, make_device: Any, deleter_first: bool
) -> None:
    """Alba deletes a person (their membership goes with them) and syncs; later she deletes
    the group the membership was in while badu edits it. The group comes back, but the
    membership was taken by the person's deletion, an earlier decision nobody edited against:
    neither it nor the person may come back (before, the membership came back with the group
    and then, live under a deleted person, brought the person back on every device)."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    group, person, membership = _group_with_member(space, devices)
    _directory_delete(alba, person.id)
    _converge(devices, rounds=2)
    for device in devices:
        assert device.records.get(person.id) is None, device.name
    _directory_delete(alba, group.id)
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    _meet(devices, deleter_first)
    for device in devices:
        back = device.records.require(group.id)
        assert isinstance(back, WorkingGroup) and back.description == "Cuenca alta"
        assert device.records.get(person.id) is None, device.name
        assert device.records.get(membership) is None, device.name
        _nothing_unreachable(device)


@pytest.mark.parametrize("deleter_first", [True, False], ids=["org-first", "person-first"])
def test_a_person_deleted_while_their_organization_is_deleted_stays_deleted(
    server: Server, make_device: Any, deleter_first: bool
) -> None:
    """Alba deletes an organization while badu deletes one of its people. Nobody edited the
    person: they stay deleted everywhere (before, the organization's deletion unlinked its
    people, an edit that beat badu's deletion, and the person came back on every device)."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    org = Organization(space_id=space, name="Colectivo")
    person = Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="Rosa", organization_id=org.id)
    devices[0].records.save_all([org, person])
    _converge(devices, rounds=1)
    _directory_delete(alba, org.id)
    _directory_delete(badu, person.id)
    _meet(devices, deleter_first)
    for device in devices:
        assert device.records.get(org.id) is None, device.name
        assert device.records.get(person.id) is None, device.name
        _nothing_unreachable(device)
    assert not _notes(badu, person.id) and not _notes(alba, person.id)


def test_an_organization_back_over_its_deletion_finds_its_people_linked(
    server: Server, make_device: Any
) -> None:
    """Alba deletes an organization while badu edits it: it comes back, and its people,
    never edited by the deletion, name it still (before, they came back unlinked)."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    org = Organization(space_id=space, name="Colectivo")
    person = Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="Rosa", organization_id=org.id)
    devices[0].records.save_all([org, person])
    _converge(devices, rounds=1)
    _directory_delete(alba, org.id)
    badu.records.save(edit(badu.records.require(org.id), acronym="CLT"))
    alba.sync()
    badu.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(org.id), Organization), device.name
        rosa = device.records.require(person.id)
        assert isinstance(rosa, Person) and rosa.organization_id == org.id, device.name


def _held_anywhere(device: Device, file: MaterialFile) -> bool:
    """The file's key or sealed bytes are still on this device."""
    return MaterialStore.of(device.profile).held(file) or (
        EvidenceStore.of(device.profile).stored(file.attachment_ref) is not None
    )


def test_a_working_group_deleted_in_the_directory_takes_its_materials_and_their_files(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """rev-last: the directory's delete took a group's memberships only; its materials (listed
    only under their group) and their files, keys and bytes stayed, reachable from no screen.
    Now they go in the same transaction and the files' keys and bytes are erased."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    _admin, alba, _badu = devices
    material, file, data = _material_with_file(space, devices, tmp_path / "in")
    _opens(alba, file.id, data)
    group = material.working_group_id
    MaterialStore.of(alba.profile).delete_with_files(group)  # the directory page's delete
    assert alba.records.get(material.id) is None and alba.records.get(file.id) is None
    assert not _held_anywhere(alba, file)
    _converge(devices, rounds=2)
    for device in devices:
        for record in (group, material.id, file.id):
            assert device.records.get(record) is None, (device.name, record)
        _nothing_unreachable(device)


@pytest.mark.parametrize("deleter_first", [True, False], ids=["deleter-first", "editor-first"])
def test_a_working_group_deleted_while_its_material_is_edited_comes_back_whole(
    server: Server, make_device: Any, tmp_path: Path, deleter_first: bool
) -> None:
    """The cascades nest: the group's deletion took its material and the material's file. An
    edit of the material beats it: the group comes back, the material with the edit, and the
    file under it, and it opens on every device (fetched again where its bytes were erased)."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    _admin, alba, badu = devices
    material, file, data = _material_with_file(space, devices, tmp_path / "in")
    group = material.working_group_id
    MaterialStore.of(alba.profile).delete_with_files(group)
    described = "Para las brigadas y los acompañantes."
    badu.records.save(edit(badu.records.require(material.id), description=described))
    _meet(devices, deleter_first)
    for device in devices:
        assert isinstance(device.records.get(group), WorkingGroup), device.name
        back = device.records.require(material.id)
        assert isinstance(back, Material) and back.description == described, device.name
        assert [f.id for f in MaterialStore.of(device.profile).files(material.id)] == [file.id]
        _opens(device, file.id, data)
        _nothing_unreachable(device)
    assert _notes(alba, group) & _BACK or _notes(alba, material.id) & _BACK


def test_a_material_added_to_a_group_deleted_elsewhere_brings_the_group_back(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_with_files(make_device), 3)
    _admin, alba, badu = devices
    group = devices[0].records.save(WorkingGroup(space_id=space, name="Agua"))
    _converge(devices, rounds=1)
    _directory_delete(alba, group.id)
    added = badu.records.save(
        Material(
            space_id=space,
            working_group_id=group.id,
            title="Mapa de pozos",
            material_type="toolkit",
        )
    )
    alba.sync()
    badu.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        assert isinstance(device.records.get(added.id), Material), device.name
        _nothing_unreachable(device)
    assert _notes(alba, group.id) & _BACK


def test_a_working_group_s_deletion_goes_out_deepest_first_and_together(
    server: Server, make_device: Any
) -> None:
    """Pushed in the order a cut can stop anywhere in: the files' deletions before their
    material's, the materials' before the group's, all next to each other. A cut between then
    leaves deletions under live parents, never live records under a deleted one (rule 1 would
    bring the group back, "restored", though nobody changed anything). The group's id sorts
    first, so ordering each material by its own id put the group's deletion first (rev-last)."""
    space, devices = network_of(server, make_device, 2)
    admin, alba = devices
    group = WorkingGroup(id="0" * 32, space_id=space, name="Agua")
    materials = [
        Material(space_id=space, working_group_id=group.id, title=t, material_type="toolkit")
        for t in ("Mapa de pozos", "Acta")
    ]
    files = [file_without_bytes(m, f"{n}.txt") for n, m in enumerate(materials)]
    other = WorkingGroup(space_id=space, name="Tierra")
    admin.records.save_all([group, other, *materials, *files])
    _converge(devices, rounds=1)
    alba.records.delete(group.id)
    alba.records.save(edit(alba.records.require(other.id), name="Tierra y territorio"))
    order = [change.record for change in alba.state.pending_changes([space], 100)]
    taken = [group.id, *(m.id for m in materials), *(f.id for f in files)]
    assert set(taken) <= set(order)
    place = {record: order.index(record) for record in taken}
    # Together: nothing else between the first and the last of them.
    assert max(place.values()) - min(place.values()) == len(taken) - 1, order
    for material, file in zip(materials, files, strict=True):
        assert place[file.id] < place[material.id] < place[group.id], order


@pytest.mark.parametrize("deleter_first", [True, False], ids=["deleter-first", "editor-first"])
def test_a_material_deleted_alone_by_the_editor_of_its_deleted_group_stays_deleted(
    server: Server, make_device: Any, tmp_path: Path, deleter_first: bool
) -> None:
    """rev-nest: alba deletes the group (its material and file go with it); badu deletes the
    material by itself and renames the group. Deleter first, badu's deletion met alba's
    tombstone and its ``alone`` never went out: the group came back and, on alba, brought
    the material and its file back on every device, though both had deleted them."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    _admin, alba, badu = devices
    material, file, _data = _material_with_file(space, devices, tmp_path / "in")
    group = material.working_group_id
    MaterialStore.of(alba.profile).delete_with_files(group)
    MaterialStore.of(badu.profile).delete_material(material.id)
    badu.records.save(edit(badu.records.require(group), name="Tierra, vivienda y agua"))
    _meet(devices, deleter_first)
    for device in devices:
        assert isinstance(device.records.get(group), WorkingGroup), device.name
        assert device.records.get(material.id) is None, device.name
        assert device.records.get(file.id) is None, device.name
        assert device.records.dirty_count() == 0, device.name
        _nothing_unreachable(device)


def _group_with_organization(
    space: str, devices: list[Device]
) -> tuple[WorkingGroup, Organization, str]:
    group = WorkingGroup(space_id=space, name="Agua")
    org = Organization(space_id=space, name="Colectivo Kallpa")
    membership = Membership(space_id=space, working_group_id=group.id, organization_id=org.id)
    devices[0].records.save_all([group, org, membership])
    _converge(devices, rounds=1)
    return group, org, membership.id


@pytest.mark.parametrize("member", ["person", "organization"])
@pytest.mark.parametrize("deleter_first", [True, False], ids=["deleter-first", "editor-first"])
def test_a_person_deleted_after_their_group_stays_deleted_when_the_group_comes_back(
    server: Server, make_device: Any, deleter_first: bool, member: str
) -> None:
    """Fault run seed 10135. Alba deletes a group (its membership of Rosa goes with it) and
    syncs; then she deletes Rosa, whom she sees in no group now. Badu, who had not synced, edits
    the group. The group comes back with the membership its deletion took, but Rosa's deletion
    is a later decision of its own that nobody edited against: it takes that membership, and
    neither may come back (the order-reversed twin of
    ``test_a_person_deleted_earlier_stays_deleted_when_a_group_of_theirs_comes_back``). The
    same for an organization that was a member. Before (editor first), the membership came back
    with the group unchanged, met Rosa's deletion live, and brought her back on every device."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    if member == "person":
        group, named, membership = _group_with_member(space, devices)
    else:
        group, named, membership = _group_with_organization(space, devices)
    _directory_delete(alba, group.id)  # the membership naming Rosa goes with the group
    alba.sync()
    _directory_delete(alba, named.id)  # nothing of hers is left to take here
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    _meet(devices, deleter_first)
    for device in devices:
        back = device.records.require(group.id)
        assert isinstance(back, WorkingGroup) and back.description == "Cuenca alta"
        assert device.records.get(named.id) is None, device.name
        assert device.records.get(membership) is None, device.name
        assert device.records.dirty_count() == 0, device.name
        _nothing_unreachable(device)
    assert not _notes(alba, named.id), "nothing came back to tell alba of"


def test_a_membership_edited_after_it_came_back_brings_its_deleted_person_back(
    server: Server, make_device: Any
) -> None:
    """The mark of a membership that came back with its group unchanged is no licence: the
    admin, who had seen it come back but not Rosa's later deletion, makes Rosa an editor of the
    group. That is an edit under the deleted person: she comes back with it on every device,
    the edit kept, as any edit beats a deletion."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, person, membership = _group_with_member(space, devices)
    _directory_delete(alba, group.id)
    alba.sync()
    _directory_delete(alba, person.id)
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    badu.sync()  # the group comes back with the membership, unchanged
    admin.sync()
    came_back = admin.records.require(membership)
    assert isinstance(came_back, Membership)
    admin.records.save(edit(came_back, role=MembershipRole.EDITOR))
    alba.sync()  # Rosa's deletion goes; the membership is taken with it here
    assert alba.records.get(membership) is None
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(person.id), Person), device.name
        kept = device.records.get(membership)
        assert isinstance(kept, Membership) and kept.role == MembershipRole.EDITOR, device.name
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        _nothing_unreachable(device)


def test_a_membership_taken_by_a_later_deletion_comes_back_with_its_person(
    server: Server, make_device: Any
) -> None:
    """Rosa's later deletion took the membership that came back with its group; the admin,
    who had seen neither deletion, corrects Rosa's name. The edit beats her deletion, and what
    that deletion took comes back with her: the membership, live under a live group."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, person, membership = _group_with_member(space, devices)
    _directory_delete(alba, group.id)
    alba.sync()
    _directory_delete(alba, person.id)
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    admin.records.save(edit(admin.records.require(person.id), name="Rosa Quispe"))
    badu.sync()
    alba.sync()
    _converge(devices, rounds=3)
    for device in devices:
        back = device.records.get(person.id)
        assert isinstance(back, Person) and back.name == "Rosa Quispe", device.name
        assert isinstance(device.records.get(membership), Membership), device.name
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        assert device.records.dirty_count() == 0, device.name
        _nothing_unreachable(device)


@pytest.mark.parametrize("deleter_first", [True, False], ids=["deleter-first", "editor-first"])
def test_what_a_deletion_took_before_it_was_ever_synced_comes_back_with_its_parent(
    server: Server, make_device: Any, deleter_first: bool
) -> None:
    """Fault seeds 40014 and 40026. Alba adds a member and a material to a group and, before
    any of it syncs, deletes the group (both go with it); badu edits the group meanwhile. The
    group comes back, and with it everything its deletion took: also what had never left
    alba's computer. Before, the store dropped those outright at the deletion, and the group
    came back without them: alba's membership and material were nowhere."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    group, _person, membership = _group_with_member(space, devices)
    joining = Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="Tomás")
    added = Membership(space_id=space, working_group_id=group.id, person_id=joining.id)
    material = Material(
        space_id=space, working_group_id=group.id, title="Mapa de pozos", material_type="toolkit"
    )
    alba.records.save_all([joining, added, material])
    _directory_delete(alba, group.id)
    for record in (added.id, material.id, membership):
        assert alba.records.get(record) is None
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    _meet(devices, deleter_first)
    for device in devices:
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        members = {m.id for m in device.records.children(group.id, "membership")}
        assert members == {membership, added.id}, device.name
        back = device.records.get(material.id)
        assert isinstance(back, Material) and back.title == "Mapa de pozos", device.name
        assert device.records.dirty_count() == 0, device.name
        _nothing_unreachable(device)


def test_what_a_never_synced_record_took_goes_for_good(server: Server, make_device: Any) -> None:
    """A group made and deleted before it ever synced takes what was under it for good:
    nobody else ever had it, so nothing can bring it back, and nothing of it is kept."""
    space, devices = network_of(server, make_device, 2)
    _admin, alba = devices
    group = WorkingGroup(space_id=space, name="Borrador")
    material = Material(
        space_id=space, working_group_id=group.id, title="Notas", material_type="toolkit"
    )
    alba.records.save_all([group, material])
    _directory_delete(alba, group.id)
    with alba.profile.engine.connect() as connection:
        left = connection.execute(
            text("SELECT id FROM records WHERE id IN (:g, :m)"), {"g": group.id, "m": material.id}
        ).all()
        kept = connection.execute(
            text("SELECT id FROM record_bases WHERE id IN (:g, :m)"),
            {"g": group.id, "m": material.id},
        ).all()
    assert left == [] and kept == []
    alba.sync()
    assert alba.records.dirty_count() == 0


def test_a_file_added_and_deleted_before_it_was_ever_sent_comes_back_named_as_gone(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Fault seed 20261125. Alba adds a file to a material and, before it syncs, deletes the
    group: the file's bytes are erased at once, as every deletion erases them. Badu's edit
    brings the group back, and the file's record with it; its bytes are nowhere (they never
    left alba's computer), so it comes back named and marked gone, on every device, and the
    sync settles rather than asking for the bytes again at every round."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    _admin, alba, badu = devices
    material, _file, _data = _material_with_file(space, devices, tmp_path / "in")
    group = material.working_group_id
    (tmp_path / "in" / "acta.txt").write_bytes(b"Acta de la asamblea del 3 de mayo")
    added = MaterialStore.of(alba.profile).import_file(material, tmp_path / "in" / "acta.txt")
    _directory_delete(alba, group)
    badu.records.save(edit(badu.records.require(group), name="Tierra, vivienda y agua"))
    badu.sync()
    alba.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(group), WorkingGroup), device.name
        back = device.records.get(added.id)
        assert isinstance(back, MaterialFile) and back.filename == "acta.txt", device.name
        assert MaterialStore.of(device.profile).gone(back), device.name
        assert device.records.dirty_count() == 0, device.name
        _nothing_unreachable(device)
    assert alba.sync().restored == 0
