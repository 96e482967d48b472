"""Deadlines and limits of a real `minga-server serve`: slow heads, stalled bodies, silent
connections and too many at once cannot hold the server; logs carry only escaped text."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.server_process import ServerProcess, fresh_server
from tests.helpers.tls import tls_server_process

DEADLINES = {
    "MINGA_SERVER_HEADER_TIMEOUT": "2",
    "MINGA_SERVER_BODY_IDLE_TIMEOUT": "2",
    "MINGA_SERVER_KEEP_ALIVE_TIMEOUT": "2",
    "MINGA_SERVER_MAX_CONNECTIONS": "20",
    "MINGA_SERVER_MAX_CONNECTIONS_PER_ADDRESS": "5",
}
# For the caps: the server must hold all 25 test connections at once before the claims can be
# checked. Under load a TLS handshake took ~0.1 s, so 25 of them outlived a 2 s head deadline
# and the first were aborted before the last were counted; 10 s leaves room on a busy machine.
CAPS = DEADLINES | {"MINGA_SERVER_HEADER_TIMEOUT": "10"}
# Bounds on waiting for the server to get somewhere: generous, they only end a test that fails.
PATIENCE = 30.0
REFUSED = "refused a connection: too many open from one address"
HEAD_CUT = "closed a connection: the request head took too long"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = fresh_server(tmp_path_factory.mktemp("deadlines"), DEADLINES)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The server serving TLS itself: the mode where no nginx stands between it and strangers."""
    with tls_server_process(tmp_path_factory.mktemp("deadlines-tls"), DEADLINES) as (process, _):
        yield process


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = fresh_server(tmp_path_factory.mktemp("caps"), CAPS)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def capped_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with tls_server_process(tmp_path_factory.mktemp("caps-tls"), CAPS) as (process, _):
        yield process


def _logged(server: ServerProcess, event: str) -> int:
    """How many times the server has logged `event`: its own count of what it did."""
    return Path(server.log_path).read_text(errors="replace").count(event)


def _await_logged(server: ServerProcess, event: str, count: int) -> int:
    """Waits (bounded by PATIENCE) until the server has logged `event` `count` times; returns
    how many times it has, for the caller to assert on."""
    deadline = time.monotonic() + PATIENCE
    while (seen := _logged(server, event)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return seen


def _await_busy(client: httpx.Client, server: ServerProcess) -> bool:
    """True once the server answers 503 (it counts the held connections), False if it did not
    before the head deadline cut them (then nothing would be learnt by waiting longer)."""
    cut_before = _logged(server, HEAD_CUT)
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline and _logged(server, HEAD_CUT) == cut_before:
        if client.get(server.base_url + "/v1/info").status_code == 503:
            return True
        time.sleep(0.05)
    return False


def _tls_connect(server: ServerProcess, source: str = "127.0.0.1") -> ssl.SSLSocket:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context.wrap_socket(_connect(server, source))


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed `sock` (read returns b"" or resets), None if it did not."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while True:
            if not sock.recv(4096):
                return time.monotonic() - started
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - started
    except TimeoutError:
        return None


def _connect(server: ServerProcess, source: str = "127.0.0.1") -> socket.socket:
    """A connection from `source`: any 127.x.y.z is this machine, seen as another address."""
    return socket.create_connection(
        ("127.0.0.1", server.port), timeout=5, source_address=(source, 0)
    )


def test_a_connection_that_sends_nothing_is_closed(server: ServerProcess) -> None:
    with _connect(server) as sock:
        assert _closed_within(sock, 8) is not None


def test_headers_sent_slowly_are_cut_off_at_the_deadline(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(b"POST /v1/auth/challenge HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = False
        # One header line a second, for longer than the deadline: each byte would reset an idle
        # timer; the head's deadline counts from its first byte.
        for n in range(8):
            try:
                sock.sendall(f"X-Slow-{n}: 1\r\n".encode())
            except OSError:
                closed = True
                break
            time.sleep(1)
        if not closed:
            closed = _closed_within(sock, 3) is not None
        assert closed
        assert time.monotonic() - started < 8


def test_a_stalled_body_is_cut_off(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-minga\r\n"
            b"Content-Length: 1000\r\n\r\n" + b"\x28"
        )
        assert _closed_within(sock, 8) is not None


def test_an_idle_kept_alive_connection_is_closed(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /v1/info HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert _closed_within(sock, 8) is not None


def test_connections_past_the_cap_are_refused_and_the_server_recovers(
    capped_server: ServerProcess,
) -> None:
    server = capped_server
    # Five addresses, five connections each: under the per-address cap, over the global one.
    held = [_connect(server, f"127.0.0.{10 + n // 5}") for n in range(25)]
    try:
        for sock in held:
            sock.sendall(b"GET /v1/info HTTP/1.1\r\nHost: x\r\n")  # heads never finished
        with httpx.Client(timeout=5) as client:
            assert _await_busy(client, server)
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if httpx.get(server.base_url + "/v1/info", timeout=5).status_code == 200:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the server did not recover after the held connections closed")


def test_one_address_cannot_take_every_connection(capped_server: ServerProcess) -> None:
    # A stranger's silent connections, refreshed before each deadline, from one address: past
    # its own cap they are closed at once, so the global cap is never reached and everyone
    # else is served (before, 20 of them made every other client's request a 503).
    server = capped_server
    refused_before = _logged(server, REFUSED)
    held = [_connect(server, "127.0.0.2") for _ in range(25)]
    try:
        # Only once the server has dealt with all 25 (five held, twenty refused) does a 200
        # show that they could not fill the global cap.
        assert _await_logged(server, REFUSED, refused_before + 20) == refused_before + 20
        with httpx.Client(timeout=5) as client:
            assert client.get(server.base_url + "/v1/info").status_code == 200
    finally:
        for sock in held:
            sock.close()


def test_the_log_has_no_raw_control_characters(server: ServerProcess) -> None:
    with httpx.Client(timeout=5) as client:
        client.get(server.base_url + "/v1/x%0A2026-01-01 INFO minga.server.access forged")
        client.get(server.base_url + "/v1/%1b[31mred%1b[0m")
        client.get(server.base_url + "/v1/%C2%85next%E2%80%A8line")
    time.sleep(0.5)
    log = Path(server.log_path).read_bytes()
    lines = log.decode("utf-8", "replace").splitlines()
    assert not any(line.startswith("2026-01-01 INFO minga.server.access forged") for line in lines)
    assert b"\x1b" not in log
    assert "\u2028" not in log.decode("utf-8", "replace")
    assert "\x85" not in log.decode("utf-8", "replace")
    # The forged line is there, as one escaped line of the real request.
    assert any("minga.server.access GET /v1/x\\x0a2026-01-01" in line for line in lines)
    assert any("\\x1b[31mred" in line for line in lines)


def test_a_backslash_in_a_path_cannot_pass_for_an_escape(server: ServerProcess) -> None:
    # A client's literal "\x0a" (%5C is a backslash) must read differently from an escaped
    # line break, or an operator cannot tell what was sent.
    with httpx.Client(timeout=5) as client:
        client.get(server.base_url + "/v1/bs%5Cx0a%0A")
    time.sleep(0.5)
    lines = Path(server.log_path).read_text(errors="replace").splitlines()
    assert any("GET /v1/bs\\\\x0a\\x0a 404" in line for line in lines), lines[-3:]


def test_a_client_that_goes_away_mid_body_is_logged_as_that(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"POST /v1/spaces/s1/statements/1 HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + b"C" * 43 + b"\r\n"
            b"Content-Type: application/x-minga\r\nContent-Length: 100000\r\n\r\n" + b"\x00" * 10
        )
        time.sleep(0.3)
    with _connect(server) as sock:
        sock.sendall(
            b"POST /v1/auth/challenge HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-minga\r\nContent-Length: 1000\r\n\r\n" + b"\x28" * 10
        )
        time.sleep(0.3)
    time.sleep(1.0)
    log = Path(server.log_path).read_text(errors="replace")
    assert "code=client_disconnected" in log
    assert "unexpected" not in log and "ERROR" not in log and "Traceback" not in log


def test_silent_tls_connections_stop_counting_at_the_deadline(
    capped_tls_server: ServerProcess,
) -> None:
    # Over the global cap from five addresses, then silent. Past the head deadline they are
    # aborted: a polite TLS close waited up to 30 s for each silent client's close_notify, and
    # all that time they still counted, so everyone else got 503.
    server = capped_tls_server
    cut_before = _logged(server, HEAD_CUT)
    held = [_tls_connect(server, f"127.0.0.{20 + n // 5}") for n in range(25)]
    try:
        with httpx.Client(timeout=5, verify=False) as client:
            assert _await_busy(client, server)
            # Once the server says it cut all 25, none of them may count any more.
            assert _await_logged(server, HEAD_CUT, cut_before + 25) == cut_before + 25
            assert client.get(server.base_url + "/v1/info").status_code == 200
    finally:
        for sock in held:
            sock.close()


def test_tls_headers_sent_slowly_are_cut_off_at_the_deadline(tls_server: ServerProcess) -> None:
    with _tls_connect(tls_server) as sock:
        sock.sendall(b"POST /v1/auth/challenge HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        try:
            for n in range(10):
                sock.sendall(f"X-Slow-{n}: 1\r\n".encode())
                time.sleep(0.5)
            _closed_within(sock, 3)
        except OSError:
            pass
        assert time.monotonic() - started < 6


def test_over_tls_one_address_cannot_take_every_connection(
    capped_tls_server: ServerProcess,
) -> None:
    server = capped_tls_server
    refused_before = _logged(server, REFUSED)
    held = [_tls_connect(server, "127.0.0.3") for _ in range(25)]
    try:
        assert _await_logged(server, REFUSED, refused_before + 20) == refused_before + 20
        with httpx.Client(timeout=5, verify=False) as client:
            assert client.get(server.base_url + "/v1/info").status_code == 200
    finally:
        for sock in held:
            sock.close()
