"""A small SOCKS5 proxy for tests (RFC 1928: no authentication, CONNECT to a name or an IPv4).

It stands in for Tor: names are resolved by the proxy, from its own ``hosts`` table (names the
test machine cannot resolve itself, so a sync that works proves the client sent the name, not
an address: ``socks5h``). It connects only to 127.0.0.1, counts connections and records every
requested (host, port). Threads are daemons and every socket has a timeout.

    with Socks5Proxy({"minga-sync.test": "127.0.0.1"}) as proxy:
        ConnectionSettings(proxy=proxy.url) ...
        proxy.connections, proxy.requested
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import threading
from collections.abc import Mapping
from types import TracebackType

VERSION = 5
NO_AUTHENTICATION = 0
NO_ACCEPTABLE_METHOD = 0xFF
CONNECT = 1
IPV4, DOMAIN_NAME, IPV6 = 1, 3, 4
#: Reply codes (RFC 1928 §6).
SUCCEEDED, NOT_ALLOWED, HOST_UNREACHABLE, REFUSED = 0, 2, 4, 5
COMMAND_NOT_SUPPORTED, ADDRESS_NOT_SUPPORTED = 7, 8
_TIMEOUT = 30.0


def _exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        piece = connection.recv(size - len(data))
        if not piece:
            raise ConnectionError("client closed during the SOCKS handshake")
        data += piece
    return data


def _reply(connection: socket.socket, code: int, bound: tuple[str, int] = ("0.0.0.0", 0)) -> None:
    address = ipaddress.IPv4Address(bound[0]).packed
    connection.sendall(
        struct.pack("!BBBB", VERSION, code, 0, IPV4) + address + bound[1].to_bytes(2)
    )


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while piece := source.recv(65536):
            sink.sendall(piece)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class Socks5Proxy:
    """A SOCKS5 proxy on 127.0.0.1 (started on enter, closed on exit)."""

    def __init__(self, hosts: Mapping[str, str] | None = None) -> None:
        self.hosts = dict(hosts or {})
        self.connections = 0
        #: (host as the client sent it — a name or an address —, port), one per CONNECT.
        self.requested: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._sockets: list[socket.socket] = []

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        """``socks5h``: the client hands the name to the proxy (as with Tor)."""
        return f"socks5h://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._sockets.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(_TIMEOUT)
        try:
            upstream = self._handshake(client)
        except (OSError, ValueError):
            client.close()
            return
        if upstream is None:
            client.close()
            return
        with self._lock:
            self._sockets.append(upstream)
        other = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        other.start()
        _pump(client, upstream)
        other.join(_TIMEOUT)
        upstream.close()
        client.close()

    def _handshake(self, client: socket.socket) -> socket.socket | None:
        version, count = _exactly(client, 2)
        if version != VERSION:
            return None
        if NO_AUTHENTICATION not in _exactly(client, count):
            client.sendall(bytes([VERSION, NO_ACCEPTABLE_METHOD]))
            return None
        client.sendall(bytes([VERSION, NO_AUTHENTICATION]))
        version, command, _reserved, kind = _exactly(client, 4)
        if kind == IPV4:
            host = str(ipaddress.IPv4Address(_exactly(client, 4)))
        elif kind == DOMAIN_NAME:
            host = _exactly(client, _exactly(client, 1)[0]).decode("ascii")
        else:
            _reply(client, ADDRESS_NOT_SUPPORTED)
            return None
        port = int.from_bytes(_exactly(client, 2))
        with self._lock:
            self.requested.append((host, port))
        if version != VERSION or command != CONNECT:
            _reply(client, COMMAND_NOT_SUPPORTED)
            return None
        address = self.hosts.get(host, host if kind == IPV4 else None)
        if address is None:
            _reply(client, HOST_UNREACHABLE)
            return None
        if address != "127.0.0.1":
            _reply(client, NOT_ALLOWED)  # a test proxy never reaches beyond this machine
            return None
        try:
            upstream = socket.create_connection((address, port), timeout=_TIMEOUT)
        except OSError:
            _reply(client, REFUSED)
            return None
        _reply(client, SUCCEEDED, upstream.getsockname()[:2])
        return upstream

    def __enter__(self) -> Socks5Proxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting and drop every relayed connection (a proxy that went down)."""
        self._stopped.set()
        self._listener.close()
        self._thread.join(timeout=10)
        with self._lock:
            for connection in self._sockets:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
