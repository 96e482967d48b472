"""A hostile Minga server for tests: an HTTP relay on 127.0.0.1 in front of the real server.

It forwards every request (``http.server`` parses them, ``requests`` sends them on) and lets a
test rewrite the decoded msgpack answers it relays: swap keys, replay old statements, move or
roll back blobs. It holds no private key of any member, exactly like a seized server; what it
forges it must sign with keys it made up. Every exchange is kept, so a test can replay one.

    with HostileServer(server.url) as hostile:
        device behind Transport(hostile.url) ...
        hostile.rewrites.append(lambda exchange: ...)   # a new answer dict, or None
        hostile.tampered                                 # answers actually changed
        hostile.busy["/v1/sync"] = ["2", None]           # the next two answered 429
        hostile.fail_new_batches = True                  # each batch pushed fails, for ever
        hostile.lose_batch_answers = True                # committed, then a 502 to the client
        hostile.chunk_answer = lambda method, headers, real: ...  # (status, headers, body)

``ColludingAdmin`` adds an insider: a removed admin's keys in the server's hands, signing a
branch of the membership of its own and serving it to chosen devices.
"""

from __future__ import annotations

import copy
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sync.crypto.batch import batch_id_of
from sync.crypto.envelope import read_header
from sync.crypto.errors import EnvelopeError
from sync.crypto.keys import DeviceKeys, DevicePublicKeys
from sync.crypto.spaces import MembershipLog, MembershipStatement, change_members
from sync.protocol import MEDIA_TYPE, ProtocolError, Role, decode_body, encode_body

#: Headers that belong to one hop, never forwarded (RFC 9110 §7.6.1), plus the ones the
#: forwarding library computes itself.
_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
    }
)


@dataclass
class Exchange:
    """One relayed request and its answer, decoded when they are Minga messages."""

    method: str
    #: Path with its query, as the client asked (``/v1/spaces/s/statements?since=2``).
    path: str
    request: dict[str, Any] | None
    status: int
    #: What the client gets; ``original`` is what the real server said (decoded apart, so a
    #: rewrite that edits ``answer`` in place leaves it as it was).
    answer: dict[str, Any] | None
    original: dict[str, Any] | None = None

    @property
    def route(self) -> str:
        return urlsplit(self.path).path


#: Given an exchange, the answer to deliver instead, or ``None`` to leave it as it is.
Rewrite = Callable[[Exchange], dict[str, Any] | None]


def _decoded(body: bytes) -> dict[str, Any] | None:
    if not body:
        return None
    try:
        return decode_body(body)
    except ProtocolError:
        return None


class _Relay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's Session expects
    server: _RelayServer

    def setup(self) -> None:
        super().setup()
        self._upstream = requests.Session()
        self._upstream.trust_env = False

    def finish(self) -> None:
        self._upstream.close()
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the test asserts on exchanges, not on a log

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        route = urlsplit(self.path).path
        busy = self.server.busy_answer(self.command, route)
        if busy is not None:
            # "Too many requests": a 429 with this Retry-After (None: without one), as the
            # real server's per-device slots answer, or with whatever a hostile one writes.
            payload = b'{"code": "rate_limited", "message": "busy"}'
            self.send_response(429)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-minga-error", "rate_limited")
            if busy[0] is not None:
                self.send_header("Retry-After", busy[0])
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return
        batch = _batch_named(self.command, route, body)
        if batch is not None and self.command == "POST" and self.server.older_refuses(body):
            # What a server from before a batch version answers its push (server/batches.py).
            self._refuse(400, "envelope_mismatch", "batch refused: unsupported_version")
            return
        failing = batch is not None and self.server.fails_batch(batch)
        if not failing and self.command == "POST" and route == "/v1/sync":
            # A server that fails on any push naming one of these records, every time.
            request = _decoded(body) if self.server.owner.failing_records else None
            pushed = (request or {}).get("push") or ()
            failing = any(
                isinstance(m, dict) and m.get("record") in self.server.owner.failing_records
                for m in pushed
            )
        if failing:
            # A server (or the proxy before it) that fails on this very batch, every time.
            self._error(self.server.owner.failing_status)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
        answer = self._upstream.request(
            self.command,
            self.server.upstream + self.path,
            data=body or None,
            headers=headers,
            allow_redirects=False,
            timeout=60,
        )
        content = answer.content
        if batch is not None and self.command == "POST" and self.server.owner.lose_batch_answers:
            # A proxy that fails after the server committed: the answer never reaches the client.
            self._error(502)
            return
        mangle = self.server.owner.chunk_answer
        if mangle is not None and "/chunks/" in route and not route.endswith("/missing"):
            mangled = mangle(self.command, dict(self.headers.items()), answer)
            if mangled is not None:
                # A chunk answer of the relay's own making (a broken Range, a lying offset).
                status, extra, content = mangled
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)
                return
        raw = self.server.raw_answer(urlsplit(self.path).path)
        if raw is not None:
            # A body of the relay's own making instead of the server's (a bomb, junk): sent as
            # a successful Minga answer, byte for byte.
            self.send_response(200)
            self.send_header("Content-Type", MEDIA_TYPE)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            pause = self.server.trickle_pause()
            if self.command != "HEAD" and pause:
                # A byte at a time, each just before the client's read timeout would fire.
                for offset in range(len(raw)):
                    self.wfile.write(raw[offset : offset + 1])
                    self.wfile.flush()
                    time.sleep(pause)
            elif self.command != "HEAD":
                self.wfile.write(raw)
            return
        exchange = Exchange(self.command, self.path, _decoded(body), answer.status_code, None)
        if answer.headers.get("content-type") == MEDIA_TYPE and answer.status_code < 400:
            content = self.server.rewrite(exchange, content)
        sent = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
        forge = self.server.owner.answer_headers
        if forge is not None:
            sent = forge(exchange, sent)
        self.send_response(answer.status_code)
        for name, value in sent.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        hold = self.server.owner.hold_body
        if hold is not None:
            # The headers are out, the body waits (a slow page, a link that stalls mid-answer).
            self.wfile.flush()
            time.sleep(hold(exchange))
        if self.command != "HEAD":
            self.wfile.write(content)

    def _refuse(self, status: int, code: str, message: str) -> None:
        payload = json.dumps({"code": code, "message": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-minga-error", code)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int) -> None:
        payload = b"<html>bad gateway</html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay


def _batch_named(method: str, route: str, body: bytes) -> str | None:
    """The batch id (hex) a batch push carries, or a batch answer request names."""
    parts = route.strip("/").split("/")
    if len(parts) == 5 and parts[:2] == ["v1", "spaces"] and parts[3] == "batches":
        return parts[4] if method == "GET" else None
    if method == "POST" and len(parts) == 4 and parts[3] == "batches":
        request = _decoded(body)
        blob = None if request is None else request.get("batch")
        if isinstance(blob, bytes):
            try:
                return batch_id_of(blob).hex()
            except EnvelopeError:
                return None
    return None


class _RelayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, owner: HostileServer) -> None:
        self.upstream = upstream.rstrip("/")
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Relay)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that stops reading an answer it refuses (too large) resets the connection:
        # expected here, not worth a traceback on stderr.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def busy_answer(self, method: str, route: str) -> tuple[str | None] | None:
        """The next 429 queued for this route, if any (taken); every request is counted."""
        with self.owner.lock:
            self.owner.requests.append((method, route))
            for suffix, queued in self.owner.busy.items():
                if route.endswith(suffix) and queued:
                    self.owner.refused_busy += 1
                    return (queued.pop(0),)
        return None

    def older_refuses(self, body: bytes) -> bool:
        """A batch push of a version an older server does not read (``batch_versions_refused``)."""
        request = _decoded(body)
        blob = None if request is None else request.get("batch")
        refused = isinstance(blob, bytes) and len(blob) > 4
        refused = refused and blob[4] in self.owner.batch_versions_refused
        if refused:
            with self.owner.lock:
                self.owner.batch_versions_refusals += 1
        return bool(refused)

    def fails_batch(self, batch: str) -> bool:
        with self.owner.lock:
            if self.owner.fail_new_batches:
                self.owner.failing_batches.add(batch)
            if batch in self.owner.failing_batches:
                self.owner.failed_batch_requests += 1
                return True
            return False

    def raw_answer(self, route: str) -> bytes | None:
        with self.owner.lock:
            for suffix, body in self.owner.raw_answers.items():
                if route.endswith(suffix):
                    return body
        return None

    def trickle_pause(self) -> float:
        with self.owner.lock:
            return self.owner.trickle

    def rewrite(self, exchange: Exchange, content: bytes) -> bytes:
        exchange.answer, exchange.original = _decoded(content), _decoded(content)
        changed = False
        with self.owner.lock:
            rewrites = list(self.owner.rewrites)
        for rewrite in rewrites:
            if exchange.answer is None:
                break
            replacement = rewrite(exchange)
            if replacement is not None:
                exchange.answer = replacement
                changed = True
        with self.owner.lock:
            self.owner.exchanges.append(exchange)
            self.owner.tampered += changed
        return encode_body(exchange.answer) if changed and exchange.answer is not None else content


class HostileServer:
    """The relay's lifetime: started on enter (a daemon thread), shut down on exit."""

    def __init__(self, upstream: str) -> None:
        self.rewrites: list[Rewrite] = []
        #: Route suffix -> the exact bytes to answer with instead of the server's answer.
        self.raw_answers: dict[str, bytes] = {}
        #: Seconds between the bytes of a raw answer (0: sent at once): a slow-loris server.
        self.trickle = 0.0
        self.exchanges: list[Exchange] = []
        self.tampered = 0
        #: Route suffix -> Retry-After values (``None``: no header): each of the next requests
        #: to it is answered 429 with the first value left, without reaching the server.
        self.busy: dict[str, list[str | None]] = {}
        self.refused_busy = 0
        #: Batch ids (hex) whose pushes and answer requests are answered ``failing_status``
        #: without reaching the server; with ``fail_new_batches`` each batch pushed joins them.
        self.failing_batches: set[str] = set()
        self.fail_new_batches = False
        #: Record ids: a sync request pushing any of them is answered ``failing_status``.
        self.failing_records: set[str] = set()
        self.failing_status = 500
        #: Batch versions whose pushes are refused as a server from before them does
        #: (``400 envelope_mismatch``), without reaching the server.
        self.batch_versions_refused: set[int] = set()
        self.batch_versions_refusals = 0
        self.failed_batch_requests = 0
        #: Batch pushes reach the server, which commits them, but the client gets a 502.
        self.lose_batch_answers = False
        #: For a chunk's HEAD, PUT or GET: given the method, the request's headers and the real
        #: server's answer, (status, headers, body) to answer instead, or ``None``.
        self.chunk_answer: (
            Callable[[str, dict[str, str], requests.Response], tuple[int, dict[str, str], bytes]]
            | None
        ) = None
        #: Given a relayed exchange and the headers the server sent (hop headers left out),
        #: the headers to send instead (a forged ``Minga-More``, say).
        self.answer_headers: Callable[[Exchange, dict[str, str]], dict[str, str]] | None = None
        #: Called between a relayed answer's headers (sent) and its body; the body waits for
        #: it, then for the seconds it returns.
        self.hold_body: Callable[[Exchange], float] | None = None
        #: (method, path) of every request the relay received, refused or relayed.
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._server = _RelayServer(upstream, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answers(self, route_suffix: str) -> list[Exchange]:
        """The exchanges whose path ends with ``route_suffix`` (``/v1/sync``, ``/statements``)."""
        with self.lock:
            return [e for e in self.exchanges if e.route.endswith(route_suffix)]

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class ColludingAdmin:
    """A removed admin's laptop in the server's hands (issue 13, finding 1).

    It holds the admin's private keys, the statements up to the last one where it was still an
    admin, and that epoch's key. It signs a branch of its own from there (keeping itself,
    rotating to a key it chose, admitting whoever it likes), and ``rewrite_for(device)`` makes
    the relay serve that branch and its wraps to one device instead of the real ones::

        insider = ColludingAdmin(removed_keys, removed_statements, removed_space_key)
        insider.fork()                                    # version v+1, a key it knows
        hostile.rewrites.append(insider.rewrite_for(member_id))
        insider.opens(blob)                               # what it can read of what it gets
    """

    def __init__(self, keys: DeviceKeys, statements: list[bytes], space_key: bytes) -> None:
        self.keys = keys
        self.log = MembershipLog.from_blobs(statements)
        self.space = self.log.space
        self.space_key = space_key
        self.first_forged = self.log.latest.version + 1
        self.branch: list[MembershipStatement] = []
        self.space_keys: dict[int, bytes] = {self.log.latest.epoch: space_key}
        self.wraps: dict[int, dict[str, bytes]] = {}

    def fork(
        self, add: dict[str, tuple[DevicePublicKeys, Role]] | None = None, rotate: bool = True
    ) -> MembershipStatement:
        """Sign the next statement of its own branch, as the admin it was there."""
        change = change_members(
            self.log, self.keys, space_key=self.space_key, add=add, rotate=rotate
        )
        self.log.accept(change.statement.blob)
        self.branch.append(change.statement)
        self.space_key = change.space_key
        self.space_keys[change.statement.epoch] = change.space_key
        self.wraps.setdefault(change.statement.epoch, {}).update(change.wraps)
        return change.statement

    def rewrite_for(self, device: str) -> Rewrite:
        """Serve ``device`` the real statements before the fork and the forged ones after it,
        and the forged wraps for the epochs the branch started."""

        def rewrite(exchange: Exchange) -> dict[str, Any] | None:
            answer = copy.deepcopy(exchange.answer)
            if answer is None or exchange.method != "GET":
                return None
            since = int(parse_qs(urlsplit(exchange.path).query).get("since", ["0"])[0])
            if exchange.route == f"/v1/spaces/{self.space}/statements":
                real = [
                    s
                    for s in answer["statements"]
                    if s["version"] < self.first_forged and s["version"] > since
                ]
                forged = [
                    {"version": s.version, "statement": s.blob}
                    for s in self.branch
                    if s.version > since
                ]
                answer["statements"], answer["more"] = real + forged, False
                return answer
            if exchange.route == f"/v1/spaces/{self.space}/keys":
                kept = [w for w in answer["wraps"] if w["epoch"] not in self.wraps]
                forged_wraps = [
                    {"epoch": epoch, "issuer": self.keys.device_id, "wrap": wraps[device]}
                    for epoch, wraps in sorted(self.wraps.items())
                    if device in wraps and epoch > since
                ]
                answer["wraps"] = kept + forged_wraps
                return answer
            return None

        return rewrite

    def opens(self, blob: bytes) -> bool:
        """Whether this insider can decrypt ``blob`` (it reads the header and tries the keys it
        chose; it needs no signature check: it wants the content)."""
        header, length = read_header(blob)
        key = self.space_keys.get(header.epoch)
        if key is None:
            return False
        try:
            ChaCha20Poly1305(key).decrypt(header.nonce, blob[length:-64], blob[:length])
        except InvalidTag:
            return False
        return True
