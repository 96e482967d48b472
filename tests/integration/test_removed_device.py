"""A device removed from a space stops sending its unsent edits there: the server refuses them
(``space_not_found``), so each sync used to seal and send them again for nothing. They stay on
this computer and the status says why. Over the real server, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.domain.records import Organization
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from tests.helpers.server_process import MANY_DEVICES, Server, run_cli, start_server
from tests.integration.conftest import network_of, organization
from tests.server import postgres


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """The integration tests' server, on each database (overrides conftest's)."""
    url = postgres.create_database("minga_removed") if request.param == "postgres" else None
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


def test_a_removed_device_stops_sending_its_edits_to_that_space(
    server: Server, make_device: Any
) -> None:
    from desktop.ui.sync.texts import report_lines

    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    member.sync()
    mine = [
        organization(space, f"Member org {i}", description="Written offline. " * 20)
        for i in range(20)
    ]
    member.records.save_all(mine)
    keys = member.state.device_keys()
    assert keys is not None
    admin.engine.remove_member(space, keys.device_id)

    first = member.engine.sync_once()  # sent once more, refused: now it knows
    assert first.lost_spaces == [space]
    assert {r.code for r in first.rejected} == {"space_not_found"}
    second = member.engine.sync_once()
    assert second.lost_spaces == [space] and second.rejected == []
    assert second.unsent_lost == [space]
    assert any("no longer sent" in line for line in report_lines(second))
    # Measured: the first sync carried the 20 edits, the next one only asks for pages.
    assert first.bytes_up > 8_000
    assert second.bytes_up < first.bytes_up / 5, (first.bytes_up, second.bytes_up)
    # Remembered in the profile: a new engine (the app restarted) sends nothing either.
    old = member.engine
    member.engine = SyncEngine(member.state, Transport(server.url), page_bytes=old.page_bytes)
    old.transport.close()
    third = member.engine.sync_once()
    # (it logs in and discovers again: a few small requests, no edit)
    assert third.rejected == [] and third.bytes_up < first.bytes_up / 5
    for org in mine:  # its edits stay on this computer, unsent
        held = member.records.require(org.id)
        assert isinstance(held, Organization) and held.name == org.name and held.dirty
