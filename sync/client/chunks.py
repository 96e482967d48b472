"""Attachments over sync: sealed chunks go up before the record that names them, and come down
after records, verified and assembled only when whole; both resume after a cut or a crash.

The chunks are the vault's own sealed bytes (``sync.crypto.stream``), addressed by SHA-256, so
nothing is re-encrypted. What opens them (file key, stream header) travels inside the sealed
record (Evidence ``attachment_key``/``attachment_header``/``attachment_chunks``), never in clear.
Design and limits: sync/ENGINE.md "Attachments".

Several chunk requests are in flight at once (a window sized from the link, at most
``MAX_WINDOW``), each on its own connection; only the caller's thread touches the store, so a
chunk is marked held or saved as received exactly as it was one request at a time. A cut is
recovered inside the window: the lanes reconnect at once, a cut download goes on with ``Range``
from the bytes received, a cut upload asks for its offset (``HEAD``) between fresh chunks and
sends only the rest; nothing is asked again that the sync knows (no second probe, no second
record sync), so the link's round trips after a cut overlap the data instead of preceding it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import queue
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, BinaryIO, Protocol, runtime_checkable

import requests

from sync.client.transport import (
    ConnectionSettings,
    Offline,
    ProtocolViolation,
    ServerRefused,
    Transport,
    TransportError,
    answer_pieces,
    refusal,
)
from sync.crypto.stream import HEADER_BYTES, AttachmentTampered, StreamHeader, open_chunks
from sync.protocol import (
    CHUNK_MEDIA_TYPE,
    LIMITS,
    ChunkProbe,
    ChunkProbeAnswer,
    ErrorCode,
    ProtocolError,
    check_chunk_hash,
    check_id,
    chunk_hash,
)

#: The content fields a record uses to name its file (Evidence, schema 2).
CHUNKS_FIELD = "attachment_chunks"
KEY_FIELD = "attachment_key"
HEADER_FIELD = "attachment_header"
REF_FIELD = "attachment_ref"
#: A half-received chunk is saved every this many bytes, so a crash loses at most this much.
SAVE_EVERY = 16 * 1024
#: Read size of a download; small enough that progress moves on a 2G link.
_READ_BYTES = 4 * 1024
#: Progress for a UI: direction ("up" / "down"), bytes of chunk bodies moved so far in this sync.
Progress = Callable[[str, int], None]
#: Chunk requests in flight at most, each on its own connection. A link holds bandwidth × round
#: trip bytes on the way (satellite: 2 Mbit/s × 1.2 s ≈ 300 kB, about five 64 KiB chunks); one
#: request at a time leaves it idle for a round trip per chunk. The window is sized from the link
#: (``LinkEstimate``) within 2..8, so a 2G link keeps few requests open and a satellite one
#: enough to stay full.
MAX_WINDOW = 8
#: How many times one chunk request cut by the link is resumed inside its sync (a link that
#: drops every request is not tried for ever: the sync then fails and the next one resumes).
RESUMES = 1


@dataclass(frozen=True)
class AttachmentRef:
    """What a record's content says about its file, decoded and checked.

    ``ref`` is the vault id the file is stored under on every device (the record names it).
    """

    space: str
    record: str
    ref: str
    key: bytes
    header: bytes
    chunks: tuple[str, ...]
    sha256: str
    size: int

    @classmethod
    def of(cls, space: str, content: Mapping[str, Any] | None) -> AttachmentRef | None:
        """The file a content names, or ``None`` if it names none or names it badly, or its
        bytes are marked gone (``GONE``: nothing to send or fetch)."""
        if not content or not content.get(CHUNKS_FIELD) or is_gone(content):
            return None
        try:
            ref = str(content[REF_FIELD])
            key = base64.b64decode(str(content[KEY_FIELD]), validate=True)
            header = base64.b64decode(str(content[HEADER_FIELD]), validate=True)
            chunks = tuple(check_chunk_hash(a, "chunk") for a in content[CHUNKS_FIELD])
            StreamHeader.from_bytes(header)
        except (KeyError, TypeError, ValueError, binascii.Error, AttachmentTampered, ProtocolError):
            return None
        if not ref.isalnum() or len(key) != 32:
            return None
        return cls(
            space,
            str(content.get("id", "")),
            ref,
            key,
            header,
            chunks,
            str(content.get("sha256", "")),
            int(content.get("size", 0) or 0),
        )

    @property
    def sealed_chunk_size(self) -> int:
        return StreamHeader.from_bytes(self.header).sealed_chunk_size

    def offset_of(self, index: int) -> int:
        """Where chunk ``index`` starts in the vault's sealed file (header, then chunks)."""
        return HEADER_BYTES + index * self.sealed_chunk_size


#: In a record's content: its file's chunks were collected by the server and the device that
#: found it out held no copy (ENGINE.md, "A file whose bytes are gone"). Such a record claims
#: no chunks, so the server takes it; a device that holds the file drops the mark and sends
#: the record again with its chunks. Kept beside the record (``record_extras``), as
#: ``decided`` is, and sealed with it: the author's signature covers it.
GONE = "attachment_gone"


def is_gone(content: Mapping[str, Any] | None) -> bool:
    """Whether a content says its file's bytes are no longer on the server (``GONE``)."""
    return bool(content) and content.get(GONE) is True  # type: ignore[union-attr]


def referenced_chunks(content: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The chunk addresses a content lists (what a mutation must carry), deduplicated; none
    for a file marked gone (``GONE``): the server no longer holds them."""
    if not content or is_gone(content):
        return ()
    raw = content.get(CHUNKS_FIELD) or ()
    return tuple(dict.fromkeys(str(a) for a in raw))


def sealed_layout(sealed: BinaryIO) -> tuple[bytes, list[str]]:
    """A vault file's stream header and the SHA-256 of each of its sealed chunks, in order."""
    header = sealed.read(HEADER_BYTES)
    size = StreamHeader.from_bytes(header).sealed_chunk_size
    addresses = []
    while True:
        chunk = sealed.read(size)
        if not chunk:
            break
        addresses.append(chunk_hash(chunk))
    return header, addresses


@runtime_checkable
class AttachmentState(Protocol):
    """What transfers need from the local store besides ``SyncState``. Each call one transaction."""

    def chunks_held(self, space: str) -> set[str]:
        """Chunks the server is known to hold (uploaded or seen)."""

    def mark_held(self, space: str, addresses: Sequence[str]) -> None: ...

    def forget_held(self, space: str, addresses: Sequence[str]) -> None:
        """The server said these are missing after all (collected): ask again next time."""

    def sealed_chunk(self, ref: AttachmentRef, index: int) -> bytes | None:
        """Chunk ``index`` of a file in the local vault, or ``None`` if the file is not here."""

    def wanted_attachments(self, limit: int) -> list[AttachmentRef]:
        """Files that records name and this device's vault does not hold yet."""

    def received(self, space: str, address: str) -> tuple[bytes, bool] | None:
        """The bytes of a chunk received so far and whether it is whole and verified."""

    def save_received(self, space: str, address: str, data: bytes, complete: bool) -> None: ...

    def drop_received(self, space: str, addresses: Sequence[str]) -> None: ...

    def store_attachment(self, ref: AttachmentRef, chunks: Sequence[bytes]) -> None:
        """Write a verified file into the vault with its key; drop its received chunks."""

    def mark_gone(self, space: str, record: str) -> None:
        """The record's file is no longer on the server and not in this vault: mark its content
        ``GONE`` (it then claims no chunks), keep it dirty and note it once for the person."""

    def put_back_gone(self) -> int:
        """Records marked ``GONE`` whose file this vault holds: drop the mark and keep them
        dirty, so the next push sends their chunks again. Returns how many."""


@dataclass
class TransferReport:
    """Chunk traffic of one sync (bodies only), for the UI's progress and for tests."""

    chunks_up: int = 0
    chunks_down: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    heads: int = 0
    #: Requests asking which of a file's chunks are missing (one per file of up to 256 chunks).
    probes: int = 0
    files_received: int = 0
    #: (record, code) of files refused: ``chunk_hash_mismatch``, ``altered``, ``truncated``...
    refused: list[tuple[str, str]] = field(default_factory=list)


class LinkEstimate:
    """How many chunk requests keep the link full: bandwidth × round trip / chunk size, plus two.

    The round trip is the shortest request seen (a ``HEAD``, or a chunk's request minus nothing:
    an overestimate only widens the window); the bandwidth is chunk bytes completed per second
    over the last completions. The window grows by one per completion while the estimate says
    the link could take more, and shrinks by one when it says at least two less.
    """

    def __init__(self) -> None:
        # The bound until the link is known. Too wide a window on a slow link only queues bytes
        # that go next anyway (a cut resumes them at their offsets: nothing goes twice), and the
        # first rates bring it down; too narrow a one leaves a long link idle for its first
        # round trips (half the bound: about 1.5 s of a satellite link a leg, measured).
        self.window = MAX_WINDOW
        self.round_trip: float | None = None
        self._done: deque[tuple[float, int]] = deque(maxlen=16)

    def observe(self, started: float, ended: float, size: int, chunk: int) -> None:
        took = max(ended - started, 1e-6)
        self.round_trip = took if self.round_trip is None else min(self.round_trip, took)
        if not size:
            return
        self._done.append((ended, size))
        if len(self._done) < 2:
            return
        span = self._done[-1][0] - self._done[0][0]
        if span <= 0:
            return
        rate = sum(size for _, size in list(self._done)[1:]) / span
        # Two more than the link holds: one being answered, one for the server's own time
        # (hashing, fsync), which the shortest round trip does not show.
        target = math.ceil(rate * self.round_trip / chunk) + 2
        if target >= self.window:
            self.window = min(self.window + 1, MAX_WINDOW)
        elif target < self.window - 1:
            self.window = max(self.window - 1, 2)  # gently: one slow answer is not a new link


@dataclass
class _Job:
    """One chunk request: its place in the file's order and what it moves."""

    position: int
    index: int
    address: str
    data: bytes | None = None  # a PUT's body
    offset: int = 0  # bytes of it the server kept from a cut upload
    have: bytes = b""  # a download's bytes received before (resumed with Range)
    head: bool = False
    #: A PUT cut by the link: its offset on the server is unknown until asked (``HEAD``).
    ask_offset: bool = False
    resumed: int = 0  # times this request was cut and resumed in this window
    #: A download fetched again whole (no ``Range``): what it was resumed on did not match.
    whole: bool = False


@dataclass
class _Event:
    kind: str  # "piece", "partial", "done", "failed"
    job: _Job
    value: Any = None
    started: float = 0.0
    ended: float = 0.0


class _Stop(Exception):
    """The caller's handler ends a window early (a refused or missing chunk)."""


class _Resume(Exception):
    """The caller's handler asks the window to run ``job`` again (a request the link cut);
    ``later``: after the fresh jobs already started ones would take (an upload that must ask
    its offset first), so the lanes' first requests after a cut carry data."""

    def __init__(self, job: _Job, later: bool = False) -> None:
        super().__init__()
        self.job = job
        self.later = later


class ChunkTransfer:
    """HEAD/PUT/GET of sealed chunks for one engine, through its transport's lanes.

    Args:
        state: the store's ``AttachmentState``.
        transport: the engine's transport (same proxy and pin; ``Transport.lanes`` for the
            connections of requests in flight together).
        authorized: the engine's token wrapper (logs in again once on an expired token).
        progress: called after every piece moved, with the direction and the running total.
    """

    def __init__(
        self,
        state: AttachmentState,
        transport: Transport,
        authorized: Callable[[Callable[[str], Any]], Any],
        progress: Progress | None = None,
    ) -> None:
        self.state = state
        self.transport = transport
        self._authorized = authorized
        self.progress = progress
        self.report = TransferReport()
        self.estimate = LinkEstimate()
        # Lanes stay open while this is above 0 (one sync's files: no handshake per file).
        self._kept_open = 0
        # A server from before the probe answers its route 404/405: ask each chunk (HEAD).
        self._probe_unknown = False

    @contextmanager
    def lanes_kept_open(self) -> Iterator[None]:
        """Within this, the lanes (connections) of one file's window stay open for the next
        file; they close when it ends. A sync wraps all its files in it: each file would
        otherwise open its window's connections again, a round trip of handshake each, while
        a one-file download asked for by the person closes them at once, as before."""
        self._kept_open += 1
        try:
            yield
        finally:
            self._kept_open -= 1
            if not self._kept_open:
                self.transport.close_lanes()

    def _release_lanes(self) -> None:
        if not self._kept_open:
            self.transport.close_lanes()

    # --- HTTP, raw bodies (on a lane, in a worker thread) ---------------------------------------

    @staticmethod
    def _request(
        lane: Transport,
        method: str,
        path: str,
        token: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        return lane.send_raw(
            method,
            path,
            token,
            body=body,
            content_type=CHUNK_MEDIA_TYPE if body is not None else None,
            headers=headers,
            stream=stream,
        )

    @staticmethod
    def _path(space: str, address: str) -> str:
        return f"/v1/spaces/{check_id(space)}/chunks/{check_chunk_hash(address)}"

    def _head(self, lane: Transport, space: str, address: str, token: str) -> tuple[bool, int]:
        """Whether the server holds the chunk, and else how many bytes of it this device sent
        before a cut (its ``Upload-Offset``: the rest is all that needs sending)."""
        with self._request(lane, "HEAD", self._path(space, address), token) as response:
            _finish(response, lane.settings)
            if response.status_code == 200:
                return True, 0
            if response.status_code == 404:
                return False, _offset(response.headers.get("upload-offset"))
            raise refusal(response, settings=lane.settings)

    def _put(
        self, lane: Transport, space: str, address: str, data: bytes, token: str, offset: int = 0
    ) -> int:
        """Send the chunk from ``offset`` (the server holds the bytes before it); the bytes sent.
        If the server no longer holds them (restarted, expired), the whole chunk goes."""
        # Answers are closed unread: whatever a server sends after the status is not ours.
        if 0 < offset < len(data):
            with self._request(
                lane,
                "PUT",
                self._path(space, address),
                token,
                body=data[offset:],
                headers={"Upload-Offset": str(offset)},
            ) as response:
                if response.status_code in (200, 201):
                    _finish(response, lane.settings)
                    return len(data) - offset
                answer = refusal(response, settings=lane.settings)
            if answer.code != ErrorCode.UPLOAD_OFFSET_MISMATCH:
                raise answer
        with self._request(lane, "PUT", self._path(space, address), token, body=data) as response:
            if response.status_code not in (200, 201):
                raise refusal(response, settings=lane.settings)
            _finish(response, lane.settings)
        return len(data)

    # --- the window ------------------------------------------------------------------------------

    def _token(self, stale: str | None = None) -> str:
        """The engine's token (logging in if it expired); a new one if ``stale`` was refused."""

        def check(token: str) -> str:
            if token == stale:
                raise ServerRefused(401, ErrorCode.TOKEN_EXPIRED)
            return token

        token: str = self._authorized(check)
        return token

    def _window(
        self,
        space: str,
        jobs: Sequence[_Job],
        work: Callable[[Transport, _Job, str, Callable[[_Event], None]], Any],
        handle: Callable[[_Event], None],
        *,
        width: int | None = None,
        ordered: bool = True,
    ) -> None:
        """Run ``jobs`` with up to the estimated window in flight, in order. ``ordered``: job
        ``p`` starts only once every job before ``p - window`` is done, so after a cut the ones
        that may have reached the server are among the first ``MAX_WINDOW`` not known done (a
        server asked per chunk needs that; one asked about a whole file does not).

        ``work`` runs on a lane in a worker thread and may post progress events; ``handle``
        runs here, on the caller's thread, for every event (the store is touched only here);
        it raises ``_Stop`` to start no more jobs, ``_Resume`` to run a job again (a cut one at
        most ``RESUMES`` times, after that its failure stands; a resumed download that did not
        match its address once, whole). The first error is raised once
        every job in flight has ended (their results handled first, so nothing that arrived is
        lost).
        """
        if not jobs:
            return
        lanes = self.transport.lanes(MAX_WINDOW if width is None else width)
        free: queue.SimpleQueue[Transport] = queue.SimpleQueue()
        for lane in lanes:
            free.put(lane)
        events: queue.SimpleQueue[_Event] = queue.SimpleQueue()
        token = self._token()

        def run(job: _Job, token: str) -> None:
            lane = free.get()
            if job.resumed:
                # A loss ends a link's connections one by one, not at one instant (each learns
                # of it by itself): a free lane's kept-alive connection may still look open and
                # die under the resumed request, a second cut of the same job that ends its
                # sync (CI at 30963c5, in one run of 1,534 tests). A resumed request goes on a
                # connection opened after its failure; one handshake, on a lane the cut had
                # most likely ended anyway.
                lane.drop_connections()
            started = time.monotonic()
            try:
                value = work(lane, job, token, events.put)
            except Exception as error:  # every error goes to the caller's thread
                events.put(_Event("failed", job, error, started=started, ended=time.monotonic()))
            else:
                events.put(_Event("done", job, value, started=started, ended=time.monotonic()))
            finally:
                free.put(lane)

        waiting = deque(jobs)
        running: dict[int, _Job] = {}
        retried: set[int] = set()
        error: BaseException | None = None
        stopped = False
        with ThreadPoolExecutor(len(lanes), thread_name_prefix="chunks") as pool:
            while waiting or running:
                limit = len(lanes) if width is not None else self.estimate.window
                lowest = min(running) if running else None
                while (
                    waiting
                    and not stopped
                    and len(running) < limit
                    and (not ordered or lowest is None or waiting[0].position < lowest + limit)
                ):
                    job = waiting.popleft()
                    running[job.position] = job
                    pool.submit(run, job, token)
                    lowest = min(running)
                if not running:
                    break
                event = events.get()
                if event.kind in ("done", "failed"):
                    running.pop(event.job.position, None)
                    if event.kind == "done":
                        moved = event.value if event.job.data is None else event.job.data
                        size = len(moved) if isinstance(moved, bytes) else 0
                        self.estimate.observe(event.started, event.ended, size, _CHUNK_GUESS)
                if event.kind == "failed":
                    failure = event.value
                    if (
                        isinstance(failure, ServerRefused)
                        and failure.status == 401
                        and failure.code in (ErrorCode.TOKEN_EXPIRED, ErrorCode.TOKEN_INVALID)
                        and event.job.position not in retried
                        and error is None
                    ):
                        retried.add(event.job.position)
                        token = self._token(stale=token)
                        waiting.appendleft(event.job)
                        continue
                try:
                    handle(event)
                except _Resume as again:
                    if stopped or error is not None:
                        continue  # the window is ending: the next sync resumes it
                    if again.later:
                        # Between the jobs the lanes take next, one in two: their data fills
                        # the link while this one's offset is asked.
                        later = sum(1 for job in waiting if job.ask_offset)
                        waiting.insert(min(len(waiting), limit - 1 + 2 * later), again.job)
                    else:
                        waiting.appendleft(again.job)
                except _Stop:
                    stopped = True
                except Exception as failure:
                    stopped = True
                    error = error or failure
        if error is not None:
            raise error

    # --- upload ---------------------------------------------------------------------------------

    def can_send(
        self, space: str, content: Mapping[str, Any] | None, missing: Sequence[str]
    ) -> bool:
        """Whether this vault holds every chunk of ``missing`` that ``content`` names (the
        server said it lacks them): then the next sync sends them, else the file is gone."""
        ref = AttachmentRef.of(space, content)
        if ref is None:
            return False
        for index, address in enumerate(ref.chunks):
            if address in missing:
                data = self.state.sealed_chunk(ref, index)
                if data is None or chunk_hash(data) != address:
                    return False
        return True

    def upload(self, space: str, content: Mapping[str, Any] | None) -> None:
        """Make sure the server holds every chunk ``content`` names, sending only missing ones.

        Chunks already known held are skipped without a request. The others are asked about in
        one request (``POST …/chunks/missing``, up to ``max_chunk_refs`` a request: a record
        names no more), which also says how much of each arrived before a cut; the missing
        ones go up in order within a window (``PUT``, from that offset), each marked held as
        soon as it is answered. A resumed upload thus never sends a chunk that arrived, and of
        a chunk cut mid-body only the rest. Chunks whose file is not in this vault are asked
        about and otherwise left for the server to judge: it holds them already, or refuses
        the record with ``chunk_missing``. A server without the probe is asked per chunk.
        """
        ref = AttachmentRef.of(space, content)
        if ref is None:
            return
        try:
            self._upload(space, ref)
        finally:
            self._release_lanes()

    def _upload(self, space: str, ref: AttachmentRef) -> None:
        held = self.state.chunks_held(space)
        todo = [(index, address) for index, address in enumerate(ref.chunks) if address not in held]
        if not todo:
            return
        if not self._probe_unknown:
            try:
                missing = self._missing(space, [address for _index, address in todo])
            except ServerRefused as refused:
                if (refused.status, refused.code) not in _UNKNOWN_ROUTE:
                    raise
                self._probe_unknown = True
            else:
                self._send_missing(space, ref, todo, missing)
                return
        self._upload_asking_each(space, ref, held, todo)

    def _missing(self, space: str, addresses: Sequence[str]) -> dict[str, int]:
        """The chunks of ``addresses`` the server lacks, each with the bytes of it this device
        sent before a cut; the ones it holds are marked held. One request per
        ``max_chunk_refs`` addresses."""
        asked = list(dict.fromkeys(addresses))
        missing: dict[str, int] = {}
        for start in range(0, len(asked), LIMITS.max_chunk_refs):
            probe = ChunkProbe(tuple(asked[start : start + LIMITS.max_chunk_refs]))
            answer: ChunkProbeAnswer = self._authorized(
                partial(self.transport.missing_chunks, space, probe)
            )
            self.report.probes += 1
            for address in answer.missing:
                missing[address] = answer.offsets.get(address, 0)
            there = [address for address in probe.chunks if address not in missing]
            if there:
                self.state.mark_held(space, there)
        return missing

    def _send_missing(
        self,
        space: str,
        ref: AttachmentRef,
        todo: Sequence[tuple[int, str]],
        missing: Mapping[str, int],
    ) -> None:
        sends: list[_Job] = []
        for index, address in todo:
            if address not in missing:
                continue
            data = self.state.sealed_chunk(ref, index)
            if data is None or chunk_hash(data) != address:
                continue  # not in this vault: the server judges the record (chunk_missing)
            at = missing[address]
            sends.append(_Job(len(sends), index, address, data=data, offset=at))

        def sent(event: _Event) -> None:
            job = event.job
            if event.kind == "failed":
                if isinstance(event.value, Offline) and job.resumed < RESUMES:
                    # Cut: what arrived stays on the server; its offset is asked on a new
                    # connection, after fresh chunks have filled the lanes.
                    again = replace(job, ask_offset=True, offset=0, resumed=job.resumed + 1)
                    raise _Resume(again, later=True)
                raise event.value
            if event.kind != "done":
                return
            self.state.mark_held(space, [job.address])
            self.report.chunks_up += 1
            self.report.bytes_up += event.value
            if self.progress is not None:
                self.progress("up", self.report.bytes_up)

        def put(lane: Transport, job: _Job, token: str, _post: Callable[[_Event], None]) -> Any:
            assert job.data is not None
            offset = job.offset
            if job.ask_offset:
                held, offset = self._head(lane, space, job.address, token)
                if held:  # it all arrived before the cut; only the answer was lost
                    return 0
            return self._put(lane, space, job.address, job.data, token, offset)

        # Unordered: the probe said what of every chunk is there, so no order is needed for a
        # later sync to know what may have arrived.
        self._window(space, sends, put, sent, ordered=False)

    def _upload_asking_each(
        self, space: str, ref: AttachmentRef, held: set[str], todo: Sequence[tuple[int, str]]
    ) -> None:
        """A server from before the probe: the first ``MAX_WINDOW`` chunks not known held are
        asked about (``HEAD``, all at once: one round trip), and more while all asked are
        held; from the first missing one every chunk is sent (``PUT``, idempotent)."""
        answered: dict[int, bool] = {}
        offsets: dict[int, int] = {}

        def asked(event: _Event) -> None:
            self.report.heads += 1
            if event.kind == "failed":
                raise event.value
            if event.kind == "done":
                held_there, offsets[event.job.index] = event.value
                answered[event.job.index] = held_there
                if held_there:
                    self.state.mark_held(space, [event.job.address])
                    held.add(event.job.address)

        def head(lane: Transport, job: _Job, token: str, _post: Callable[[_Event], None]) -> Any:
            return self._head(lane, space, job.address, token)

        probe = 0
        while probe < len(todo):
            batch = todo[probe : probe + MAX_WINDOW]
            probe += len(batch)
            jobs = [_Job(n, index, address, head=True) for n, (index, address) in enumerate(batch)]
            self._window(space, jobs, head, asked, width=len(batch))
            if not all(answered.get(index) for index, _ in batch):
                break
        sends: list[_Job] = []
        for index, address in todo:
            if address in held:
                continue
            data = self.state.sealed_chunk(ref, index)
            here = data is not None and chunk_hash(data) == address
            if index in answered:
                if here:  # asked and missing: send it (the rest, if a cut left part there)
                    at = offsets.get(index, 0)
                    sends.append(_Job(len(sends), index, address, data=data, offset=at))
                continue
            # Not asked: past the probe, so never sent; a chunk not here is asked about.
            sends.append(_Job(len(sends), index, address, data=data if here else None))

        def sent(event: _Event) -> None:
            job = event.job
            if job.data is None and event.kind in ("done", "failed"):
                self.report.heads += 1
            if event.kind == "failed":
                raise event.value
            if event.kind != "done":
                return
            if job.data is None:  # asked about a chunk not here
                if event.value[0]:
                    self.state.mark_held(space, [job.address])
                return
            self.state.mark_held(space, [job.address])
            self.report.chunks_up += 1
            self.report.bytes_up += event.value
            if self.progress is not None:
                self.progress("up", self.report.bytes_up)

        def put(lane: Transport, job: _Job, token: str, _post: Callable[[_Event], None]) -> Any:
            if job.data is None:
                return self._head(lane, space, job.address, token)
            return self._put(lane, space, job.address, job.data, token, job.offset)

        self._window(space, sends, put, sent)

    def send(self, space: str, address: str, data: bytes) -> None:
        """Store one sealed chunk on the server (a courier's carried file); idempotent."""
        if chunk_hash(data) != address:
            raise ValueError("chunk does not hash to its address")
        self._authorized(lambda token: self._put(self.transport, space, address, data, token))
        self.state.mark_held(space, [address])
        self.report.chunks_up += 1
        self.report.bytes_up += len(data)

    def assemble_received(self, limit: int = 100) -> int:
        """Files whose every chunk already arrived (from a bundle): verified and stored with
        no request. Returns how many were stored."""
        stored = 0
        for ref in self.state.wanted_attachments(limit):
            held = [self.state.received(ref.space, a) for a in ref.chunks]
            if all(h is not None and h[1] for h in held) and self.download(ref):
                stored += 1
        return stored

    # --- download -------------------------------------------------------------------------------

    def download_wanted(self, limit: int = 100) -> int:
        """Fetch every file records name and the vault lacks (at most ``limit``); stored count."""
        stored = 0
        for ref in self.state.wanted_attachments(limit):
            if self.download(ref):
                stored += 1
        return stored

    def download(self, ref: AttachmentRef) -> bool:
        """Fetch, verify and store one file; ``False`` if it was refused (reported) or absent.

        Each chunk is checked against its address before it is kept; the file is opened with
        ``open_chunks`` (every tag, order and the last-chunk flag) and its SHA-256 compared with
        the record's before it enters the vault. Nothing refused is stored.
        """
        try:
            return self._download(ref)
        finally:
            self._release_lanes()

    def _download(self, ref: AttachmentRef) -> bool:
        chunks: dict[int, bytes] = {}
        jobs: list[_Job] = []
        for index, address in enumerate(ref.chunks):
            saved = self.state.received(ref.space, address)
            if saved is not None and saved[1]:
                chunks[index] = saved[0]
            else:
                have = saved[0] if saved is not None else b""
                jobs.append(_Job(len(jobs), index, address, have=have))
        outcome = {"refused": False, "absent": False}

        def fetched(event: _Event) -> None:
            job = event.job
            if outcome["refused"]:
                return  # the file is refused: nothing more of it is kept
            if event.kind == "piece":
                self.report.bytes_down += len(event.value)
                self.transport.traffic.add(down=len(event.value))
                if self.progress is not None:
                    self.progress("down", self.report.bytes_down)
                return
            if event.kind == "partial":
                self.state.save_received(ref.space, job.address, event.value, complete=False)
                return
            if event.kind == "failed":
                failure = event.value
                if isinstance(failure, _Cut):
                    if failure.unsaved:
                        self.state.save_received(ref.space, job.address, failure.received, False)
                    if isinstance(failure.error, Offline) and job.resumed < RESUMES:
                        # On a new connection at once, from the bytes received (Range).
                        raise _Resume(replace(job, have=failure.received, resumed=job.resumed + 1))
                    raise failure.error
                if isinstance(failure, Offline) and job.resumed < RESUMES:
                    raise _Resume(replace(job, resumed=job.resumed + 1))
                if isinstance(failure, ServerRefused) and (
                    failure.code == ErrorCode.CHUNK_NOT_FOUND
                ):
                    outcome["absent"] = True  # not uploaded yet (the author is still sending)
                    raise _Stop
                raise failure
            data: bytes = event.value
            if chunk_hash(data) != job.address and job.have and not job.whole:
                # Resumed on bytes held from before (a cut, a crash): those may be the wrong
                # ones, and the verified chunks of the file need not go with them. This one
                # chunk is fetched whole, once; wrong again, the file is refused below.
                self.state.drop_received(ref.space, [job.address])
                raise _Resume(replace(job, have=b"", whole=True))
            if chunk_hash(data) != job.address:
                # Never stored: a chunk that is not what its address says is an attack or a fault.
                outcome["refused"] = True
                self.state.drop_received(ref.space, [job.address])
                self._refuse(ref, ErrorCode.CHUNK_HASH_MISMATCH.value)
                raise _Stop
            self.state.save_received(ref.space, job.address, data, complete=True)
            self.state.mark_held(ref.space, [job.address])
            self.report.chunks_down += 1
            chunks[job.index] = data

        def get(lane: Transport, job: _Job, token: str, post: Callable[[_Event], None]) -> Any:
            return self._get(lane, ref.space, job, token, post)

        self._window(ref.space, jobs, get, fetched, ordered=False)
        if outcome["refused"] or outcome["absent"]:
            return False
        ordered = [chunks[index] for index in range(len(ref.chunks))]
        try:
            digest = hashlib.sha256()
            size = 0
            for plain in open_chunks(ref.key, ref.header, ordered):
                digest.update(plain)
                size += len(plain)
        except AttachmentTampered as error:
            self._refuse(ref, error.code)
            return False
        if digest.hexdigest() != ref.sha256 or size != ref.size:
            self._refuse(ref, "altered")
            return False
        self.state.store_attachment(ref, ordered)
        self.report.files_received += 1
        return True

    def _refuse(self, ref: AttachmentRef, code: str) -> None:
        self.report.refused.append((ref.record, code))
        self.state.drop_received(ref.space, list(ref.chunks))

    def _get(
        self, lane: Transport, space: str, job: _Job, token: str, post: Callable[[_Event], None]
    ) -> bytes:
        """One chunk, resumed with a ``Range`` from the bytes already received. Pieces and
        every ``SAVE_EVERY`` bytes are posted to the caller's thread (which saves them); a cut
        posts what arrived with the failure."""
        have = job.have
        headers = {"Range": f"bytes={len(have)}-"} if have else {}
        response = self._request(
            lane, "GET", self._path(space, job.address), token, headers=headers, stream=True
        )
        with response:
            if response.status_code == 416 and have:
                # What we hold is already the whole chunk (or more): let the hash decide.
                return have
            end = LIMITS.max_chunk_bytes
            if response.status_code == 200:
                have = b""  # the server sent it whole: start over
            elif response.status_code == 206:
                # Appended to the bytes held only if it is the range asked: bytes from another
                # offset, or more or fewer than the range, would be kept as this chunk's.
                end = _range_end(response.headers.get("content-range"), len(have), job.address)
            else:
                raise refusal(response, settings=self.transport.settings)
            received = bytearray(have)
            unsaved = 0
            try:
                for piece in _pieces(response, self.transport.settings):
                    if len(received) + len(piece) > end:
                        # A chunk is never larger: a server sending more is not believed, and
                        # the app does not buffer what it sends past the bound.
                        raise ProtocolViolation(
                            f"chunk {job.address[:12]}: the answer is larger than its range"
                            if end < LIMITS.max_chunk_bytes
                            else "a chunk answer is larger than max_chunk_bytes"
                        )
                    received += piece
                    unsaved += len(piece)
                    post(_Event("piece", job, piece))
                    if unsaved >= SAVE_EVERY:
                        post(_Event("partial", job, bytes(received)))
                        unsaved = 0
                if response.status_code == 206 and len(received) != end:
                    # Ended quietly before the end its range names (a cut raises instead).
                    raise ProtocolViolation(
                        f"chunk {job.address[:12]}: the answer ended at byte {len(received)} "
                        f"of the range's {end}"
                    )
            except TransportError as error:
                raise _Cut(error, bytes(received), unsaved > 0) from None
        return bytes(received)


class _Cut(TransportError):
    """A download cut mid-chunk: the error, the chunk's bytes received so far and whether some
    of them arrived since the last save."""

    def __init__(self, error: TransportError, received: bytes, unsaved: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.received = received
        self.unsaved = unsaved


#: How a server that does not know a route answers it (one from before the chunk probe).
_UNKNOWN_ROUTE = {(404, ErrorCode.NOT_FOUND), (405, ErrorCode.METHOD_NOT_ALLOWED)}

#: The size window estimates count in (a vault's sealed chunk, 64 KiB + tag).
_CHUNK_GUESS = 64 * 1024 + 16


_CONTENT_RANGE = re.compile(r"bytes ([0-9]{1,10})-([0-9]{1,10})/([0-9]{1,10})")


def _range_end(header: str | None, start: int, address: str) -> int:
    """Where a 206 answer to ``Range: bytes=start-`` ends (the chunk's size), from its
    ``Content-Range``; a ``ProtocolViolation`` naming it unless it is that range."""
    found = _CONTENT_RANGE.fullmatch((header or "").strip())
    if found is None:
        raise ProtocolViolation(f"chunk {address[:12]}: a 206 without a plain content-range")
    first, last, size = (int(part) for part in found.groups())
    if first != start or last + 1 != size or size > LIMITS.max_chunk_bytes:
        raise ProtocolViolation(
            f"chunk {address[:12]}: asked the range from byte {start}, "
            f"answered bytes {first}-{last}/{size}"
        )
    return size


def _offset(header: str | None) -> int:
    """An ``Upload-Offset`` header's number, or 0 when absent or not a plain small number."""
    if header is None or not header.isascii() or not header.isdigit() or len(header) > 8:
        return 0
    return int(header)


#: A HEAD's or a stored PUT's answer is empty; past this much it is closed unread.
_SHORT_ANSWER = 4096


def _finish(response: requests.Response, settings: ConnectionSettings) -> None:
    """Read a short answer to its end so its connection goes back to the pool (a window of
    requests would otherwise open a connection, and wait a handshake, per chunk); anything
    longer is left unread and the connection closed with the response, as a hostile server's
    answer must be."""
    size = 0
    for piece in answer_pieces(response, settings, _SHORT_ANSWER):
        size += len(piece)
        if size > _SHORT_ANSWER:
            return
    response.raw.release_conn()


def _pieces(response: requests.Response, settings: ConnectionSettings) -> Iterator[bytes]:
    yield from answer_pieces(response, settings, _READ_BYTES)
