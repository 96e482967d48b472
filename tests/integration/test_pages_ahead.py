"""Pages asked ahead (PROTOCOL.md §7) against a hostile server or a link that stalls: the
``Minga-More`` header is a hint from the server, so what it makes the app ask for and hold must
stay bounded whatever it says, and nothing is skipped, stored twice or applied out of order."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sync.protocol import MORE_HEADER
from tests.helpers.hostile_server import Exchange, HostileServer
from tests.integration.conftest import Device, Server, network_of
from tests.integration.test_bulk_sync import _count, _cursor, _write_singly
from tests.integration.test_malicious_server import behind


@pytest.fixture
def hostile(server: Server) -> Iterator[HostileServer]:
    with HostileServer(server.url) as relay:
        yield relay


def _reader(server: Server, make_device: Any, records: int) -> tuple[str, Device, Device]:
    space, (admin, _member) = network_of(server, make_device, 2)
    _write_singly(admin, space, records)
    reader = make_device("reader", 4096)  # small pages: several of them
    reader.engine.enroll(admin.engine.invite(space))
    admin.engine.admit(space, admin.engine.pending_members(space))
    return space, admin, reader


def _syncs(hostile: HostileServer) -> int:
    with hostile.lock:
        return sum(1 for method, route in hostile.requests if route == "/v1/sync")


def test_a_header_on_every_answer_while_a_page_stalls_asks_for_a_bounded_number_of_pages(
    server: Server, make_device: Any, hostile: HostileServer
) -> None:
    """A server names a next cursor on every answer (one past what was asked: a page that is
    always there) and stalls the body of the page the engine reads. The app asks ahead at most
    two pages while it waits, not one after another for as long as the stall lasts (each held
    in memory), and the pull still brings everything."""
    space, admin, reader = _reader(server, make_device, 120)
    behind(reader, hostile.url)

    def forged(exchange: Exchange, headers: dict[str, str]) -> dict[str, str]:
        pull = (exchange.request or {}).get("pull")
        if exchange.route != "/v1/sync" or not isinstance(pull, dict):
            return headers
        kept = {k: v for k, v in headers.items() if k.lower() != MORE_HEADER.lower()}
        return {**kept, MORE_HEADER: ",".join(f"{s}={c + 1}" for s, c in pull.items())}

    stalled = threading.Event()
    during: list[int] = []

    def hold(exchange: Exchange) -> float:
        if exchange.route != "/v1/sync" or stalled.is_set():
            return 0.0
        stalled.set()  # the first page the engine reads: its body comes 1.5 s late
        before = _syncs(hostile)
        time.sleep(1.5)
        during.append(_syncs(hostile) - before)
        return 0.0

    hostile.answer_headers = forged
    hostile.hold_body = hold
    reader.sync()
    assert during and 1 <= during[0] <= 2, during
    assert _count(reader, space) == _count(admin, space) > 120
    assert reader.snapshot() == admin.snapshot()
    assert _cursor(reader, space) == _cursor(admin, space)
