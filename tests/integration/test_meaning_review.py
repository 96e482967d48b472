"""Issue 14 reviewed the way the field meets it: late deletes, late resolutions, three devices
through the real server (r14). Each test is a case that lost or hid a value before its fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from desktop.domain.records import Incident, edit
from sync.client.merge import MergeFlag
from tests.integration.conftest import Device, Server, network_of, organization
from tests.integration.test_courier import _carry, _device_id, _offline
from tests.integration.test_meaning import (
    _all_there,
    _converge,
    _incident_with_children,
    _no_orphans,
    _notes,
)

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True


def _field_conflicts(device: Device, record: str) -> list[Any]:
    return [c for c in device.state.conflicts() if c.record == record and c.field is not None]


def _conflict_then_deletion(
    devices: list[Device], *, edited: str, deleted: str, **mine_and_theirs: tuple[str, str]
) -> None:
    """The admin and alba set a field of ``edited`` apart (to mine and theirs); the admin syncs
    second and holds the conflict unsettled. Then badu, who has only alba's value, deletes
    ``deleted``, and badu and the admin sync."""
    admin, alba, badu = devices
    ((field, (mine, theirs)),) = mine_and_theirs.items()
    admin.records.save(edit(admin.records.require(edited), **{field: mine}))
    alba.records.save(edit(alba.records.require(edited), **{field: theirs}))
    alba.sync()
    assert admin.sync().conflicts == 1
    badu.sync()
    badu.records.delete(deleted)
    badu.sync()
    admin.sync()


def test_a_deletion_meeting_an_unsettled_conflict_keeps_the_record_and_the_choice(
    server: Server, make_device: Any
) -> None:
    """The admin holds a conflict on a name (mine not yet chosen); badu, who saw only alba's
    name, deletes the organization. The admin's name is an edit nobody else saw: like any edit
    it beats the deletion, and choosing it later must reach every device, not vanish."""
    space, devices = network_of(server, make_device, 3)
    admin, _alba, badu = devices
    org = organization(space, "Casa Abierta")
    admin.records.save(org)
    _converge(devices, rounds=1)
    _conflict_then_deletion(
        devices, edited=org.id, name=("Casa Abierta Norte", "Casa Abierta del Sur"), deleted=org.id
    )
    _converge(devices)
    [conflict] = _field_conflicts(admin, org.id)
    assert conflict.mine == "Casa Abierta Norte"
    for device in devices:
        assert device.records.get(org.id) is not None, device.name
    assert _notes(badu, org.id) & {MergeFlag.RESTORED.value, MergeFlag.EDITED_ELSEWHERE.value}
    assert admin.state.resolve_conflict(conflict.id, conflict.mine) == "settled"
    _converge(devices)
    assert {d.records.require(org.id).name for d in devices} == {"Casa Abierta Norte"}


def test_a_record_deleted_by_the_person_holding_its_conflict_offers_no_choice_it_drops(
    server: Server, make_device: Any
) -> None:
    """The admin holds a conflict on a name (mine not yet chosen) and deletes the organization
    herself: her deletion is her decision on the whole record. Before, the conflict stayed
    listed on the deleted record, and picking her own name there answered "settled" while the
    name went nowhere (found by test_meaning_property: a value picked, then on no replica)."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, _badu = devices
    org = organization(space, "Casa Abierta")
    admin.records.save(org)
    _converge(devices, rounds=1)
    admin.records.save(edit(admin.records.require(org.id), name="Casa Abierta Norte"))
    alba.records.save(edit(alba.records.require(org.id), name="Casa Abierta del Sur"))
    alba.sync()
    assert admin.sync().conflicts == 1
    admin.records.delete(org.id)
    # Nothing is offered that could not land: a choice on a deleted record has nowhere to go.
    assert _field_conflicts(admin, org.id) == []
    _converge(devices)
    for device in devices:
        assert device.records.get(org.id) is None, device.name
        assert _field_conflicts(device, org.id) == [], device.name


def test_an_incident_deleted_over_an_unsettled_conflict_comes_back_with_what_it_took(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    admin, _alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    _conflict_then_deletion(
        devices,
        edited=incident.id,
        title=("Eviction, 12 families", "Eviction, 14 families"),
        deleted=incident.id,
    )
    _converge(devices, rounds=3)
    _all_there(devices, incident.id, children)
    [conflict] = _field_conflicts(admin, incident.id)
    assert conflict.mine == "Eviction, 12 families"
    assert _notes(badu, incident.id) & {MergeFlag.RESTORED.value, MergeFlag.EDITED_ELSEWHERE.value}
    for device in devices:
        _no_orphans(device)


def test_an_unsettled_conflict_on_an_act_keeps_its_deleted_incident_reachable(
    server: Server, make_device: Any
) -> None:
    """One level down: the admin holds a conflict on an act's notes when badu deletes the
    incident. The act stays (its unchosen value is an edit), so the incident and everything
    under it come back; no act is left that no screen reaches."""
    space, devices = network_of(server, make_device, 3)
    admin, _alba, _badu = devices
    incident, children = _incident_with_children(space, devices)
    act = children[0]
    _conflict_then_deletion(
        devices,
        edited=act,
        notes=("Threatened by phone.", "Threatened in person."),
        deleted=incident.id,
    )
    _converge(devices, rounds=3)
    _all_there(devices, incident.id, children)
    [conflict] = _field_conflicts(admin, act)
    assert admin.state.resolve_conflict(conflict.id, conflict.mine) == "settled"
    _converge(devices)
    assert {d.records.require(act).notes for d in devices} == {"Threatened by phone."}  # type: ignore[attr-defined]
    for device in devices:
        _no_orphans(device)


def test_a_deletion_carried_by_a_courier_keeps_the_couriers_unsettled_value(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """The same rule through bundles: the courier holds a conflict (its name lost the race to
    the admin's); the offline device, which has the admin's name, deletes the organization and
    its bundle reaches the courier. The courier's name is not thrown away with the record."""
    space, (admin, courier, offline) = network_of(server, make_device, 3)
    for device in (admin, courier, offline):
        device.sync()
    _offline(offline)
    offline_id = _device_id(offline)
    org = organization(space, "Casa Abierta")
    admin.records.save(org)
    admin.sync()
    courier.sync()
    _carry(offline, courier, tmp_path / "o0.mbundle")
    _carry(courier, offline, tmp_path / "c0.mbundle", courier_for=offline_id)
    admin.records.save(edit(admin.records.require(org.id), name="Casa Abierta Norte"))
    courier.records.save(edit(courier.records.require(org.id), name="Casa Abierta del Sur"))
    admin.sync()
    courier.sync()
    [conflict] = _field_conflicts(courier, org.id)
    _carry(courier, offline, tmp_path / "c1.mbundle", courier_for=offline_id)
    offline.records.delete(org.id)
    _carry(offline, courier, tmp_path / "o1.mbundle")

    def travel(rounds: int) -> None:
        for number in range(rounds):
            courier.sync()
            admin.sync()
            _carry(courier, offline, tmp_path / f"c{number + 2}.mbundle", courier_for=offline_id)
            _carry(offline, courier, tmp_path / f"o{number + 2}.mbundle")

    travel(3)
    for device in (admin, courier, offline):
        assert device.records.get(org.id) is not None, device.name
    assert _notes(offline, org.id) & {MergeFlag.RESTORED.value, MergeFlag.EDITED_ELSEWHERE.value}
    assert courier.state.resolve_conflict(conflict.id, conflict.mine) == "settled"
    travel(2)
    assert {d.records.require(org.id).name for d in (admin, courier, offline)} == {  # type: ignore[attr-defined]
        "Casa Abierta del Sur"
    }


def test_two_holders_settling_one_question_apart_are_not_overridden_unseen(
    server: Server, make_device: Any
) -> None:
    """The admin and alba each hold a conflict on a name whose theirs is badu's. The admin keeps
    her own; alba, later, keeps badu's (what the record already holds). Alba's decision must not
    vanish unseen: badu's name stays somewhere she or anyone can see it, or alba is asked."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    org = organization(space, "Casa Abierta")
    admin.records.save(org)
    _converge(devices, rounds=1)
    for device, name in ((admin, "Casa Norte"), (alba, "Casa Sur"), (badu, "Casa Centro")):
        device.records.save(edit(device.records.require(org.id), name=name))
    badu.sync()
    assert admin.sync().conflicts == 1
    assert alba.sync().conflicts == 1
    [mine] = _field_conflicts(admin, org.id)
    admin.state.resolve_conflict(mine.id, "Casa Norte")
    [theirs] = _field_conflicts(alba, org.id)
    assert theirs.theirs == "Casa Centro"
    alba.state.resolve_conflict(theirs.id, "Casa Centro")
    admin.sync()
    alba.sync()
    _converge(devices)
    kept = {d.records.require(org.id).name for d in devices}
    for device in devices:
        for conflict in _field_conflicts(device, org.id):
            kept |= {conflict.mine, conflict.theirs, *(o.value for o in conflict.others)}
    assert "Casa Centro" in kept
    # Alba is asked: her choice against the admin's, which every device holds meanwhile.
    [again] = _field_conflicts(alba, org.id)
    assert (again.mine, again.theirs) == ("Casa Centro", "Casa Norte")
    assert {d.records.require(org.id).name for d in devices} == {"Casa Norte"}  # type: ignore[attr-defined]
    assert _field_conflicts(admin, org.id) == _field_conflicts(badu, org.id) == []
    assert alba.state.resolve_conflict(again.id, again.mine) == "settled"
    _converge(devices)
    assert {d.records.require(org.id).name for d in devices} == {"Casa Centro"}  # type: ignore[attr-defined]
    for device in devices:
        assert _field_conflicts(device, org.id) == [], device.name


def test_a_choice_of_theirs_made_after_the_other_choice_arrived_is_asked_not_merged_away(
    server: Server, make_device: Any
) -> None:
    """As above, but alba syncs before deciding: the admin's name is in her record, and she
    picks badu's in the dialog, which shows it as the current value. Before, her pick was
    "merged" with the current value (it was the value the conflict arose against, so it counted
    as no change) and the admin's name stayed: alba's answer went nowhere."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    org = organization(space, "Casa Abierta")
    admin.records.save(org)
    _converge(devices, rounds=1)
    for device, name in ((admin, "Casa Norte"), (alba, "Casa Sur"), (badu, "Casa Centro")):
        device.records.save(edit(device.records.require(org.id), name=name))
    badu.sync()
    assert admin.sync().conflicts == 1
    assert alba.sync().conflicts == 1
    [mine] = _field_conflicts(admin, org.id)
    admin.state.resolve_conflict(mine.id, "Casa Norte")
    admin.sync()
    alba.sync()
    [theirs] = _field_conflicts(alba, org.id)
    assert theirs.moved_since and theirs.current == "Casa Norte"
    assert alba.state.resolve_conflict(theirs.id, "Casa Centro") == "moved"
    [again] = _field_conflicts(alba, org.id)
    assert (again.mine, again.theirs) == ("Casa Centro", "Casa Norte")
    _converge(devices)
    assert {d.records.require(org.id).name for d in devices} == {"Casa Norte"}  # type: ignore[attr-defined]
    assert [c.mine for c in _field_conflicts(alba, org.id)] == ["Casa Centro"]


def test_a_kept_narrative_does_not_bring_back_a_line_its_writer_removed_before_it_was_sent(
    server: Server, make_device: Any
) -> None:
    """Alba keeps badu's narrative (a choice of the value held); before it is sent, badu
    removes a line he had added (a witness's address, for her safety). Before, alba's sync
    merged her kept copy with badu's new text against the conflict's base, where the address
    never was, so the removal read as "not changed there" and the address came back on every
    device, no one asked (rev-14). Now alba is asked: her kept text against badu's."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    question = "One.\nTwo.\nThree.\nFour.\n"
    held = "One.\nShe lives at 4 Calle Luna.\nTwo.\nThree.\nFour, in the rain.\n"
    incident = edit(Incident(space_id=space, title="Eviction at Barrio Sur"), narrative=question)
    admin.records.save(incident)
    _converge(devices, rounds=1)
    badu.records.save(edit(badu.records.require(incident.id), narrative=held))
    alba.records.save(
        edit(alba.records.require(incident.id), narrative="One.\nTwo.\nThree.\nFour, at night.\n")
    )
    badu.sync()
    assert alba.sync().conflicts == 1
    [conflict] = _field_conflicts(alba, incident.id)
    assert conflict.theirs == held
    assert alba.state.resolve_conflict(conflict.id, conflict.theirs) == "settled"
    # Badu removes the address for her safety before alba's choice is sent.
    badu.records.save(
        edit(
            badu.records.require(incident.id), narrative="One.\nTwo.\nThree.\nFour, in the rain.\n"
        )
    )
    badu.sync()
    alba.sync()
    _converge(devices)
    met = "One.\nTwo.\nThree.\nFour, in the rain.\n"
    [again] = _field_conflicts(alba, incident.id)
    assert (again.mine, again.theirs) == (held, met)
    narratives = {d.records.require(incident.id).narrative for d in devices}  # type: ignore[attr-defined]
    assert narratives == {met}


def test_a_choice_made_offline_and_carried_by_a_courier_meets_the_other_choice(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Alba keeps badu's name while offline, after the admin kept her own and sent it. Alba's
    choice travels by badu's bundles only; the admin's revision reaches her the same way. Her
    decision must not vanish: she is asked (mine badu's, theirs the admin's) or it stands."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    org = organization(space, "Casa Abierta")
    admin.records.save(org)
    _converge(devices, rounds=1)
    for device, name in ((admin, "Casa Norte"), (alba, "Casa Sur"), (badu, "Casa Centro")):
        device.records.save(edit(device.records.require(org.id), name=name))
    badu.sync()
    assert admin.sync().conflicts == 1
    assert alba.sync().conflicts == 1
    _offline(alba)
    alba_id = _device_id(alba)
    [mine] = _field_conflicts(admin, org.id)
    admin.state.resolve_conflict(mine.id, "Casa Norte")
    admin.sync()
    [theirs] = _field_conflicts(alba, org.id)
    assert alba.state.resolve_conflict(theirs.id, "Casa Centro") == "settled"
    for number in range(3):
        _carry(alba, badu, tmp_path / f"a{number}.mbundle")
        badu.sync()
        admin.sync()
        _carry(badu, alba, tmp_path / f"b{number}.mbundle", courier_for=alba_id)
    kept = {d.records.require(org.id).name for d in devices}  # type: ignore[attr-defined]
    asked = [(c.mine, c.theirs) for c in _field_conflicts(alba, org.id)]
    assert "Casa Centro" in kept or ("Casa Centro", "Casa Norte") in asked, (kept, asked)


def test_a_choice_outlives_its_record_moving_on_before_it_is_sent(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Alba keeps badu's name while offline (and edits the description); badu's bundle then
    brings her a revision where only the acronym changed: her record moves on to it, her choice
    still unsent. The admin's own name, chosen against badu's, arrives after that. Before, the
    choice was dropped with the revision it was made at, the kept name was "unchanged here"
    against the new base and the admin's passed it by: alba's decision gone unseen (rev-14)."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    org = organization(space, "Casa Abierta")
    admin.records.save(org)
    _converge(devices, rounds=1)
    for device, name in ((admin, "Casa Norte"), (alba, "Casa Sur"), (badu, "Casa Centro")):
        device.records.save(edit(device.records.require(org.id), name=name))
    badu.sync()
    assert admin.sync().conflicts == 1
    assert alba.sync().conflicts == 1
    _offline(alba)
    alba_id = _device_id(alba)
    _carry(alba, badu, tmp_path / "a0.mbundle")  # badu becomes her courier
    [theirs] = _field_conflicts(alba, org.id)
    assert alba.state.resolve_conflict(theirs.id, "Casa Centro") == "settled"
    # Something else of hers waits to go out too, so the record stays unsent after it moves.
    alba.records.save(edit(alba.records.require(org.id), description="Shelter, 20 beds."))
    badu.records.save(edit(badu.records.require(org.id), acronym="CA"))
    badu.sync()
    _carry(badu, alba, tmp_path / "b0.mbundle", courier_for=alba_id)
    assert alba.records.require(org.id).acronym == "CA"  # type: ignore[attr-defined]
    [mine] = _field_conflicts(admin, org.id)
    admin.state.resolve_conflict(mine.id, "Casa Norte")
    admin.sync()
    badu.sync()
    _carry(badu, alba, tmp_path / "b1.mbundle", courier_for=alba_id)
    kept = {d.records.require(org.id).name for d in devices}  # type: ignore[attr-defined]
    asked = [(c.mine, c.theirs) for c in _field_conflicts(alba, org.id)]
    assert (kept, asked) == ({"Casa Norte"}, [("Casa Centro", "Casa Norte")])
    assert alba.records.require(org.id).description == "Shelter, 20 beds."  # type: ignore[attr-defined]


def test_an_incident_deleted_by_bundle_under_an_act_edited_online_comes_back_everywhere(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """The offline device deletes an incident; the admin, online, adds a line to its act. The
    deletion travels by courier (rev14). Bundle import did not judge what belongs together as a
    sync does: the act stayed live under the deleted incident on the courier and the offline
    device (reachable from no screen), and the offline device sent its deletion again on every
    trip, so the incident went and came back on the server without end."""
    space, devices = network_of(server, make_device, 3)
    admin, courier, offline = devices
    incident, children = _incident_with_children(space, devices)
    _offline(offline)
    offline_id = _device_id(offline)
    offline.records.delete(incident.id)
    admin.records.save(edit(admin.records.require(children[0]), notes="Threatened again."))
    admin.sync()
    _carry(offline, courier, tmp_path / "o1.mbundle")
    _no_orphans(courier)
    for number in range(2):
        courier.sync()
        admin.sync()
        _carry(courier, offline, tmp_path / f"c{number}.mbundle", courier_for=offline_id)
        _no_orphans(offline)
        _carry(offline, courier, tmp_path / f"o{number + 2}.mbundle")
    courier.sync()
    admin.sync()
    for device in devices:
        assert device.records.get(incident.id) is not None, device.name
        for child in children:
            assert device.records.get(child) is not None, (device.name, child)
        assert device.records.dirty_count() == 0, device.name
        _no_orphans(device)
    assert admin.snapshot() == courier.snapshot() == offline.snapshot()
    # The deleting side is told its deletion was undone, with what it took.
    assert _notes(offline, incident.id) & {
        MergeFlag.RESTORED.value,
        MergeFlag.EDITED_ELSEWHERE.value,
    }


def test_a_child_deleted_alone_and_brought_back_by_an_edit_goes_and_comes_with_its_incident(
    server: Server, make_device: Any
) -> None:
    """Alba deletes an act alone, badu's edit of it beats that deletion: it lives again, and is
    no longer a decision of its own. Alba then deletes the incident (taking the act with it) and
    the admin's edit of the narrative beats that: the act comes back with the incident."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    act = children[0]
    alba.records.delete(act)
    badu.records.save(edit(badu.records.require(act), notes="Seen by two neighbours."))
    badu.sync()
    alba.sync()
    _converge(devices, rounds=2)
    assert all(device.records.get(act) is not None for device in devices)
    alba.records.delete(incident.id)
    admin.records.save(edit(admin.records.require(incident.id), narrative="Later.\n"))
    admin.sync()
    alba.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert device.records.get(incident.id) is not None, device.name
        assert device.records.get(act) is not None, device.name
