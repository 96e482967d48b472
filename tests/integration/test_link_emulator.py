"""The link emulator itself: bandwidth and latency within tolerance, cuts reset, stalls hold,
and its byte counts match what the endpoints saw. Against a plain TCP echo server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.helpers.link import DOWN, PROFILES, UP, Link, LinkProfile


@pytest.fixture
def echo_port() -> Iterator[int]:
    """An echo server on 127.0.0.1 that answers every byte it gets, until the test ends."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                try:
                    conn.sendall(data)
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield int(listener.getsockname()[1])
    stop.set()
    listener.close()


def _exchange(port: int, payload: bytes, timeout: float = 30) -> tuple[bytes, float]:
    """Send ``payload`` and read back as much, from another thread so both ways overlap."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,), daemon=True)
        sender.start()
        received = bytearray()
        while len(received) < len(payload):
            data = sock.recv(65536)
            if not data:
                break
            received += data
        sender.join(timeout)
    return bytes(received), time.monotonic() - started


def test_bandwidth_and_latency_are_within_tolerance(echo_port: int) -> None:
    profile = LinkProfile(up_bps=400_000, down_bps=400_000, rtt=0.2)
    payload = bytes(range(256)) * 200  # 51,200 bytes: ~1.0 s at 400 kbit/s
    with Link(("127.0.0.1", echo_port), profile) as link:
        received, elapsed = _exchange(link.port, payload)
        assert received == payload
        # Up and down overlap: ~1.02 s of serialization plus 2 × 0.1 s one way, twice.
        expected = len(payload) * 8 / 400_000 + 0.4
        assert expected * 0.8 <= elapsed <= expected * 1.5, elapsed
        assert link.counts.bytes == {UP: len(payload), DOWN: len(payload)}
        assert link.counts.connections == 1


def test_round_trip_time_is_the_profiles(echo_port: int) -> None:
    with Link(("127.0.0.1", echo_port), LinkProfile(rtt=0.3)) as link:
        with socket.create_connection(("127.0.0.1", link.port), timeout=10) as sock:
            times = []
            for _ in range(3):
                started = time.monotonic()
                sock.sendall(b"ping")
                assert sock.recv(16) == b"ping"
                times.append(time.monotonic() - started)
        # Through the echo the data crosses the link twice: one RTT in all.
        assert all(0.28 <= t <= 0.5 for t in times), times
        assert link.counts.bursts[UP] == 3


def test_a_cut_at_a_byte_count_resets_and_counts_stop_there(echo_port: int) -> None:
    with Link(("127.0.0.1", echo_port)) as link:
        link.cut_after(UP, 10_000)
        with (
            socket.create_connection(("127.0.0.1", link.port), timeout=10) as sock,
            pytest.raises(OSError),
        ):
            for _ in range(100):
                sock.sendall(b"x" * 1000)
                sock.recv(65536)
                time.sleep(0.01)
        assert link.counts.bytes[UP] == 10_000
        assert link.counts.cuts == 1
        # The link is back for a new connection.
        received, _elapsed = _exchange(link.port, b"after the cut")
        assert received == b"after the cut"
        assert link.counts.connections == 2


def test_a_cut_after_a_time_resets_an_idle_connection(echo_port: int) -> None:
    with (
        Link(("127.0.0.1", echo_port)) as link,
        socket.create_connection(("127.0.0.1", link.port), timeout=10) as sock,
    ):
        link.cut_in(0.3)
        started = time.monotonic()
        try:
            data = sock.recv(16)
        except ConnectionResetError:
            data = b""
        assert data == b""
        assert 0.25 <= time.monotonic() - started <= 2


def test_a_stall_passes_nothing_then_everything(echo_port: int) -> None:
    with Link(("127.0.0.1", echo_port)) as link:
        link.stall(0.8)
        received, elapsed = _exchange(link.port, b"held")
        assert received == b"held"
        assert 0.7 <= elapsed <= 2.0


def test_profiles_are_the_documented_links() -> None:
    assert PROFILES["2g"].down_bps == 100_000 and PROFILES["2g"].rtt == 0.6
    assert PROFILES["edge"].down_bps == 240_000 and PROFILES["edge"].rtt == 0.4
    assert PROFILES["satellite"].down_bps == 2_000_000 and PROFILES["satellite"].rtt == 1.2
    assert PROFILES["flaky"].cut_every == (20.0, 40.0)


def test_the_flaky_profile_cuts_by_itself(echo_port: int) -> None:
    fast_flaky = LinkProfile(cut_every=(0.2, 0.4))
    with Link(("127.0.0.1", echo_port), fast_flaky, seed=7) as link:
        time.sleep(1.3)
        assert 3 <= link.counts.cuts <= 7


def test_only_loopback_targets_are_accepted() -> None:
    with pytest.raises(ValueError):
        Link(("10.0.0.1", 80))
