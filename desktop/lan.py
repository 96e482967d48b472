"""Two computers next to each other, no internet: exchange courier bundles over the local network.

One side *offers*: it listens on a TCP port and advertises it by mDNS (``zeroconf``) as
``_minga-bundle._tcp.local.``, and shows a six-digit code; the other *browses* (or the person
types the address shown on the offering screen) and connects with that code. The connecting
side sends the code, then its bundle; the offering side checks the code before it reads or
sends anything (a wrong one closes the connection; three close the offer), then answers with
its own bundle. Each bundle is ``u64 length ‖ the bundle file``. Both then import what they
received with every check of ``sync.client.bundles.import_bundle``: the network adds nothing to
trust, and a stranger on the network can at most hand over a bundle that verification refuses.
No Qt here; the Sync page runs these on workers.
"""

from __future__ import annotations

import hmac
import os
import secrets
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.client.bundles import owner_only

SERVICE_TYPE = "_minga-bundle._tcp.local."
#: A bundle of 100,000 records is well under this; a larger announced length is refused unread.
MAX_BUNDLE_BYTES = 2 * 1024 * 1024 * 1024
_LENGTH = struct.Struct(">Q")
_BLOCK = 64 * 1024
#: Seconds a connection may stay silent before the exchange is given up.
TIMEOUT_SECONDS = 30.0

Progress = Callable[[int, int], None]


CODE_DIGITS = 6
#: Wrong codes an offer takes before it closes (a guesser gets 3 tries in a million).
MAX_WRONG_CODES = 3


def new_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))


def normalize_code(typed: str) -> str | None:
    """Six digits as typed (any script's digits, spaces ignored), or None."""
    digits = "".join(str(int(c)) for c in typed if c.isdecimal())
    return digits if len(digits) == CODE_DIGITS else None


class ExchangeFailed(Exception):
    """The other computer went away or sent something that is not a length-prefixed file."""


@dataclass(frozen=True)
class Peer:
    """A computer offering a bundle: what the person picks from, or typed."""

    name: str
    host: str
    port: int


def _send_file(connection: socket.socket, path: Path, progress: Progress | None) -> None:
    size = path.stat().st_size
    connection.sendall(_LENGTH.pack(size))
    sent = 0
    with open(path, "rb") as source:
        while block := source.read(_BLOCK):
            connection.sendall(block)
            sent += len(block)
            if progress is not None:
                progress(sent, size)


def _receive_file(connection: socket.socket, path: Path, progress: Progress | None) -> None:
    header = _read(connection, _LENGTH.size)
    (size,) = _LENGTH.unpack(header)
    if size > MAX_BUNDLE_BYTES:
        raise ExchangeFailed(f"announced {size} bytes")
    partial = path.with_name(path.name + ".partial")
    received = 0
    with owner_only(partial) as target:
        while received < size:
            block = connection.recv(min(_BLOCK, size - received))
            if not block:
                raise ExchangeFailed(f"cut after {received} of {size} bytes")
            target.write(block)
            received += len(block)
            if progress is not None:
                progress(received, size)
        target.flush()
        os.fsync(target.fileno())
    partial.replace(path)


def _read(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        block = connection.recv(size - len(data))
        if not block:
            raise ExchangeFailed("the other computer closed the connection")
        data += block
    return data


class BundleOffer:
    """Listen for one exchange: receive the visitor's bundle into ``received``, answer with
    ``ours``. ``advertise`` also announces it by mDNS. Close it when done or abandoned."""

    def __init__(self, ours: Path, received: Path, host: str = "0.0.0.0") -> None:
        self.ours = ours
        self.received = received
        self._server = socket.create_server((host, 0))
        self._server.settimeout(0.5)
        self.port: int = self._server.getsockname()[1]
        self.name = f"Minga-{secrets.token_hex(3)}"
        #: Shown on the offering screen; the visitor types it.
        self.code = new_code()
        self.wrong_codes = 0
        self._zeroconf: tuple[Any, Any] | None = None  # (Zeroconf, ServiceInfo)
        self._closed = threading.Event()

    def advertise(self, addresses: list[str]) -> None:
        """Announce the offer on the local network (mDNS), on ``addresses`` (IPv4 text)."""
        from zeroconf import ServiceInfo, Zeroconf

        info = ServiceInfo(
            SERVICE_TYPE,
            f"{self.name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(a) for a in addresses],
            port=self.port,
            properties={"v": "1"},  # nothing about the person, the device or the network
        )
        zeroconf = Zeroconf(interfaces=addresses)
        zeroconf.register_service(info)
        self._zeroconf = (zeroconf, info)

    def serve_once(
        self, progress: Progress | None = None, cancelled: Callable[[], bool] = lambda: False
    ) -> bool:
        """Wait for one visitor and exchange; False if cancelled or closed first."""
        while not self._closed.is_set() and not cancelled():
            try:
                connection, _address = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return False
            with connection:
                connection.settimeout(TIMEOUT_SECONDS)
                try:
                    typed = _read(connection, CODE_DIGITS)
                    if not hmac.compare_digest(typed, self.code.encode("ascii")):
                        # Nothing read, nothing sent: a stranger on the network gets nothing.
                        self.wrong_codes += 1
                        if self.wrong_codes >= MAX_WRONG_CODES:
                            return False
                        continue
                    _receive_file(connection, self.received, progress)
                    _send_file(connection, self.ours, progress)
                except (OSError, ExchangeFailed):
                    # A visitor that is not a Minga (or went away): wait for the next one.
                    continue
            return True
        return False

    def close(self) -> None:
        self._closed.set()
        self._server.close()
        if self._zeroconf is not None:
            zeroconf, info = self._zeroconf
            zeroconf.unregister_service(info)
            zeroconf.close()
            self._zeroconf = None


def exchange_with(
    peer: Peer, code: str, ours: Path, received: Path, progress: Progress | None = None
) -> None:
    """Visit an offering computer with the code its screen shows: send our bundle, receive
    theirs into ``received``. A wrong code: the other side closes, ``ExchangeFailed``."""
    checked = normalize_code(code)
    if checked is None:
        raise ExchangeFailed("the code has six digits")
    try:
        with socket.create_connection((peer.host, peer.port), timeout=TIMEOUT_SECONDS) as link:
            link.sendall(checked.encode("ascii"))
            _send_file(link, ours, progress)
            _receive_file(link, received, progress)
    except OSError as error:
        raise ExchangeFailed(str(error.strerror or error)) from error


def browse(seconds: float = 3.0, interfaces: list[str] | None = None) -> list[Peer]:
    """Computers offering a bundle on the local network, found by mDNS within ``seconds``."""
    from zeroconf import ServiceBrowser, ServiceListener, Zeroconf

    found: dict[str, Peer] = {}
    zeroconf = Zeroconf(interfaces=interfaces) if interfaces else Zeroconf()
    done = threading.Event()

    class Listener(ServiceListener):
        def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
            info = zc.get_service_info(type_, name, timeout=1000)
            if info is None or not info.port:
                return
            addresses = info.parsed_addresses()
            if addresses:
                found[name] = Peer(name.removesuffix("." + type_), addresses[0], info.port)

        def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
            self.add_service(zc, type_, name)

        def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
            found.pop(name, None)

    try:
        ServiceBrowser(zeroconf, SERVICE_TYPE, Listener())
        done.wait(seconds)
    finally:
        zeroconf.close()
    return sorted(found.values(), key=lambda peer: peer.name)


def parse_address(typed: str) -> Peer | None:
    """``host:port`` as a person types it (the offering screen shows it), or None."""
    host, _, port = typed.strip().rpartition(":")
    if not host or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return Peer(host, host.strip("[]"), int(port))


def local_addresses() -> list[str]:
    """This computer's IPv4 addresses on its networks (not loopback), for the offering screen."""
    import ifaddr

    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                found.append(ip.ip)
    return sorted(set(found))
