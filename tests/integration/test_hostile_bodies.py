"""A hostile server (or anything between) answering the app with bodies built to exhaust it:
a few kilobytes that expand to millions of containers, answers larger than any message, deep
nesting. The engine refuses each with a clear error, its memory stays bounded (measured by
allocation), and nothing it holds changes. Issue 12: an app a hostile server cannot exhaust."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator

import pytest
import zstandard

from desktop.ui.sync.link import sync_error_message
from sync.client.engine import SyncEngine
from sync.client.transport import ConnectionSettings, Offline, ProtocolViolation, Transport
from sync.protocol import LIMITS
from tests.helpers.hostile_server import HostileServer
from tests.integration.conftest import Server, network_of, organization
from tests.integration.test_malicious_server import behind

#: What one refused answer may cost the app: the answer (at most max_body_bytes), its expansion
#: (at most max_decoded_bytes) and a little. Building the containers would take over a gigabyte.
BOUND = LIMITS.max_body_bytes + 2 * LIMITS.max_decoded_bytes + 8 * 1024 * 1024


def _amplifying(field: bytes) -> bytes:
    """~16 million empty lists under `field`, in about 1.5 KB."""
    inner = b"\xdc" + (4000).to_bytes(2, "big") + b"\x90" * 4000
    outer = b"\xdc" + (4000).to_bytes(2, "big") + inner * 4000
    return zstandard.ZstdCompressor().compress(
        b"\x82\xa1v\x01" + bytes([0xA0 | len(field)]) + field + outer
    )


BODIES = {
    "amplifying": lambda field: _amplifying(field),
    "deep": lambda field: zstandard.ZstdCompressor().compress(
        b"\x82\xa1v\x01" + bytes([0xA0 | len(field)]) + field + b"\x91" * 200_000 + b"\xc0"
    ),
    "oversized": lambda field: b"\x28" * (LIMITS.max_body_bytes + 4096),
    "unsized-bomb": lambda field: zstandard.ZstdCompressor(write_content_size=False).compress(
        b"\x00" * (LIMITS.max_decoded_bytes + 1)
    ),
}

#: The routes every sync reads (the engine's own run), and the ones it reads when there is
#: something new (asked for directly through the engine's transport).
ENGINE_ROUTES = {"/v1/sync": b"results", "/v1/spaces": b"spaces"}
TRANSPORT_ROUTES = {
    "/members": (b"members", lambda t, space, token: t.members(space, token)),
    "/statements": (b"statements", lambda t, space, token: t.statements(space, 0, token)),
    "/keys": (b"wraps", lambda t, space, token: t.wraps(space, 0, token)),
    "/v1/auth/challenge": (b"challenge", lambda t, space, token: t.challenge("ab" * 16)),
}


@pytest.fixture
def hostile(server: Server) -> Iterator[HostileServer]:
    with HostileServer(server.url) as relay:
        yield relay


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_the_engine_refuses_exhausting_answers_with_bounded_memory(
    server: Server, make_device: object, hostile: HostileServer, kind: str
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    admin.records.save(organization(space, "Casa de la Mujer"))
    admin.sync()
    member.sync()
    behind(member, hostile.url)
    before = member.snapshot()
    tracemalloc.start()
    try:
        for route, field in ENGINE_ROUTES.items():
            hostile.raw_answers.clear()
            hostile.raw_answers[route] = BODIES[kind](field)
            tracemalloc.reset_peak()
            start = tracemalloc.get_traced_memory()[0]
            with pytest.raises(ProtocolViolation) as caught:
                member.engine.sync_once(discover=True)
            peak = tracemalloc.get_traced_memory()[1] - start
            assert peak < BOUND, (route, kind, peak)
            # What the person reads: the translated message for an answer not understood.
            assert "not understood" in sync_error_message(caught.value)
        transport = member.engine.transport
        token = member.engine._authorized(lambda token: token)  # a valid token, via the relay
        for route, (field, call) in TRANSPORT_ROUTES.items():
            hostile.raw_answers.clear()
            hostile.raw_answers[route] = BODIES[kind](field)
            tracemalloc.reset_peak()
            start = tracemalloc.get_traced_memory()[0]
            with pytest.raises(ProtocolViolation):
                call(transport, space, token)
            peak = tracemalloc.get_traced_memory()[1] - start
            assert peak < BOUND, (route, kind, peak)
    finally:
        tracemalloc.stop()
        hostile.raw_answers.clear()
    assert member.snapshot() == before
    # The relay gone honest again, the member syncs as before.
    member.sync()


def test_an_answer_trickled_a_byte_at_a_time_is_given_up(
    server: Server, make_device: object, hostile: HostileServer
) -> None:
    # Each byte comes before the read timeout fires, so no timeout ever did: a hostile server
    # (or anything between) held the app's sync for as long as it liked, 8 MiB at a byte a
    # minute. Now an answer must keep to a minimum average rate once the read timeout's grace
    # has passed; the person reads the message of an unreachable server, and nothing is lost.
    space, (admin, member) = network_of(server, make_device, 2)
    admin.records.save(organization(space, "Casa de la Mujer"))
    admin.sync()
    member.sync()
    old = member.engine
    old.transport.close()
    member.engine = SyncEngine(
        member.state,
        Transport(hostile.url, ConnectionSettings(read_timeout=1.0, min_answer_rate=64.0)),
        page_bytes=old.page_bytes,
    )
    before = member.snapshot()
    hostile.raw_answers["/v1/sync"] = _amplifying(b"results")[:200]
    hostile.trickle = 0.25  # 4 bytes a second: 200 bytes take 50 s
    started = time.monotonic()
    try:
        with pytest.raises(Offline) as caught:
            member.engine.sync_once(discover=True)
    finally:
        hostile.raw_answers.clear()
        hostile.trickle = 0.0
    assert time.monotonic() - started < 10
    assert "could not be reached" in sync_error_message(caught.value)
    assert member.snapshot() == before
    member.sync()


def test_a_huge_answer_to_a_chunk_upload_is_never_read(
    server: Server, make_device: object, hostile: HostileServer
) -> None:
    # A chunk's PUT and HEAD were sent without streaming, so `requests` read the whole answer
    # into memory before its status was even looked at: a hostile server answering an upload
    # with gigabytes had them all held by the app. Now the answer is closed unread.
    space, (member,) = network_of(server, make_device, 1)
    behind(member, hostile.url)
    token = member.engine._authorized(lambda token: token)
    address = "ab" * 32
    hostile.raw_answers["/chunks/" + address] = b"\x00" * (96 * 1024 * 1024)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        chunks = member.engine.chunks
        chunks._put(member.engine.transport, space, address, b"sealed chunk", token)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
        hostile.raw_answers.clear()
    assert peak < 4 * 1024 * 1024, peak
