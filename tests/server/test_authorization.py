"""The authorization matrix: every authenticated endpoint against every kind of caller.
Each cell checks the status (and per-item code for sync) and that no other space's data leaks."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from sync.crypto.batch import read_batch_header
from sync.protocol import (
    GRANT_CONTEXT,
    CourierGrant,
    CourierPull,
    CourierPush,
    Mutation,
    Role,
    SyncRequest,
    chunk_hash,
)
from sync.server.auth import revoke_device
from tests.helpers.server_client import DeviceClient, batch_blob, push_batch, sealed_blob
from tests.server.conftest import Harness

CALLERS = ["no_token", "expired", "revoked", "outsider", "reader", "editor", "admin"]


@dataclass
class World:
    """Space S with one member per role plus a bystander; space O owned by the outsider."""

    server: Harness
    space: str
    other_space: str
    callers: dict[str, DeviceClient]
    bystander: DeviceClient
    chunk: bytes
    secret: bytes
    other_secret: bytes


def build_world(server: Harness) -> World:
    space, members = server.space_with(editor=2, reader=2)
    admin = members["admin"][0]
    editor, revoked = members["editor"]
    reader, bystander = members["reader"]
    outsider = server.device()
    other_space = outsider.create_space()
    secret = b"S-SECRET-" + secrets.token_hex(8).encode()
    other_secret = b"O-SECRET-" + secrets.token_hex(8).encode()
    admin.sync(push=[admin.put(space, "rec", secret)])
    outsider.sync(push=[outsider.put(other_space, "rec", other_secret)])
    chunk = b"S-CHUNK-" + secrets.token_bytes(64)
    assert admin.put_chunk(space, chunk).status_code == 201
    admin.call(
        "PUT",
        f"/v1/spaces/{space}/keys/1",
        {"v": 1, "wraps": {m.device_id: b"wrap" for m in (admin, editor, reader)}},
    )
    # S's statement carries S's secret, so reading it from outside would show as a leak.
    assert admin.put_statement(space, 1, b"statement:" + secret).status_code == 201
    expired = server.device([(space, Role.EDITOR)])
    server.clock.advance(server.settings.token_ttl + 1)
    for client in (admin, editor, reader, revoked, outsider, bystander):
        client.login()
    assert revoke_device(server.db, revoked.device_id, int(server.clock()))
    no_token = DeviceClient(server.http)
    callers = {
        "no_token": no_token,
        "expired": expired,
        "revoked": revoked,
        "outsider": outsider,
        "reader": reader,
        "editor": editor,
        "admin": admin,
    }
    return World(server, space, other_space, callers, bystander, chunk, secret, other_secret)


Call = Callable[[World, DeviceClient], httpx.Response]


def _push(w: World, c: DeviceClient) -> httpx.Response:
    record = secrets.token_hex(8)
    # Sealed at an epoch no rotation reaches: the server reads it from the header.
    blob = sealed_blob(w.space, record, 2**20)
    request = SyncRequest(push=(Mutation("m", w.space, record, 0, blob),))
    return c.call("POST", "/v1/sync", request.to_wire())


def _pull(w: World, c: DeviceClient) -> httpx.Response:
    return c.call("POST", "/v1/sync", SyncRequest(pull={w.space: 0}).to_wire())


def _courier_push(w: World, c: DeviceClient) -> httpx.Response:
    # Carried for the bystander, but not an envelope it signed: refused per item, whoever carries.
    message = CourierPush(((w.bystander.device_id, Mutation("m", w.space, "carried", 0, b"x")),))
    return c.call("POST", "/v1/courier/push", message.to_wire())


def _courier_pull(w: World, c: DeviceClient) -> httpx.Response:
    # The bystander lets only the admin download for it.
    grant = CourierGrant(
        device=w.bystander.device_id,
        expires=int(w.server.clock()) + 86400,
        pull={w.space: 0},
        statements={},
        epochs={},
        courier=w.callers["admin"].device_id,
    ).to_bytes()
    signature = w.bystander.sign_key.sign(GRANT_CONTEXT + grant)
    return c.call("POST", "/v1/courier/pull", CourierPull(grant, signature).to_wire())


def _batch_answer(w: World, c: DeviceClient) -> httpx.Response:
    # The caller asks for the answer to its own batch, pushed just before (taken from writers
    # only): nobody learns anything of a batch it did not push.
    blob = batch_blob(c, w.space, {secrets.token_hex(16): 0 for _ in range(2)})
    push_batch(c, w.space, blob)
    batch_id = read_batch_header(blob)[0].batch_id.hex()
    digest = hashlib.sha256(blob).hexdigest()
    return c.call("GET", f"/v1/spaces/{w.space}/batches/{batch_id}?digest={digest}")


ENDPOINTS: dict[str, Call] = {
    "list spaces": lambda w, c: c.call("GET", "/v1/spaces"),
    "create space": lambda w, c: c.call("POST", "/v1/spaces", {"v": 1}),
    "revoke own token": lambda w, c: c.call("POST", "/v1/auth/revoke"),
    "sync push": _push,
    "sync pull": _pull,
    "list members": lambda w, c: c.call("GET", f"/v1/spaces/{w.space}/members"),
    "put member": lambda w, c: c.call(
        "PUT", f"/v1/spaces/{w.space}/members/{w.bystander.device_id}", {"v": 1, "role": "editor"}
    ),
    "remove member": lambda w, c: c.call(
        "DELETE", f"/v1/spaces/{w.space}/members/{w.bystander.device_id}"
    ),
    "create invite": lambda w, c: c.call(
        "POST", f"/v1/spaces/{w.space}/invites", {"v": 1, "role": "reader"}
    ),
    "put key wraps": lambda w, c: c.call(
        "PUT", f"/v1/spaces/{w.space}/keys/2", {"v": 1, "wraps": {w.bystander.device_id: b"k"}}
    ),
    "get key wraps": lambda w, c: c.call("GET", f"/v1/spaces/{w.space}/keys"),
    "put statement": lambda w, c: c.put_statement(w.space, 2, b"statement-2"),
    "get statements": lambda w, c: c.get_statements(w.space),
    "head chunk": lambda w, c: c.head_chunk(w.space, chunk_hash(w.chunk)),
    "get chunk": lambda w, c: c.get_chunk(w.space, chunk_hash(w.chunk)),
    # Which of a file's chunks are missing: one request, authorized as the HEAD of each.
    "missing chunks": lambda w, c: c.missing_chunks(
        w.space, [chunk_hash(w.chunk), chunk_hash(b"never stored")]
    ),
    "put chunk": lambda w, c: c.put_chunk(w.space, secrets.token_bytes(32)),
    "courier push": _courier_push,
    "courier pull": _courier_pull,
    "push batch": lambda w, c: push_batch(
        c, w.space, batch_blob(c, w.space, {secrets.token_hex(16): 0 for _ in range(2)})
    ),
    "stale batches": lambda w, c: c.call("GET", f"/v1/spaces/{w.space}/batches"),
    "batch answer": _batch_answer,
    # Travel mode: only ever about the caller's own memberships (O's owner leaves O; S's
    # members naming O change nothing there), so S stays as the checks below expect.
    "travel leave": lambda w, c: c.call(
        "POST", "/v1/travel/leave", {"v": 1, "spaces": [w.other_space], "verifier": bytes(32)}
    ),
    "travel return": lambda w, c: c.call("POST", "/v1/travel/return", {"v": 1, "token": bytes(32)}),
}

UNAUTHENTICATED = {"no_token": 401, "expired": 401, "revoked": 401}
# Expected status for outsider, reader, editor, admin.
MEMBER_MATRIX: dict[str, tuple[int, int, int, int]] = {
    "list spaces": (200, 200, 200, 200),
    "create space": (201, 201, 201, 201),
    "revoke own token": (204, 204, 204, 204),
    "sync push": (200, 200, 200, 200),
    "sync pull": (200, 200, 200, 200),
    "list members": (404, 200, 200, 200),
    "put member": (404, 403, 403, 200),
    "remove member": (404, 403, 403, 204),
    "create invite": (404, 403, 403, 201),
    "put key wraps": (404, 403, 403, 200),
    "get key wraps": (404, 200, 200, 200),
    "put statement": (404, 403, 403, 201),
    "get statements": (404, 200, 200, 200),
    "head chunk": (404, 200, 200, 200),
    "get chunk": (404, 200, 200, 200),
    "missing chunks": (404, 200, 200, 200),
    "put chunk": (404, 403, 201, 201),
    "courier push": (200, 200, 200, 200),
    "courier pull": (403, 403, 403, 200),
    "push batch": (404, 403, 200, 200),
    "stale batches": (404, 200, 200, 200),
    "batch answer": (404, 404, 200, 200),
    "travel leave": (200, 200, 200, 200),
    "travel return": (200, 200, 200, 200),
}
# Inside a 200 sync answer, what each caller learns about space S.
SYNC_ITEM = {
    "sync push": {
        "outsider": "space_not_found",
        "reader": "role_forbidden",
        "editor": "accepted",
        "admin": "accepted",
    },
    "sync pull": {"outsider": "space_not_found", "reader": "ok", "editor": "ok", "admin": "ok"},
}
UNAUTH_CODES = {"no_token": "auth_missing", "expired": "token_expired", "revoked": "device_revoked"}


def _expected(endpoint: str, caller: str) -> int:
    if caller in UNAUTHENTICATED:
        return UNAUTHENTICATED[caller]
    return MEMBER_MATRIX[endpoint][CALLERS.index(caller) - 3]


def test_the_matrix_covers_every_route(server: Harness) -> None:
    # A new route without a row in the matrix would go unchecked: count them.
    routes = {
        (method, route.path)  # type: ignore[attr-defined]
        for route in server.app.routes
        for method in getattr(route, "methods", set())
        if route.path.startswith("/v1/")  # type: ignore[attr-defined]
    }
    open_routes = {
        ("GET", "/v1/info"),
        ("POST", "/v1/enroll"),
        ("POST", "/v1/auth/challenge"),
        ("POST", "/v1/auth/token"),
    }
    # sync appears twice in the matrix (push and pull); every other row is one route.
    assert len(routes - open_routes) == len(ENDPOINTS) - 1


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_authorization_matrix(server: Harness, endpoint: str) -> None:
    world = build_world(server)
    for caller in CALLERS:
        client = world.callers[caller]
        response = ENDPOINTS[endpoint](world, client)
        expected = _expected(endpoint, caller)
        assert response.status_code == expected, (endpoint, caller, response.text)
        if caller in UNAUTH_CODES:
            assert response.headers["x-minga-error"] == UNAUTH_CODES[caller], (endpoint, caller)
        if endpoint in SYNC_ITEM and caller not in UNAUTHENTICATED:
            body = client.body(response)
            outcome = (
                (body["results"][0].get("code") or body["results"][0]["status"])
                if endpoint == "sync push"
                else body["spaces"][world.space].get("error", "ok")
            )
            assert outcome == SYNC_ITEM[endpoint][caller], (endpoint, caller)
        # No data crosses spaces: S's members never see O's data, the outsider never sees S's.
        leaked = (
            world.secret if caller in ("outsider", "no_token", "expired") else world.other_secret
        )
        assert leaked not in response.content, (endpoint, caller)
        if caller == "outsider":
            assert world.chunk not in response.content
        if endpoint == "get statements" and response.status_code == 200:
            assert world.secret in response.content  # members do get S's statement
    # Unauthenticated and refused calls changed nothing: the record and chunk are intact.
    admin = world.callers["admin"]
    if endpoint != "revoke own token":
        changes = admin.pull_all(world.space)
        assert world.secret in [c.blob for c in changes]
        assert admin.get_chunk(world.space, chunk_hash(world.chunk)).content == world.chunk
        # Only the admin's own call may have added statement 2; no one else's touched 1.
        statements = [(s.version, s.statement) for s in admin.statements(world.space).statements]
        wanted = [(1, b"statement:" + world.secret)]
        if endpoint == "put statement":
            wanted.append((2, b"statement-2"))
        assert statements == wanted
