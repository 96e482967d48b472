"""A server that answers 429 ("too many requests of this device in progress; retry shortly")
is waited out by the app, as its Retry-After says, within bounds, and the sync goes on: the
real server's per-device slots, and a hostile one writing what it likes in Retry-After."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync.client.transport import BusyRetry, ServerRefused
from sync.crypto.stream import CHUNK_SIZE
from sync.server.device_slots import REQUESTS_PER_DEVICE
from tests.helpers.hostile_server import HostileServer
from tests.helpers.link import Link
from tests.integration.conftest import Device, Server, network_of, organization
from tests.integration.devices import import_evidence, make_with_files, opened, with_files

POLICY = BusyRetry()
#: The most one wait may be, whatever the server wrote.
LONGEST = POLICY.max_wait * (1 + POLICY.jitter)


@pytest.fixture
def hostile(server: Server) -> Iterator[HostileServer]:
    with HostileServer(server.url) as relay:
        yield relay


def _waits(device: Device) -> list[float]:
    """The device's 429 waits, recorded instead of spent (lanes inherit the recorder)."""
    waits: list[float] = []
    device.engine.transport.sleep = waits.append
    return waits


#: Where a 429 can come: a protocol message (``Transport.call``) or a chunk's raw body on a
#: lane (``Transport.send_raw``); each test of the wait runs on both.
PATHS = ["sync", "chunk"]


def _busy_device(
    where: str, server: Server, make_device: Any, hostile: HostileServer, tmp_path: Path
) -> tuple[Device, str]:
    """A device whose next sync sends ``where``'s request through the relay, and that
    request's route (its suffix, as ``hostile.busy`` takes it)."""
    space, (member,) = network_of(server, make_with_files(make_device), 1)
    with_files(member, hostile.url)
    if where == "chunk":
        evidence = import_evidence(member, space, tmp_path / "f", CHUNK_SIZE, "a.pdf")
        return member, "/chunks/" + evidence.attachment_chunks[0]
    member.records.save(organization(space, "Casa de la Mujer"))
    return member, "/v1/sync"


def _sent(hostile: HostileServer, route: str) -> int:
    """How many requests went to ``route`` (the relay counts each, answered 429 or passed)."""
    return sum(1 for _method, path in hostile.requests if path.endswith(route))


@pytest.mark.parametrize("where", PATHS)
def test_a_busy_answer_is_waited_out_as_retry_after_says_and_the_sync_goes_on(
    server: Server, make_device: Any, hostile: HostileServer, tmp_path: Path, where: str
) -> None:
    member, route = _busy_device(where, server, make_device, hostile, tmp_path)
    waits = _waits(member)
    hostile.busy[route] = ["1", "3"]
    report = member.sync()
    assert hostile.refused_busy == 2 and _sent(hostile, route) == 3
    # Never sooner than asked, at most a quarter later (the jitter).
    assert len(waits) == 2
    assert 1 <= waits[0] <= 1.25 and 3 <= waits[1] <= 3.75, waits
    assert report.pushed >= 1 and report.chunks_up == (1 if where == "chunk" else 0)


@pytest.mark.parametrize("where", PATHS)
def test_a_hostile_retry_after_is_bounded(
    server: Server, make_device: Any, hostile: HostileServer, tmp_path: Path, where: str
) -> None:
    member, route = _busy_device(where, server, make_device, hostile, tmp_path)
    waits = _waits(member)
    hostile.busy[route] = ["-5", "soon, maybe", "Sat, 01 Jan 2000 00:00:00 GMT", "20"]
    report = member.sync()
    assert hostile.refused_busy == 4 and len(waits) == 4
    # Negative, garbage and a past date are not a wait the server may ask for: the back-off's
    # own (0.5 s doubling) applies, never a busy loop. The cap itself is waited.
    assert 0.5 <= waits[0] <= 0.625 and 1 <= waits[1] <= 1.25 and 2 <= waits[2] <= 2.5, waits
    assert POLICY.max_wait <= waits[3] <= LONGEST
    assert report.pushed >= 1 and report.chunks_up == (1 if where == "chunk" else 0)


@pytest.mark.parametrize("where", PATHS)
@pytest.mark.parametrize(
    "retry_after",
    [
        "21",  # a second over the cap
        "99999999999999999999",  # three thousand billion years
        "0000000000000000000021",  # 21 written long: not cut to its first zeros
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ],
)
def test_a_wait_longer_than_the_app_waits_is_the_answer_at_once(
    server: Server,
    make_device: Any,
    hostile: HostileServer,
    tmp_path: Path,
    where: str,
    retry_after: str,
) -> None:
    """Waiting the cap (20 s) and asking again would only be refused again, four times: the
    429 is the answer at once, with the wait the server asked for, for the person to read."""
    member, route = _busy_device(where, server, make_device, hostile, tmp_path)
    waits = _waits(member)
    hostile.busy[route] = [retry_after] * 5
    with pytest.raises(ServerRefused) as refused:
        member.sync()
    assert (refused.value.status, refused.value.code) == (429, "rate_limited")
    assert hostile.refused_busy == _sent(hostile, route) == 1 and waits == []
    assert refused.value.retry_after is not None and refused.value.retry_after > POLICY.max_wait
    hostile.busy.clear()
    assert member.sync().pushed >= 1  # the next sync goes through


@pytest.mark.parametrize("where", PATHS)
def test_a_server_busy_for_longer_is_a_refusal_after_bounded_tries(
    server: Server, make_device: Any, hostile: HostileServer, tmp_path: Path, where: str
) -> None:
    member, route = _busy_device(where, server, make_device, hostile, tmp_path)
    waits = _waits(member)
    hostile.busy[route] = ["2"] * 20
    with pytest.raises(ServerRefused) as refused:
        member.sync()
    assert (refused.value.status, refused.value.code) == (429, "rate_limited")
    # The first try and POLICY.attempts more: bounded in requests and in time.
    assert hostile.refused_busy == _sent(hostile, route) == 1 + POLICY.attempts
    assert len(waits) == POLICY.attempts and sum(waits) <= POLICY.attempts * LONGEST
    hostile.busy.clear()
    assert member.sync().pushed >= 1  # the next sync goes through


def test_chunk_requests_told_to_wait_are_sent_again(
    server: Server, make_device: Any, hostile: HostileServer, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    with_files(admin, hostile.url)
    waits = _waits(admin)
    evidence = import_evidence(admin, space, tmp_path / "f", 3 * CHUNK_SIZE, "a.pdf")
    first, second = evidence.attachment_chunks[:2]
    hostile.busy["/chunks/missing"] = ["1"]
    hostile.busy["/chunks/" + first] = ["1", None]
    hostile.busy["/chunks/" + second] = ["2"]
    pushed = admin.sync()
    assert hostile.refused_busy == 4 and len(waits) == 4
    assert pushed.chunks_up == 3 and pushed.rejected == []
    puts = [route for method, route in hostile.requests if method == "PUT"]
    assert puts.count(f"/v1/spaces/{space}/chunks/{first}") == 3
    member.sync()
    assert opened(member, evidence.id) == (tmp_path / "f" / "a.pdf").read_bytes()


def _hold_slots(server: Server, space: str, token: str) -> list[socket.socket]:
    """Every request slot of the device, each held by a chunk upload whose body never comes
    (the slot is taken before a body is read)."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    held = []
    for n in range(REQUESTS_PER_DEVICE):
        sock = socket.create_connection((host, int(port)), timeout=10)
        sock.sendall(
            f"PUT /v1/spaces/{space}/chunks/{n:064x} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: 1000\r\n\r\n".encode()
        )
        held.append(sock)
    return held


def _busy(server: Server, space: str, token: str) -> bool:
    answer = httpx.head(
        f"{server.url}/v1/spaces/{space}/chunks/{0:064x}",
        headers={"Authorization": f"Bearer {token}"},
    )
    return answer.status_code == 429


def test_the_real_servers_slots_are_waited_out(server: Server, make_device: Any) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    admin.records.save(organization(space, "Colectivo"))
    admin.sync()
    token = member.engine._authorized(lambda token: token)
    held = _hold_slots(server, space, token)
    deadline = time.monotonic() + 20
    while not _busy(server, space, token):  # the server has taken every slot
        assert time.monotonic() < deadline
    waits: list[float] = []

    def wait(seconds: float) -> None:
        # The waits are recorded; the first one ends the uploads that hold the slots, and
        # returns once the server gave them back (it answers again).
        waits.append(seconds)
        for sock in held:
            sock.close()
        while _busy(server, space, token):
            assert time.monotonic() < deadline

    member.engine.transport.sleep = wait
    member.sync()
    assert waits and waits[0] >= 1  # the real server says Retry-After: 1
    assert member.snapshot() == admin.snapshot()


@pytest.mark.parametrize("where", PATHS)
def test_a_wait_for_a_busy_server_ends_when_the_app_locks_or_quits(
    server: Server, make_device: Any, hostile: HostileServer, tmp_path: Path, where: str
) -> None:
    """Lock and quit wait for the sync in flight to let go of the engine: a 429 wait (up to
    20 s each, four in a row) must end at once when the app abandons the transport, on the
    protocol call and on a chunk lane alike, and no request is sent after it."""
    member, route = _busy_device(where, server, make_device, hostile, tmp_path)
    hostile.busy[route] = ["20"] * 10
    outcome: list[BaseException | None] = []

    def sync() -> None:
        try:
            member.sync()
            outcome.append(None)
        except BaseException as error:  # handed to the test thread
            outcome.append(error)

    worker = threading.Thread(target=sync, daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    while hostile.refused_busy < 1:  # the first 429 is answered: the worker now waits
        assert time.monotonic() < deadline and worker.is_alive()
        time.sleep(0.02)
    member.engine.transport.abandon()
    # Without the abandon the worker would ask again after each 20 s wait: counted below.
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert hostile.refused_busy == 1
    assert len(outcome) == 1 and isinstance(outcome[0], ServerRefused), outcome
    assert outcome[0].status == 429


def test_a_chunk_told_to_wait_is_sent_again_on_the_same_connection(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """A 429's short body is read to its end before the wait, so the lane's connection goes
    back to the pool: closing it unread cost a new connection (a TCP, TLS and perhaps SOCKS
    handshake, seconds on a satellite link) for every retry."""
    space, (admin,) = network_of(server, make_with_files(make_device), 1)
    with HostileServer(server.url) as hostile:
        relay_port = int(hostile.url.rsplit(":", 1)[1])
        with Link(("127.0.0.1", relay_port), max_lifetime=120) as link:
            with_files(admin, link.url)
            waits = _waits(admin)
            admin.sync()
            evidence = import_evidence(admin, space, tmp_path / "f", CHUNK_SIZE, "a.pdf")
            hostile.busy["/chunks/" + evidence.attachment_chunks[0]] = ["1", "1", "1"]
            before = link.counts.connections
            assert admin.sync().chunks_up == 1
            assert hostile.refused_busy == 3 and len(waits) == 3
            # The one connection the transport keeps carried the probe, the PUT, its three
            # retries and the sync: none was opened for a retry.
            assert link.counts.connections == before, link.counts.connections - before
