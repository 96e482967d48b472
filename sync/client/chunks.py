"""Attachments over sync: sealed chunks go up before the record that names them, and come down
after records, verified and assembled only when whole; both resume after a cut or a crash.

The chunks are the vault's own sealed bytes (``sync.crypto.stream``), addressed by SHA-256, so
nothing is re-encrypted. What opens them (file key, stream header) travels inside the sealed
record (Evidence ``attachment_key``/``attachment_header``/``attachment_chunks``), never in clear.
Design and limits: sync/ENGINE.md "Attachments".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, BinaryIO, Protocol, runtime_checkable

import requests

from sync.client.transport import (
    ConnectionSettings,
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
        """The file a content names, or ``None`` if it names none or names it badly."""
        if not content or not content.get(CHUNKS_FIELD):
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


def referenced_chunks(content: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The chunk addresses a content lists (what a mutation must carry), deduplicated."""
    if not content:
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


@dataclass
class TransferReport:
    """Chunk traffic of one sync (bodies only), for the UI's progress and for tests."""

    chunks_up: int = 0
    chunks_down: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    heads: int = 0
    files_received: int = 0
    #: (record, code) of files refused: ``chunk_hash_mismatch``, ``altered``, ``truncated``...
    refused: list[tuple[str, str]] = field(default_factory=list)


class ChunkTransfer:
    """HEAD/PUT/GET of sealed chunks for one engine, through its transport's Session.

    Args:
        state: the store's ``AttachmentState``.
        transport: the engine's transport (same keep-alive connection, proxy and pin).
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

    # --- HTTP, raw bodies ---------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        token: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        return self.transport.send_raw(
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

    def _head(self, space: str, address: str, token: str) -> bool:
        with self._request("HEAD", self._path(space, address), token) as response:
            self.report.heads += 1
            if response.status_code == 200:
                return True
            if response.status_code == 404:
                return False
            raise refusal(response, settings=self.transport.settings)

    def _put(self, space: str, address: str, data: bytes, token: str) -> None:
        # Closed unread: whatever a server sends after the status is not ours to hold.
        with self._request("PUT", self._path(space, address), token, body=data) as response:
            if response.status_code not in (200, 201):
                raise refusal(response, settings=self.transport.settings)

    # --- upload ---------------------------------------------------------------------------------

    def upload(self, space: str, content: Mapping[str, Any] | None) -> None:
        """Make sure the server holds every chunk ``content`` names, sending only missing ones.

        Chunks already known held are skipped without a request. Chunks go up in order, each
        marked held right after its ``PUT``, so on the server a file's chunks are a prefix
        plus perhaps the one in flight when a sync died: the first chunks not known held are
        asked about (``HEAD``) only until one is missing; from there every chunk is sent at
        once (``PUT``, idempotent). A first upload thus costs one ``HEAD``, not one per chunk
        (0.6 s each on 2G), and a resumed one never sends a chunk that arrived. Chunks whose
        file is not in this vault are asked about and otherwise left for the server to judge:
        it holds them already, or refuses the record with ``chunk_missing``.
        """
        ref = AttachmentRef.of(space, content)
        if ref is None:
            return
        held = self.state.chunks_held(space)
        probing = True
        for index, address in enumerate(ref.chunks):
            if address in held:
                continue
            data = self.state.sealed_chunk(ref, index)
            here = data is not None and chunk_hash(data) == address
            if probing or not here:
                if self._authorized(partial(self._head, space, address)):
                    self.state.mark_held(space, [address])
                    held.add(address)
                    continue
                probing = probing and not here
            if data is None or not here:
                continue  # not here (or not the file the record names): nothing to send
            self._authorized(partial(self._put, space, address, data))
            self.state.mark_held(space, [address])
            held.add(address)
            self.report.chunks_up += 1
            self.report.bytes_up += len(data)
            if self.progress is not None:
                self.progress("up", self.report.bytes_up)

    def send(self, space: str, address: str, data: bytes) -> None:
        """Store one sealed chunk on the server (a courier's carried file); idempotent."""
        if chunk_hash(data) != address:
            raise ValueError("chunk does not hash to its address")
        self._authorized(partial(self._put, space, address, data))
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
        chunks: list[bytes] = []
        for address in ref.chunks:
            data = self._fetch_chunk(ref, address)
            if data is None:
                return False
            chunks.append(data)
        try:
            digest = hashlib.sha256()
            size = 0
            for plain in open_chunks(ref.key, ref.header, chunks):
                digest.update(plain)
                size += len(plain)
        except AttachmentTampered as error:
            self._refuse(ref, error.code)
            return False
        if digest.hexdigest() != ref.sha256 or size != ref.size:
            self._refuse(ref, "altered")
            return False
        self.state.store_attachment(ref, chunks)
        self.report.files_received += 1
        return True

    def _refuse(self, ref: AttachmentRef, code: str) -> None:
        self.report.refused.append((ref.record, code))
        self.state.drop_received(ref.space, list(ref.chunks))

    def _fetch_chunk(self, ref: AttachmentRef, address: str) -> bytes | None:
        """One chunk, resumed with a ``Range`` from the bytes already received."""
        saved = self.state.received(ref.space, address)
        if saved is not None and saved[1]:
            return saved[0]
        have = saved[0] if saved is not None else b""
        try:
            data: bytes = self._authorized(partial(self._get, ref.space, address, have))
        except ServerRefused as refusal:
            if refusal.code == ErrorCode.CHUNK_NOT_FOUND:
                return None  # not uploaded yet (the author is still sending): next sync
            raise
        if chunk_hash(data) != address:
            # Never stored: a chunk that is not what its address says is an attack or a fault.
            self.state.drop_received(ref.space, [address])
            self._refuse(ref, ErrorCode.CHUNK_HASH_MISMATCH.value)
            return None
        self.state.save_received(ref.space, address, data, complete=True)
        self.state.mark_held(ref.space, [address])
        self.report.chunks_down += 1
        return data

    def _get(self, space: str, address: str, have: bytes, token: str) -> bytes:
        headers = {"Range": f"bytes={len(have)}-"} if have else {}
        response = self._request(
            "GET", self._path(space, address), token, headers=headers, stream=True
        )
        with response:
            if response.status_code == 416 and have:
                # What we hold is already the whole chunk (or more): let the hash decide.
                return have
            if response.status_code == 200:
                have = b""  # the server sent it whole: start over
            elif response.status_code != 206:
                raise refusal(response, settings=self.transport.settings)
            received = bytearray(have)
            unsaved = 0
            try:
                for piece in _pieces(response, self.transport.settings):
                    if len(received) + len(piece) > LIMITS.max_chunk_bytes:
                        # A chunk is never larger: a server sending more is not believed, and
                        # the app does not buffer what it sends past the bound.
                        raise ProtocolViolation("a chunk answer is larger than max_chunk_bytes")
                    received += piece
                    unsaved += len(piece)
                    self.report.bytes_down += len(piece)
                    self.transport.traffic.bytes_down += len(piece)
                    if self.progress is not None:
                        self.progress("down", self.report.bytes_down)
                    if unsaved >= SAVE_EVERY:
                        self.state.save_received(space, address, bytes(received), complete=False)
                        unsaved = 0
            except TransportError:
                if unsaved:
                    self.state.save_received(space, address, bytes(received), complete=False)
                raise
        return bytes(received)


def _pieces(response: requests.Response, settings: ConnectionSettings) -> Iterator[bytes]:
    yield from answer_pieces(response, settings, _READ_BYTES)
