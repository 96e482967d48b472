"""Fuzzing the API with hypothesis: hostile bodies, headers and paths on every endpoint.
Whatever arrives, the answer is never a 5xx, and a refused request changes nothing stored."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from sync.protocol import MEDIA_TYPE, chunk_hash, encode_body
from sync.server import schema
from tests.helpers.server_client import DeviceClient
from tests.server.conftest import Harness

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=True)
    | st.text(max_size=80)
    | st.binary(max_size=80)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
ids = st.sampled_from(["r1", "", "a" * 65, "../x", "ok_id", "ünï", "a b"]) | st.text(max_size=70)


@st.composite
def near_mutation(draw: st.DrawFn, space: str) -> dict[str, Any]:
    """A mutation whose fields are mostly right and sometimes wrong, so that some are accepted
    (exercising CAS, conflicts and idempotency) while validation is probed field by field."""

    def field(valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any]) -> Any:
        return draw(invalid if draw(st.integers(0, 9)) == 0 else valid)

    fields = {
        "id": field(st.integers(0, 30).map(lambda n: f"m-{n}"), ids),
        "space": field(st.just(space), ids),
        "record": field(st.sampled_from(["r1", "r2", "r3"]), ids),
        "base": field(st.integers(0, 3), st.integers(-5, 2**64 - 1) | values),
        "blob": field(st.binary(min_size=1, max_size=64), st.just(b"") | values),
        "deleted": field(st.booleans(), values),
        "chunks": field(st.just([]), st.lists(st.text(max_size=70), max_size=3) | values),
    }
    if fields.get("deleted") is True and draw(st.booleans()):
        fields["blob"] = None
    dropped = draw(st.sets(st.sampled_from(sorted(fields)), max_size=1))
    return {k: v for k, v in fields.items() if k not in dropped}


@st.composite
def near_sync(draw: st.DrawFn, space: str) -> dict[str, Any]:
    version = (
        draw(st.sampled_from([0, 2, "1", True]) | values) if draw(st.integers(0, 9)) == 0 else 1
    )
    message: dict[str, Any] = {"v": version}
    if draw(st.booleans()):
        message["push"] = draw(st.lists(near_mutation(space), max_size=4) | values)
    if draw(st.booleans()):
        message["pull"] = draw(
            st.dictionaries(ids | st.just(space), st.integers(-3, 2**64 - 1) | values, max_size=3)
            | st.fixed_dictionaries({space: st.integers(0, 50)})
        )
    if draw(st.booleans()):
        message["max_bytes"] = draw(
            st.integers(1024, 4 * 1024 * 1024)
            if draw(st.integers(0, 4))
            else st.integers(-1, 2**33) | values
        )
    return message


@st.composite
def hostile_body(draw: st.DrawFn, message: st.SearchStrategy[Any]) -> bytes:
    kind = draw(st.sampled_from(["message"] * 6 + ["raw", "zstd-raw", "truncated", "bomb"]))
    if kind == "message":
        return encode_body(draw(message))
    if kind == "raw":
        return draw(st.binary(max_size=200))
    if kind == "zstd-raw":
        return zstandard.ZstdCompressor().compress(draw(st.binary(max_size=200)))
    if kind == "truncated":
        body = encode_body(draw(message))
        return body[: draw(st.integers(0, max(len(body) - 1, 0)))]
    # Highly compressible: tiny on the wire, far beyond max_decoded_bytes when expanded.
    return zstandard.ZstdCompressor().compress(b"\x00" * (17 * 1024 * 1024))


def fingerprint(server: Harness) -> tuple[int, ...]:
    """Everything a refused request could have changed, in a few numbers."""
    with server.db.read() as conn:
        counts = [
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in schema.metadata.sorted_tables
            if table.name not in ("challenge", "token")  # a successful login adds these
        ]
        seqs = conn.execute(
            select(func.coalesce(func.sum(schema.space.c.last_seq), 0))
        ).scalar_one()
        epochs = conn.execute(select(func.coalesce(func.sum(schema.space.c.epoch), 0))).scalar_one()
        statements = conn.execute(
            select(func.coalesce(func.sum(schema.space.c.statement_version), 0))
        ).scalar_one()
        revisions = conn.execute(
            select(func.coalesce(func.sum(schema.record.c.revision), 0))
        ).scalar_one()
    return (*counts, seqs, epochs, statements, revisions)


def check(
    server: Harness,
    client: DeviceClient,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
) -> None:
    before = fingerprint(server)
    response = client.call(method, path, content=body, headers=headers)
    assert response.status_code < 500, (method, path, response.status_code, response.text)
    if response.status_code >= 400:
        error = response.json()
        assert isinstance(error["code"], str) and error["message"]
        assert response.headers["x-minga-error"] == error["code"]
        assert fingerprint(server) == before, (method, path, error)


def test_hostile_sync_bodies_get_a_4xx_or_a_clean_answer(server: Harness) -> None:
    device = server.device()
    space = device.create_space()
    device.sync(push=[device.put(space, "r1", b"x")])

    @FUZZ
    @given(
        body=hostile_body(near_sync(space)),
        content_type=st.sampled_from([MEDIA_TYPE, "text/plain", ""]),
    )
    def run(body: bytes, content_type: str) -> None:
        headers = {"content-type": content_type} if content_type else {}
        before = fingerprint(server)
        response = device.call("POST", "/v1/sync", content=body, headers=headers)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.json()["code"]
            assert fingerprint(server) == before
        else:
            answer = device.body(response)
            assert answer["v"] == 1
            # A clean answer is a well-formed one: every result has one of the three outcomes.
            for result in answer["results"]:
                assert result["status"] in ("accepted", "conflict", "rejected")

    run()


ENDPOINT_BODIES = [
    ("POST", "/v1/enroll"),
    ("POST", "/v1/auth/challenge"),
    ("POST", "/v1/auth/token"),
    ("POST", "/v1/spaces"),
    ("PUT", "/v1/spaces/{space}/members/{device}"),
    ("POST", "/v1/spaces/{space}/invites"),
    ("PUT", "/v1/spaces/{space}/keys/1"),
    # Statement 1 is stored before fuzzing: 1 is the idempotent re-put, 2 the next one.
    ("PUT", "/v1/spaces/{space}/statements/1"),
    ("PUT", "/v1/spaces/{space}/statements/2"),
]


def test_hostile_bodies_on_every_other_endpoint(server: Harness) -> None:
    device = server.device()
    space = device.create_space()
    other = server.device()
    assert device.put_statement(space, 1, b"first").status_code == 201

    @FUZZ
    @given(
        endpoint=st.sampled_from(ENDPOINT_BODIES),
        body=hostile_body(
            values
            | st.fixed_dictionaries(
                {"v": st.just(1)},
                optional={
                    "invite": values,
                    "sign_key": st.binary(max_size=40),
                    "box_key": st.binary(max_size=40),
                    "signature": st.binary(max_size=70),
                    "device": st.just(device.device_id) | values,
                    "challenge": st.binary(max_size=40),
                    "space": ids,
                    "role": st.sampled_from(["admin", "x"]) | values,
                    "ttl": values,
                    "wraps": st.dictionaries(
                        st.just(other.device_id) | st.text(max_size=40), values, max_size=3
                    )
                    | values,
                    "statement": st.just(b"first")
                    | st.binary(max_size=80)
                    | st.sampled_from([b"", b"x" * (256 * 1024 + 1)])
                    | values,
                },
            )
        ),
    )
    def run(endpoint: tuple[str, str], body: bytes) -> None:
        method, template = endpoint
        path = template.format(space=space, device=other.device_id)
        check(server, device, method, path, body, {"content-type": MEDIA_TYPE})

    run()


def test_hostile_paths_headers_and_chunks(server: Harness) -> None:
    device = server.device()
    space = device.create_space()
    stored = b"stored-chunk"
    device.put_chunk(space, stored)

    @FUZZ
    @given(
        method=st.sampled_from(["GET", "HEAD", "PUT", "DELETE", "POST", "PATCH"]),
        template=st.sampled_from(
            [
                "/v1/spaces/{a}/chunks/{b}",
                "/v1/spaces/{a}/members/{b}",
                "/v1/spaces/{a}/keys/{b}",
                "/v1/spaces/{a}/keys?since={b}",
                "/v1/spaces/{a}/statements/{b}",
                "/v1/spaces/{a}/statements?since={b}",
                "/v1/spaces/{a}/statements?since=0&max_bytes={b}",
                "/v1/{a}",
                "/{a}/{b}",
            ]
        ),
        a=st.just(space) | ids,
        b=ids | st.just("0" * 64) | st.integers(-1, 2**40).map(str),
        authorization=st.none()
        | st.just("keep")
        | st.text(max_size=300).filter(lambda s: "\n" not in s and "\r" not in s),
        byte_range=st.none()
        | st.sampled_from(["bytes=0-", "bytes=-0", "bytes=5-1", "bytes=1-2,3-4", "chars=0-1"])
        | st.text(max_size=40, alphabet="bytes=-0123456789,"),
        body=st.binary(max_size=100),
    )
    def run(
        method: str,
        template: str,
        a: str,
        b: str,
        authorization: str | None,
        byte_range: str | None,
        body: bytes,
    ) -> None:
        path = template.format(a=quote(a, safe=""), b=quote(b, safe=""))
        headers: dict[str, str | bytes] = {}
        if authorization is not None and authorization != "keep":
            try:
                headers["authorization"] = authorization.encode("latin-1")
            except UnicodeEncodeError:
                return
        if byte_range is not None:
            headers["range"] = byte_range
        before = fingerprint(server)
        response = device.call(
            method, path, content=body or None, headers=headers, auth=authorization == "keep"
        )
        assert response.status_code < 500, (method, path, response.status_code, response.text)
        if response.status_code >= 400:
            assert response.headers["x-minga-error"]
            assert fingerprint(server) == before
        assert device.get_chunk(space, chunk_hash(stored)).content == stored

    run()
