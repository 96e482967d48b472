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
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", link.port), timeout=10) as sock:
            times = []
            for _ in range(3):
                sock.sendall(b"ping")
                assert sock.recv(16) == b"ping"
                times.append(time.monotonic() - started)
                started = time.monotonic()
        # Through the echo the data crosses the link twice: one RTT in all; the first exchange
        # of a new connection waits one more for the handshake.
        assert 0.58 <= times[0] <= 0.8, times
        assert all(0.28 <= t <= 0.5 for t in times[1:]), times
        assert link.counts.bursts[UP] == 3


def test_parallel_connections_share_the_links_bandwidth(echo_port: int) -> None:
    # One device's link: two connections at once get its bandwidth between them, not twice.
    profile = LinkProfile(up_bps=400_000, down_bps=400_000)
    payload = bytes(range(256)) * 100  # 25,600 bytes: ~0.5 s alone at 400 kbit/s
    with Link(("127.0.0.1", echo_port), profile) as link:
        _received, alone = _exchange(link.port, payload)
        results: list[tuple[bytes, float]] = []
        both = [
            threading.Thread(target=lambda: results.append(_exchange(link.port, payload)))
            for _ in range(2)
        ]
        started = time.monotonic()
        for thread in both:
            thread.start()
        for thread in both:
            thread.join(30)
        together = time.monotonic() - started
        assert [r[0] for r in results] == [payload, payload]
        assert link.counts.connections == 3
    expected = 2 * len(payload) * 8 / 400_000
    assert 0.9 * expected <= together <= 1.5 * expected, (alone, together)
    assert together >= 1.7 * alone, (alone, together)


def test_two_links_of_one_device_share_its_radio(echo_port: int) -> None:
    profile = LinkProfile(up_bps=400_000, down_bps=400_000)
    payload = bytes(range(256)) * 100
    first = Link(("127.0.0.1", echo_port), profile)
    with first, Link(("127.0.0.1", echo_port), profile, radio=first.radio) as second:
        results: list[tuple[bytes, float]] = []
        both = [
            threading.Thread(target=lambda p=port: results.append(_exchange(p, payload)))
            for port in (first.port, second.port)
        ]
        started = time.monotonic()
        for thread in both:
            thread.start()
        for thread in both:
            thread.join(30)
        together = time.monotonic() - started
    assert [r[0] for r in results] == [payload, payload]
    assert together >= 0.9 * 2 * len(payload) * 8 / 400_000


def test_busy_time_counts_the_network_not_the_pauses(echo_port: int) -> None:
    profile = LinkProfile(up_bps=400_000, down_bps=400_000, rtt=0.2)
    payload = bytes(range(256)) * 50  # 12,800 bytes: 0.256 s each way, overlapping
    with Link(("127.0.0.1", echo_port), profile) as link:
        before = link.radio.busy_seconds()
        _exchange(link.port, payload)
        time.sleep(0.5)  # a pause (CPU elsewhere): the link is idle
        _exchange(link.port, payload)
        busy = link.radio.busy_seconds() - before
        cpu = link.cpu_seconds()
    # Each exchange: handshake wait, serialization up and down overlapping, one way each.
    one = len(payload) * 8 / 400_000 + 0.2
    assert 2 * one * 0.8 <= busy <= 2 * (one + 0.2) * 1.2, busy
    assert 0 < cpu < 2


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
