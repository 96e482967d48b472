"""Chunked authenticated encryption of attachments, the same bytes at rest and on the wire.

The STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015) over ChaCha20-Poly1305: a
random key per file, 64 KiB chunks, nonce = 7-byte random prefix ‖ 32-bit chunk counter ‖ a
last-chunk flag, and the header as associated data of every chunk. So a chunk moved, dropped,
duplicated, taken from another file, or a file cut short, fails to open. Sealed chunks are what
sync uploads, addressed by their SHA-256: nothing is re-encrypted and no plaintext temp file
exists at any step.

Sealed layout: ``header (17 bytes) ‖ chunk 0 ‖ chunk 1 ‖ …``; each chunk is its plaintext
length + 16 bytes of tag; every chunk but the last holds exactly ``chunk_size`` bytes.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

MAGIC = b"MNGA"
VERSION = 1
ALGORITHM_CHACHA20_POLY1305 = 1
KEY_BYTES = 32
PREFIX_BYTES = 7
TAG_BYTES = 16
CHUNK_SIZE = 64 * 1024
MIN_CHUNK_SIZE = 1024
MAX_CHUNK_SIZE = 4 * 1024 * 1024
#: A counter of 32 bits bounds a file to 2**32 chunks: 256 TiB at 64 KiB, far beyond need.
MAX_CHUNKS = 2**32
_HEADER = struct.Struct(">4sBBI7s")
HEADER_BYTES = _HEADER.size


class AttachmentTampered(ValueError):
    """A sealed attachment failed to open. ``code`` says how, for a translated message.

    Codes: ``bad_header`` (not a Minga attachment or an unknown version), ``truncated`` (ends
    before its last chunk), ``altered`` (a chunk was changed, moved, swapped, comes from
    another file or has bytes after it, or the key is not this file's).
    """

    def __init__(self, code: str, chunk: int | None = None) -> None:
        where = "" if chunk is None else f" at chunk {chunk}"
        super().__init__(f"attachment {code}{where}")
        self.code = code
        self.chunk = chunk


def new_file_key() -> bytes:
    return os.urandom(KEY_BYTES)


@dataclass(frozen=True)
class StreamHeader:
    chunk_size: int
    nonce_prefix: bytes

    @classmethod
    def new(cls, chunk_size: int = CHUNK_SIZE) -> StreamHeader:
        return cls(chunk_size, os.urandom(PREFIX_BYTES))

    def to_bytes(self) -> bytes:
        return _HEADER.pack(
            MAGIC, VERSION, ALGORITHM_CHACHA20_POLY1305, self.chunk_size, self.nonce_prefix
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> StreamHeader:
        if len(raw) != HEADER_BYTES:
            raise AttachmentTampered("bad_header")
        magic, version, algorithm, chunk_size, prefix = _HEADER.unpack(raw)
        if (
            magic != MAGIC
            or version != VERSION
            or algorithm != ALGORITHM_CHACHA20_POLY1305
            or not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE
        ):
            raise AttachmentTampered("bad_header")
        return cls(chunk_size, prefix)

    def nonce(self, index: int, last: bool) -> bytes:
        if not 0 <= index < MAX_CHUNKS:
            raise ValueError("chunk index out of range")
        return self.nonce_prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")

    @property
    def sealed_chunk_size(self) -> int:
        return self.chunk_size + TAG_BYTES


class StreamSealer:
    """Seals the chunks of one file, in order, under that file's key."""

    def __init__(self, key: bytes, header: StreamHeader | None = None) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("attachment keys are 32 bytes")
        self.header = header or StreamHeader.new()
        self.header_bytes = self.header.to_bytes()
        self._aead = ChaCha20Poly1305(key)

    def seal_chunk(self, index: int, plaintext: bytes, last: bool) -> bytes:
        if len(plaintext) > self.header.chunk_size or (
            not last and len(plaintext) != self.header.chunk_size
        ):
            raise ValueError("only the last chunk may be shorter than the chunk size")
        return self._aead.encrypt(self.header.nonce(index, last), plaintext, self.header_bytes)


class StreamOpener:
    """Opens the chunks of one sealed file; each call checks position and last-chunk flag."""

    def __init__(self, key: bytes, header_bytes: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("attachment keys are 32 bytes")
        self.header = StreamHeader.from_bytes(header_bytes)
        self._header_bytes = header_bytes
        self._aead = ChaCha20Poly1305(key)

    def open_chunk(self, index: int, sealed: bytes, last: bool) -> bytes:
        if len(sealed) < TAG_BYTES or len(sealed) > self.header.sealed_chunk_size:
            raise AttachmentTampered("altered", index)
        try:
            return self._aead.decrypt(self.header.nonce(index, last), sealed, self._header_bytes)
        except InvalidTag:
            pass
        if last and len(sealed) == self.header.sealed_chunk_size:
            # A full chunk that opens as a middle chunk: the ones after it were cut off.
            try:
                self._aead.decrypt(self.header.nonce(index, False), sealed, self._header_bytes)
            except InvalidTag:
                pass
            else:
                raise AttachmentTampered("truncated", index)
        raise AttachmentTampered("altered", index)


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        part = source.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def seal_stream(
    source: BinaryIO, key: bytes, header: StreamHeader | None = None
) -> Iterator[bytes]:
    """Yield the header, then each sealed chunk, reading ``source`` one chunk at a time."""
    sealer = StreamSealer(key, header)
    yield sealer.header_bytes
    size = sealer.header.chunk_size
    current = _read_exactly(source, size)
    index = 0
    while True:
        following = _read_exactly(source, size) if len(current) == size else b""
        last = not following
        yield sealer.seal_chunk(index, current, last)
        if last:
            return
        current, index = following, index + 1


def open_stream(sealed: BinaryIO, key: bytes) -> Iterator[bytes]:
    """Yield the plaintext chunks of a sealed file, refusing any tampering as it goes.

    Plaintext comes out only chunk by chunk, each already authenticated; a truncation is
    noticed at the end, so a consumer must treat output as provisional until the last chunk.
    """
    opener = StreamOpener(key, _read_exactly(sealed, HEADER_BYTES))
    size = opener.header.sealed_chunk_size
    current = _read_exactly(sealed, size)
    index = 0
    while True:
        following = _read_exactly(sealed, size) if len(current) == size else b""
        last = not following
        yield opener.open_chunk(index, current, last)
        if last:
            return
        current, index = following, index + 1


def open_chunks(key: bytes, header_bytes: bytes, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Open chunks that arrive separately (from sync), in order; the last one is flagged."""
    opener = StreamOpener(key, header_bytes)
    iterator = iter(chunks)
    try:
        current = next(iterator)
    except StopIteration:
        raise AttachmentTampered("truncated", 0) from None
    index = 0
    for following in iterator:
        yield opener.open_chunk(index, current, False)
        current, index = following, index + 1
    yield opener.open_chunk(index, current, True)


def sealed_size(plaintext_size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """Bytes of the sealed form of ``plaintext_size`` bytes (an empty file is one empty chunk)."""
    chunks = max(1, -(-plaintext_size // chunk_size))
    if plaintext_size and plaintext_size % chunk_size == 0:
        chunks = plaintext_size // chunk_size
    return HEADER_BYTES + plaintext_size + chunks * TAG_BYTES
