"""Three profiles enrolled with invites into one space edit offline and converge.
Field merges, one conflict resolved once, edit vs delete, and a push re-sent after a lost answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from desktop.domain.records import edit
from sync.client.merge import MergeFlag
from sync.client.transport import Offline, Transport
from sync.protocol import SyncRequest, SyncResponse, decode_body
from tests.integration.conftest import Device, Server, network_of, organization

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True


def _converge(devices: list[Device], rounds: int = 2) -> None:
    for _ in range(rounds):
        for device in devices:
            device.sync()


def test_three_profiles_edit_offline_and_converge(server: Server, make_device: Any) -> None:
    space, devices = network_of(server, make_device, 3)
    _converge(devices, rounds=1)
    # Offline on three machines: each creates and edits its own records.
    made = {}
    for device in devices:
        for index in range(4):
            org = organization(space, f"{device.name} organization {index}", country="ke")
            device.records.save(org)
            made[org.id] = device
    for org_id, device in list(made.items())[::3]:
        device.records.save(edit(device.records.require(org_id), acronym="EDITED"))
    _converge(devices)
    snapshots = [device.snapshot() for device in devices]
    assert snapshots[0] == snapshots[1] == snapshots[2]
    assert set(made) <= set(snapshots[0])
    assert all(device.records.dirty_count() == 0 for device in devices)
    assert all(device.state.conflicts() == [] for device in devices)


def test_a_small_page_budget_pages_through_everything(server: Server, make_device: Any) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    member.engine.page_bytes = 1024  # the server's minimum: a few records per page
    orgs = [organization(space, f"Organization {i}", description="x" * 300) for i in range(12)]
    admin.records.save_all(orgs)
    admin.sync()
    report = member.sync()
    assert report.pulled == 13  # the space record and twelve organizations
    assert report.requests >= 4  # discovery, login and several pages
    assert member.snapshot() == admin.snapshot()


def test_edits_to_different_fields_merge_without_a_conflict(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 2)
    admin, member = devices
    org = organization(space, "Land Defenders", description="one\ntwo\nthree\n")
    admin.records.save(org)
    _converge(devices, rounds=1)
    admin.records.save(edit(admin.records.require(org.id), name="Land Defenders Network"))
    member.records.save(edit(member.records.require(org.id), country="ug"))
    admin.sync()
    report = member.sync()
    assert report.conflicts == 0
    admin.sync()
    for device in devices:
        merged = device.records.require(org.id)
        assert (merged.name, merged.country) == ("Land Defenders Network", "ug")
        assert device.state.conflicts() == []
    assert admin.snapshot() == member.snapshot()


def test_same_field_conflicts_once_and_is_never_raised_again(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    org = organization(space, "Housing Rights Watch")
    admin.records.save(org)
    _converge(devices, rounds=1)
    alba.records.save(edit(alba.records.require(org.id), name="Housing Rights Watch (Nairobi)"))
    badu.records.save(edit(badu.records.require(org.id), name="Housing Rights Watch — Kampala"))
    alba.sync()
    report = badu.sync()
    assert report.conflicts == 1
    [conflict] = badu.state.conflicts()
    assert (conflict.field, conflict.mine, conflict.theirs) == (
        "name",
        "Housing Rights Watch — Kampala",
        "Housing Rights Watch (Nairobi)",
    )
    _converge(devices)
    assert alba.state.conflicts() == [] and admin.state.conflicts() == []
    badu.state.resolve_conflict(conflict.id, conflict.theirs)
    assert badu.state.conflicts() == []
    for _ in range(2):
        for device in devices:
            assert device.sync().conflicts == 0
    assert {d.records.require(org.id).name for d in devices} == {"Housing Rights Watch (Nairobi)"}
    assert all(device.state.conflicts() == [] for device in devices)
    assert admin.snapshot() == alba.snapshot() == badu.snapshot()


def test_an_edit_wins_over_a_deletion_and_is_flagged(server: Server, make_device: Any) -> None:
    space, devices = network_of(server, make_device, 2)
    admin, member = devices
    org = organization(space, "Miners' Union", description="founded 1990\n")
    admin.records.save(org)
    _converge(devices, rounds=1)
    admin.records.delete(org.id)
    member.records.save(edit(member.records.require(org.id), description="founded 1991\n"))
    admin.sync()
    report = member.sync()
    assert report.flags == 1
    [flag] = member.state.conflicts()
    assert (flag.kind, flag.field) == (MergeFlag.DELETED_ELSEWHERE.value, None)
    admin.sync()
    for device in devices:
        assert device.records.require(org.id).description == "founded 1991\n"
    assert admin.snapshot() == member.snapshot()
    member.state.resolve_conflict(flag.id)
    assert member.state.conflicts() == []


def test_a_deletion_loses_to_an_edit_made_elsewhere(server: Server, make_device: Any) -> None:
    space, devices = network_of(server, make_device, 2)
    admin, member = devices
    org = organization(space, "Fisherfolk Council")
    admin.records.save(org)
    _converge(devices, rounds=1)
    member.records.save(edit(member.records.require(org.id), acronym="FFC"))
    member.sync()
    admin.records.delete(org.id)
    report = admin.sync()
    assert report.flags == 1
    assert [c.kind for c in admin.state.conflicts()] == [MergeFlag.EDITED_ELSEWHERE.value]
    _converge(devices)
    assert admin.records.require(org.id).acronym == "FFC"
    assert admin.snapshot() == member.snapshot()


class LosesFirstAnswer(Transport):
    """The real transport, but the first sync answer is lost after the server applied it."""

    lost = False

    def sync(
        self,
        request: SyncRequest,
        token: str,
        on_more: Callable[[dict[str, int]], None] | None = None,
    ) -> SyncResponse:
        response = super().sync(request, token, on_more)
        if request.push and not self.lost:
            self.lost = True
            raise Offline("the link dropped before the answer arrived")
        return response


def test_a_push_resent_after_a_lost_answer_is_applied_once(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 2)
    admin, member = devices
    _converge(devices, rounds=1)
    flaky = LosesFirstAnswer(server.url, observer=admin.engine.transport.observer)
    admin.engine.transport = flaky
    org = organization(space, "Seed Savers")
    admin.records.save(org)
    with pytest.raises(Offline):
        admin.engine.sync_once()
    assert admin.records.require(org.id).dirty  # nothing was marked sent
    report = admin.sync()
    assert report.pushed == 1
    pushes = [decode_body(body).get("push") for body in admin.sent if body]
    ids = [[m["id"] for m in push] for push in pushes if push]
    assert ids[-1] == ids[-2]  # the same mutation id went twice
    assert admin.records.require(org.id).revision == 1  # applied once, not a self-conflict
    member.sync()
    assert member.records.require(org.id).revision == 1
    assert admin.snapshot() == member.snapshot()
    assert admin.state.conflicts() == []
