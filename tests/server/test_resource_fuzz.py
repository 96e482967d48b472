"""Resource fuzz: nested and amplifying bodies to every route, with and without credentials.
What a request may make the server allocate is measured (tracemalloc's peak, the server runs in
this process) and bounded; nothing stored changes. Issue 12: costs bounded before trust."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from sync.protocol import LIMITS, MEDIA_TYPE, encode_body
from sync.server import schema
from tests.helpers.server_client import DeviceClient
from tests.server.conftest import Harness

#: What an unauthenticated request (or one with a made-up token) may make the server allocate,
#: whatever its body: the request itself, a few kilobytes of routing, one small decode.
STRANGER_BOUND = 1024 * 1024
#: A member's request may expand to max_decoded_bytes (the protocol allows it); never more than
#: the expansion plus what the first refused container costs. The issue's body took over 1 GB.
MEMBER_BOUND = 2 * LIMITS.max_decoded_bytes + 4 * 1024 * 1024

ROUTES = [
    ("POST", "/v1/enroll", False),
    ("POST", "/v1/auth/challenge", False),
    ("POST", "/v1/auth/token", False),
    ("POST", "/v1/auth/revoke", True),
    ("POST", "/v1/sync", True),
    ("POST", "/v1/courier/push", True),
    ("POST", "/v1/courier/pull", True),
    ("POST", "/v1/travel/leave", True),
    ("POST", "/v1/travel/return", True),
    ("GET", "/v1/spaces", True),
    ("POST", "/v1/spaces", True),
    ("GET", "/v1/spaces/{space}/members", True),
    ("PUT", "/v1/spaces/{space}/members/{device}", True),
    ("DELETE", "/v1/spaces/{space}/members/{device}", True),
    ("POST", "/v1/spaces/{space}/invites", True),
    ("PUT", "/v1/spaces/{space}/keys/1", True),
    ("GET", "/v1/spaces/{space}/keys", True),
    ("PUT", "/v1/spaces/{space}/statements/1", True),
    ("GET", "/v1/spaces/{space}/statements", True),
    ("PUT", "/v1/spaces/{space}/chunks/{digest}", True),
    ("GET", "/v1/spaces/{space}/chunks/{digest}", True),
    ("HEAD", "/v1/spaces/{space}/chunks/{digest}", True),
]


def _containers(kind: bytes, count: int, per_list: int = 4000) -> bytes:
    """msgpack of a list of lists holding `count` empty containers (`\\x90` lists, `\\x80` maps)."""
    lists = max(1, count // per_list)
    inner = b"\xdc" + per_list.to_bytes(2, "big") + kind * per_list
    return b"\xdc" + lists.to_bytes(2, "big") + inner * lists


def _in_field(name: bytes, value: bytes) -> bytes:
    return b"\x82\xa1v\x01" + bytes([0xA0 | len(name)]) + name + value


def _frame(packed: bytes, sized: bool) -> bytes:
    return zstandard.ZstdCompressor(write_content_size=sized).compress(packed)


# The issue's body and its relatives, made once: about 16 million empty containers in ~1.5 KB.
FIELDS = [b"push", b"device", b"wraps", b"statement", b"junk", b"pull", b"invite"]


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes:
    shape = draw(st.sampled_from(["amplify", "nest", "floats", "trailing", "wide", "claim"]))
    field = draw(st.sampled_from(FIELDS))
    sized = draw(st.booleans())
    if shape == "amplify":
        count = draw(st.sampled_from([10_000, 1_000_000, 4_000_000]))
        kind = draw(st.sampled_from([b"\x90", b"\x80"]))
        return _frame(_in_field(field, _containers(kind, count)), sized)
    if shape == "nest":
        depth = draw(st.integers(10, 200_000))
        return _frame(_in_field(field, b"\x91" * depth + b"\xc0"), sized)
    if shape == "floats":
        count = draw(st.integers(1, 4000))
        return _frame(
            _in_field(field, b"\xdc" + count.to_bytes(2, "big") + b"\xca\0\0\0\0" * count), sized
        )
    if shape == "trailing":
        good = encode_body({"v": 1, field.decode(): 1})
        return good + draw(
            st.sampled_from([b"\x00", good, _frame(_containers(b"\x90", 10**6), sized)])
        )
    if shape == "wide":
        count = draw(st.integers(1, 65_535))
        return _frame(
            _in_field(field, b"\xde" + count.to_bytes(2, "big") + b"\xa0\xc0" * count), sized
        )
    # A frame that expands past every limit (and says so in its header, or not).
    return _frame(b"\x00" * (LIMITS.max_decoded_bytes + 1), sized)


def _paths(space: str, device: str) -> Iterator[tuple[str, str, bool]]:
    for method, template, needs_auth in ROUTES:
        yield method, template.format(space=space, device=device, digest="ab" * 32), needs_auth


def _state(server: Harness) -> dict[str, int]:
    with server.db.read() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in schema.metadata.sorted_tables
        }


def _peak(
    server: Harness, client: DeviceClient, method: str, path: str, body: bytes, token: str | None
) -> tuple[int, int]:
    headers = {"content-type": MEDIA_TYPE}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    response = server.http.request(method, path, content=body, headers=headers)
    peak = tracemalloc.get_traced_memory()[1] - before
    return response.status_code, peak


FUZZ = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def test_the_issues_body_costs_a_stranger_almost_nothing(server: Harness, traced: None) -> None:
    member = server.device()
    space = member.create_space()
    body = _frame(_in_field(b"push", _containers(b"\x90", 16_000_000)), True)
    assert len(body) < 2048
    stranger = DeviceClient(server.http)
    before = _state(server)
    for token in (None, "A" * 43):
        for method, path, _ in _paths(space, member.device_id):
            status, peak = _peak(server, stranger, method, path, body, token)
            assert status < 500, (method, path)
            assert peak < STRANGER_BOUND, (method, path, token, peak)
    assert _state(server) == before


@FUZZ
@given(
    body=hostile_bodies(),
    route=st.sampled_from(range(len(ROUTES))),
    who=st.sampled_from(["none", "made-up", "member"]),
)
def test_hostile_bodies_are_bounded_on_every_route(
    server: Harness, traced: None, body: bytes, route: int, who: str
) -> None:
    member = getattr(server, "_fuzz_member", None)
    if member is None:
        member = server.device()
        space = member.create_space()
        server._fuzz_member = (member, space)  # type: ignore[attr-defined]
    member, space = server._fuzz_member  # type: ignore[attr-defined]
    method, path, needs_auth = list(_paths(space, member.device_id))[route]
    token = {"none": None, "made-up": "B" * 43, "member": member.token}[who]
    before = _state(server)
    status, peak = _peak(server, member, method, path, body, token)
    assert status < 500
    bound = MEMBER_BOUND if who == "member" and needs_auth else STRANGER_BOUND
    assert peak < bound, (method, path, who, peak)
    assert _state(server) == before
