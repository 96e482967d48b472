"""An address over a per-address limit (enrollment, challenges, token requests, failed proofs)
is told in ``Retry-After`` when the limiter lets it in again, to the second; and the app, told
a wait longer than it waits, stops at once and tells the person when to try again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from desktop.domain.translation import set_language
from desktop.ui.sync.link import join_error_message
from sync.client.transport import BusyRetry, ServerRefused, Transport
from sync.protocol import ChallengeRequest, EnrollRequest, TokenRequest, enroll_statement
from sync.server.auth import CLOSED_LIMIT_WAIT
from sync.server.connections import protocol_with
from tests.helpers.server_client import DeviceClient
from tests.helpers.server_process import free_port
from tests.server.conftest import Harness, make_harness

#: An invite nobody made: refused (403) after the limiter counted the attempt.
UNKNOWN_INVITE = "AAAA-" * 7 + "AAAA"


def _into_window(server: Harness, second: int) -> None:
    """Move the server's clock forward to ``second`` whole seconds into the next minute of the
    limiters' windows: exact, so a wait the test expects is not a rounding's second off."""
    server.clock.now = (server.clock.now // 60 + 1) * 60 + second


def _enroll(server: Harness) -> httpx.Response:
    return DeviceClient(server.http).enroll(UNKNOWN_INVITE)


def _retry_after(answer: httpx.Response) -> int:
    assert answer.status_code == 429, answer.text
    return int(answer.headers["retry-after"])


def _let_in_after(server: Harness, attempt: Callable[[], httpx.Response]) -> int:
    """The refused address's ``Retry-After``, checked against the server itself: one second
    sooner it is still refused, at that second it is let in."""
    seconds = _retry_after(attempt())
    server.clock.advance(seconds - 1)
    assert attempt().status_code == 429  # a refused attempt is not counted: nothing changes
    server.clock.advance(1)
    assert attempt().status_code != 429
    return seconds


@pytest.mark.parametrize(("second", "expected"), [(0, 61), (30, 31), (59, 2)])
def test_enrollment_over_the_limit_is_told_when_it_gets_in_again(
    server: Harness, second: int, expected: int
) -> None:
    # This window's attempts leave the sliding minute only once the next window has begun:
    # from 30 s into this one that is 30 s away, and then any part of the next one will do.
    _into_window(server, second)
    for _ in range(server.settings.enroll_per_minute):
        assert _enroll(server).status_code == 403
    assert _let_in_after(server, lambda: _enroll(server)) == expected


def test_challenges_over_the_limit_count_the_last_window_as_it_fades(server: Harness) -> None:
    device = server.device(login=False)

    def challenge() -> httpx.Response:
        request = ChallengeRequest(device.device_id).to_wire()
        return device.call("POST", "/v1/auth/challenge", request, auth=False)

    limit = server.settings.challenges_per_minute  # 30
    _into_window(server, 50)
    for _ in range(limit // 2):
        assert challenge().status_code == 200
    # Half way into the next window the last one's 15 still count for half (7.5): 23 more are
    # let in (22 + 7.5 < 30), the 24th is not. They count for under 7 (30 - 23) once under
    # 7/15 of the last window is inside the minute: after 32 s in, the next whole second 33.
    _into_window(server, 30)
    answers = [challenge().status_code for _ in range(24)]
    assert answers == [200] * 23 + [429]
    assert _let_in_after(server, challenge) == 3


def test_token_requests_after_failed_proofs_are_told_when_they_may_try_again(
    server: Harness,
) -> None:
    member = server.device(login=False)
    _into_window(server, 40)
    nonce = member.body(
        member.call(
            "POST", "/v1/auth/challenge", ChallengeRequest(member.device_id).to_wire(), auth=False
        )
    )["challenge"]
    forged = TokenRequest(member.device_id, nonce, b"\0" * 64).to_wire()

    def token() -> httpx.Response:
        return member.call("POST", "/v1/auth/token", forged, auth=False)

    for _ in range(server.settings.failed_proofs_per_minute):
        assert token().status_code == 401
    # The failed proofs, not the token requests (well under theirs), set the wait.
    assert _let_in_after(server, token) == 21


def test_a_limit_of_nothing_says_an_hour(server: Harness, tmp_path: Path) -> None:
    # No wait lets an address in where the limit is 0: the answer still names one the client
    # will not spend waiting (it gives up at once past 20 s) and the person can act on.
    closed = make_harness(server.backend, server.db, tmp_path / "closed", enroll_per_minute=0)
    with closed.http:
        assert _retry_after(_enroll(closed)) == CLOSED_LIMIT_WAIT == 3600


# --- the app's side, over a real socket ---------------------------------------------------------


@pytest.fixture
def served(server: Harness) -> Iterator[str]:
    """The harness's app (its database, its clock) served on 127.0.0.1 as `minga-server serve`
    serves it (uvicorn, the server's connection deadlines): the app's own transport speaks
    HTTP to it while the test moves the clock."""
    settings = server.settings
    config = uvicorn.Config(
        server.app,
        host="127.0.0.1",
        port=free_port(),
        lifespan="off",  # the harness's client already runs it
        access_log=False,
        log_config=None,
        http=protocol_with(
            settings.header_timeout, settings.body_idle_timeout, settings.request_timeout
        ),
    )
    listening = uvicorn.Server(config)
    thread = threading.Thread(target=listening.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not listening.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        listening.should_exit = True
        thread.join(timeout=30)


def _enroll_request(server: Harness) -> EnrollRequest:
    keys = DeviceClient(server.http)  # a new device's keys
    statement = enroll_statement(UNKNOWN_INVITE, keys.sign_public, keys.box_public)
    return EnrollRequest(
        UNKNOWN_INVITE, keys.sign_public, keys.box_public, keys.sign_key.sign(statement)
    )


def _used_up(server: Harness, transport: Transport) -> None:
    """Every enrollment of the minute spent by this address (each refused for its code)."""
    for _ in range(server.settings.enroll_per_minute):
        with pytest.raises(ServerRefused) as refused:
            transport.enroll(_enroll_request(server))
        assert refused.value.status == 403


def test_the_app_told_to_wait_longer_than_it_waits_stops_and_says_when(
    server: Harness, served: str
) -> None:
    transport = Transport(served)
    waits: list[float] = []
    transport.sleep = waits.append
    _into_window(server, 0)
    _used_up(server, transport)
    sent = transport.traffic.requests
    started = time.monotonic()
    with pytest.raises(ServerRefused) as refused:
        transport.enroll(_enroll_request(server))
    # One request, no wait: the server says 61 s, more than the 20 s the app waits at most,
    # so trying again sooner (four times, 7.5 s in all, as before) could only be refused.
    assert (refused.value.status, refused.value.code) == (429, "rate_limited")
    assert transport.traffic.requests == sent + 1 and waits == []
    assert time.monotonic() - started < 5
    assert refused.value.retry_after == 61
    try:
        assert join_error_message(refused.value) == (
            "The server asks to wait. Try again in 2 minutes."
        )
        set_language("es")
        assert join_error_message(refused.value) == (
            "El servidor pide esperar. Inténtelo de nuevo en 2 minutos."
        )
    finally:
        set_language("en")
    transport.close()


def test_the_app_waits_a_short_wait_out_once_and_is_let_in(server: Harness, served: str) -> None:
    transport = Transport(served)
    waits: list[float] = []

    def wait(seconds: float) -> None:
        # The wait is spent on the server's clock, not the test's.
        waits.append(seconds)
        server.clock.advance(seconds)

    transport.sleep = wait
    _into_window(server, 50)
    _used_up(server, transport)
    sent = transport.traffic.requests
    with pytest.raises(ServerRefused) as refused:
        transport.enroll(_enroll_request(server))
    # Told 11 s, the app waited them (and at most the jitter more) once, and its next try
    # reached the enrollment itself (refused for the code, no longer for the address).
    assert refused.value.status == 403
    assert transport.traffic.requests == sent + 2
    assert len(waits) == 1 and 11 <= waits[0] <= 11 * (1 + BusyRetry().jitter), waits
    transport.close()
