"""Issue 14 reviewed the way the field meets it: late deletes, late resolutions, three devices
through the real server (r14). Each test is a case that lost or hid a value before its fix."""

from __future__ import annotations

from typing import Any

from desktop.domain.records import edit
from sync.client.merge import MergeFlag
from tests.integration.conftest import Device, Server, network_of, organization
from tests.integration.test_meaning import (
    _all_there,
    _converge,
    _incident_with_children,
    _no_orphans,
    _notes,
)


def _field_conflicts(device: Device, record: str) -> list[Any]:
    return [c for c in device.state.conflicts() if c.record == record and c.field is not None]


def test_a_deletion_meeting_an_unsettled_conflict_keeps_the_record_and_the_choice(
    server: Server, make_device: Any
) -> None:
    """The admin holds a conflict on a name (mine not yet chosen); badu, who saw only alba's
    name, deletes the organization. The admin's name is an edit nobody else saw: like any edit
    it beats the deletion, and choosing it later must reach every device, not vanish."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    org = organization(space, "Casa Abierta")
    admin.records.save(org)
    _converge(devices, rounds=1)
    admin.records.save(edit(admin.records.require(org.id), name="Casa Abierta Norte"))
    alba.records.save(edit(alba.records.require(org.id), name="Casa Abierta del Sur"))
    alba.sync()
    assert admin.sync().conflicts == 1
    badu.sync()
    badu.records.delete(org.id)
    badu.sync()
    admin.sync()
    _converge(devices)
    [conflict] = _field_conflicts(admin, org.id)
    assert conflict.mine == "Casa Abierta Norte"
    for device in devices:
        assert device.records.get(org.id) is not None, device.name
    assert _notes(badu, org.id) & {MergeFlag.RESTORED.value, MergeFlag.EDITED_ELSEWHERE.value}
    assert admin.state.resolve_conflict(conflict.id, conflict.mine) == "settled"
    _converge(devices)
    assert {d.records.require(org.id).name for d in devices} == {"Casa Abierta Norte"}


def test_an_incident_deleted_over_an_unsettled_conflict_comes_back_with_what_it_took(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    admin.records.save(edit(admin.records.require(incident.id), title="Eviction, 12 families"))
    alba.records.save(edit(alba.records.require(incident.id), title="Eviction, 14 families"))
    alba.sync()
    assert admin.sync().conflicts == 1
    badu.sync()
    badu.records.delete(incident.id)
    badu.sync()
    admin.sync()
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
    admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    act = children[0]
    admin.records.save(edit(admin.records.require(act), notes="Threatened by phone."))
    alba.records.save(edit(alba.records.require(act), notes="Threatened in person."))
    alba.sync()
    assert admin.sync().conflicts == 1
    badu.sync()
    badu.records.delete(incident.id)
    badu.sync()
    admin.sync()
    _converge(devices, rounds=3)
    _all_there(devices, incident.id, children)
    [conflict] = _field_conflicts(admin, act)
    assert admin.state.resolve_conflict(conflict.id, conflict.mine) == "settled"
    _converge(devices)
    assert {d.records.require(act).notes for d in devices} == {"Threatened by phone."}  # type: ignore[attr-defined]
    for device in devices:
        _no_orphans(device)
