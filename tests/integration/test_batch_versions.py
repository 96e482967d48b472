"""Batch format versions a reader does not open (PROTOCOL.md §13 "Batch versions"), over a
real server: an app that opens only older versions is held before a newer batch, still pushing
its own changes, and once upgraded goes on from there; a server that hands it such a batch all
the same moves its cursor past nothing."""

from __future__ import annotations

import copy
from typing import Any

from desktop.domain.records import edit
from sync.client.batches import MIN_BATCH
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from sync.crypto.batch import MAGIC, VERSION, read_batch_header
from sync.protocol import ProtocolError, SyncRequest, decode_body
from tests.helpers.hostile_server import Exchange, HostileServer
from tests.integration.conftest import Device, Server, network_of, organization


def _orgs(device: Device, space: str, count: int, prefix: str) -> list[str]:
    ids = []
    for index in range(count):
        record = organization(space, f"{prefix} {index}")
        device.records.save(record)
        ids.append(record.id)
    return ids


def _pulls(bodies: list[bytes], space: str) -> list[int]:
    """The cursor each sync request in ``bodies`` pulled ``space`` after."""
    found = []
    for body in bodies:
        try:
            request = SyncRequest.from_wire(decode_body(body))
        except (ProtocolError, ValueError, TypeError, KeyError):  # not a sync request
            continue
        if space in request.pull:
            found.append(request.pull[space])
    return found


def test_an_app_that_opens_only_version_1_is_held_and_goes_on_once_upgraded(
    server: Server, make_device: Any
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    member.engine.batch_version = 1  # an app from before batch version 2
    before = _orgs(admin, space, 3, "Before")
    admin.sync()
    batched = _orgs(admin, space, MIN_BATCH, "Batched")
    admin.sync()
    after = _orgs(admin, space, 2, "After")
    admin.sync()
    report = member.sync()
    # Held before the version-2 batch: the records before it came, none at or after it.
    assert all(member.records.get(r) is not None for r in before)
    assert all(member.records.get(r) is None for r in batched + after)
    held = member.state.cursors()[space]
    assert held > 0
    # An honest server holds it too: the page says so, and its person is told to update
    # (else its edits of those records go unanswered with no word why).
    assert report.needs_newer == [space]
    # Held, it still pushes its own changes, and polling again moves nothing.
    mine = organization(space, "Member's own")
    member.records.save(mine)
    report = member.sync()
    assert report.pushed == 1 and member.state.cursors()[space] == held
    assert report.needs_newer == [space]
    admin.sync()
    assert admin.records.get(mine.id) is not None
    # Upgraded (same profile, the reader version raised): from the held cursor, not from 0.
    member.engine.batch_version = 2
    sent = len(member.sent)
    report = member.sync()
    assert _pulls(member.sent[sent:], space)[0] == held
    assert report.needs_newer == []
    assert member.snapshot() == admin.snapshot()
    admin.records.save(edit(admin.records.require(batched[0]), name="Renamed"))
    admin.sync()
    member.sync()
    assert member.records.require(batched[0]).name == "Renamed"


def test_a_server_handing_a_batch_version_the_app_cannot_open_moves_its_cursor_past_nothing(
    server: Server, make_device: Any
) -> None:
    from desktop.ui.sync.texts import report_lines

    space, (admin, alba) = network_of(server, make_device, 2)
    with HostileServer(server.url) as hostile:
        old_engine = alba.engine
        alba.engine = SyncEngine(alba.state, Transport(hostile.url), page_bytes=None)
        old_engine.transport.close()
        ids = _orgs(admin, space, MIN_BATCH, "Org")
        admin.sync()
        held = alba.state.cursors()[space]

        def version_next(exchange: Exchange) -> dict[str, Any] | None:
            if exchange.route != "/v1/sync" or exchange.answer is None:
                return None
            answer = copy.deepcopy(exchange.answer)
            page = answer.get("spaces", {}).get(space)
            if not page or not page.get("batches"):
                return None
            for delivery in page["batches"]:
                blob = bytearray(delivery["batch"])
                assert read_batch_header(bytes(blob))[0].version == 2
                blob[len(MAGIC)] = VERSION + 1  # a version after the newest this app opens
                delivery["batch"] = bytes(blob)
            page["more"] = True  # and it claims more: the app must not ask again and again
            return answer

        hostile.rewrites[:] = [version_next]
        for _ in range(2):
            asked = len(hostile.answers("/v1/sync"))
            report = alba.engine.sync_once()
            assert report.needs_newer == [space] and report.refused == []
            assert any("need a newer Minga" in line for line in report_lines(report))
            assert len(hostile.answers("/v1/sync")) - asked == 1  # one attempt per sync
            assert alba.state.cursors()[space] == held
            assert all(alba.records.get(r) is None for r in ids)
        # The server behaves again (or the app was upgraded): nothing was lost.
        hostile.rewrites[:] = []
        report = alba.sync()
        assert report.needs_newer == []
        assert all(alba.records.get(r) is not None for r in ids)
        assert alba.snapshot() == admin.snapshot()
