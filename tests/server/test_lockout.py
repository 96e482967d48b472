"""No lockout and strict parsing (issue 12): a stranger who knows a member's device id cannot
stop it signing in; limits count source addresses, forwarded ones only from a trusted proxy;
the server parses strictly and never builds a redirect from the Host header."""

from __future__ import annotations

import httpx
import pytest
import zstandard
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sync.protocol import (
    MEDIA_TYPE,
    ChallengeRequest,
    TokenRequest,
    challenge_statement,
    encode_body,
)
from sync.server import schema
from tests.helpers.server_client import DeviceClient
from tests.server.conftest import Harness, make_harness


def _from(server: Harness, address: str) -> DeviceClient:
    """A client whose requests come from `address` (TestClient's peer address)."""
    http = TestClient(server.app, client=(address, 50000))
    return DeviceClient(http)


def _challenge(client: DeviceClient, device: str) -> httpx.Response:
    return client.call("POST", "/v1/auth/challenge", ChallengeRequest(device).to_wire(), auth=False)


def _challenges_stored(server: Harness) -> int:
    with server.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.challenge)).scalar_one())


def test_a_strangers_thousand_challenges_do_not_stop_a_member_signing_in(
    server: Harness,
) -> None:
    member = server.device(login=False)
    member.http = TestClient(server.app, client=("198.51.100.7", 40000))
    stranger = _from(server, "203.0.113.5")
    stored = _challenges_stored(server)  # the database is shared by the session's tests
    statuses = [_challenge(stranger, member.device_id).status_code for _ in range(1000)]
    # The stranger's own address runs out; the member's id is not what is counted.
    assert statuses[0] == 200 and statuses[-1] == 429
    assert statuses.count(200) == server.settings.challenges_per_minute
    # Answers signed by a key the stranger made up: refused, counted against the stranger.
    nonce = stranger.body(_challenge(_from(server, "203.0.113.6"), member.device_id))["challenge"]
    forged = DeviceClient(server.http).sign_key.sign(challenge_statement(nonce, member.device_id))
    liar = _from(server, "203.0.113.6")
    codes = [
        liar.call(
            "POST",
            "/v1/auth/token",
            TokenRequest(member.device_id, nonce, forged).to_wire(),
            auth=False,
        ).status_code
        for _ in range(server.settings.failed_proofs_per_minute + 2)
    ]
    assert codes[0] == 401 and codes[-1] == 429
    # Nothing was stored for any of it: challenges are sealed, not kept.
    assert _challenges_stored(server) == stored
    assert member.login()
    # The answered challenge is now kept (until it expires) so it buys one token only.
    assert _challenges_stored(server) == stored + 1


def test_made_up_ids_cannot_flush_a_limit(server: Harness) -> None:
    stranger = _from(server, "203.0.113.9")
    for _ in range(server.settings.challenges_per_minute):
        _challenge(stranger, "0" * 32)
    # Thousands of other made-up ids from other addresses: the table does not evict anyone.
    for n in range(3000):
        server.app.state.minga.challenge_limiter.allow(f"10.{n // 250}.{n % 250}.1")
    assert _challenge(stranger, "0" * 32).status_code == 429


def test_a_challenge_is_valid_in_every_process_over_the_database(server: Harness, tmp_path) -> None:
    member = server.device(login=False)
    other = make_harness(server.backend, server.db, tmp_path / "second")
    with other.http:
        nonce = member.body(_challenge(member, member.device_id))["challenge"]
        signature = member.sign_key.sign(challenge_statement(nonce, member.device_id))
        request = TokenRequest(member.device_id, nonce, signature).to_wire()
        answer = DeviceClient(other.http).call("POST", "/v1/auth/token", request, auth=False)
        assert answer.status_code == 200
        again = member.call("POST", "/v1/auth/token", request, auth=False)
        assert (again.status_code, again.json()["code"]) == (401, "challenge_invalid")


def test_forwarded_addresses_are_believed_only_from_the_trusted_proxy(
    server: Harness, tmp_path
) -> None:
    behind = make_harness(
        server.backend, server.db, tmp_path / "proxied", trusted_proxies="127.0.0.1"
    )
    member = server.device(login=False)
    with behind.http:
        proxy = TestClient(behind.app, client=("127.0.0.1", 1))
        outsider = TestClient(behind.app, client=("192.0.2.50", 1))
        body = encode_body(ChallengeRequest(member.device_id).to_wire())
        headers = {"content-type": MEDIA_TYPE}

        def ask(client: TestClient, forwarded: str) -> int:
            sent = {**headers, "x-forwarded-for": forwarded}
            return client.post("/v1/auth/challenge", content=body, headers=sent).status_code

        limit = behind.settings.challenges_per_minute
        # Through the proxy, two clients have two budgets.
        assert [ask(proxy, "203.0.113.1") for _ in range(limit + 1)][-1] == 429
        assert ask(proxy, "203.0.113.2") == 200
        # From anyone else the header is ignored: a stranger cannot pick a fresh address.
        assert [ask(outsider, f"198.51.100.{n}") for n in range(limit + 1)][-1] == 429


def test_sync_with_a_made_up_token_is_refused_before_the_body_is_read(server: Harness) -> None:
    stranger = DeviceClient(server.http)
    stranger.token = "D" * 43
    for body in (b"not zstd at all", encode_body({"v": 1.0}), b"\x28" * 9_000_000):
        answer = stranger.call("POST", "/v1/sync", content=body)
        assert (answer.status_code, answer.json()["code"]) == (401, "token_invalid")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (encode_body({"v": 1.0, "device": "a" * 32}), "bad_message"),
        (encode_body({"v": 1, "device": "a" * 32}) + b"\x00", "bad_encoding"),
        (encode_body({"v": 1, "device": "a" * 32}) * 2, "bad_encoding"),
        (zstandard.ZstdCompressor().compress(b"\x81\xa1v\x01" + b"\x00" * 4000), "body_too_large"),
        (encode_body({"v": 1, "device": "a" * 32, "pad": b"\x00" * 3000}), "body_too_large"),
    ],
)
def test_strict_parsing_on_a_strangers_route(server: Harness, body: bytes, code: str) -> None:
    answer = DeviceClient(server.http).call(
        "POST", "/v1/auth/challenge", content=body, headers={"content-type": MEDIA_TYPE}
    )
    assert answer.status_code in (400, 413)
    assert answer.json()["code"] == code


def test_no_redirect_is_built_from_the_host_header(server: Harness) -> None:
    member = server.device()
    for path in ("/v1/spaces/", "/v1/info/", "/v1/sync/"):
        answer = server.http.request(
            "GET",
            path,
            headers={"host": "evil.example", "authorization": f"Bearer {member.token}"},
            follow_redirects=False,
        )
        assert answer.status_code in (404, 405)
        assert "location" not in answer.headers
