"""Two people settle one conflict apart (issue 14, Build 2; seed 57 of the meaning property).

Alba's name reached the server first; the admin and badu each kept a conflict against it. The
admin picks their own name, badu picks alba's (the value held: a choice that writes nothing
new, remembered in ``sync_choices`` until sent). Neither saw the other's choice. Sent first,
badu's choice carries a decision mark in the content (``decided``), so the admin's arriving
next is asked about rather than written over it; in the other order badu is asked.
"""

from __future__ import annotations

from typing import Any

from desktop.domain.records import edit
from tests.integration.conftest import Device, Server, network_of, organization
from tests.integration.test_meaning import _converge

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True


def _three_conflicts(server: Server, make_device: Any, count: int = 3) -> Any:
    """Alba's name reaches the server first; the admin and badu each hold a conflict against it
    (``count`` devices in all: the others only hold alba's name)."""
    space, devices = network_of(server, make_device, count)
    admin, alba, badu = devices[:3]
    org = organization(space, "Casa Abierta")
    admin.records.save(org)
    _converge(devices, rounds=1)
    for device, name in ((alba, "Casa Alba"), (admin, "Casa Admin"), (badu, "Casa Badu")):
        device.records.save(edit(device.records.require(org.id), name=name))
    alba.sync()
    assert admin.sync().conflicts == 1
    assert badu.sync().conflicts == 1
    return space, devices, org


def _shown(device: Device, record: str) -> set[Any]:
    """The names a person on ``device`` sees: held, or offered in a conflict."""
    held = {device.records.require(record).name}  # type: ignore[attr-defined]
    for conflict in device.state.conflicts():
        if conflict.record == record and conflict.field == "name":
            held |= {conflict.mine, conflict.theirs, *(o.value for o in conflict.others)}
    return held


def test_a_choice_kept_and_sent_first_is_not_overwritten_by_a_choice_made_apart(
    server: Server, make_device: Any
) -> None:
    _space, devices, org = _three_conflicts(server, make_device)
    admin, _alba, badu = devices
    [on_admin] = admin.state.conflicts()
    [on_badu] = badu.state.conflicts()
    assert on_admin.theirs == on_badu.theirs == "Casa Alba"
    assert admin.state.resolve_conflict(on_admin.id, "Casa Admin") == "settled"
    assert badu.state.resolve_conflict(on_badu.id, "Casa Alba") == "settled"
    badu.sync()  # badu's choice reaches the server first
    admin.sync()
    _converge(devices, rounds=3)
    shown = set().union(*(_shown(d, org.id) for d in devices))
    # Badu chose alba's name without the admin's choice in view: still held, or asked.
    assert "Casa Alba" in shown, shown
    assert "Casa Admin" in shown, shown


def test_a_choice_kept_and_sent_second_meets_the_other_choice_as_a_conflict(
    server: Server, make_device: Any
) -> None:
    # The symmetric order: the admin's choice (a new value) goes first. Badu's choice of the
    # value held, still unsent, meets it as a decision there: badu is asked, never passed by.
    _space, devices, org = _three_conflicts(server, make_device)
    admin, alba, badu = devices
    [on_admin] = admin.state.conflicts()
    [on_badu] = badu.state.conflicts()
    assert admin.state.resolve_conflict(on_admin.id, "Casa Admin") == "settled"
    assert badu.state.resolve_conflict(on_badu.id, "Casa Alba") == "settled"
    admin.sync()  # the admin's choice reaches the server first
    assert badu.sync().conflicts == 1
    _converge(devices, rounds=3)
    [asked] = badu.state.conflicts()
    assert (asked.mine, asked.theirs) == ("Casa Alba", "Casa Admin")
    assert {d.records.require(org.id).name for d in devices} == {"Casa Admin"}  # type: ignore[attr-defined]
    assert not admin.state.conflicts() and not alba.state.conflicts()


def test_the_same_value_chosen_apart_is_no_conflict_and_still_meets_a_third_choice(
    server: Server, make_device: Any
) -> None:
    # Badu and carla both keep alba's name, apart: they agree, nobody is asked. The admin,
    # who picked its own name without either choice in view, is asked when it syncs last.
    space, devices = network_of(server, make_device, 4)
    admin, alba, badu, carla = devices
    org = organization(space, "Casa Abierta")
    admin.records.save(org)
    _converge(devices, rounds=1)
    named = ((alba, "Casa Alba"), (admin, "Casa Admin"), (badu, "Casa Badu"), (carla, "Casa Carla"))
    for device, name in named:
        device.records.save(edit(device.records.require(org.id), name=name))
    alba.sync()
    for device in (admin, badu, carla):
        assert device.sync().conflicts == 1
    choices = ((admin, "Casa Admin"), (badu, "Casa Alba"), (carla, "Casa Alba"))
    for device, name in choices:
        [conflict] = device.state.conflicts()
        assert device.state.resolve_conflict(conflict.id, name) == "settled"
    badu.sync()
    assert carla.sync().conflicts == 0
    assert not badu.state.conflicts() and not carla.state.conflicts()
    admin.sync()
    _converge(devices, rounds=3)
    assert {d.records.require(org.id).name for d in devices} == {"Casa Alba"}  # type: ignore[attr-defined]
    [asked] = admin.state.conflicts()
    assert (asked.mine, asked.theirs) == ("Casa Admin", "Casa Alba")
    assert not any(d.state.conflicts() for d in (alba, badu, carla))


def test_a_choice_keeping_the_value_held_beats_a_deletion_made_apart(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    org = organization(space, "Casa Abierta")
    admin.records.save(org)
    _converge(devices, rounds=1)
    alba.records.save(edit(alba.records.require(org.id), name="Casa Alba"))
    badu.records.save(edit(badu.records.require(org.id), name="Casa Badu"))
    alba.sync()
    assert badu.sync().conflicts == 1
    # The admin, who never saw badu's conflict, deletes the organization.
    admin.sync()
    admin.records.delete(org.id)
    admin.sync()
    [conflict] = badu.state.conflicts()
    # Badu decides for alba's name (the value held) without the deletion in view: a decision
    # on the record, as an edit is, and an edit beats a deletion (seed 83).
    assert badu.state.resolve_conflict(conflict.id, "Casa Alba") == "settled"
    _converge(devices, rounds=3)
    assert {d.records.require(org.id).name for d in devices} == {"Casa Alba"}  # type: ignore[attr-defined]
    assert any(c.record == org.id and c.field is None for c in admin.state.conflicts())
