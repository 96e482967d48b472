"""No edit lost by meaning, through the real server with three profiles (issue 14).

Text merges that would repeat a moved paragraph or bring back a deleted one become conflicts;
deletes of incidents and what they took are one decision; old conflicts are resolved with the
current value in view; records of a newer format are kept, sealed, and opened after an upgrade.
"""

from __future__ import annotations

from typing import Any

from desktop.domain.records import Incident, edit
from tests.integration.conftest import Device, Server, network_of


def _converge(devices: list[Device], rounds: int = 2) -> None:
    for _ in range(rounds):
        for device in devices:
            device.sync()


WITNESS = "Testimony of M.\n\nShe saw the police arrive at 3 am.\n\n"
ADDRESS = "She lives at Calle 5, house 12.\n\n"
CLOSING = "Her brother was taken away.\n\nReferred to the rapporteur.\n"


def _incident_with_narrative(space: str, devices: list[Device]) -> Incident:
    incident = Incident(space_id=space, title="Detention in Barrio Sur")
    incident = edit(incident, narrative=WITNESS + ADDRESS + CLOSING)
    devices[0].records.save(incident)
    _converge(devices, rounds=1)
    return incident


def test_a_paragraph_moved_to_two_places_is_a_conflict_on_every_device(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    incident = _incident_with_narrative(space, devices)
    top = ADDRESS + WITNESS + CLOSING
    end = WITNESS + CLOSING + "\n" + ADDRESS.rstrip("\n") + "\n"
    alba.records.save(edit(alba.records.require(incident.id), narrative=top))
    badu.records.save(edit(badu.records.require(incident.id), narrative=end))
    alba.sync()
    report = badu.sync()
    assert report.conflicts == 1
    [conflict] = badu.state.conflicts()
    assert (conflict.field, conflict.mine, conflict.theirs) == ("narrative", end, top)
    _converge(devices)
    for device in devices:
        assert device.records.require(incident.id).narrative.count("Calle 5") == 1
