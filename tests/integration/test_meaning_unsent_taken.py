"""Issue 14, review (rev2) of what a deletion takes before it was ever synced, under a record
that was (``RecordStore.delete`` keeps it deleted with its last content, nothing to send, so
that rule 2 brings it back with its parent; sync/ENGINE.md "Deletes"). Through the real server
with three devices: what else meets such a row, and whether the return holds when the parent
is deleted and back again, when another parent of the child is deleted elsewhere meanwhile,
and when what came back is evidence whose bytes never left the deleter's computer."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from desktop.domain.network_records import Material, MaterialFile
from desktop.domain.records import (
    Evidence,
    Incident,
    Membership,
    MembershipRole,
    Organization,
    Person,
    PersonKind,
    Source,
    WorkingGroup,
    edit,
)
from desktop.store.evidence import EvidenceStore, gone_records
from desktop.store.materials import MaterialStore
from sync.client.bundles import export_bundle, import_bundle
from sync.client.transport import Offline, TransportError
from tests.helpers.profiles import files_containing
from tests.integration.conftest import Device, Server, network_of
from tests.integration.devices import make_with_files
from tests.integration.test_meaning import _converge, _save_as_newer_minga, _sealed_content
from tests.integration.test_meaning_came_back import _second_push_lost
from tests.integration.test_meaning_cascades import (
    _directory_delete,
    _group_with_member,
    _nothing_unreachable,
)
from tests.integration.test_meaning_deleted_in_flight import CutsFirstPush, _source

SHARED_SERVER = True

CANARY = "Chirripocanary"


def _settled(devices: list[Device]) -> None:
    for device in devices:
        assert device.records.dirty_count() == 0, device.name
        _nothing_unreachable(device)


@pytest.mark.parametrize("person_first", [True, False], ids=["person-first", "group-first"])
def test_a_membership_never_synced_stays_with_its_person_deleted_elsewhere(
    server: Server, make_device: Any, person_first: bool
) -> None:
    """Alba adds Tomás to a group and, before it syncs, deletes the group (the membership is
    kept to come back with it). Badu edits the group; the admin, who never saw the membership,
    deletes Tomás. The group comes back with Badu's edit; Tomás stays deleted on every device
    (nobody changed him), and the membership with him: not live naming a deleted person, and
    not bringing him back."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, _rosa, rosa_member = _group_with_member(space, devices)
    tomas = admin.records.save(Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="Tomás"))
    _converge(devices, rounds=1)
    added = alba.records.save(
        Membership(space_id=space, working_group_id=group.id, person_id=tomas.id)
    )
    _directory_delete(alba, group.id)
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    badu.sync()
    if person_first:
        _directory_delete(admin, tomas.id)
        admin.sync()
        alba.sync()
    else:
        alba.sync()  # the group and the membership back, the membership sent as created
        _directory_delete(admin, tomas.id)  # the admin has not pulled it: deletes Tomás alone
        admin.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        assert device.records.get(tomas.id) is None, device.name
        assert device.records.get(added.id) is None, device.name
        members = {m.id for m in device.records.children(group.id, "membership")}
        assert members == {rosa_member}, device.name
    _settled(devices)


def test_a_child_never_synced_comes_back_each_time_its_parent_does(
    server: Server, make_device: Any
) -> None:
    """The group deleted twice, back twice: the member Alba added and never sent comes back the
    first time (sent as created), goes with the second deletion like any synced member, and
    comes back again with the second return; then, removed by itself, it stays removed when
    the group is deleted and back a third time."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, _rosa, rosa_member = _group_with_member(space, devices)
    tomas = admin.records.save(Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="Tomás"))
    _converge(devices, rounds=1)
    added = alba.records.save(
        Membership(space_id=space, working_group_id=group.id, person_id=tomas.id)
    )
    for round_ in ("Cuenca alta", "Cuenca baja"):
        _directory_delete(alba, group.id)
        badu.records.save(edit(badu.records.require(group.id), description=round_))
        badu.sync()
        alba.sync()
        _converge(devices, rounds=3)
        for device in devices:
            back = device.records.require(group.id)
            assert isinstance(back, WorkingGroup) and back.description == round_, device.name
            members = {m.id for m in device.records.children(group.id, "membership")}
            assert members == {rosa_member, added.id}, device.name
        _settled(devices)
    _directory_delete(badu, added.id)
    badu.sync()
    _converge(devices, rounds=2)
    _directory_delete(alba, group.id)
    admin.records.save(edit(admin.records.require(group.id), description="Cuenca media"))
    admin.sync()
    alba.sync()
    _converge(devices, rounds=3)
    for device in devices:
        members = {m.id for m in device.records.children(group.id, "membership")}
        assert members == {rosa_member}, device.name
    _settled(devices)


def test_evidence_never_sent_comes_back_with_its_incident_named_as_gone(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Alba adds a source and a file as evidence to a synced incident and, before syncing,
    deletes the incident (its screen: the files' keys and bytes erased at once). Badu edits the
    narrative. The incident comes back with Badu's line, the source with it, and the evidence
    named and marked gone (its bytes never left Alba's computer) on every device; the sync
    settles, the canary of the file is on no disk, and no file is asked for at every round."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    admin, alba, badu = devices
    incident = admin.records.save(Incident(space_id=space, title="Desalojo en Barrio Sur"))
    assert isinstance(incident, Incident)
    _converge(devices, rounds=1)
    source = alba.records.save(
        Source(
            space_id=space,
            incident_id=incident.id,
            source_type="direct_testimony",
            reliability="reliable",
            language="es",
            summary="Vecina del 4B",
        )
    )
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "declaracion.txt"
    path.write_bytes(f"Declaracion de la testigo {CANARY}\n".encode() * 2000)
    evidence = EvidenceStore.of(alba.profile).import_file(
        alba.records.require(incident.id),  # type: ignore[arg-type]
        path,
        actor="alba",
    )
    path.unlink()
    EvidenceStore.of(alba.profile).delete_incident(incident.id)
    assert not alba.profile.attachments.path_of(evidence.attachment_ref).exists()
    badu.records.save(
        edit(badu.records.require(incident.id), narrative="Llegaron a las seis de la mañana.")
    )
    badu.sync()
    alba.sync()
    _converge(devices, rounds=3)
    for device in devices:
        back = device.records.get(incident.id)
        assert isinstance(back, Incident), device.name
        assert back.narrative == "Llegaron a las seis de la mañana.", device.name
        assert isinstance(device.records.get(source.id), Source), device.name
        file = device.records.get(evidence.id)
        assert isinstance(file, Evidence) and file.filename == "declaracion.txt", device.name
        assert file.id in gone_records(device.profile.engine), device.name
    _settled(devices)
    assert alba.sync().restored == 0
    folder = alba.profile.folder
    alba.profile.close()
    assert files_containing([folder], CANARY) == []


@pytest.mark.parametrize("choice", ["mine", "theirs"])
def test_a_conflict_on_a_child_that_came_back_resolved_late_leaves_no_orphan(
    server: Server, make_device: Any, choice: str
) -> None:
    """The rev-back case of a membership come back (marked) over the admin's undecided edit,
    with Rosa deleted meanwhile: the admin's open conflict is an edit, so Rosa comes back. Days
    later the admin decides, either way: the choice lands on the live membership on every
    device, Rosa stays, nothing is left under a deleted record, and nothing keeps asking."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, person, membership = _group_with_member(space, devices)
    mine = admin.records.require(membership)
    assert isinstance(mine, Membership)
    admin.records.save(edit(mine, role=MembershipRole.ADMIN))
    theirs = badu.records.require(membership)
    assert isinstance(theirs, Membership)
    badu.records.save(edit(theirs, role=MembershipRole.EDITOR))
    badu.sync()
    alba.sync()
    _directory_delete(alba, group.id)
    alba.sync()
    _directory_delete(alba, person.id)
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    badu.sync()
    alba.sync()
    admin.sync()
    _converge(devices, rounds=3)
    [conflict] = [
        c for c in admin.state.conflicts() if c.record == membership and c.field == "role"
    ]
    value = conflict.mine if choice == "mine" else conflict.theirs
    admin.state.resolve_conflict(conflict.id, value)
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(person.id), Person), device.name
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        held = device.records.get(membership)
        assert isinstance(held, Membership), device.name
        assert held.role.value == str(value), device.name
        assert not [c for c in device.state.conflicts() if c.field == "role"], device.name
    _settled(devices)
    for device in devices:
        assert device.sync().restored == 0, device.name


def test_a_child_never_synced_back_and_unsent_when_its_person_goes_is_taken_quietly(
    server: Server, make_device: Any
) -> None:
    """Alba's member, never sent, comes back with the group (Badu's edit beat alba's deletion),
    but the push that would create it is cut. Before alba syncs again, the admin deletes Tomás.
    Alba then meets his deletion with the membership live, come back unchanged and still
    unknown to the server: rule 3 takes it. Nobody else ever had it, so its deletion has
    nothing to tell anyone: nothing waits to be sent for it, no device is asked or told
    anything about it, Tomás stays deleted and the group stays back, on every device."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, _rosa, rosa_member = _group_with_member(space, devices)
    tomas = admin.records.save(Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="Tomás"))
    _converge(devices, rounds=1)
    added = alba.records.save(
        Membership(space_id=space, working_group_id=group.id, person_id=tomas.id)
    )
    _directory_delete(alba, group.id)
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    badu.sync()
    _second_push_lost(alba)
    with contextlib.suppress(TransportError):
        alba.engine.sync_once(discover=True)
    assert isinstance(alba.records.get(added.id), Membership)  # back here, not sent
    _directory_delete(admin, tomas.id)
    admin.sync()
    alba.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        assert device.records.get(tomas.id) is None, device.name
        assert device.records.get(added.id) is None, device.name
        members = {m.id for m in device.records.children(group.id, "membership")}
        assert members == {rosa_member}, device.name
        assert not [c for c in device.state.conflicts() if c.record == added.id], device.name
    _settled(devices)


@pytest.mark.parametrize("third", ["edits", "deletes"])
def test_a_membership_brought_back_from_two_versions_then_rosa_deleted(
    server: Server, make_device: Any, third: str
) -> None:
    """Badu makes Rosa an editor and syncs; the admin, offline since before, still holds her
    as a reader. Alba deletes the group; the admin and badu both bring it back (each edits it),
    the membership as each last had it, the admin's push cut so badu's goes first. Then alba
    deletes Rosa, while badu makes her an administrator of the group (an edit under her:
    she comes back with it) or changes nothing (the membership goes with her, and Rosa stays
    deleted, on every device)."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, person, membership = _group_with_member(space, devices)
    theirs = badu.records.require(membership)
    assert isinstance(theirs, Membership)
    badu.records.save(edit(theirs, role=MembershipRole.EDITOR))
    badu.sync()
    alba.sync()
    _directory_delete(alba, group.id)
    alba.sync()
    admin.records.save(edit(admin.records.require(group.id), name="Agua y tierra"))
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    _second_push_lost(admin)
    with contextlib.suppress(TransportError):
        admin.engine.sync_once(discover=True)
    badu.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(membership), Membership), device.name
        for conflict in device.state.conflicts():
            if conflict.field == "role":
                device.state.resolve_conflict(conflict.id, conflict.theirs)
    _converge(devices, rounds=2)
    if third == "edits":
        held = badu.records.require(membership)
        assert isinstance(held, Membership)
        badu.records.save(edit(held, role=MembershipRole.ADMIN))
    _directory_delete(alba, person.id)
    alba.sync()
    badu.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        if third == "edits":
            assert isinstance(device.records.get(person.id), Person), device.name
            held = device.records.get(membership)
            assert isinstance(held, Membership), device.name
            assert held.role == MembershipRole.ADMIN, device.name
        else:
            assert device.records.get(person.id) is None, device.name
            assert device.records.get(membership) is None, device.name
    _settled(devices)


@pytest.mark.parametrize("applied", [False, True], ids=["cut-before-server", "answer-lost"])
def test_a_source_in_flight_when_its_incident_was_deleted_comes_back_with_it(
    server: Server, make_device: Any, applied: bool
) -> None:
    """The admin adds a source; the sync carrying it is cut (before the server, or after it
    with the answer lost: the source still at revision 0 here). The admin then deletes the
    incident, which takes the source, while badu, who never saw the source, adds a line to the
    narrative and syncs first. Badu's edit beats the deletion: the incident comes back with
    the source on every device, once, and everything settles."""
    space, devices = network_of(server, make_device, 3)
    admin, _alba, badu = devices
    incident = Incident(space_id=space, title="Desalojo en Barrio Sur", place="Barrio Sur")
    admin.records.save(incident)
    _converge(devices, rounds=1)
    source = _source(space, incident.id, "Testimonio de su hermano")
    admin.records.save(source)
    url = admin.engine.transport.base_url
    admin.engine.transport = CutsFirstPush(url, admin.engine.transport.observer, applied=applied)
    with pytest.raises(Offline):
        admin.engine.sync_once()
    admin.records.delete(incident.id)
    badu.records.save(edit(badu.records.require(incident.id), narrative="A las seis."))
    badu.sync()
    admin.sync()
    _converge(devices, rounds=3)
    for device in devices:
        back = device.records.get(incident.id)
        assert isinstance(back, Incident) and back.narrative == "A las seis.", device.name
        kept = device.records.get(source.id)
        assert isinstance(kept, Source), device.name
        assert kept.summary == "Testimonio de su hermano", device.name
        assert not [c for c in device.state.conflicts() if c.field is not None], device.name
    _settled(devices)
    for device in devices:
        assert device.sync().restored == 0, device.name


def test_a_child_never_synced_travels_by_bundle_only_once_it_is_back(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Alba adds Tomás to the group and, before any sync, deletes the group; badu, offline,
    edits it. Alba's bundle carries the group's deletion and nothing of the membership kept to
    come back (nobody else ever had it: not even its id reaches badu). Badu's bundle back
    carries the edit: the group comes back at alba's with the membership, which then reaches
    everyone, once, and everything settles."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, _rosa, rosa_member = _group_with_member(space, devices)
    tomas = admin.records.save(Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="Tomás"))
    _converge(devices, rounds=1)
    added = alba.records.save(
        Membership(space_id=space, working_group_id=group.id, person_id=tomas.id)
    )
    _directory_delete(alba, group.id)
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    export_bundle(alba.engine, tmp_path / "alba.mbundle")
    import_bundle(badu.engine, tmp_path / "alba.mbundle")
    with badu.profile.engine.connect() as connection:
        seen = connection.scalar(
            text("SELECT count(*) FROM records WHERE id = :i"), {"i": added.id}
        )
    assert seen == 0, "a record nobody else ever had reached badu by alba's bundle"
    assert isinstance(badu.records.get(group.id), WorkingGroup)
    export_bundle(badu.engine, tmp_path / "badu.mbundle")
    import_bundle(alba.engine, tmp_path / "badu.mbundle")
    assert isinstance(alba.records.get(group.id), WorkingGroup)
    assert isinstance(alba.records.get(added.id), Membership)
    _converge(devices, rounds=3)
    for device in devices:
        back = device.records.get(group.id)
        assert isinstance(back, WorkingGroup) and back.description == "Cuenca alta", device.name
        members = {m.id for m in device.records.children(group.id, "membership")}
        assert members == {rosa_member, added.id}, device.name
    _settled(devices)
    for device in devices:
        assert device.sync().restored == 0, device.name


def test_a_source_whose_answer_was_lost_edited_elsewhere_brings_its_incident_back(
    server: Server, make_device: Any
) -> None:
    """The admin adds a source; the server takes it but the answer is lost (revision 0 here).
    Badu pulls it and corrects it. The admin, not having synced since, deletes the incident:
    the source goes with it, kept to come back. Badu's correction beats that deletion: the
    incident comes back with the source as badu corrected it, on every device."""
    space, devices = network_of(server, make_device, 3)
    admin, _alba, badu = devices
    incident = Incident(space_id=space, title="Desalojo en Barrio Sur", place="Barrio Sur")
    admin.records.save(incident)
    _converge(devices, rounds=1)
    source = _source(space, incident.id, "Testimonio de su hermano")
    admin.records.save(source)
    url = admin.engine.transport.base_url
    admin.engine.transport = CutsFirstPush(url, admin.engine.transport.observer, applied=True)
    with pytest.raises(Offline):
        admin.engine.sync_once()
    badu.sync()
    pulled = badu.records.require(source.id)
    badu.records.save(edit(pulled, summary="Testimonio de su hermano, de 17 años"))
    badu.sync()
    admin.records.delete(incident.id)
    admin.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(incident.id), Incident), device.name
        kept = device.records.get(source.id)
        assert isinstance(kept, Source), device.name
        assert kept.summary == "Testimonio de su hermano, de 17 años", device.name
    _settled(devices)
    for device in devices:
        assert device.sync().restored == 0, device.name


def test_a_material_and_its_file_never_synced_come_back_with_their_group(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Two levels never synced: Alba writes a material in a synced group, adds a file to it,
    and deletes the group before any sync; badu edits the group. The group comes back with the
    material and, a level down, its file, named and marked gone (its bytes never left alba's
    computer and were erased at the deletion), on every device; everything settles."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    admin, alba, badu = devices
    group = admin.records.save(WorkingGroup(space_id=space, name="Agua"))
    _converge(devices, rounds=1)
    material = alba.records.save(
        Material(space_id=space, working_group_id=group.id, title="Mapa", material_type="toolkit")
    )
    assert isinstance(material, Material)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "pozos.txt").write_bytes(f"Pozos {CANARY}".encode() * 500)
    file = MaterialStore.of(alba.profile).import_file(material, tmp_path / "in" / "pozos.txt")
    _directory_delete(alba, group.id)
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    badu.sync()
    alba.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        assert isinstance(device.records.get(material.id), Material), device.name
        back = device.records.get(file.id)
        assert isinstance(back, MaterialFile) and back.filename == "pozos.txt", device.name
        assert MaterialStore.of(device.profile).gone(back), device.name
    _settled(devices)
    for device in devices:
        assert device.sync().restored == 0, device.name
    folder = alba.profile.folder
    alba.profile.close()
    assert files_containing([folder], CANARY) == []


@pytest.mark.parametrize("deleter_first", [True, False], ids=["deleter-first", "editor-first"])
def test_a_membership_of_a_newer_format_taken_by_rule_3_keeps_rosa_deleted(
    server: Server, make_device: Any, deleter_first: bool
) -> None:
    """Fault seed 10135's case with the membership last saved by a newer Minga (a field this
    version does not know, schema 2): alba deletes the group, syncs, deletes Rosa; badu edits
    the group and brings it back with the membership as the newer Minga left it, marked come
    back unchanged. The mark vouches for the newer fields too: Rosa's deletion takes the
    membership, nobody is brought back, and the newer field is carried by nothing live."""
    space, devices = network_of(server, make_device, 3)
    newer, alba, badu = devices
    group, person, membership = _group_with_member(space, devices)
    content = {**_sealed_content(newer, membership), "schema": 2, "since": "2026-03"}
    _save_as_newer_minga(newer, content)
    newer.sync()
    _converge(devices, rounds=1)
    assert _sealed_content(badu, membership).get("since") == "2026-03"
    _directory_delete(alba, group.id)
    alba.sync()
    _directory_delete(alba, person.id)
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    for device in (alba, badu) if deleter_first else (badu, alba):
        device.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        assert device.records.get(person.id) is None, device.name
        assert device.records.get(membership) is None, device.name
    _settled(devices)


@pytest.mark.parametrize("member", ["person", "organization"])
@pytest.mark.parametrize("deleter_first", [True, False], ids=["deleter-first", "editor-first"])
def test_a_kept_membership_whose_new_group_went_for_good_stays_gone_when_rosa_comes_back(
    server: Server, make_device: Any, deleter_first: bool, member: str
) -> None:
    """Alba makes a new group and adds Rosa (synced) to it; before any sync she deletes Rosa
    (the membership, never synced, is kept to come back with her), then the group, never synced:
    it simply goes. Badu, who had not seen Rosa's deletion, corrects her name: Rosa comes back,
    and the membership must not, for its group is nowhere (alba deleted it, nobody else ever
    had it): no membership anywhere naming a group that exists on no device."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    rosa = admin.records.save(
        Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="Rosa")
        if member == "person"
        else Organization(space_id=space, name="Rosa")
    )
    _converge(devices, rounds=1)
    group = WorkingGroup(space_id=space, name="Borrador")
    link = {"person_id": rosa.id} if member == "person" else {"organization_id": rosa.id}
    membership = Membership(space_id=space, working_group_id=group.id, **link)
    alba.records.save_all([group, membership])
    _directory_delete(alba, rosa.id)
    _directory_delete(alba, group.id)
    badu.records.save(edit(badu.records.require(rosa.id), name="Rosa Quispe"))
    for device in (alba, badu) if deleter_first else (badu, alba):
        device.sync()
    _converge(devices, rounds=3)
    for device in devices:
        back = device.records.get(rosa.id)
        assert isinstance(back, Person | Organization), device.name
        assert back.name == "Rosa Quispe", device.name
        assert device.records.get(group.id) is None, device.name
        assert device.records.get(membership.id) is None, device.name
        with device.profile.engine.connect() as connection:
            live = connection.execute(
                text(
                    "SELECT r.id FROM records r JOIN record_contents c ON c.id = r.id "
                    "WHERE r.deleted = 0 AND r.record_type = 'membership' AND NOT EXISTS "
                    "(SELECT 1 FROM records g WHERE g.id = "
                    "json_extract(c.content, '$.working_group_id') AND g.deleted = 0)"
                )
            ).all()
        assert live == [], f"{device.name}: a membership of a group that exists nowhere"
    _settled(devices)
