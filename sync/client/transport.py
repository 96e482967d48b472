"""The sync client's HTTP face: one ``requests`` Session speaking msgpack+zstd to a Minga server.
Timeouts, an optional HTTPS or SOCKS5 proxy, optional certificate pinning; three clear errors."""

from __future__ import annotations

import email.utils
import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from sync import protocol
from sync.protocol import (
    MEDIA_TYPE,
    PROTOCOL_VERSION,
    ChallengeRequest,
    ChunkProbe,
    ChunkProbeAnswer,
    CourierDownload,
    CourierPull,
    CourierPush,
    EnrollRequest,
    ErrorCode,
    KeyWrapsPut,
    MemberPut,
    MutationResult,
    ProtocolError,
    Role,
    SpaceCreate,
    StatementPage,
    StatementPut,
    SyncRequest,
    SyncResponse,
    TokenRequest,
    TravelLeave,
    TravelReturn,
    check_device_id,
    check_id,
    check_token,
    decode_message,
    encode_body,
)


class TransportError(Exception):
    """Anything that kept a request from getting a usable answer."""


class Offline(TransportError):
    """The server could not be reached (no network, DNS, refused, timed out, proxy down).

    The normal case for Minga: the engine stops, keeps everything, and tries again later.
    """


class ServerRefused(TransportError):
    """The server answered with an error: ``status`` and its machine-readable ``code``;
    ``retry_after``, the seconds its ``Retry-After`` asked to wait, if it gave one (a 429 the
    app did not wait out: the person is told when to try again)."""

    def __init__(
        self, status: int, code: str, message: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}" if message else f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class ProtocolViolation(TransportError):
    """An answer that is not what the protocol promises (bad body, wrong type, wrong shape)."""


class CertificateMismatch(TransportError):
    """The server's TLS certificate is not the pinned one: an interception, never retried."""


@dataclass(frozen=True)
class ConnectionSettings:
    """How to reach the server.

    Attributes:
        proxy: ``https://host:port`` / ``http://host:port`` (an HTTPS proxy) or
            ``socks5h://host:port`` (SOCKS5 with DNS through the proxy, as Tor wants; needs
            ``requests[socks]``). ``None`` goes direct.
        pinned_sha256: hex SHA-256 of the server certificate (DER). When set, only that
            certificate is accepted and CA validation is not needed (a self-signed server).
        connect_timeout, read_timeout: seconds; 2G links are slow, not dead.
        min_answer_rate: bytes a second an answer must average once ``read_timeout`` has
            passed: a byte sent just before each read timeout would otherwise hold a sync for
            ever. 256 B/s is far below a 2G link (several KB/s), so only a stall is cut.
    """

    proxy: str | None = None
    pinned_sha256: str | None = None
    connect_timeout: float = 20.0
    read_timeout: float = 90.0
    min_answer_rate: float = 256.0


@dataclass(frozen=True)
class BusyRetry:
    """How the app waits out a 429 (the server's per-device request slots, or a per-address
    limit): it asks again after the answer's ``Retry-After`` (seconds or an HTTP date), never
    sooner, with an exponential back-off as the least wait, each wait at most ``max_wait``
    and with up to ``jitter`` of it added so devices that were refused together do not come
    back together. After ``attempts`` more tries the 429 is the answer (the next sync tries
    again). A ``Retry-After`` longer than ``max_wait`` is the answer at once: a wait cut to
    ``max_wait`` would only be refused again (a per-address limit says up to a minute),
    so the person is told when to try again instead. Whatever a server writes there (a year,
    a negative number, words), one request waits at most ``attempts × max_wait × (1 +
    jitter)`` seconds in all.
    """

    attempts: int = 4
    first_wait: float = 0.5
    max_wait: float = 20.0
    jitter: float = 0.25

    def wait(self, attempt: int, retry_after: str | None, now: float | None = None) -> float | None:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 0), or ``None``
        when the server asks for longer than ``max_wait``: no try is worth waiting for."""
        least = self.first_wait * (1 << min(attempt, 16))
        asked = _retry_after(retry_after, time.time() if now is None else now)
        if asked is not None and asked > self.max_wait:
            return None
        base = min(self.max_wait, max(least, asked or 0.0))
        return base + random.uniform(0.0, self.jitter * base)


def _retry_after(value: str | None, now: float) -> float | None:
    """A ``Retry-After``'s seconds from ``now`` (RFC 9110 §10.2.3), or ``None`` if it is not
    one of its two forms: a small count of seconds or an HTTP date."""
    if value is None or len(value) > 64 or not value.isascii():
        return None
    value = value.strip()
    if value.isdigit():
        # Past 12 significant digits it is over any cap anyway (leading zeros are not digits
        # of the value: "000…021" is 21 s, not the zero its first 12 characters read as).
        return float(int((value.lstrip("0") or "0")[:12]))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


#: What a test (or a bandwidth meter) may watch: method, path, request body, answer body.
Observer = Callable[[str, str, bytes, bytes], None]


class _PinnedAdapter(HTTPAdapter):
    """urllib3 checks ``assert_fingerprint`` against the peer certificate during the handshake."""

    def __init__(self, fingerprint: str) -> None:
        self._fingerprint = fingerprint
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["assert_fingerprint"] = self._fingerprint
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        kwargs["assert_fingerprint"] = self._fingerprint
        return super().proxy_manager_for(proxy, **kwargs)


@dataclass
class TrafficCount:
    requests: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    # Lanes count into their transport's TrafficCount from their own threads.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, requests: int = 0, up: int = 0, down: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.bytes_up += up
            self.bytes_down += down


@dataclass
class Transport:
    """One server, one Session (keep-alive: one TCP/TLS handshake on a 2G link, not one each).

    Every method returns the decoded answer or raises ``Offline``, ``ServerRefused``,
    ``ProtocolViolation`` or ``CertificateMismatch``. Byte counts are of bodies as sent.
    """

    base_url: str
    settings: ConnectionSettings = field(default_factory=ConnectionSettings)
    observer: Observer | None = None
    traffic: TrafficCount = field(default_factory=TrafficCount)
    busy: BusyRetry = field(default_factory=BusyRetry)
    #: How a 429's wait is spent (a test records the waits instead of spending them); by
    #: default on ``abandoned``, so that the app locking or quitting ends it at once.
    sleep: Callable[[float], None] | None = None
    #: Set by ``abandon``: no 429 is waited out any more (shared with the lanes).
    abandoned: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._lanes: list[Transport] = []
        self._session = requests.Session()
        # Proxies come from the settings only: an environment variable must not silently
        # route a defender's traffic somewhere else.
        self._session.trust_env = False
        self._session.headers.clear()
        if self.settings.proxy:
            self._session.proxies = {"http": self.settings.proxy, "https": self.settings.proxy}
        if self.settings.pinned_sha256:
            pin = self.settings.pinned_sha256.replace(":", "").lower()
            if len(pin) != 64:
                raise ValueError("a pinned certificate is a SHA-256: 64 hex digits")
            self._session.mount("https://", _PinnedAdapter(pin))
            # The pin is the trust anchor; a CA check would refuse a self-signed server.
            self._session.verify = False

    def close(self) -> None:
        self.close_lanes()
        self._session.close()

    def abandon(self) -> None:
        """The app locks, quits or changes server: a 429 wait in progress (here or on a lane)
        ends now and none is waited again, so the sync in flight lets go of the engine at
        once instead of after up to ``attempts × max_wait`` seconds of waits. Safe from any
        thread, and while a request is in flight."""
        self.abandoned.set()

    def lanes(self, count: int) -> list[Transport]:
        """``count`` connections to this server for requests in flight at once (attachment
        chunks): this transport first, then siblings with the same settings (proxy, pin,
        timeouts), each its own keep-alive Session, counted in this transport's traffic and
        closed with it. A Session is not shared between threads: one lane, one thread at a time.
        """
        while len(self._lanes) + 1 < max(1, count):
            self._lanes.append(
                Transport(
                    self.base_url,
                    self.settings,
                    self.observer,
                    traffic=self.traffic,
                    busy=self.busy,
                    sleep=self.sleep,
                    abandoned=self.abandoned,
                )
            )
        return [self, *self._lanes][: max(1, count)]

    def drop_connections(self) -> None:
        """Forget this transport's kept-alive connections: its next request opens a new one.
        Used before a request resumed after a cut (``ChunkTransfer``), which must not go on a
        connection the same loss may end a moment later. Same thread rules as a request."""
        for adapter in self._session.adapters.values():
            adapter.close()

    def close_lanes(self) -> None:
        """Close the siblings' connections (this transport's stays): a server counts the
        connections of one address, and an office behind one NAT shares it."""
        for lane in self._lanes:
            lane.close()
        self._lanes = []

    # --- the one request path ---------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        message: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        expect_body: bool = True,
        shape: type[protocol.Shape] = protocol.AckShape,
        on_headers: Callable[[Mapping[str, str]], None] | None = None,
    ) -> dict[str, Any]:
        """Send one message and decode the answer into ``shape``: whatever a server (or anything
        between) sends, the app reads at most max_body_bytes, expands at most
        max_decoded_bytes and builds only what the shape has room for.

        ``on_headers`` sees a 200 answer's headers before its body is read."""
        body = encode_body(message) if message is not None else None
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        response, answer = self._exchange(
            method, path, body, headers, read=True, on_headers=on_headers
        )
        if response.status_code >= 400:
            raise refusal(response, answer)
        if not expect_body or response.status_code == 204:
            return {}
        if response.headers.get("content-type") != MEDIA_TYPE:
            raise ProtocolViolation(f"{path}: answer is not {MEDIA_TYPE}")
        try:
            return decode_message(answer, shape)
        except ProtocolError as error:
            raise ProtocolViolation(f"{path}: {error.message}") from None

    def send_raw(
        self,
        method: str,
        path: str,
        token: str,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = True,
    ) -> requests.Response:
        """A request whose body is not a protocol message (attachment chunks), on the same
        Session (one connection, same proxy and pin). Counts the request and the body sent;
        the caller reads (and counts) the answer, bounded (``answer_pieces``), judges its
        status (``refusal``) and closes it.

        The answer is always streamed, never read whole by ``requests`` (``stream`` is kept
        for callers' sake and ignored): a hostile server answering a chunk's PUT or HEAD with
        gigabytes would otherwise have them all read into memory before the status is seen.
        """
        sent = {"Authorization": f"Bearer {token}", **(headers or {})}
        if content_type is not None:
            sent["Content-Type"] = content_type
        response, _answer = self._exchange(method, path, body, sent, read=False)
        return response

    def _exchange(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str],
        *,
        read: bool,
        on_headers: Callable[[Mapping[str, str]], None] | None = None,
    ) -> tuple[requests.Response, bytes]:
        """Send until the answer is not a 429 to wait out (``busy``); the last answer, and with
        ``read`` its body (bounded by max_body_bytes, counted and shown to the observer), else
        ``b""`` and the answer still to be read by the caller.

        Raises ``ServerRefused`` (429) when the transport is abandoned during a wait: the 429
        is then the answer, and nothing more is sent.
        """
        attempt = 0
        while True:
            response = self._send_once(method, path, body, headers)
            answer = b""
            if on_headers is not None and response.status_code == 200:
                on_headers(response.headers)
            if read:
                with response:
                    answer = _bounded_content(
                        response, protocol.LIMITS.max_body_bytes, self.settings
                    )
            self.traffic.add(requests=1, up=len(body or b""), down=len(answer))
            if read and self.observer is not None:
                self.observer(method, path, body or b"", answer)
            seconds = self._busy_wait(response, attempt)
            if seconds is None:
                return response, answer
            if not read:
                # A 429's body says nothing its header does not, but a short one is read to
                # its end so the connection goes back to the pool: closing it unread would
                # cost the retry a new handshake (TCP, TLS, perhaps SOCKS). A long one is not.
                _drain_short(response, self.settings)
            if self.sleep is not None:
                self.sleep(seconds)
            else:
                self.abandoned.wait(seconds)
            if self.abandoned.is_set():
                # Abandoned while waiting: the 429 is the answer, and nothing more is sent (a
                # raw answer's body is gone, not its word).
                if read:
                    raise refusal(response, answer)
                raise ServerRefused(429, ErrorCode.RATE_LIMITED)
            attempt += 1

    def _send_once(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> requests.Response:
        """One request; its answer is streamed, read by the caller. What kept it from being
        answered is one of the transport's errors."""
        try:
            return self._session.request(
                method,
                self.base_url + path,
                data=body,
                headers=dict(headers),
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.SSLError as error:
            if "fingerprint" in str(error).lower():
                raise CertificateMismatch("the server certificate is not the pinned one") from None
            raise Offline(f"TLS failed: {type(error).__name__}") from None
        except requests.exceptions.RequestException as error:
            # Connection, timeout, proxy and chunked-read errors alike: try again later.
            raise Offline(type(error).__name__) from None

    def _busy_wait(self, response: requests.Response, attempt: int) -> float | None:
        """Seconds to wait before sending again after a 429 with tries left, or ``None``: the
        answer stands (not a 429, no tries left, abandoned, or the server asks for longer
        than ``busy`` waits)."""
        if response.status_code != 429 or attempt >= self.busy.attempts:
            return None
        if self.abandoned.is_set():
            return None
        return self.busy.wait(attempt, response.headers.get("retry-after"))

    # --- enrollment and authentication ------------------------------------------------------

    def enroll(self, request: EnrollRequest) -> tuple[str, list[tuple[str, Role]]]:
        """Register the device; its id and the spaces (with roles) the invite joined."""
        answer = self.call("POST", "/v1/enroll", request.to_wire(), shape=protocol.EnrolledShape)
        spaces = _list(answer, "spaces")
        try:
            joined = [(check_id(s["space"]), Role(s["role"])) for s in spaces]
            return check_device_id(answer["device"]), joined
        except (KeyError, TypeError, ValueError, ProtocolError) as error:
            raise ProtocolViolation(f"enroll answer: {error}") from None

    def challenge(self, device: str) -> bytes:
        answer = self.call(
            "POST",
            "/v1/auth/challenge",
            ChallengeRequest(device).to_wire(),
            shape=protocol.ChallengeShape,
        )
        nonce = answer.get("challenge")
        if not isinstance(nonce, bytes) or len(nonce) != 32:
            raise ProtocolViolation("challenge must be 32 bytes")
        return nonce

    def token(self, request: TokenRequest) -> str:
        answer = self.call("POST", "/v1/auth/token", request.to_wire(), shape=protocol.TokenShape)
        try:
            return check_token(answer.get("token"))
        except ProtocolError:
            raise ProtocolViolation("malformed token") from None

    # --- sync ---------------------------------------------------------------------------------

    def sync(
        self,
        request: SyncRequest,
        token: str,
        on_more: Callable[[dict[str, int]], None] | None = None,
    ) -> SyncResponse:
        """One sync round trip. ``on_more`` is told, before the body is read, the cursors the
        answer's ``Minga-More`` header names (PROTOCOL.md §7, pages ahead): a hint, to be
        checked against the body."""

        def more(headers: Mapping[str, str]) -> None:
            cursors = protocol.parse_more_header(headers.get(protocol.MORE_HEADER))
            if cursors and on_more is not None:
                on_more(cursors)

        answer = self.call(
            "POST",
            "/v1/sync",
            request.to_wire(),
            token=token,
            shape=protocol.SyncResponseShape,
            on_headers=None if on_more is None else more,
        )
        try:
            response = SyncResponse.from_wire(answer)
        except (ProtocolError, ValueError, TypeError) as error:
            raise ProtocolViolation(f"sync answer: {error}") from None
        if len(response.results) != len(request.push):
            raise ProtocolViolation("sync answer has a result count unlike the push")
        return response

    # --- attachment chunks --------------------------------------------------------------------

    def missing_chunks(self, space: str, probe: ChunkProbe, token: str) -> ChunkProbeAnswer:
        """Which of a file's chunks the server does not store, and of those how many bytes of
        each this device sent before a cut: one request instead of a ``HEAD`` per chunk."""
        answer = self.call(
            "POST",
            f"/v1/spaces/{check_id(space)}/chunks/missing",
            probe.to_wire(),
            token=token,
            shape=protocol.ChunkProbeAnswerShape,
        )
        try:
            found = ChunkProbeAnswer.from_wire(answer)
        except (ProtocolError, ValueError, TypeError) as error:
            raise ProtocolViolation(f"chunk probe answer: {error}") from None
        if not set(found.missing) <= set(probe.chunks):
            raise ProtocolViolation("chunk probe answer names chunks not asked about")
        return found

    # --- couriers (PROTOCOL.md §12) ----------------------------------------------------------

    def courier_push(self, message: CourierPush, token: str) -> list[MutationResult]:
        """Hand in mutations other devices sealed offline; one result per mutation, in order."""
        answer = self.call(
            "POST",
            "/v1/courier/push",
            message.to_wire(),
            token=token,
            shape=protocol.CourierResultsShape,
        )
        raw = answer.get("results")
        if not isinstance(raw, list) or len(raw) != len(message.push):
            raise ProtocolViolation("courier answer has a result count unlike the push")
        try:
            return [MutationResult.from_wire(r) for r in raw]
        except (ProtocolError, ValueError, TypeError) as error:
            raise ProtocolViolation(f"courier answer: {error}") from None

    def courier_pull(self, message: CourierPull, token: str) -> CourierDownload:
        answer = self.call(
            "POST",
            "/v1/courier/pull",
            message.to_wire(),
            token=token,
            shape=protocol.CourierDownloadShape,
        )
        try:
            return CourierDownload.from_wire(answer)
        except (ProtocolError, ValueError, TypeError, KeyError) as error:
            raise ProtocolViolation(f"courier download: {error}") from None

    # --- spaces, members, keys, statements ------------------------------------------------

    def create_space(self, space: str, token: str) -> None:
        self.call("POST", "/v1/spaces", SpaceCreate(space).to_wire(), token=token)

    def leave_spaces(self, spaces: list[str], verifier: bytes, token: str) -> None:
        """Travel mode: the server answers this device as an outsider in ``spaces`` until
        ``return_to_spaces`` with the token whose SHA-256 is ``verifier``."""
        self.call(
            "POST", "/v1/travel/leave", TravelLeave(tuple(spaces), verifier).to_wire(), token=token
        )

    def return_to_spaces(self, return_token: bytes, token: str) -> list[str]:
        answer = self.call(
            "POST",
            "/v1/travel/return",
            TravelReturn(return_token).to_wire(),
            token=token,
            shape=protocol.TravelReturnedShape,
        )
        found = answer.get("spaces")
        if not isinstance(found, list) or not all(isinstance(s, str) for s in found):
            raise ProtocolViolation("travel return answer has no spaces")
        return [check_id(s, "space") for s in found]

    def spaces(self, token: str) -> list[dict[str, Any]]:
        answer = self.call("GET", "/v1/spaces", token=token, shape=protocol.SpacesShape)
        return _list(answer, "spaces")

    def members(self, space: str, token: str) -> list[dict[str, Any]]:
        path = f"/v1/spaces/{check_id(space)}/members"
        return _list(self.call("GET", path, token=token, shape=protocol.MembersShape), "members")

    def put_member(self, space: str, device: str, role: Role, token: str) -> None:
        path = f"/v1/spaces/{check_id(space)}/members/{check_device_id(device)}"
        self.call("PUT", path, MemberPut(role).to_wire(), token=token)

    def remove_member(self, space: str, device: str, token: str) -> None:
        path = f"/v1/spaces/{check_id(space)}/members/{check_device_id(device)}"
        self.call("DELETE", path, token=token, expect_body=False)

    def create_invite(self, space: str, role: Role, ttl: int, token: str) -> str:
        message = {"v": PROTOCOL_VERSION, "role": role.value, "ttl": ttl}
        path = f"/v1/spaces/{check_id(space)}/invites"
        answer = self.call("POST", path, message, token=token, shape=protocol.InviteShape)
        code = answer.get("invite")
        if not isinstance(code, str):
            raise ProtocolViolation("invite answer has no code")
        return code

    def put_wraps(self, space: str, epoch: int, wraps: Mapping[str, bytes], token: str) -> None:
        path = f"/v1/spaces/{check_id(space)}/keys/{int(epoch)}"
        self.call("PUT", path, KeyWrapsPut(dict(wraps)).to_wire(), token=token)

    def wraps(self, space: str, since: int, token: str) -> list[tuple[int, str, bytes]]:
        """This device's own wraps of ``space`` after epoch ``since``: (epoch, issuer, wrap)."""
        path = f"/v1/spaces/{check_id(space)}/keys?since={int(since)}"
        found = []
        answer = self.call("GET", path, token=token, shape=protocol.WrapsShape)
        for item in _list(answer, "wraps"):
            try:
                epoch, issuer, wrap = item["epoch"], check_device_id(item["issuer"]), item["wrap"]
            except (KeyError, TypeError, ProtocolError) as error:
                raise ProtocolViolation(f"wrap entry: {error}") from None
            if not isinstance(epoch, int) or not isinstance(wrap, bytes):
                raise ProtocolViolation("wrap entry has the wrong types")
            found.append((epoch, issuer, wrap))
        return found

    def put_statement(self, space: str, version: int, statement: bytes, token: str) -> None:
        path = f"/v1/spaces/{check_id(space)}/statements/{int(version)}"
        self.call("PUT", path, StatementPut(statement).to_wire(), token=token)

    def statements(self, space: str, since: int, token: str) -> StatementPage:
        """The space's membership statements after version ``since``, oldest first, paged."""
        path = f"/v1/spaces/{check_id(space)}/statements?since={int(since)}"
        try:
            answer = self.call("GET", path, token=token, shape=protocol.StatementPageShape)
            return StatementPage.from_wire(answer)
        except ProtocolError as error:
            raise ProtocolViolation(f"statements answer: {error.message}") from None

    # --- batches (PROTOCOL.md §13) ---------------------------------------------------------

    def push_batch(
        self, space: str, batch: bytes, cursor: int | None, token: str
    ) -> protocol.BatchAnswer:
        """Push one sealed batch (or a compaction); per-entry outcomes come back as runs."""
        message: dict[str, Any] = {"v": protocol.PROTOCOL_VERSION, "batch": batch}
        if cursor is not None:
            message["cursor"] = cursor
        path = f"/v1/spaces/{check_id(space)}/batches"
        answer = self.call("POST", path, message, token=token, shape=protocol.BatchAnswerShape)
        try:
            return protocol.BatchAnswer.from_wire(answer)
        except (ProtocolError, ValueError, TypeError) as error:
            raise ProtocolViolation(f"batch answer: {error}") from None

    def batch_answer(
        self, space: str, batch_id: str, digest: bytes, cursor: int | None, token: str
    ) -> protocol.BatchAnswer:
        """The answer to a batch pushed before whose answer was lost, by its id and SHA-256
        (``404`` when the server never took it: push it then)."""
        query = f"digest={digest.hex()}" + ("" if cursor is None else f"&cursor={int(cursor)}")
        path = f"/v1/spaces/{check_id(space)}/batches/{check_id(batch_id)}?{query}"
        answer = self.call("GET", path, token=token, shape=protocol.BatchAnswerShape)
        try:
            return protocol.BatchAnswer.from_wire(answer)
        except (ProtocolError, ValueError, TypeError) as error:
            raise ProtocolViolation(f"batch answer: {error}") from None

    def stale_batches(self, space: str, token: str) -> list[dict[str, Any]]:
        """Batches of ``space`` holding a replaced entry, with their current entries."""
        path = f"/v1/spaces/{check_id(space)}/batches"
        answer = self.call("GET", path, token=token, shape=protocol.StaleBatchesShape)
        return list(answer.get("stale") or [])


def _list(answer: Mapping[str, Any], name: str) -> list[Any]:
    value = answer.get(name)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ProtocolViolation(f"{name} must be a list of maps")
    return value


def answer_pieces(
    response: requests.Response, settings: ConnectionSettings, size: int = 64 * 1024
) -> Iterator[bytes]:
    """An answer's body as it arrives, each piece as soon as the network gives it.

    A read times out after ``settings.read_timeout`` without a byte; past that grace the
    answer must also average ``settings.min_answer_rate`` bytes a second, or ``Offline``: a
    server sending one byte just before each read timeout is cut, not waited for.
    """
    started = time.monotonic()
    received = 0
    while True:
        try:
            # read1 returns what one read of the socket gave (decoded): a deadline is checked
            # between pieces, where iter_content would block until a whole piece had come.
            piece = response.raw.read1(size, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise Offline(type(error).__name__) from None
        if not piece:
            return
        received += len(piece)
        if time.monotonic() - started > settings.read_timeout + received / settings.min_answer_rate:
            raise Offline("the answer arrived too slowly")
        yield piece


def _bounded_content(
    response: requests.Response, limit: int, settings: ConnectionSettings | None = None
) -> bytes:
    """The answer's body, refused past ``limit`` bytes (never buffered further)."""
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ProtocolViolation(f"answer declares {declared} bytes, more than {limit}")
    parts: list[bytes] = []
    size = 0
    for part in answer_pieces(response, settings or ConnectionSettings()):
        size += len(part)
        if size > limit:
            raise ProtocolViolation(f"answer is larger than {limit} bytes")
        parts.append(part)
    return b"".join(parts)


#: An error body is a short JSON object; more is not read.
_MAX_ERROR_BYTES = 4096


def _drain_short(response: requests.Response, settings: ConnectionSettings) -> None:
    """Read a short answer to its end and close it (its connection is then reused); one
    longer than an error body is closed unread with its connection."""
    try:
        declared = response.headers.get("content-length", "")
        if not (declared.isascii() and declared.isdigit() and int(declared) > _MAX_ERROR_BYTES):
            size = 0
            for piece in answer_pieces(response, settings, _MAX_ERROR_BYTES):
                size += len(piece)
                if size > _MAX_ERROR_BYTES:
                    break
    except (requests.exceptions.RequestException, TransportError):
        pass  # the connection is dropped with the answer: the retry opens another
    finally:
        response.close()


def refusal(
    response: requests.Response,
    content: bytes | None = None,
    settings: ConnectionSettings | None = None,
) -> ServerRefused:
    """Errors are JSON with the code also in a header (a HEAD answer has no body)."""
    code = (response.headers.get("x-minga-error") or ErrorCode.BAD_REQUEST.value)[:64]
    retry_after = _retry_after(response.headers.get("retry-after"), time.time())
    message = ""
    try:
        raw = (
            content
            if content is not None
            else _bounded_content(response, _MAX_ERROR_BYTES, settings)
        )
        body = json.loads(raw) if len(raw) <= _MAX_ERROR_BYTES else None
        if isinstance(body, dict):
            code = str(body.get("code") or code)[:64]
            message = str(body.get("message") or "")
    except (ValueError, RecursionError, TransportError, requests.exceptions.RequestException):
        pass
    return ServerRefused(response.status_code, code, message[:200], retry_after)


def certificate_fingerprint(der: bytes) -> str:
    """The SHA-256 of a DER certificate, as a pin is written (for settings screens and tests)."""
    return hashlib.sha256(der).hexdigest()
