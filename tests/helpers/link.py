"""A bad network link between a client and a server on 127.0.0.1, for fault tests and benchmarks.
A TCP relay with bandwidth, latency, jitter, stalls and cuts each way; it counts what passed.

The link is a device's whole link, as a radio is: every TCP connection through it shares one
bandwidth each way (one queue in time per direction, so two parallel connections get the link's
bandwidth between them, not twice), and a new connection waits one round trip (the TCP
handshake) before its first byte. Links can share one ``Radio`` (one device, two servers). The
radio also measures how long the network was busy (bytes queued or in flight either way), so a
benchmark can tell network time from CPU time, and the relay's own CPU (``Link.cpu_seconds``),
so a client in the same process can be measured without it.

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
import os
import random
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
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


class Radio:
    """One device's link: a queue in time per direction shared by all its connections, and how
    long anything was on the way (bytes waiting for the link or in flight, either direction)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent_until = {UP: 0.0, DOWN: 0.0}
        self._busy_until = 0.0
        self._busy = 0.0

    def schedule(self, direction: str, size: int, bandwidth: float | None, now: float) -> float:
        """When the last bit of ``size`` bytes arriving ``now`` has left: after everything
        queued before it in that direction, on any connection of this radio."""
        with self._lock:
            start = max(now, self._sent_until[direction])
            self._sent_until[direction] = start + (size * 8 / bandwidth if bandwidth else 0.0)
            return self._sent_until[direction]

    def on_the_way(self, since: float, until: float) -> None:
        """Something was on the link from ``since`` to ``until`` (calls come in ``since``
        order, so the union of the intervals is kept by extending one end)."""
        with self._lock:
            if until <= self._busy_until:
                return
            self._busy += until - max(since, self._busy_until)
            self._busy_until = until

    def busy_seconds(self, now: float | None = None) -> float:
        """Seconds the link had something on the way, up to ``now`` (what is still queued
        counts only as far as it got)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._busy - max(0.0, self._busy_until - now)


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
        #: A new connection's first byte goes after the handshake: SYN out, SYN-ACK back.
        self.ready_at = time.monotonic() + link.profile.rtt

    def start(self) -> None:
        for direction, source, sink in (
            (UP, self.client, self.server),
            (DOWN, self.server, self.client),
        ):
            pump = _Pump(self, direction, source, sink)
            self.link.spawn(pump.read_loop)
            self.link.spawn(pump.write_loop)

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

    def read_loop(self) -> None:
        link = self.connection.link
        while not self.connection.closed.is_set() and not link.stopped.is_set():
            try:
                data = self.source.recv(_PIECE)
            except OSError:
                data = b""
                self.connection.reset()
            now = time.monotonic()
            sent = link.radio.schedule(
                self.direction, len(data), link.bandwidth(self.direction), now
            )
            due = sent + link.one_way_delay()
            if self.direction == UP:
                due = max(due, self.connection.ready_at + link.one_way_delay())
            with self.ready:
                # Deliveries keep their order even when jitter would swap them (TCP does).
                due = max(due, self.queue[-1][0] if self.queue else 0.0)
                self.queue.append((due, data or None))
                self.ready.notify()
            if data:
                link.radio.on_the_way(now, due)
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
                link.cut(first=self.connection)
                return


class Link:
    """A TCP relay from ``127.0.0.1:<port>`` to ``target`` with a ``LinkProfile``.

    Args:
        target: the server address; only 127.0.0.1 is allowed (tests never leave the machine).
        profile: a name in ``PROFILES`` or a ``LinkProfile``.
        seed: for jitter and the flaky profile's cut times, so a run can be repeated.
        max_lifetime: seconds after which the relay stops by itself.
        radio: another link's ``radio`` when both are one device's (they share its bandwidth).
    """

    def __init__(
        self,
        target: tuple[str, int],
        profile: str | LinkProfile = "clear",
        *,
        seed: int = 0,
        max_lifetime: float = 600.0,
        radio: Radio | None = None,
    ) -> None:
        if target[0] not in ("127.0.0.1", "localhost"):
            raise ValueError("the link emulator relays to 127.0.0.1 only")
        self.target = ("127.0.0.1", target[1])
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.counts = LinkCounts()
        self.radio = radio or Radio()
        self.stopped = threading.Event()
        self.stalled_until = 0.0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._threads: set[int] = set()
        self._cpu_of_ended = 0.0
        self._connections: list[_Connection] = []
        self._cut_at: dict[str, int | None] = {UP: None, DOWN: None}
        #: Seconds between the ends of the connections a byte-count cut resets (``cut_after``).
        self._stagger = 0.0
        self._last_direction = DOWN
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._deadline = time.monotonic() + max_lifetime
        self.spawn(self._accept_loop)
        if self.profile.cut_every is not None:
            self.spawn(self._flaky_loop)

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

    def cut(self, first: _Connection | None = None) -> None:
        """Reset every open connection now (``first`` first); new connections are accepted
        again at once. With a stagger set by ``cut_after``, only ``first`` ends now and the
        others one by one, that many seconds apart, in another thread."""
        with self._lock:
            self.counts.cuts += 1
            stagger, self._stagger = self._stagger, 0.0
            connections, self._connections = self._connections, []
        if first in connections:
            connections.remove(first)
            connections.insert(0, first)
        if not stagger or len(connections) < 2:
            for connection in connections:
                connection.reset()
            return
        connections[0].reset()
        self.spawn(lambda: self._reset_one_by_one(connections[1:], stagger))

    def _reset_one_by_one(self, connections: list[_Connection], stagger: float) -> None:
        for connection in connections:
            # A link stopped meanwhile ends the rest at once (none is left open).
            self.stopped.wait(stagger)
            connection.reset()

    def _reset_all(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.reset()

    def cut_after(self, direction: str, size: int, stagger: float = 0.0) -> None:
        """Reset every connection once ``size`` more bytes have passed in ``direction``.

        ``stagger``: the connections do not all end at the same instant (on a real link each
        learns of the loss by itself): the one that carried the byte ends at once, each other
        open one ``stagger`` seconds after the one before. Connections opened after the cut are
        not touched.
        """
        with self._lock:
            self._cut_at[direction] = self.counts.bytes[direction] + size
            self._stagger = stagger

    def clear_cuts(self) -> None:
        """Forget pending byte-count cuts (the link is good again)."""
        with self._lock:
            self._cut_at = {UP: None, DOWN: None}
            self._stagger = 0.0

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

    def spawn(self, loop: Callable[[], None]) -> None:
        """A daemon thread of the relay, its CPU counted in ``cpu_seconds``."""

        def accounted() -> None:
            ident = threading.get_native_id()
            with self._lock:
                self._threads.add(ident)
            try:
                loop()
            finally:
                with self._lock:
                    self._threads.discard(ident)
                    self._cpu_of_ended += time.thread_time()

        threading.Thread(target=accounted, daemon=True).start()

    def cpu_seconds(self) -> float:
        """CPU the relay's threads used so far (ended and running), so that a client running in
        the same process can be measured as the process's CPU minus this."""
        with self._lock:
            total = self._cpu_of_ended
            running = list(self._threads)
        return total + sum(_thread_cpu(ident) for ident in running)

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


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _thread_cpu(ident: int) -> float:
    """User + system CPU of one thread of this process (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open(f"/proc/self/task/{ident}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command's closing parenthesis: state is field 3, utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / _TICKS
