"""Decision marks across devices (rev-marks review of issue 14): choices carried in a first-sync
batch, marks over many decisions, and no record re-sent for its mark."""

from __future__ import annotations

from typing import Any

import pytest

from desktop.domain.records import edit
from sync.client.batches import MIN_BATCH
from tests.integration.conftest import Device, Server, network_of, organization
from tests.integration.test_meaning import (
    _all_there,
    _incident_with_children,
    _no_orphans,
    _save_as_newer_minga,
    _sealed_content,
)
from tests.integration.test_meaning_choices_apart import _three_conflicts


def _converge(devices: list[Device], rounds: int = 2) -> None:
    for _ in range(rounds):
        for device in devices:
            device.sync()


def _marks(device: Device, space: str, record: str) -> dict[str, str]:
    local = device.state.local_record(space, record)
    assert local is not None and local.content is not None
    marks: dict[str, str] = local.content.get("decided", {})
    return marks


def test_a_kept_choice_sent_in_a_first_sync_batch_still_meets_a_choice_made_apart(
    server: Server, make_device: Any
) -> None:
    # Badu's kept choice goes up among many new records, in one batch; a member joining later
    # reads it from that batch. The admin's different choice arriving next is asked about.
    space, devices, org = _three_conflicts(server, make_device, 4)
    admin, _alba, badu, late = devices
    [on_admin] = admin.state.conflicts()
    [on_badu] = badu.state.conflicts()
    assert admin.state.resolve_conflict(on_admin.id, "Casa Admin") == "settled"
    assert badu.state.resolve_conflict(on_badu.id, "Casa Alba") == "settled"
    for index in range(MIN_BATCH + 6):
        badu.records.save(organization(space, f"Org {index}"))
    badu.sent.clear()
    badu.sync()
    assert any(b"batch" in sent for sent in badu.sent)  # the choice went as a batch
    assert badu.state.sent_batches() == [] and set(_marks(badu, space, org.id)) == {"name"}
    late.sync()
    assert _marks(late, space, org.id) == _marks(badu, space, org.id)
    admin.sync()
    _converge(devices, rounds=3)
    [asked] = admin.state.conflicts()
    assert (asked.mine, asked.theirs) == ("Casa Admin", "Casa Alba")
    assert {d.records.require(org.id).name for d in devices} == {"Casa Alba"}  # type: ignore[attr-defined]


def test_marks_stay_one_per_field_over_many_decisions_and_nothing_is_re_sent_for_them(
    server: Server, make_device: Any
) -> None:
    space, devices, org = _three_conflicts(server, make_device)
    admin, alba, badu = devices
    for round_ in range(4):
        for device in (admin, badu):
            for conflict in device.state.conflicts():
                held = device.records.require(org.id).name  # type: ignore[attr-defined]
                assert device.state.resolve_conflict(conflict.id, held) == "settled"
        _converge(devices, rounds=2)
        for device in devices:
            assert set(_marks(device, space, org.id)) <= {"name"}, round_
        # Two more edits apart, and the conflict they make.
        alba.records.save(edit(alba.records.require(org.id), name=f"Casa Alba {round_}"))
        badu.records.save(edit(badu.records.require(org.id), name=f"Casa Badu {round_}"))
        alba.sync()
        badu.sync()
    _converge(devices, rounds=3)
    for device in devices:
        for conflict in device.state.conflicts():
            assert conflict.field == "name"
            held = device.records.require(org.id).name  # type: ignore[attr-defined]
            device.state.resolve_conflict(conflict.id, held)
    _converge(devices, rounds=3)
    assert not any(d.state.conflicts() for d in devices)
    names = {d.records.require(org.id).name for d in devices}  # type: ignore[attr-defined]
    assert len(names) == 1, names
    for device in devices:
        assert set(_marks(device, space, org.id)) <= {"name"}
        for _ in range(2):
            assert device.sync().pushed == 0


@pytest.mark.parametrize("choice_first", [True, False])
def test_a_kept_choice_on_an_act_and_its_incident_deleted_apart_agree_in_either_order(
    server: Server, make_device: Any, choice_first: bool
) -> None:
    """A kept choice is a decision on the record, and a decision beats a deletion made without
    it in view, as an edit does: sent first (the mark), or meeting the deletion unsent. Either
    way every device ends with the incident and all under it, and no act no screen reaches."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    act = children[0]
    admin.records.save(edit(admin.records.require(act), notes="Threatened by phone."))
    alba.records.save(edit(alba.records.require(act), notes="Threatened in person."))
    alba.sync()
    assert admin.sync().conflicts == 1
    badu.sync()  # badu has alba's notes, and never sees the admin's choice before deleting
    [conflict] = [c for c in admin.state.conflicts() if c.record == act]
    assert admin.state.resolve_conflict(conflict.id, conflict.theirs) == "settled"
    badu.records.delete(incident.id)
    for device in (admin, badu) if choice_first else (badu, admin):
        device.sync()
    _converge(devices, rounds=3)
    _all_there(devices, incident.id, children)
    notes = {d.records.require(act).notes for d in devices}  # type: ignore[attr-defined]
    assert notes == {"Threatened in person."}, (choice_first, notes)
    for device in devices:
        _no_orphans(device)
        assert device.sync().pushed == 0


def test_marks_of_a_newer_format_record_are_kept_on_its_newer_fields_and_carried(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 2)
    newer, alba = devices
    org = organization(space, "Casa Abierta")
    newer.records.save(org)
    _converge(devices, rounds=1)
    marks = {"motto": "0123456789abcdef", "name": "fedcba9876543210"}
    content = {**_sealed_content(newer, org.id), "schema": 2, "motto": "Nadie", "decided": marks}
    _save_as_newer_minga(newer, content)
    newer.sync()
    alba.sync()
    alba.records.save(edit(alba.records.require(org.id), country="hn"))
    alba.sync()
    assert _marks(alba, space, org.id) == marks
    assert alba.sync().pushed == 0
    newer.sync()
    held = _sealed_content(newer, org.id)
    assert (held["motto"], held["decided"], held["country"]) == ("Nadie", marks, "hn")
