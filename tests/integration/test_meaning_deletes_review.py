"""rev-dels: the held incident deletion (36088a9, 004973b) and children deleted alone (ebc09d9),
attacked through the real server with three devices. Each test is a case a reviewer tried."""

from __future__ import annotations

from typing import Any

import pytest

from desktop.domain.records import Incident, edit
from sync.client.transport import Offline, Transport
from tests.integration.conftest import Server, network_of
from tests.integration.test_meaning import _converge, _incident_with_children, _no_orphans
from tests.integration.test_meaning_deleted_in_flight import CutsFirstPush, _outbox, _source

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True


@pytest.mark.parametrize(
    "deleter_first",
    [pytest.param(True, id="deleter-first"), pytest.param(False, id="editor-first")],
)
def test_a_child_deleted_alone_stays_deleted_whoever_syncs_first(
    server: Server, make_device: Any, deleter_first: bool
) -> None:
    """Alba deletes an act alone (it named a witness), then the incident, offline; badu adds a
    line to the narrative. The edit beats the incident's deletion and what that deletion took
    comes back; whoever reaches the server first, the act alba deleted by itself stays deleted
    on every device (editor-first: ebc09d9, alba's own mark; deleter-first: the act's tombstone
    says it was deleted alone, and badu, who restores what the deletion took, leaves it)."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    act = children[0]
    alba.records.delete(act)
    alba.records.delete(incident.id)
    badu.records.save(edit(badu.records.require(incident.id), narrative="More.\n"))
    for device in (alba, badu) if deleter_first else (badu, alba):
        device.sync()
    _converge(devices, rounds=3)
    for device in devices:
        _no_orphans(device)
        assert device.records.get(incident.id) is not None, device.name
        assert device.records.get(act) is None, device.name


def test_a_child_deleted_alone_stays_deleted_when_its_incident_is_deleted_and_back_twice(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    act = children[0]
    alba.records.delete(act)
    alba.records.delete(incident.id)
    badu.records.save(edit(badu.records.require(incident.id), narrative="More.\n"))
    badu.sync()
    alba.sync()
    _converge(devices, rounds=2)
    alba.records.delete(incident.id)
    admin.records.save(edit(admin.records.require(incident.id), narrative="Later.\n"))
    admin.sync()
    alba.sync()
    _converge(devices, rounds=3)
    for device in devices:
        _no_orphans(device)
        assert device.records.get(incident.id) is not None, device.name
        assert device.records.get(act) is None, device.name
        for child in children[1:]:
            assert device.records.get(child) is not None, (device.name, child)


def test_a_held_deletion_whose_child_change_meets_an_edit_made_apart_ends_whole(
    server: Server, make_device: Any
) -> None:
    """The admin's edit of a source is cut before the server; alba edits the same source and
    syncs; the admin deletes the incident. The re-sent edit meets alba's (a conflict): the
    incident's deletion must not wait for ever, and the end has no orphan and no silent undo."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, _badu = devices
    incident = Incident(space_id=space, title="Eviction at Barrio Sur", place="Barrio Sur")
    kept = _source(space, incident.id, "Testimony of M.")
    admin.records.save_all([incident, kept])
    _converge(devices, rounds=1)
    admin.records.save(edit(admin.records.require(kept.id), summary="Testimony of M., fixed"))
    url = admin.engine.transport.base_url
    admin.engine.transport = CutsFirstPush(url, admin.engine.transport.observer, applied=False)
    with pytest.raises(Offline):
        admin.engine.sync_once()
    alba.records.save(edit(alba.records.require(kept.id), language="fr"))
    alba.sync()
    admin.records.delete(incident.id)
    admin.sync()
    _converge(devices, rounds=3)
    for device in devices:
        _no_orphans(device)
        assert device.records.dirty_count() == 0, device.name
        assert _outbox(device) == [], device.name
    # Alba's edit beat the deletion: the incident and the source are back on every device.
    for device in devices:
        assert device.records.get(incident.id) is not None, device.name
        assert device.records.get(kept.id) is not None, device.name


#: The first and last batch of many, made small on the device that deletes (``BatchPath.lead``
#: and ``tail``, 1,024 each by default): a cut after the first batch splits a deletion of a
#: hundred records as it splits one of thousands, by the same ordering rules.
FIRST = 16
#: Deletions enough for three batches at ``FIRST``: at least ``MIN_BATCH`` (fewer go as single
#: mutations) and more than the first and the last batch hold.
SOURCES = 100


def small_batches(device: Any) -> None:
    """``device`` pushes many changes as batches of ``FIRST`` first and last."""
    device.engine.batches.lead = device.engine.batches.tail = FIRST


class CutsSecondBatch(Transport):
    """The real transport; the second batch a device sends is cut before the server."""

    batches = 0

    def push_batch(self, *args: Any, **kwargs: Any) -> Any:
        self.batches += 1
        if self.batches == 2:
            raise Offline("the link dropped")
        return super().push_batch(*args, **kwargs)


def test_an_incident_with_more_children_than_one_batch_is_never_half_deleted_with_orphans(
    server: Server, make_device: Any
) -> None:
    """An incident with more sources than the first batch holds (``SOURCES``; first batch
    ``FIRST``, as 2,100 over ``LEAD``'s 1,024 by default) is deleted; the sync is cut after the
    first batch reached the server. A peer pulling then must not find the incident deleted with
    sources live under it (rule 1 would bring it back, 'restored', though nobody changed
    anything after the deletion)."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, _badu = devices
    incident = Incident(space_id=space, title="Eviction at Barrio Sur", place="Barrio Sur")
    sources = [_source(space, incident.id, f"Testimony {n}") for n in range(SOURCES)]
    admin.records.save_all([incident, *sources])
    _converge(devices, rounds=1)
    admin.records.delete(incident.id)
    small_batches(admin)
    url = admin.engine.transport.base_url
    observer = admin.engine.transport.observer
    admin.engine.transport = admin.engine.batches.transport = CutsSecondBatch(
        url, observer=observer
    )
    with pytest.raises(Offline):
        admin.engine.sync_once()
    assert admin.engine.batches.transport.batches == 2
    assert alba.sync().restored == 0
    _no_orphans(alba)
    admin.engine.transport = admin.engine.batches.transport = Transport(url, observer=observer)
    _converge(devices, rounds=2)
    for device in devices:
        _no_orphans(device)
        assert device.records.get(incident.id) is None, device.name
        assert device.state.conflicts() == [], device.name
