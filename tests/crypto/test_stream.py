"""Attachment streams: bit-exact round trips, and every kind of tampering refused by name."""

from __future__ import annotations

import io
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.crypto.stream import (
    HEADER_BYTES,
    TAG_BYTES,
    AttachmentTampered,
    StreamHeader,
    new_file_key,
    open_chunks,
    open_stream,
    seal_stream,
    sealed_size,
)

SMALL = 1024  # the smallest chunk size allowed keeps the tests quick while crossing boundaries


def _seal(data: bytes, key: bytes, chunk_size: int = SMALL) -> bytes:
    return b"".join(seal_stream(io.BytesIO(data), key, StreamHeader.new(chunk_size)))


def _open(sealed: bytes, key: bytes) -> bytes:
    return b"".join(open_stream(io.BytesIO(sealed), key))


def _chunks(sealed: bytes, chunk_size: int = SMALL) -> tuple[bytes, list[bytes]]:
    body, step = sealed[HEADER_BYTES:], chunk_size + TAG_BYTES
    return sealed[:HEADER_BYTES], [body[i : i + step] for i in range(0, len(body), step)]


def test_known_answer_vector() -> None:
    # Computed independently of the module: the nonce layout and AAD are part of the format.
    key = bytes(range(32))
    prefix = bytes.fromhex("a0a1a2a3a4a5a6")
    plaintext = b"Desalojo forzoso / \xd8\xa5\xd8\xae\xd9\x84\xd8\xa7\xd8\xa1" * 100
    header = b"MNGA" + bytes([1, 1]) + struct.pack(">I", SMALL) + prefix
    aead = ChaCha20Poly1305(key)
    expected = header
    pieces = [plaintext[i : i + SMALL] for i in range(0, len(plaintext), SMALL)]
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        nonce = prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")
        expected += aead.encrypt(nonce, piece, header)
    sealed = b"".join(seal_stream(io.BytesIO(plaintext), key, StreamHeader(SMALL, prefix)))
    assert sealed == expected
    assert sealed[:HEADER_BYTES].hex() == "4d4e47410101000004" + "00a0a1a2a3a4a5a6"
    assert len(sealed) == sealed_size(len(plaintext), SMALL)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=5 * SMALL + 3), st.randoms(use_true_random=False))
def test_round_trip_is_bit_exact(size: int, rng: object) -> None:
    data = rng.randbytes(size)  # type: ignore[attr-defined]
    key = new_file_key()
    sealed = _seal(data, key)
    assert len(sealed) == sealed_size(size, SMALL)
    assert _open(sealed, key) == data
    header, chunks = _chunks(sealed)
    assert b"".join(open_chunks(key, header, chunks)) == data


@pytest.mark.parametrize("size", [0, 1, SMALL - 1, SMALL, SMALL + 1, 3 * SMALL])
def test_boundaries(size: int) -> None:
    key = new_file_key()
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert _open(_seal(data, key), key) == data


def _code(sealed: bytes, key: bytes) -> str:
    with pytest.raises(AttachmentTampered) as caught:
        _open(sealed, key)
    return caught.value.code


def test_truncation_at_any_chunk_boundary_is_named() -> None:
    key = new_file_key()
    sealed = _seal(b"x" * (4 * SMALL + 10), key)
    header, chunks = _chunks(sealed)
    for keep in range(1, len(chunks)):
        assert _code(header + b"".join(chunks[:keep]), key) == "truncated"
    assert _code(header, key) in {"truncated", "altered"}
    assert _code(sealed[:-1], key) == "altered"


def test_reordered_duplicated_or_dropped_chunks_are_refused() -> None:
    key = new_file_key()
    header, chunks = _chunks(_seal(bytes(range(256)) * 20, key))
    swapped = [chunks[1], chunks[0], *chunks[2:]]
    duplicated = [chunks[0], chunks[0], *chunks[2:]]
    dropped = [chunks[0], *chunks[2:]]
    for variant in (swapped, duplicated, dropped):
        assert _code(header + b"".join(variant), key) == "altered"


def test_chunk_from_another_file_is_refused() -> None:
    key = new_file_key()
    data = b"a" * (3 * SMALL)
    header, chunks = _chunks(_seal(data, key))
    other_header, other_chunks = _chunks(_seal(data, key))  # same key, same data, other prefix
    mixed = [chunks[0], other_chunks[1], chunks[2]]
    assert _code(header + b"".join(mixed), key) == "altered"
    assert _code(other_header + b"".join(chunks), key) == "altered"


def test_every_single_bit_flip_is_refused() -> None:
    key = new_file_key()
    sealed = _seal(b"evidence" * 300, key)
    for position in range(0, len(sealed), 7):
        for bit in (0, 7):
            damaged = bytearray(sealed)
            damaged[position] ^= 1 << bit
            assert _code(bytes(damaged), key) in {"altered", "bad_header"}, position


def test_header_errors_and_wrong_key() -> None:
    key = new_file_key()
    sealed = _seal(b"report", key)
    assert _code(b"PK\x03\x04" + sealed[4:], key) == "bad_header"
    assert _code(sealed[:4] + b"\x09" + sealed[5:], key) == "bad_header"
    assert _code(sealed[:3], key) == "bad_header"
    assert _code(sealed, new_file_key()) == "altered"
    bigger_chunks = sealed[:6] + struct.pack(">I", 2048) + sealed[10:]
    assert _code(bigger_chunks, key) == "altered"


def test_appended_bytes_are_refused() -> None:
    key = new_file_key()
    for data in (b"short", b"z" * SMALL):
        assert _code(_seal(data, key) + b"\x00" * 5, key) == "altered"


class _CountingReader(io.BytesIO):
    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and size >= 0, "the whole file was asked for"
        self.largest = max(self.largest, size)
        return super().read(size)


def test_large_files_are_read_one_chunk_at_a_time() -> None:
    key = new_file_key()
    source = _CountingReader(b"m" * (2 * 1024 * 1024 + 5))
    sealed = b"".join(seal_stream(source, key))
    assert source.largest == 64 * 1024
    reader = _CountingReader(sealed)
    total = sum(len(chunk) for chunk in open_stream(reader, key))
    assert total == 2 * 1024 * 1024 + 5
    assert reader.largest <= 64 * 1024 + TAG_BYTES
