"""An incident deleted while a change under it was on its way stays deleted (issue 14).

Fault run seed 7481: a sync sealed an edit of a source and was cut before its answer came; the
person then deleted the incident (and the source with it). The next sync sent the kept edit as
it was, with the incident's deletion but without the source's: for a while the server held a
live source under a deleted incident, and the next device to pull read it as a change made
apart, brought the incident back with everything, and nobody had chosen that. Through the real
server with three profiles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from desktop.domain.network_records import Material
from desktop.domain.records import Incident, Source, WorkingGroup, edit
from sync.client.transport import Offline, Transport
from sync.protocol import SyncRequest, SyncResponse, decode_body
from tests.helpers.records import file_without_bytes
from tests.integration.conftest import Device, Server, network_of

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True


class CutsFirstPush(Transport):
    """The real transport, but the first push is cut: before it reaches the server, or after
    the server applied it (its answer lost). Either way the sealed entries stay unanswered."""

    def __init__(self, url: str, observer: Any, *, applied: bool) -> None:
        super().__init__(url, observer=observer)
        self.applied = applied
        self.cut = False

    def sync(
        self,
        request: SyncRequest,
        token: str,
        on_more: Callable[[dict[str, int]], None] | None = None,
    ) -> SyncResponse:
        if request.push and not self.cut:
            self.cut = True
            if self.applied:
                super().sync(request, token, on_more)
            raise Offline("the link dropped")
        return super().sync(request, token, on_more)


def _source(space: str, incident: str, summary: str) -> Source:
    return Source(
        space_id=space,
        incident_id=incident,
        source_type="direct_testimony",
        reliability="reliable",
        language="es",
        summary=summary,
    )


def _pushes(device: Device) -> list[dict[str, bool]]:
    """Each push the device sent: record -> deleted."""
    bodies = [decode_body(body) for body in device.sent if body]
    return [
        {m["record"]: bool(m.get("deleted")) for m in body["push"]}
        for body in bodies
        if body.get("push")
    ]


def _outbox(device: Device) -> list[str]:
    with device.profile.engine.connect() as connection:
        return list(connection.scalars(text("SELECT record_id FROM sync_outbox")))


@pytest.mark.parametrize("applied", [False, True], ids=["cut-before-server", "answer-lost"])
@pytest.mark.parametrize("change", ["edit a source", "add a source"])
def test_an_incident_deleted_while_a_change_under_it_was_in_flight_stays_deleted(
    server: Server, make_device: Any, applied: bool, change: str
) -> None:
    space, devices = network_of(server, make_device, 3)
    admin, alba, _badu = devices
    incident = Incident(space_id=space, title="Eviction at Barrio Sur", place="Barrio Sur")
    kept = _source(space, incident.id, "Testimony of M.")
    other = _source(space, incident.id, "Photographs of the house")
    admin.records.save_all([incident, kept, other])
    for device in devices:
        device.sync()
    # The person on the admin's computer changes what is under the incident; the sync that
    # carries it is cut, so the sealed change stays in the outbox, unanswered.
    if change == "edit a source":
        child = edit(admin.records.require(kept.id), summary="Testimony of M., corrected")
    else:
        child = _source(space, incident.id, "Testimony of her brother")
    admin.records.save(child)
    url = admin.engine.transport.base_url
    admin.engine.transport = CutsFirstPush(url, admin.engine.transport.observer, applied=applied)
    with pytest.raises(Offline):
        admin.engine.sync_once()
    assert child.id in _outbox(admin)
    # Then deletes the incident, with all of it in view: nobody else changed anything.
    admin.records.delete(incident.id)
    admin.sent.clear()
    admin.sync()
    # The incident's deletion went in one push with everything it took (one transaction on
    # the server): no peer could pull half of it.
    [whole] = [push for push in _pushes(admin) if push.get(incident.id)]
    assert {r: whole.get(r) for r in (kept.id, other.id, child.id)} == dict.fromkeys(
        (kept.id, other.id, child.id), True
    )
    # Another device pulls whatever the server holds after that sync: the whole deletion.
    assert alba.sync().restored == 0
    for record in (incident.id, kept.id, other.id, child.id):
        assert alba.records.get(record) is None, record
    for _ in range(3):
        for device in devices:
            assert device.sync().restored == 0, device.name
    for device in devices:
        for record in (incident.id, kept.id, other.id, child.id):
            assert device.records.get(record) is None, (device.name, record)
        assert device.state.conflicts() == [], device.name
        assert device.records.dirty_count() == 0, device.name
        assert _outbox(device) == [], device.name


@pytest.mark.parametrize("applied", [False, True], ids=["cut-before-server", "answer-lost"])
def test_a_group_deleted_while_a_file_of_its_material_was_in_flight_stays_deleted(
    server: Server, make_device: Any, applied: bool
) -> None:
    """The same for a nested cascade: a file's change sealed and unanswered, then its working
    group deleted (taking the material and the file). The material's deletion waits for the
    file's answer, and so must the group's: sent before, the server would hold a live
    material under a deleted group, which the next device to pull brings back with the group
    though nobody changed anything after the deletion."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, _badu = devices
    group = WorkingGroup(space_id=space, name="Agua")
    material = Material(
        space_id=space, working_group_id=group.id, title="Mapa", material_type="toolkit"
    )
    file = file_without_bytes(material, "pozos.txt")
    admin.records.save_all([group, material, file])
    for device in devices:
        device.sync()
    admin.records.save(edit(admin.records.require(file.id), filename="pozos-2026.txt"))
    url = admin.engine.transport.base_url
    admin.engine.transport = CutsFirstPush(url, admin.engine.transport.observer, applied=applied)
    with pytest.raises(Offline):
        admin.engine.sync_once()
    assert file.id in _outbox(admin)
    admin.records.delete(group.id)
    admin.sent.clear()
    admin.sync()
    taken = (group.id, material.id, file.id)
    [whole] = [push for push in _pushes(admin) if push.get(group.id)]
    assert {r: whole.get(r) for r in taken} == dict.fromkeys(taken, True), whole
    assert alba.sync().restored == 0
    for _ in range(2):
        for device in devices:
            assert device.sync().restored == 0, device.name
    for device in devices:
        for record in taken:
            assert device.records.get(record) is None, (device.name, record)
        assert device.records.dirty_count() == 0, device.name
