"""Batch push answers are pruned on the server (PROTOCOL.md §13), on SQLite and PostgreSQL: a
batch whose answer was lost and then pruned is re-sent, judged again, and never applied twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from desktop.domain.records import Organization
from sync.client.batches import MIN_BATCH
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from sync.server.db import Database
from tests.helpers.hostile_server import HostileServer
from tests.helpers.server_process import MANY_DEVICES, Server, run_cli, start_server
from tests.integration.conftest import Device, network_of, organization
from tests.server import postgres

#: Two answers per device and space, so the count bound shows within a test.
KEEP_TWO = {"MINGA_SERVER_BATCH_ANSWERS_PER_DEVICE": "2"}


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """The integration tests' server, on each database (overrides conftest's)."""
    url = postgres.create_database("minga_answers") if request.param == "postgres" else None
    data_dir = tmp_path / "server"
    data_dir.mkdir()
    assert run_cli(data_dir, "init", database_url=url).returncode == 0
    process = start_server(data_dir, database_url=url, extra_env={**MANY_DEVICES, **KEEP_TWO})
    served = Server(data_dir, process)
    served.database_url = url  # type: ignore[attr-defined]
    try:
        yield served
    finally:
        process.stop()
        if url is not None:
            postgres.drop_database(url)


def _database(server: Server) -> Database:
    url = getattr(server, "database_url", None)
    return Database(url or f"sqlite:///{server.data_dir / 'minga-server.sqlite3'}")


def _answers(server: Server) -> int:
    db = _database(server)
    try:
        with db.read() as conn:
            return int(conn.execute(text("SELECT count(*) FROM batch_push")).scalar_one())
    finally:
        db.dispose()


def _kept_ids(server: Server) -> list[str]:
    """The batch ids whose answers are kept, oldest first."""
    db = _database(server)
    try:
        with db.read() as conn:
            rows = conn.execute(
                text("SELECT batch_id FROM batch_push ORDER BY answered_at, seq_before")
            )
            return [str(row[0]) for row in rows]
    finally:
        db.dispose()


def _through(device: Device, url: str) -> None:
    old = device.engine
    device.engine = SyncEngine(device.state, Transport(url), page_bytes=old.page_bytes)
    old.transport.close()


def _collect(server: Server, ttl: int) -> str:
    result = run_cli(
        server.data_dir,
        "collect",
        database_url=getattr(server, "database_url", None),
        extra_env={"MINGA_SERVER_BATCH_ANSWER_TTL": str(ttl)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_batch_re_sent_after_its_answer_was_pruned_is_not_applied_twice(
    server: Server, make_device: Any
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    orgs = [organization(space, f"Org {i}") for i in range(MIN_BATCH + 8)]
    admin.records.save_all(orgs)
    with HostileServer(server.url) as hostile:
        hostile.lose_batch_answers = True
        _through(admin, hostile.url)
        failed = admin.engine.sync_once()
        assert failed.push_failed == len(orgs)
    # The server committed the batch and kept its answer; the admin kept the batch. The same
    # sync went on pulling: its own versions came down and settled its edits clean.
    assert len(admin.state.sent_batches()) == 1
    assert admin.state.pending_changes([space], 1000) == []
    assert _answers(server) == 1
    # A young answer is kept...
    assert "and 0 old batch answers" in _collect(server, 3600)
    time.sleep(1.1)
    # ...and one older than the retention goes.
    assert "and 1 old batch answers" in _collect(server, 0)
    assert _answers(server) == 0
    _through(admin, server.url)
    report = admin.sync()
    # Asked by id: not known any more, so sent again; each entry is a conflict now (its base is
    # no longer the record's revision), and the admin's own versions come down and settle.
    assert report.pushed == 0
    assert admin.state.sent_batches() == []
    assert admin.engine.sync_once().pushed == 0  # nothing left to push: no second apply
    member.sync()
    for org in orgs:
        held = member.records.require(org.id)
        assert isinstance(held, Organization) and held.name == org.name
    revisions = {v[1] for k, v in member.snapshot().items() if k in {o.id for o in orgs}}  # type: ignore[index]
    assert revisions == {1}, revisions
    mine = {k: v[1] for k, v in admin.snapshot().items() if k in {o.id for o in orgs}}  # type: ignore[index]
    assert set(mine.values()) == {1}
    assert admin.state.pending_changes([space], 1000) == []


def test_a_device_keeps_only_its_newest_answers_per_space(server: Server, make_device: Any) -> None:
    """``batch_answers_per_device`` (2 here): an older answer goes once the device has more
    newer ones (it re-sends only its newest: each batch is answered before the next is
    sealed), counted per device."""
    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    pushed: list[str] = []
    for round_ in range(4):
        admin.records.save_all([organization(space, f"Org {round_}.{i}") for i in range(MIN_BATCH)])
        admin.sync()
        pushed.append(_kept_ids(server)[-1])
    member.records.save_all([organization(space, f"Member {i}") for i in range(MIN_BATCH)])
    member.sync()
    kept = _kept_ids(server)
    # The admin's two newest and the member's one.
    assert len(kept) == 3 and set(pushed[-2:]) <= set(kept) and pushed[0] not in kept
