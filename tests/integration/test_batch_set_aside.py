"""Kept batches that must not stay for ever (ENGINE.md): one the server keeps failing on is set
aside and its records go one by one, and those of a space this device was removed from go.
Over a real server, with a relay in front that fails on the batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from desktop.domain.records import Organization, edit
from sync.client.batches import MIN_BATCH, SET_ASIDE_AFTER, SET_ASIDE_FAILURES
from sync.client.bundles import export_bundle, import_bundle
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from tests.helpers.hostile_server import HostileServer
from tests.helpers.server_process import MANY_DEVICES, Server, run_cli, start_server
from tests.integration.conftest import Device, network_of, organization
from tests.server import postgres


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """The integration tests' server, on each database (overrides conftest's)."""
    url = postgres.create_database("minga_aside") if request.param == "postgres" else None
    data_dir = tmp_path / "server"
    data_dir.mkdir()
    assert run_cli(data_dir, "init", database_url=url).returncode == 0
    process = start_server(data_dir, database_url=url, extra_env=MANY_DEVICES)
    try:
        yield Server(data_dir, process)
    finally:
        process.stop()
        if url is not None:
            postgres.drop_database(url)


def _through(device: Device, url: str) -> None:
    old = device.engine
    device.engine = SyncEngine(device.state, Transport(url), page_bytes=old.page_bytes)
    old.transport.close()


def test_a_batch_the_server_keeps_failing_on_is_set_aside_and_its_records_still_go(
    server: Server, make_device: Any
) -> None:
    from desktop.ui.sync.texts import report_lines

    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    member.sync()
    orgs = [organization(space, f"Member org {i}") for i in range(MIN_BATCH + 4)]
    member.records.save_all(orgs)
    now = [1_000_000.0]
    with HostileServer(server.url) as hostile:
        hostile.fail_new_batches = True  # this member's batch fails, every time
        _through(member, hostile.url)
        member.engine.batches.clock = lambda: now[0]
        step = SET_ASIDE_AFTER / (SET_ASIDE_FAILURES - 1)
        for _attempt in range(SET_ASIDE_FAILURES - 1):
            # A server error: the batch stays kept and is said; the pulls go on.
            failed = member.engine.sync_once()
            assert failed.push_failed == len(orgs) and failed.pushed == 0
            now[0] += step
        assert len(member.state.sent_batches()) == 1
        # Meanwhile the admin's work goes on, and must reach the member.
        news = admin.records.save(organization(space, "Admin news"))
        admin.sync()
        # The last failure over a day: set aside, and the sync goes on without it.
        report = member.engine.sync_once()
        assert hostile.failed_batch_requests == SET_ASIDE_FAILURES
        assert report.set_aside == len(orgs)
        assert report.pushed == len(orgs)  # one by one, through the same server
        assert any("kept failing" in line for line in report_lines(report))
        assert member.records.get(news.id) is not None
        # Nothing of it waits any more: the next sync forgets the batch set aside.
        again = member.engine.sync_once()
        assert again.pushed == 0 and again.set_aside == 0
        assert member.state.sent_batches() == []
        assert hostile.failed_batch_requests == SET_ASIDE_FAILURES  # never sent again
    admin.sync()
    for org in orgs:
        held = admin.records.require(org.id)
        assert isinstance(held, Organization) and held.name == org.name


def test_a_removed_device_forgets_the_batches_it_kept_for_that_space(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    admin.records.save_all([organization(space, f"Admin org {i}") for i in range(MIN_BATCH)])
    admin.sync()
    member.sync()
    mine = [organization(space, f"Member org {i}") for i in range(MIN_BATCH)]
    member.records.save_all(mine)
    with HostileServer(server.url) as hostile:
        hostile.fail_new_batches = True
        _through(member, hostile.url)
        assert member.engine.sync_once().push_failed == len(mine)
    _through(member, server.url)
    assert len(member.state.sent_batches()) == 1

    def kept_for_bundles() -> int:
        with member.profile.engine.connect() as connection:
            return int(
                connection.execute(
                    text("SELECT count(*) FROM sync_batch_blobs WHERE space_id = :s"),
                    {"s": space},
                ).scalar_one()
            )

    assert kept_for_bundles() >= 1  # the admin's batch, kept so bundles can carry it
    keys = member.state.device_keys()
    assert keys is not None
    admin.engine.remove_member(space, keys.device_id)
    # The member learns it was removed from the admin's signed statement (a courier bundle:
    # the server no longer answers it about that space).
    path = tmp_path / "removal.mbundle"
    export_bundle(admin.engine, path)
    assert import_bundle(member.engine, path).problem is None
    member.engine.sync_once()
    assert member.state.sent_batches() == []
    assert kept_for_bundles() == 0
    for org in mine:  # its own edits stay on this computer
        held = member.records.require(org.id)
        assert isinstance(held, Organization) and held.name == org.name


def test_a_wall_clock_set_back_does_not_keep_a_failing_batch_for_ever(
    server: Server, make_device: Any
) -> None:
    """The set-aside's day is measured on this computer's wall clock. A clock that was years
    ahead when the failures began and is then put right must not hold the batch (and with it
    every sync of the space) until that date comes round: the day counts from the correction."""
    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    member.sync()
    orgs = [organization(space, f"Member org {i}") for i in range(MIN_BATCH)]
    member.records.save_all(orgs)
    now = [4_000_000_000.0]  # 2096: a clock set wrong
    with HostileServer(server.url) as hostile:
        hostile.fail_new_batches = True
        _through(member, hostile.url)
        member.engine.batches.clock = lambda: now[0]
        assert member.engine.sync_once().push_failed == len(orgs)
        now[0] = 1_800_000_000.0  # put right
        step = SET_ASIDE_AFTER / (SET_ASIDE_FAILURES - 2)
        for _attempt in range(SET_ASIDE_FAILURES - 2):
            assert member.engine.sync_once().push_failed == len(orgs)
            now[0] += step
        report = member.engine.sync_once()
        assert hostile.failed_batch_requests == SET_ASIDE_FAILURES
        assert report.set_aside == len(orgs)
        assert report.pushed == len(orgs)
    admin.sync()
    for org in orgs:
        assert admin.records.get(org.id) is not None


def test_a_batch_the_server_keeps_failing_on_does_not_stop_the_device_receiving(
    server: Server, make_device: Any
) -> None:
    from desktop.ui.sync.texts import report_lines

    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    member.sync()
    member.records.save_all([organization(space, f"Member org {i}") for i in range(MIN_BATCH)])
    with HostileServer(server.url) as hostile:
        hostile.fail_new_batches = True
        _through(member, hostile.url)
        news = admin.records.save(organization(space, "Admin news"))
        admin.sync()
        report = member.engine.sync_once()
        assert report.push_failed == MIN_BATCH  # the failing batch: said, kept
        assert any("failed on" in line for line in report_lines(report))
        assert len(member.state.sent_batches()) == 1
        assert member.records.get(news.id) is not None
        # Once per sync: the batch is not sent again in the same sync's later rounds.
        assert hostile.failed_batch_requests == 1


def test_a_kept_batch_whose_records_were_pulled_newer_meanwhile_loses_nothing(
    server: Server, make_device: Any
) -> None:
    """While its batch fails, the member pulls the admin's newer versions of records the batch
    holds: they merge into the still-unsent edits (never overwrite them). When the server takes
    the very same batch later, those entries, sealed against the old bases, are conflicts; the
    merged versions then go alone. Both people's edits end on both sides."""
    space, (admin, member) = network_of(server, make_device, 2)
    shared = [organization(space, f"Org {i}") for i in range(MIN_BATCH + 2)]
    admin.records.save_all(shared)
    admin.sync()
    member.sync()
    for org in shared:
        held = member.records.require(org.id)
        assert isinstance(held, Organization)
        member.records.save(edit(held, name=f"{held.name} (member)"))
    touched = shared[:3]
    with HostileServer(server.url) as hostile:
        hostile.fail_new_batches = True
        _through(member, hostile.url)
        for org in touched:
            held = admin.records.require(org.id)
            assert isinstance(held, Organization)
            admin.records.save(edit(held, acronym="ADM"))
        admin.sync()
        report = member.engine.sync_once()
        assert report.push_failed == len(shared)
        kept = member.state.sent_batches()
        assert len(kept) == 1
        for org in touched:  # merged, not overwritten: still dirty, both edits
            held = member.records.require(org.id)
            assert isinstance(held, Organization)
            assert held.name == f"{org.name} (member)" and held.acronym == "ADM"
        # The server comes back: the very same bytes go again.
        hostile.fail_new_batches = False
        hostile.failing_batches.clear()
        member.engine.sync_once()
        posted = [e for e in hostile.answers("/batches") if e.method == "POST"]
        assert posted[-1].request is not None and posted[-1].request["batch"] == kept[0].blob
        assert posted[-1].status == 200 and posted[-1].answer is not None
        # Sealed against the old bases: the records pulled newer meanwhile are conflicts.
        assert len(posted[-1].answer["conflicts"]) == len(touched)
    assert member.state.sent_batches() == []
    admin.sync()
    for org in shared:
        on_admin = admin.records.require(org.id)
        assert isinstance(on_admin, Organization) and on_admin.name == f"{org.name} (member)"
        assert on_admin.acronym == ("ADM" if org in touched else "")
        assert not member.records.require(org.id).dirty


def test_a_single_change_the_server_keeps_failing_on_does_not_stop_the_device_receiving(
    server: Server, make_device: Any
) -> None:
    """One change (no batch) the server answers 5xx for: the push and pull share a request, so
    that request failing used to end every sync. The pull now goes alone; the change stays a
    local edit, said, and goes once the server takes it."""
    from desktop.ui.sync.texts import report_lines

    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    member.sync()
    poison = organization(space, "The server fails on this one")
    member.records.save(poison)
    with HostileServer(server.url) as hostile:
        hostile.failing_records = {poison.id}
        _through(member, hostile.url)
        for attempt in range(2):
            news = admin.records.save(organization(space, f"Admin news {attempt}"))
            admin.sync()
            report = member.engine.sync_once()
            assert report.push_failed == 1 and report.pushed == 0
            assert any("failed on" in line for line in report_lines(report))
            assert member.records.get(news.id) is not None  # received all the same
            assert member.records.require(poison.id).dirty
        hostile.failing_records = set()
        assert member.engine.sync_once().pushed == 1
    admin.sync()
    held = admin.records.require(poison.id)
    assert isinstance(held, Organization) and held.name == poison.name
    assert not member.records.require(poison.id).dirty
