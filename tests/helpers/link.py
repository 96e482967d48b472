"""A bad network link between a client and a server on 127.0.0.1, for fault tests and benchmarks.
A TCP relay with bandwidth, latency, jitter, stalls and cuts each way; it counts what passed.

It relays bytes and never parses them (no HTTP knowledge): a cut resets both TCP connections
mid-whatever, as a dropped 2G link does. Every thread is a daemon, every wait has a timeout and
the relay stops by itself after ``max_lifetime`` seconds, so a forgotten link cannot hang a run.

    with Link(("127.0.0.1", server_port), profile="2g") as link:
        Transport(link.url) ...
        link.cut_after(UP, 100_000)     # reset once 100 kB more went up
        link.stall(5)                   # link up, nothing passes for 5 s
        link.counts.bytes[UP], link.counts.connections
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType

#: Directions: client → server and server → client.
UP = "up"
DOWN = "down"
#: Bytes read from a socket at once: small enough that bandwidth shaping is smooth.
_PIECE = 1460


@dataclass(frozen=True)
class LinkProfile:
    """One way of being bad. Bandwidths in bit/s (``None``: unlimited), times in seconds."""

    up_bps: float | None = None
    down_bps: float | None = None
    rtt: float = 0.0
    jitter: float = 0.0
    #: A cut of every connection at random intervals in this range (``None``: never).
    cut_every: tuple[float, float] | None = None


PROFILES: dict[str, LinkProfile] = {
    "clear": LinkProfile(),
    "2g": LinkProfile(100_000, 100_000, 0.600, 0.050),
    "edge": LinkProfile(240_000, 240_000, 0.400, 0.040),
    "satellite": LinkProfile(2_000_000, 2_000_000, 1.200, 0.050),
    "flaky": LinkProfile(240_000, 240_000, 0.400, 0.040, cut_every=(20.0, 40.0)),
}


@dataclass
class LinkCounts:
    """What passed the link: delivered bytes per direction, connections accepted, resets."""

    bytes: dict[str, int] = field(default_factory=lambda: {UP: 0, DOWN: 0})
    #: Bursts of client bytes after the server last spoke (≈ requests on HTTP/1.1).
    bursts: dict[str, int] = field(default_factory=lambda: {UP: 0, DOWN: 0})
    connections: int = 0
    cuts: int = 0


class _Connection:
    """One accepted client socket and its server socket, with a pump per direction."""

    def __init__(self, link: Link, client: socket.socket, server: socket.socket) -> None:
        self.link = link
        self.client = client
        self.server = server
        self.closed = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        for direction, source, sink in (
            (UP, self.client, self.server),
            (DOWN, self.server, self.client),
        ):
            pump = _Pump(self, direction, source, sink)
            threading.Thread(target=pump.read_loop, daemon=True).start()
            threading.Thread(target=pump.write_loop, daemon=True).start()

    def reset(self) -> None:
        """Drop both sides with a TCP reset (linger 0), as a link that vanished."""
        with self._lock:
            if self.closed.is_set():
                return
            self.closed.set()
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # Wakes a pump blocked in recv on this socket; otherwise close waits for it
            # and no reset is sent.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)
            with contextlib.suppress(OSError):
                sock.close()

    def finish(self, sink: socket.socket) -> None:
        """One side closed cleanly: pass the end of stream on."""
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            self.reset()


class _Pump:
    """Reads one direction as fast as it comes, delivers it when the emulated link would have."""

    def __init__(
        self, connection: _Connection, direction: str, source: socket.socket, sink: socket.socket
    ) -> None:
        self.connection = connection
        self.direction = direction
        self.source = source
        self.sink = sink
        self.queue: deque[tuple[float, bytes | None]] = deque()
        self.ready = threading.Condition()
        self.sent_until = 0.0

    def read_loop(self) -> None:
        link = self.connection.link
        while not self.connection.closed.is_set() and not link.stopped.is_set():
            try:
                data = self.source.recv(_PIECE)
            except OSError:
                data = b""
                self.connection.reset()
            bandwidth = link.bandwidth(self.direction)
            now = time.monotonic()
            start = max(now, self.sent_until)
            self.sent_until = start + (len(data) * 8 / bandwidth if bandwidth else 0.0)
            due = self.sent_until + link.one_way_delay()
            with self.ready:
                # Deliveries keep their order even when jitter would swap them (TCP does).
                due = max(due, self.queue[-1][0] if self.queue else 0.0)
                self.queue.append((due, data or None))
                self.ready.notify()
            if not data:
                return

    def write_loop(self) -> None:
        link = self.connection.link
        while not self.connection.closed.is_set() and not link.stopped.is_set():
            with self.ready:
                while not self.queue and not self.connection.closed.is_set():
                    self.ready.wait(0.2)
                    if link.stopped.is_set():
                        return
                if not self.queue:
                    return
                due, data = self.queue[0]
            wait = max(due, link.stalled_until) - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, 0.2))
                continue
            with self.ready:
                self.queue.popleft()
            if data is None:
                self.connection.finish(self.sink)
                return
            data = link.allow(self.direction, data)
            if data:
                # Counted before it is handed over, so a reader never sees more than counted.
                link.delivered(self.direction, len(data))
            try:
                if data:
                    self.sink.sendall(data)
            except OSError:
                self.connection.reset()
                return
            if link.should_cut(self.direction):
                link.cut()
                return


class Link:
    """A TCP relay from ``127.0.0.1:<port>`` to ``target`` with a ``LinkProfile``.

    Args:
        target: the server address; only 127.0.0.1 is allowed (tests never leave the machine).
        profile: a name in ``PROFILES`` or a ``LinkProfile``.
        seed: for jitter and the flaky profile's cut times, so a run can be repeated.
        max_lifetime: seconds after which the relay stops by itself.
    """

    def __init__(
        self,
        target: tuple[str, int],
        profile: str | LinkProfile = "clear",
        *,
        seed: int = 0,
        max_lifetime: float = 600.0,
    ) -> None:
        if target[0] not in ("127.0.0.1", "localhost"):
            raise ValueError("the link emulator relays to 127.0.0.1 only")
        self.target = ("127.0.0.1", target[1])
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.counts = LinkCounts()
        self.stopped = threading.Event()
        self.stalled_until = 0.0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._connections: list[_Connection] = []
        self._cut_at: dict[str, int | None] = {UP: None, DOWN: None}
        self._last_direction = DOWN
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._deadline = time.monotonic() + max_lifetime
        threading.Thread(target=self._accept_loop, daemon=True).start()
        if self.profile.cut_every is not None:
            threading.Thread(target=self._flaky_loop, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- shaping, read by the pumps ----------------------------------------------------------

    def bandwidth(self, direction: str) -> float | None:
        return self.profile.up_bps if direction == UP else self.profile.down_bps

    def one_way_delay(self) -> float:
        with self._lock:
            jitter = self._random.uniform(-self.profile.jitter, self.profile.jitter)
        return max(0.0, self.profile.rtt / 2 + jitter)

    def allow(self, direction: str, data: bytes) -> bytes:
        """Trim ``data`` so a pending byte-count cut happens exactly at its byte."""
        with self._lock:
            limit = self._cut_at[direction]
            if limit is None:
                return data
            return data[: max(0, limit - self.counts.bytes[direction])]

    def delivered(self, direction: str, size: int) -> None:
        with self._lock:
            self.counts.bytes[direction] += size
            if direction != self._last_direction:
                self.counts.bursts[direction] += 1
                self._last_direction = direction

    def should_cut(self, direction: str) -> bool:
        with self._lock:
            limit = self._cut_at[direction]
            if limit is None or self.counts.bytes[direction] < limit:
                return False
            self._cut_at[direction] = None
            return True

    # --- faults, called by tests ---------------------------------------------------------------

    def cut(self) -> None:
        """Reset every open connection now; new connections are accepted again at once."""
        with self._lock:
            self.counts.cuts += 1
        self._reset_all()

    def _reset_all(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.reset()

    def cut_after(self, direction: str, size: int) -> None:
        """Reset every connection once ``size`` more bytes have passed in ``direction``."""
        with self._lock:
            self._cut_at[direction] = self.counts.bytes[direction] + size

    def clear_cuts(self) -> None:
        """Forget pending byte-count cuts (the link is good again)."""
        with self._lock:
            self._cut_at = {UP: None, DOWN: None}

    def cut_in(self, seconds: float) -> None:
        """Reset every connection ``seconds`` from now (a cut after a time)."""
        timer = threading.Timer(seconds, self.cut)
        timer.daemon = True
        timer.start()

    def stall(self, seconds: float) -> None:
        """The link stays up but nothing passes either way for ``seconds``."""
        self.stalled_until = max(self.stalled_until, time.monotonic() + seconds)

    def stop(self) -> None:
        self.stopped.set()
        self._reset_all()
        with contextlib.suppress(OSError):
            self._listener.close()

    def __enter__(self) -> Link:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    # --- threads -------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self.stopped.is_set():
            if time.monotonic() > self._deadline:
                self.stop()
                return
            try:
                client, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(self, client, server)
            with self._lock:
                self._connections.append(connection)
                self.counts.connections += 1
            connection.start()

    def _flaky_loop(self) -> None:
        assert self.profile.cut_every is not None
        low, high = self.profile.cut_every
        while not self.stopped.is_set():
            with self._lock:
                wait = self._random.uniform(low, high)
            if self.stopped.wait(wait):
                return
            self.cut()
