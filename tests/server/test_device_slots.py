"""One enrolled device cannot run many costly requests at once (issue 12, review r12).

A sync or keys body from an enrolled device may make the server hold 38-62 MB; 20 at once from
one device reached +348 MB. Each device now has a few requests in progress at most (429 with
Retry-After past them), and a device in no space is refused on PUT /keys (404, as on every
route of a space it is not in) before its body is read and decoded."""

from __future__ import annotations

import socket
import time
import tracemalloc
from pathlib import Path

import httpx
import zstandard

from sync.protocol import LIMITS, MEDIA_TYPE
from sync.server.device_slots import REQUESTS_PER_DEVICE
from tests.helpers.server_client import DeviceClient
from tests.helpers.server_process import run_cli, start_server
from tests.server.conftest import Harness

AT_ONCE = 20


def _head(space: str, token: str, length: int) -> bytes:
    """A PUT /keys head announcing a big body that is not sent yet: the request is in progress."""
    return (
        f"PUT /v1/spaces/{space}/keys/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: {MEDIA_TYPE}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_one_device_has_at_most_a_few_requests_in_progress(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert run_cli(data, "init").returncode == 0
    invited = run_cli(data, "invite", "--new-space")
    space = invited.stdout.split("space ", 1)[1].split()[0]
    code = invited.stdout.strip().splitlines()[-1]
    # More connections from this address than the per-address cap's default (20), so the
    # device's own limit is what answers.
    server = start_server(data, extra_env={"MINGA_SERVER_MAX_CONNECTIONS_PER_ADDRESS": "64"})
    sockets: list[socket.socket] = []
    try:
        with httpx.Client(base_url=server.base_url, timeout=20) as http:
            admin = DeviceClient(http)
            assert admin.enroll(code).status_code == 201
            token = admin.login()
            before = _rss_kb(server.process.pid)
            # 20 big keys bodies at once from one admin device, each held open mid-body.
            body = b"\x00" * (LIMITS.max_body_bytes - 1024)
            for _ in range(AT_ONCE):
                connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                sockets.append(connection)
                try:
                    connection.sendall(_head(space, token, len(body)))
                    connection.sendall(body[: len(body) // 2])
                except OSError:
                    pass  # refused at once (429) and closed: read below
            time.sleep(2)
            answered = []
            for connection in sockets:
                connection.settimeout(0.5)
                try:
                    answered.append(connection.recv(4096))
                except TimeoutError:
                    answered.append(b"")
                except OSError:
                    answered.append(b"reset")
            refused = [a for a in answered if a.startswith(b"HTTP/1.1 429")]
            in_progress = [a for a in answered if not a]
            assert len(in_progress) <= REQUESTS_PER_DEVICE, answered
            assert len(refused) == AT_ONCE - len(in_progress)
            assert all(b"retry-after: 1" in a.lower() for a in refused)
            grown_mb = (_rss_kb(server.process.pid) - before) / 1024
            print(f"{len(in_progress)} in progress, {len(refused)} refused, RSS +{grown_mb:.0f} MB")
            # Each request in progress may buffer its body (8 MiB): a few of them, not 20.
            assert grown_mb < (REQUESTS_PER_DEVICE + 2) * LIMITS.max_body_bytes / 2**20, grown_mb
            for connection in sockets:
                connection.close()
            sockets.clear()
            # The slots come back: the device is served again.
            deadline = time.monotonic() + 10
            while admin.call("GET", "/v1/spaces").status_code == 429:
                assert time.monotonic() < deadline, "the device's slots never came back"
                time.sleep(0.1)
            assert admin.call("GET", "/v1/spaces").status_code == 200
    finally:
        for connection in sockets:
            connection.close()
        server.stop()


def test_a_device_in_no_space_is_refused_keys_before_its_body_is_decoded(
    server: Harness,
) -> None:
    member = server.device()
    space = member.create_space()
    outsider = server.device()
    # A small frame that expands to the decoding limit: what decoding it would cost.
    body = zstandard.ZstdCompressor().compress(b"\x00" * (LIMITS.max_decoded_bytes - 64))
    headers = {"content-type": MEDIA_TYPE, "authorization": f"Bearer {outsider.token}"}
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        answer = server.http.request(
            "PUT", f"/v1/spaces/{space}/keys/1", content=body, headers=headers
        )
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    # A device in no space is told the space is not found (it may not learn the space exists).
    assert answer.status_code == 404, answer.text
    assert peak < 2 * 2**20, peak
