"""A child deleted by itself says so in its signed tombstone (CRYPTO.md §2 "Tombstone facts"),
so no device brings it back with its incident, whoever syncs first and however the deletion
travels (a single mutation, a batch, a bundle); through the real server, three or more devices.

Before tombstone facts, the mark was local (``deleted_alone``, migration 0024): when the
deleter's tombstones reached the server before the edit that beat the incident's deletion, the
editor brought back everything they took, the act deleted alone too, on every device."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from desktop.domain.records import edit
from sync.client import bundle_format
from sync.client.batches import MIN_BATCH
from sync.client.bundle_format import BundleProblem
from sync.client.bundles import export_bundle, import_bundle
from sync.client.engine import SyncEngine
from sync.client.state import PendingChange
from sync.client.transport import Transport
from tests.helpers.hostile_server import HostileServer
from tests.helpers.server_process import free_port
from tests.integration.conftest import Device, Server, network_of, organization
from tests.integration.test_meaning import (
    WITNESS,
    _converge,
    _incident_with_children,
    _no_orphans,
)

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True


def _marked(device: Device) -> set[str]:
    with device.profile.engine.connect() as connection:
        return set(connection.scalars(text("SELECT record_id FROM deleted_alone")))


def _whole_but_the_act(
    devices: Sequence[Device], incident: str, act: str, others: Sequence[str]
) -> None:
    for device in devices:
        _no_orphans(device)
        assert device.records.get(incident) is not None, device.name
        assert device.records.get(act) is None, device.name
        for child in others:
            assert device.records.get(child) is not None, (device.name, child)


def _came_in_a_batch(device: Device, record: str) -> bool:
    with device.profile.engine.connect() as connection:
        batch = connection.scalar(
            text("SELECT batch FROM sync_record_blobs WHERE record_id = :r"), {"r": record}
        )
    return batch is not None


def test_deleter_first_with_two_editors_the_act_deleted_alone_stays_deleted_everywhere(
    server: Server, make_device: Any
) -> None:
    """Alba deletes the act alone, then the incident, and syncs first; the admin (who edited
    the title offline) and badu (a line in the narrative) each meet her tombstones and bring
    back what the incident's deletion took: the source and follow-up, never the act."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    act, others = children[0], children[1:]
    alba.records.delete(act)
    alba.records.delete(incident.id)
    admin.records.save(edit(admin.records.require(incident.id), title="Eviction, Barrio Sur"))
    badu.records.save(edit(badu.records.require(incident.id), narrative=WITNESS + "More.\n"))
    alba.sync()
    admin.sync()
    badu.sync()
    # Each receiver learnt from the tombstone itself that the act was deleted alone.
    assert act in _marked(admin) and act in _marked(badu)
    _converge(devices, rounds=3)
    _whole_but_the_act(devices, incident.id, act, others)
    kept = badu.records.require(incident.id)
    assert (kept.title, kept.narrative) == ("Eviction, Barrio Sur", WITNESS + "More.\n")  # type: ignore[attr-defined]


def test_deletions_pushed_in_a_batch_say_the_act_was_deleted_alone(
    server: Server, make_device: Any
) -> None:
    """The first-sync path: alba's deletions go up inside a batch (version 3, each deletion
    with its facts), not as single mutations; badu, who edited, still leaves the act deleted."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    act, others = children[0], children[1:]
    for index in range(MIN_BATCH):
        alba.records.save(organization(space, f"Org {index}"))
    alba.records.delete(act)
    alba.records.delete(incident.id)
    badu.records.save(edit(badu.records.require(incident.id), narrative=WITNESS + "More.\n"))
    alba.sync()
    badu.sync()
    assert _came_in_a_batch(badu, act)  # the first-sync path, not a single mutation
    assert act in _marked(badu)
    _converge(devices, rounds=3)
    _whole_but_the_act(devices, incident.id, act, others)


def test_a_device_that_syncs_late_with_an_edit_under_the_incident_leaves_the_act_deleted(
    server: Server, make_device: Any
) -> None:
    """The admin was away with a change to the source (an edit anywhere under a deleted
    incident brings it back): it syncs long after alba's deletions and badu's reads of them,
    and brings back the incident and what its deletion took, never the act."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    act, source, follow_up = children
    admin.records.save(edit(admin.records.require(source), summary="Told by her neighbour."))
    alba.records.delete(act)
    alba.records.delete(incident.id)
    alba.sync()
    badu.sync()
    badu.sync()
    assert badu.records.get(incident.id) is None
    admin.sync()
    _converge(devices, rounds=3)
    _whole_but_the_act(devices, incident.id, act, [source, follow_up])
    assert badu.records.require(source).summary == "Told by her neighbour."  # type: ignore[attr-defined]


def test_a_member_who_joins_later_gets_the_act_deleted_and_the_mark(
    server: Server, make_device: Any
) -> None:
    """A fourth device enrolled after it all gets the act deleted (it never held its content,
    so nothing of it can come back there); then an edit beating a later deletion of the
    incident, made there, brings back the source and follow-up, not the act, on every device."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    act, others = children[0], children[1:]
    alba.records.delete(act)
    alba.records.delete(incident.id)
    badu.records.save(edit(badu.records.require(incident.id), narrative=WITNESS + "More.\n"))
    alba.sync()
    badu.sync()
    _converge(devices, rounds=2)
    late = make_device("late")
    late.engine.enroll(admin.engine.invite(space))
    admin.engine.admit(space, admin.engine.pending_members(space))
    late.sync()
    late.engine.confirm_space(space)
    late.sync()
    assert late.records.get(act) is None
    everyone = [*devices, late]
    # Alba deletes the incident again; the late member edits it offline and syncs after.
    alba.records.delete(incident.id)
    late.records.save(edit(late.records.require(incident.id), narrative=WITNESS + "Later.\n"))
    alba.sync()
    late.sync()
    _converge(everyone, rounds=3)
    _whole_but_the_act(everyone, incident.id, act, others)


def test_the_mark_travels_in_a_bundle_and_an_older_reader_refuses_the_file_by_name(
    server: Server, make_device: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Badu is reached only by bundles: the admin carries alba's tombstones to him. Badu, who
    edited the incident, brings back what its deletion took, not the act; his edit goes back
    by bundle and the server. The bundle is version 3 (it holds tombstones with facts): a
    reader from before them refuses the whole file by name, never one deletion after another."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    act, others = children[0], children[1:]
    badu.engine.transport.close()
    badu.engine.transport = Transport(f"http://127.0.0.1:{free_port()}")
    alba.records.delete(act)
    alba.records.delete(incident.id)
    badu.records.save(edit(badu.records.require(incident.id), narrative=WITNESS + "More.\n"))
    alba.sync()
    admin.sync()
    stick = tmp_path / "to-badu.mb"
    export_bundle(admin.engine, stick)
    assert stick.read_bytes()[4] == bundle_format.FACTS_VERSION
    with monkeypatch.context() as older:
        # What a reader from before tombstone facts does (bundle_format before this change).
        older.setattr(bundle_format, "_READABLE", (1, 2))
        assert import_bundle(badu.engine, stick).problem is BundleProblem.UNSUPPORTED_VERSION
    got = import_bundle(badu.engine, stick)
    assert got.problem is None and got.refused == []
    assert act in _marked(badu)
    assert badu.records.get(incident.id) is not None and badu.records.get(act) is None
    back = tmp_path / "from-badu.mb"
    export_bundle(badu.engine, back)
    assert import_bundle(admin.engine, back).problem is None
    _converge([admin, alba], rounds=3)
    badu.engine.transport.close()
    badu.engine.transport = Transport(server.url)
    _converge(devices, rounds=3)
    _whole_but_the_act(devices, incident.id, act, others)


def test_an_app_from_before_tombstone_facts_is_held_and_goes_on_once_upgraded(
    server: Server, make_device: Any
) -> None:
    """A reader that declares batch version 2 (before tombstone facts) would refuse a tombstone
    with facts (``bad_content``) and move past the deletion for good: the server holds it
    before the first one instead, and says so; upgraded, it goes on from there."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    badu.engine.batch_version = 2  # an app from before tombstone facts
    before = organization(space, "Before")
    alba.records.save(before)
    alba.sync()
    alba.records.delete(children[0])
    alba.sync()
    held_report = badu.sync()
    assert held_report.needs_newer == [space]
    held = badu.state.cursors()[space]
    assert badu.records.get(before.id) is not None
    assert badu.records.get(children[0]) is not None  # not refused, not moved past: held
    mine = organization(space, "Badu's own")
    badu.records.save(mine)
    assert badu.sync().pushed == 1 and badu.state.cursors()[space] == held
    badu.engine.batch_version = 3
    report = badu.sync()
    assert report.needs_newer == [] and badu.records.get(children[0]) is None
    assert children[0] in _marked(badu)
    assert incident.id  # the incident stayed live throughout


@pytest.mark.parametrize("target", ["incident", "organization"])
def test_a_member_sending_the_flag_on_what_is_not_a_child_changes_nothing(
    server: Server, make_device: Any, target: str
) -> None:
    """A member's app (hostile, or gone wrong) that says "deleted alone" on every deletion:
    on an incident it does not keep its children from coming back with it when an edit beats
    its deletion; on an organization it is not stored, and the edit brings it back as ever."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    org = organization(space, "Barrio Sur committee")
    alba.records.save(org)
    _converge(devices, rounds=1)
    real = alba.state.pending_changes

    def every_deletion_alone(spaces: Sequence[str], limit: int) -> list[PendingChange]:
        return [
            dataclasses.replace(change, alone=change.content is None)
            for change in real(spaces, limit)
        ]

    alba.state.pending_changes = every_deletion_alone  # type: ignore[method-assign]
    if target == "incident":
        alba.records.delete(incident.id)
        badu.records.save(edit(badu.records.require(incident.id), narrative=WITNESS + "M.\n"))
    else:
        alba.records.delete(org.id)
        badu.records.save(edit(badu.records.require(org.id), name="Barrio Sur committee (2)"))
    alba.sync()
    badu.sync()
    _converge(devices, rounds=3)
    for device in devices:
        _no_orphans(device)
        assert _marked(device) == set(), device.name
        if target == "incident":
            assert device.records.get(incident.id) is not None, device.name
            for child in children:
                assert device.records.get(child) is not None, (device.name, child)
        else:
            assert device.records.require(org.id).name == "Barrio Sur committee (2)"  # type: ignore[attr-defined]


def test_a_child_deleted_alone_and_back_by_its_own_edit_comes_back_with_its_incident_again(
    server: Server, make_device: Any
) -> None:
    """Alba deletes the act alone; badu's edit of it (made apart) beats that deletion and it
    lives again, on every device, the mark gone (the admin had read it from the tombstone).
    Later the admin deletes the incident, the act with it, while alba edits the narrative: the
    act is one of what that deletion took and comes back with the rest everywhere."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    act = children[0]
    badu.records.save(edit(badu.records.require(act), notes="Threatened twice."))
    alba.records.delete(act)
    alba.sync()
    admin.sync()
    assert act in _marked(admin)
    badu.sync()
    _converge(devices, rounds=2)
    for device in devices:
        assert device.records.get(act) is not None, device.name
        assert act not in _marked(device), device.name
    admin.records.delete(incident.id)
    alba.records.save(edit(alba.records.require(incident.id), narrative=WITNESS + "Again.\n"))
    admin.sync()
    alba.sync()
    _converge(devices, rounds=3)
    for device in devices:
        _no_orphans(device)
        assert device.records.get(incident.id) is not None, device.name
        for child in children:
            assert device.records.get(child) is not None, (device.name, child)


def test_an_updated_app_with_a_server_from_before_facts_sends_its_deletions_one_by_one(
    server: Server, make_device: Any
) -> None:
    """A server from before tombstone facts refuses a version-3 batch push (``envelope_mismatch``,
    "unsupported_version"): the app falls back to single mutations, whose tombstones that server
    reads, instead of resealing and being refused at every sync."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    act, others = children[0], children[1:]
    with HostileServer(server.url) as older:
        older.batch_versions_refused = {3}
        alba.engine.transport.close()
        alba.engine = SyncEngine(alba.state, Transport(older.url), page_bytes=None)
        for index in range(MIN_BATCH):
            alba.records.save(organization(space, f"Org {index}"))
        alba.records.delete(act)
        alba.records.delete(incident.id)
        badu.records.save(edit(badu.records.require(incident.id), narrative=WITNESS + "M.\n"))
        alba.sync()
        assert older.batch_versions_refusals == 1  # refused once, then one by one
        with alba.profile.engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM records WHERE dirty = 1")) == 0
        badu.sync()
        assert act in _marked(badu)
        _converge(devices, rounds=3)
        _whole_but_the_act(devices, incident.id, act, others)


@pytest.mark.parametrize("order", ["deleter-first", "editor-first"])
def test_an_act_deleted_alone_by_the_editor_while_its_incident_is_deleted_stays_deleted(
    server: Server, make_device: Any, order: str
) -> None:
    """rev-nest: alba deletes the incident (its act goes with it); badu deletes the act by
    itself and edits the incident. Deleter first, badu's deletion met alba's tombstone and was
    dropped as "deleted on both sides": its ``alone`` never went out, and alba, told the
    incident came back, brought the act back with it on every device though both had deleted
    it. Now badu's tombstone goes over alba's, saying so."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    act, *others = children
    alba.records.delete(incident.id)
    badu.records.delete(act)
    badu.records.save(
        edit(badu.records.require(incident.id), title="Eviction at Barrio Sur (two families)")
    )
    for device in (alba, badu) if order == "deleter-first" else (badu, alba):
        device.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert device.records.get(incident.id) is not None, device.name
        assert device.records.get(act) is None, device.name
        for child in others:
            assert device.records.get(child) is not None, (device.name, child)
        assert device.records.dirty_count() == 0, device.name
        _no_orphans(device)
