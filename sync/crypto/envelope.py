"""Record envelopes: a record's content sealed under its space's epoch key and signed by its author.

msgpack → zstd → ChaCha20-Poly1305 (header as associated data) → Ed25519 over header ‖ ciphertext.
Layout, AAD and signature coverage are in sync/CRYPTO.md §2; ``open_record`` refuses by code.
"""

from __future__ import annotations

import hmac
import io
import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

import msgpack
import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sync.crypto.errors import CryptoErrorCode, EnvelopeError
from sync.crypto.keys import (
    SIGNATURE_BYTES,
    DeviceKeys,
    DevicePublicKeys,
    device_id_bytes,
    sha256,
)

MAGIC = b"MNGR"
#: Version 2 adds, after the nonce, the statement it was sealed under (version u32 and hash)
#: and the commitment to its key (sync/CRYPTO.md §2). Version 1 is still read.
VERSION = 2
VERSIONS = (1, 2)
KEY_COMMITMENT_CONTEXT = b"minga-epoch-key-v1\x00"
NONCE_BYTES = 12
TAG_BYTES = 16
SPACE_KEY_BYTES = 32
SIGN_CONTEXT = b"minga-record-v1\x00"
#: The server refuses sealed blobs over 1 MiB (``Limits.max_blob_bytes``); sealing refuses first.
MAX_BLOB_BYTES = 1024 * 1024
#: Decoded content cap: a record is small text; anything that expands past this is a bomb.
MAX_CONTENT_BYTES = 4 * 1024 * 1024
#: Deepest nesting of maps and lists a content may have (a record's is 4 at most: content,
#: consents, a consent, its date). msgpack opens up to 1024 levels, but every reader after it
#: (json for the store, the merge's comparisons) stops near 1000: a content nested that deep
#: under a field this version does not know stopped every sync of every member at that page
#: for good (rev14). Deeper is ``bad_content``, refused like any bad version.
MAX_CONTENT_DEPTH = 32
ZSTD_LEVEL = 6
_FIXED = struct.Struct(">4sBBIQQ16s12s")
#: Version 2's addition: statement version, statement hash, key commitment.
_BINDING = struct.Struct(">I32s32s")
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAX_REVISION = 2**62


#: What a tombstone may say about its deletion (CRYPTO.md §2 "Tombstone facts"), each key with
#: the type its value must have. ``alone``: a child (act, source, evidence, follow-up) deleted by
#: itself, not with its incident. A reader ignores keys it does not know (a later version's
#: facts), and refuses a known key of another type (``bad_content``).
TOMBSTONE_FACTS: dict[str, type] = {"alone": bool}


class EnvelopeKind(IntEnum):
    RECORD = 0
    TOMBSTONE = 1


@dataclass(frozen=True)
class StatementBinding:
    """What a format-2 envelope binds: the statement its author held when sealing (so a member
    shown another statement at that version learns of the fork) and its key's commitment (so
    it opens under one key only)."""

    statement_version: int
    statement_hash: bytes
    key_commitment: bytes


def key_commitment(space: str, epoch: int, space_key: bytes) -> bytes:
    """SHA-256 over (context, space, epoch, key): what a format-2 statement and envelope commit
    to, so a key handed to one member cannot differ unseen from another's, and an envelope
    cannot open under two keys (ChaCha20-Poly1305 alone is not key-committing)."""
    return sha256(
        KEY_COMMITMENT_CONTEXT, _id_bytes(space, "space"), struct.pack(">I", epoch), space_key
    )


@dataclass(frozen=True)
class EnvelopeHeader:
    """The clear, authenticated part of an envelope: everything the ciphertext is bound to."""

    kind: EnvelopeKind
    epoch: int
    revision: int
    base: int
    author: str
    nonce: bytes
    space: str
    record: str
    #: Format 2: the membership statement it was sealed under and the key it commits to.
    binding: StatementBinding | None = None

    @property
    def version(self) -> int:
        return 1 if self.binding is None else 2

    def to_bytes(self) -> bytes:
        space, record = _id_bytes(self.space, "space"), _id_bytes(self.record, "record")
        binding = b""
        if self.binding is not None:
            binding = _BINDING.pack(
                self.binding.statement_version,
                self.binding.statement_hash,
                self.binding.key_commitment,
            )
        return (
            _FIXED.pack(
                MAGIC,
                self.version,
                self.kind,
                self.epoch,
                self.revision,
                self.base,
                device_id_bytes(self.author),
                self.nonce,
            )
            + binding
            + bytes([len(space)])
            + space
            + bytes([len(record)])
            + record
        )


@dataclass(frozen=True)
class OpenedRecord:
    """A verified envelope: its header, and its content (``None`` for a tombstone). A
    tombstone's ``facts`` are what it says about its deletion (empty: sealed by a Minga from
    before tombstone facts, or a record)."""

    header: EnvelopeHeader
    content: dict[str, Any] | None
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def deleted(self) -> bool:
        return self.header.kind is EnvelopeKind.TOMBSTONE

    @property
    def alone(self) -> bool:
        """A tombstone of a child deleted by itself (``facts["alone"]``)."""
        return self.deleted and self.facts.get("alone") is True


class RecordKeys(Protocol):
    """What opening needs from the verified membership state of this device."""

    def space_key(self, space: str, epoch: int) -> bytes | None:
        """The space key of ``epoch`` if this device holds it (from a verified wrap)."""

    def author_keys(self, space: str, epoch: int, device: str) -> DevicePublicKeys | None:
        """The public keys of ``device`` if it could write in ``space`` at ``epoch``."""

    def statement_at(self, space: str, version: int) -> tuple[int, bytes] | None:
        """(epoch, hash) of the verified statement of ``space`` at ``version``, if held."""

    def epoch_committed(self, space: str, epoch: int) -> bool:
        """Whether ``epoch`` was begun by a format-2 statement (one committing to its key)."""


def _fail(code: CryptoErrorCode, detail: str = "") -> EnvelopeError:
    return EnvelopeError(code, detail)


def _id_bytes(value: str, name: str) -> bytes:
    if _ID.fullmatch(value) is None:
        raise ValueError(f"{name} id must be 1-64 of [A-Za-z0-9_-]")
    return value.encode("ascii")


def _check_numbers(epoch: int, revision: int, base: int) -> None:
    if not 0 <= epoch < 2**32:
        raise ValueError("epoch out of range")
    if not 0 < revision <= _MAX_REVISION or base != revision - 1:
        # The server applies an edit made from ``base`` as ``base + 1``: nothing else is sealable.
        raise ValueError("revision must be base + 1")


def _seal(
    kind: EnvelopeKind,
    plaintext: bytes,
    *,
    space: str,
    record: str,
    revision: int,
    base: int,
    epoch: int,
    space_key: bytes,
    author: DeviceKeys,
    nonce: bytes | None,
    statement: tuple[int, bytes] | None,
) -> bytes:
    _check_numbers(epoch, revision, base)
    if len(space_key) != SPACE_KEY_BYTES:
        raise ValueError("space keys are 32 bytes")
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    if len(nonce) != NONCE_BYTES:
        raise ValueError("nonces are 12 bytes")
    binding = None
    if statement is not None:
        version, statement_hash = statement
        if not 1 <= version < 2**32 or len(statement_hash) != 32:
            raise ValueError("a statement is named by its version and 32-byte hash")
        binding = StatementBinding(version, statement_hash, key_commitment(space, epoch, space_key))
    header = EnvelopeHeader(
        kind, epoch, revision, base, author.device_id, nonce, space, record, binding
    ).to_bytes()
    ciphertext = ChaCha20Poly1305(space_key).encrypt(nonce, plaintext, header)
    blob = header + ciphertext + author.sign(SIGN_CONTEXT + header + ciphertext)
    if len(blob) > MAX_BLOB_BYTES:
        raise _fail(CryptoErrorCode.TOO_LARGE, f"sealed record is {len(blob)} bytes")
    return blob


def encode_content(content: Mapping[str, Any]) -> bytes:
    """The plaintext that gets encrypted: msgpack (bin for bytes), then one zstd frame."""
    packed: bytes = msgpack.packb(dict(content), use_bin_type=True)
    compressed: bytes = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=False).compress(
        packed
    )
    return compressed


def seal_record(
    content: Mapping[str, Any],
    *,
    space: str,
    record: str,
    revision: int,
    base: int,
    epoch: int,
    space_key: bytes,
    author: DeviceKeys,
    nonce: bytes | None = None,
    statement: tuple[int, bytes] | None = None,
) -> bytes:
    """Seal a record's content for the wire. ``nonce`` is for known-answer tests only.

    ``statement`` (version, hash) is the membership statement the author holds: with it the
    envelope is format 2 (bound to it and committed to its key); without it format 1.

    Raises:
        EnvelopeError: ``too_large`` when the sealed blob would exceed what the server takes.
        ValueError: malformed ids, a revision other than ``base + 1``, a bad key length.
    """
    return _seal(
        EnvelopeKind.RECORD,
        encode_content(content),
        space=space,
        record=record,
        revision=revision,
        base=base,
        epoch=epoch,
        space_key=space_key,
        author=author,
        nonce=nonce,
        statement=statement,
    )


def seal_tombstone(
    *,
    space: str,
    record: str,
    revision: int,
    base: int,
    epoch: int,
    space_key: bytes,
    author: DeviceKeys,
    nonce: bytes | None = None,
    statement: tuple[int, bytes] | None = None,
    facts: Mapping[str, Any] | None = None,
) -> bytes:
    """A signed deletion marker, so only a key holder can make one.

    ``facts`` (CRYPTO.md §2 "Tombstone facts") are sealed inside, as a small map: what the
    deletion was (``{"alone": True}``: a child deleted by itself). This version always seals
    every known fact, true or false, so tombstones are the same length whatever they say and
    the server learns nothing from them. Without ``facts`` the plaintext is empty (what a
    Minga from before tombstone facts sealed; for known-answer tests).
    """
    plaintext = b""
    if facts is not None:
        _check_facts(facts)
        plaintext = encode_content(facts)
    return _seal(
        EnvelopeKind.TOMBSTONE,
        plaintext,
        space=space,
        record=record,
        revision=revision,
        base=base,
        epoch=epoch,
        space_key=space_key,
        author=author,
        nonce=nonce,
        statement=statement,
    )


def read_header(blob: bytes) -> tuple[EnvelopeHeader, int]:
    """Parse (not verify) the header; returns it and its length. For routing and key lookup.

    Raises:
        EnvelopeError: ``bad_format`` or ``unsupported_version``.
    """
    if len(blob) < _FIXED.size + 4 + TAG_BYTES + SIGNATURE_BYTES:
        raise _fail(CryptoErrorCode.BAD_FORMAT, "too short for an envelope")
    if len(blob) > MAX_BLOB_BYTES:
        raise _fail(CryptoErrorCode.TOO_LARGE, f"envelope is {len(blob)} bytes")
    magic, version, kind, epoch, revision, base, author, nonce = _FIXED.unpack_from(blob)
    if magic != MAGIC:
        raise _fail(CryptoErrorCode.BAD_FORMAT, "not a Minga record envelope")
    if version not in VERSIONS:
        raise _fail(CryptoErrorCode.UNSUPPORTED_VERSION, f"envelope version {version}")
    if kind not in (EnvelopeKind.RECORD, EnvelopeKind.TOMBSTONE):
        raise _fail(CryptoErrorCode.BAD_FORMAT, f"unknown envelope kind {kind}")
    position = _FIXED.size
    binding = None
    if version >= 2:
        if len(blob) < position + _BINDING.size:
            raise _fail(CryptoErrorCode.BAD_FORMAT, "envelope cut short")
        binding = StatementBinding(*_BINDING.unpack_from(blob, position))
        position += _BINDING.size
        if binding.statement_version < 1:
            raise _fail(CryptoErrorCode.BAD_FORMAT, "statement version 0")
    ids: list[str] = []
    for _ in range(2):
        prefix = blob[position : position + 1]
        length = prefix[0] if prefix else 0
        raw = blob[position + 1 : position + 1 + length]
        position += 1 + length
        text = raw.decode("ascii", errors="replace")
        if len(raw) != length or _ID.fullmatch(text) is None:
            raise _fail(CryptoErrorCode.BAD_FORMAT, "malformed id in envelope")
        ids.append(text)
    if len(blob) - position < TAG_BYTES + SIGNATURE_BYTES:
        raise _fail(CryptoErrorCode.BAD_FORMAT, "envelope cut short")
    header = EnvelopeHeader(
        EnvelopeKind(kind), epoch, revision, base, author.hex(), nonce, ids[0], ids[1], binding
    )
    return header, position


def check_author_signature(blob: bytes, author: DevicePublicKeys) -> EnvelopeHeader:
    """What a server can check without any space key: the envelope is well-formed and signed
    by ``author`` (whose enrolled key it holds). Used to accept a mutation a courier carried
    for another device (PROTOCOL.md §12); it proves nothing about the content.

    Raises:
        EnvelopeError: ``bad_format``, ``unsupported_version``, ``too_large``,
            ``wrong_author`` (sealed by another device) or ``signature_invalid``.
    """
    header, _length = read_header(blob)
    if header.author != author.device_id:
        raise _fail(CryptoErrorCode.WRONG_AUTHOR, f"sealed by {header.author}")
    signed, signature = blob[:-SIGNATURE_BYTES], blob[-SIGNATURE_BYTES:]
    if not author.verify(signature, SIGN_CONTEXT + signed):
        raise _fail(CryptoErrorCode.SIGNATURE_INVALID, f"record {header.record}")
    return header


def sealed_epoch(blob: bytes) -> int | None:
    """The key epoch named in a blob's clear header, or None when it is not an envelope.

    For the server's stale-epoch check: it opens nothing, but the epoch is in the clear.
    """
    try:
        return read_header(blob)[0].epoch
    except EnvelopeError:
        return None


def open_record(
    blob: bytes,
    *,
    space: str,
    record: str,
    revision: int,
    keys: RecordKeys,
    author: str | None = None,
    min_epoch: int = 0,
) -> OpenedRecord:
    """Verify and open an envelope the server delivered as ``space``/``record`` at ``revision``.

    ``author`` is the device the server names (``Change.author``); ``min_epoch`` lets the
    engine refuse a write sealed under an epoch it knows to be superseded for that writer.

    Raises:
        EnvelopeError: ``bad_format``, ``unsupported_version``, ``too_large``, ``wrong_space``,
            ``wrong_record``, ``wrong_revision``, ``wrong_base``, ``wrong_author``,
            ``wrong_epoch``, ``unknown_signer``, ``signature_invalid``, then for format 2
            ``statement_unknown`` / ``membership_fork`` / ``wrong_epoch`` (the statement it
            was sealed under), ``key_unavailable``, ``key_mismatch`` (format 2), then
            ``decrypt_failed`` or ``bad_content`` — checked in this order, nothing decrypted
            before the signature and the key commitment hold.
    """
    header, header_length = read_header(blob)
    # Bindings first: a genuine blob moved elsewhere by the server is named for what it is.
    if header.space != space:
        raise _fail(CryptoErrorCode.WRONG_SPACE, f"sealed for space {header.space}")
    if header.record != record:
        raise _fail(CryptoErrorCode.WRONG_RECORD, f"sealed for record {header.record}")
    if header.revision != revision:
        raise _fail(CryptoErrorCode.WRONG_REVISION, f"sealed as revision {header.revision}")
    if header.base != revision - 1:
        raise _fail(CryptoErrorCode.WRONG_BASE, f"base {header.base} for revision {revision}")
    if author is not None and header.author != author:
        raise _fail(CryptoErrorCode.WRONG_AUTHOR, f"sealed by {header.author}")
    if header.epoch < min_epoch:
        raise _fail(CryptoErrorCode.WRONG_EPOCH, f"epoch {header.epoch} < {min_epoch}")
    writer = keys.author_keys(space, header.epoch, header.author)
    if writer is None or writer.device_id != header.author:
        raise _fail(CryptoErrorCode.UNKNOWN_SIGNER, f"{header.author} at epoch {header.epoch}")
    signed, signature = blob[:-SIGNATURE_BYTES], blob[-SIGNATURE_BYTES:]
    if not writer.verify(signature, SIGN_CONTEXT + signed):
        raise _fail(CryptoErrorCode.SIGNATURE_INVALID, f"record {record} revision {revision}")
    binding = header.binding
    if binding is None and keys.epoch_committed(space, header.epoch):
        # A format-1 envelope commits to no key: in an epoch whose key is committed (every
        # writer of it runs format 2) it is a downgrade, the one way left to seal something that
        # opens under another key a forked member holds without either side noticing.
        raise _fail(CryptoErrorCode.KEY_MISMATCH, f"format 1 in committed epoch {header.epoch}")
    if binding is not None:
        held = keys.statement_at(space, binding.statement_version)
        if held is None:
            raise _fail(CryptoErrorCode.STATEMENT_UNKNOWN, f"statement {binding.statement_version}")
        held_epoch, held_hash = held
        if not hmac.compare_digest(held_hash, binding.statement_hash):
            # Its author holds another statement at that version than we do: one of us is
            # shown a fork of the membership.
            raise _fail(
                CryptoErrorCode.MEMBERSHIP_FORK,
                f"sealed under another statement {binding.statement_version}",
            )
        if held_epoch != header.epoch:
            raise _fail(CryptoErrorCode.WRONG_EPOCH, f"statement is at epoch {held_epoch}")
    space_key = keys.space_key(space, header.epoch)
    if space_key is None:
        raise _fail(CryptoErrorCode.KEY_UNAVAILABLE, f"no key for epoch {header.epoch}")
    if binding is not None and not hmac.compare_digest(
        binding.key_commitment, key_commitment(space, header.epoch, space_key)
    ):
        # Committed to another key than ours: it must not open (differently) under ours.
        raise _fail(CryptoErrorCode.KEY_MISMATCH, f"epoch {header.epoch}")
    try:
        plaintext = ChaCha20Poly1305(space_key).decrypt(
            header.nonce, signed[header_length:], signed[:header_length]
        )
    except InvalidTag:
        raise _fail(CryptoErrorCode.DECRYPT_FAILED, f"epoch {header.epoch}") from None
    if header.kind is EnvelopeKind.TOMBSTONE:
        if not plaintext:
            return OpenedRecord(header, None)
        facts = decode_content(plaintext)
        try:
            _check_facts(facts)
        except ValueError as error:
            raise _fail(CryptoErrorCode.BAD_CONTENT, str(error)) from None
        return OpenedRecord(header, None, facts)
    return OpenedRecord(header, decode_content(plaintext))


def _check_facts(facts: Mapping[str, Any]) -> None:
    """A known fact of another type than its own is refused; unknown keys are a later
    version's, ignored by this one."""
    for name, kind in TOMBSTONE_FACTS.items():
        if name in facts and type(facts[name]) is not kind:
            raise ValueError(f"tombstone fact {name!r} is not {kind.__name__}")


def carries_facts(blob: bytes) -> bool:
    """Whether ``blob`` is a tombstone with a sealed plaintext (tombstone facts), read from its
    clear header and length alone: what a server holds a reader from before them at (PROTOCOL.md
    §13 "A reader says which versions it opens"), and what makes a bundle version 3. Every
    tombstone this version seals carries them, so this tells which app sealed it, never what it
    says. False for anything that is not a well-formed envelope."""
    try:
        header, length = read_header(blob)
    except EnvelopeError:
        return False
    return (
        header.kind is EnvelopeKind.TOMBSTONE and len(blob) - length - SIGNATURE_BYTES > TAG_BYTES
    )


def nests_too_deep(value: Any, limit: int = MAX_CONTENT_DEPTH) -> bool:
    """Whether maps and lists in ``value`` nest deeper than ``limit`` (the value itself is
    level 1); walked without recursion, so any depth msgpack opens is measured."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            inner: Any = item.values()
        elif isinstance(item, list):
            inner = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in inner)
    return False


def holds_bytes(value: Any) -> bool:
    """Whether ``value`` holds bytes (msgpack bin) anywhere, as a value or a map key. A record's
    content is JSON-shaped: every app stores it as JSON (``record_contents``, ``record_bases``,
    ``record_extras``), which has no bytes, so no Minga seals one. A member's app (hostile, or
    gone wrong) that did, in any field or a decision mark (``decided``), made every reader's
    ``json.dumps`` raise TypeError storing it: each member's sync stopped at that page, at every
    sync. Walked without recursion."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (bytes, bytearray)):
            return True
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def decode_content(plaintext: bytes) -> dict[str, Any]:
    """zstd (capped at ``MAX_CONTENT_BYTES`` without expanding past it) → one msgpack map."""
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(plaintext), read_across_frames=False
        )
        packed = reader.read(MAX_CONTENT_BYTES + 1)
    except zstandard.ZstdError as error:
        raise _fail(CryptoErrorCode.BAD_CONTENT, "content is not one zstd frame") from error
    if len(packed) > MAX_CONTENT_BYTES:
        raise _fail(CryptoErrorCode.TOO_LARGE, "content expands past the cap")
    try:
        content = msgpack.unpackb(
            packed,
            raw=False,
            strict_map_key=True,
            max_ext_len=0,
            max_bin_len=MAX_CONTENT_BYTES,
            max_str_len=MAX_CONTENT_BYTES,
        )
    except Exception as error:  # msgpack raises ValueError, TypeError, UnicodeDecodeError...
        raise _fail(CryptoErrorCode.BAD_CONTENT, "content is not one msgpack object") from error
    if not isinstance(content, dict) or not all(isinstance(key, str) for key in content):
        raise _fail(CryptoErrorCode.BAD_CONTENT, "content must be a map with text keys")
    if nests_too_deep(content):
        raise _fail(CryptoErrorCode.BAD_CONTENT, f"content nests deeper than {MAX_CONTENT_DEPTH}")
    if holds_bytes(content):
        raise _fail(CryptoErrorCode.BAD_CONTENT, "content holds bytes")
    return content
