"""Batches: many records of one space sealed together, with one nonce, tag and signature.

Layout, checks and the compaction bound are in sync/CRYPTO.md §5. The clear header (with its
manifest of record ids, bases and deletions) is what the server reads; everything else is
opaque to it. ``open_batch`` refuses by code, decrypting nothing before the signature and the
key commitment hold, and never expanding the plaintext past the length the signed header
declares.
"""

from __future__ import annotations

import hmac
import io
import os
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any, Protocol

import msgpack
import msgspec
import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sync.crypto.envelope import (
    MAX_CONTENT_DEPTH,
    NONCE_BYTES,
    TAG_BYTES,
    TOMBSTONE_FACTS,
    RecordKeys,
    holds_bytes,
    key_commitment,
    nests_too_deep,
)
from sync.crypto.errors import CryptoErrorCode, EnvelopeError
from sync.crypto.keys import SIGNATURE_BYTES, DeviceKeys, DevicePublicKeys, device_id_bytes

MAGIC = b"MNGP"
#: Version 2 (what is sealed now): the manifest's hex ids as one bin, and the content
#: compressed with the batch's own ids as a zstd dictionary (CRYPTO.md §5). Version 1 (ids one
#: by one, content compressed alone) is still read: batches kept on a server from before.
#: Version 3: a deletion's entry carries its tombstone facts (a map, CRYPTO.md §2 and §5), where
#: versions 1 and 2 hold nil. Sealed only for a batch that holds a deletion (the server reads the
#: deletions in the manifest anyway); one without stays version 2, so a reader of version 2 is
#: held only before batches with deletions. ``VERSION`` is the highest this app opens (``bv``).
VERSION = 3
FACTS_VERSION = 3
PLAIN_VERSION = 2
VERSIONS = (1, 2, 3)
SIGN_CONTEXT = b"minga-batch-v1\x00"
MAX_ENTRIES = 4096
MAX_BATCH_BYTES = 1024 * 1024
MAX_PLAINTEXT_BYTES = 8 * 1024 * 1024
MAX_MANIFEST_BYTES = 4096 * 80
BATCH_ID_BYTES = 16
#: zstd level: the batch is compressed once by its author; 19 is within 1 % of the stream floor
#: here, and a batch's few MB take about a second.
ZSTD_LEVEL = 19
_FIXED = struct.Struct(">4sBBI16s12sI32s32s16sI")
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEX_ID = re.compile(r"[0-9a-f]{32}")
_IDENTITY = ("id", "space_id")


class BatchKind(IntEnum):
    BATCH = 0
    COMPACTION = 1
    SNAPSHOT = 2


_Bounded = Annotated[list[int], msgspec.Meta(max_length=MAX_ENTRIES)]


class _Manifest(msgspec.Struct, forbid_unknown_fields=False):
    # Version 2 packs an all-hex batch's ids as one bin of 16 bytes each (2 B less a record).
    ids: Annotated[list[bytes], msgspec.Meta(max_length=MAX_ENTRIES)] | bytes
    base: _Bounded
    gone: _Bounded = []


_MANIFEST = msgspec.msgpack.Decoder(_Manifest)


@dataclass(frozen=True)
class BatchEntry:
    """One record in a batch: its id, the revision it starts from, whether it is a deletion."""

    record: str
    base: int
    deleted: bool

    @property
    def revision(self) -> int:
        return self.base + 1


@dataclass(frozen=True)
class BatchHeader:
    """The clear, signed part of a batch (what the server reads)."""

    kind: BatchKind
    epoch: int
    signer: str
    nonce: bytes
    statement_version: int
    statement_hash: bytes
    key_commitment: bytes
    batch_id: bytes
    plaintext_length: int
    space: str
    entries: tuple[BatchEntry, ...]
    version: int = PLAIN_VERSION

    def to_bytes(self) -> bytes:
        space = self.space.encode("ascii")
        gone = [i for i, e in enumerate(self.entries) if e.deleted]
        each = [_pack_id(e.record) for e in self.entries]
        ids: list[bytes] | bytes = each
        if self.version >= 2 and all(len(i) == 16 for i in each):
            ids = b"".join(each)
        manifest: bytes = msgpack.packb(
            {
                "ids": ids,
                "base": [e.base for e in self.entries],
                "gone": gone,
            },
            use_bin_type=True,
        )
        return (
            _FIXED.pack(
                MAGIC,
                self.version,
                self.kind,
                self.epoch,
                device_id_bytes(self.signer),
                self.nonce,
                self.statement_version,
                self.statement_hash,
                self.key_commitment,
                self.batch_id,
                self.plaintext_length,
            )
            + bytes([len(space)])
            + space
            + struct.pack(">I", len(manifest))
            + manifest
        )


def batchable(record: str) -> bool:
    """Whether ``record`` can be named in a manifest: 16 bytes there mean a 32-hex id."""
    return _ID.fullmatch(record) is not None and (
        _HEX_ID.fullmatch(record) is not None or len(record) != 16
    )


def _pack_id(record: str) -> bytes:
    # Minga's ids are 32 hex digits: 16 bytes on the wire instead of 34. Any other id goes as
    # its ASCII bytes (never 16 of them: ``batchable``).
    return bytes.fromhex(record) if _HEX_ID.fullmatch(record) else record.encode("ascii")


def _ids_dictionary(entries: Sequence[BatchEntry]) -> zstandard.ZstdCompressionDict:
    """Version 2's zstd dictionary: the batch's record ids as msgpack strings, in manifest
    order. A content that names another record of its batch (a person's organization, an
    incident's people) then matches the id the signed manifest already carries; without it
    each such reference costs ~20 B compressed. It comes from the signed header, so a batch
    opens with the dictionary it was sealed with or not at all."""
    raw = b"".join(msgpack.packb(e.record) for e in entries)
    return zstandard.ZstdCompressionDict(raw, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def _fail(code: CryptoErrorCode, detail: str = "") -> EnvelopeError:
    return EnvelopeError(code, detail)


@dataclass(frozen=True)
class SealedEntry:
    """What to seal for one record: its id, base and content (``None``: a deletion)."""

    record: str
    base: int
    content: dict[str, Any] | None
    #: A deletion's tombstone facts (``TOMBSTONE_FACTS``); every known one is sealed, true or
    #: false, so entries say nothing by their length.
    facts: dict[str, Any] | None = None


def seal_batch(
    entries: Sequence[SealedEntry],
    *,
    space: str,
    epoch: int,
    space_key: bytes,
    signer: DeviceKeys,
    statement: tuple[int, bytes],
    kind: BatchKind = BatchKind.BATCH,
) -> bytes:
    """Seal ``entries`` (in the order given: creation order compresses best) as one batch.

    Raises:
        EnvelopeError: ``too_large`` when the batch would exceed what the server takes.
        ValueError: no entries, too many, malformed or repeated ids, an identity inside a
            content that differs from the entry's.
    """
    if not 1 <= len(entries) <= MAX_ENTRIES:
        raise ValueError(f"a batch holds 1 to {MAX_ENTRIES} records")
    if _ID.fullmatch(space) is None:
        raise ValueError("space id must be 1-64 of [A-Za-z0-9_-]")
    if len({e.record for e in entries}) != len(entries):
        raise ValueError("a record appears twice in one batch")
    contents: list[dict[str, Any] | None] = []
    format_version = FACTS_VERSION if any(e.content is None for e in entries) else PLAIN_VERSION
    for entry in entries:
        if not batchable(entry.record) or not 0 <= entry.base < 2**62:
            raise ValueError("malformed record id or base")
        if entry.content is None:
            contents.append(_facts(entry.facts or {}))
            continue
        if (
            entry.content.get("id", entry.record) != entry.record
            or entry.content.get("space_id", space) != space
        ):
            raise ValueError("a content names another record or space than its entry")
        contents.append({k: v for k, v in entry.content.items() if k not in _IDENTITY})
    packed: bytes = msgpack.packb(contents, use_bin_type=True)
    if len(packed) > MAX_PLAINTEXT_BYTES:
        raise _fail(CryptoErrorCode.TOO_LARGE, f"batch content is {len(packed)} bytes")
    sealed = tuple(BatchEntry(e.record, e.base, e.content is None) for e in entries)
    plaintext = zstandard.ZstdCompressor(
        level=ZSTD_LEVEL, dict_data=_ids_dictionary(sealed), write_checksum=False
    ).compress(packed)
    version, statement_hash = statement
    nonce = os.urandom(NONCE_BYTES)
    header = BatchHeader(
        kind,
        epoch,
        signer.device_id,
        nonce,
        version,
        statement_hash,
        key_commitment(space, epoch, space_key),
        os.urandom(BATCH_ID_BYTES),
        len(packed),
        space,
        sealed,
        format_version,
    ).to_bytes()
    ciphertext = ChaCha20Poly1305(space_key).encrypt(nonce, plaintext, header)
    blob = header + ciphertext + signer.sign(SIGN_CONTEXT + header + ciphertext)
    if len(blob) > MAX_BATCH_BYTES:
        raise _fail(CryptoErrorCode.TOO_LARGE, f"sealed batch is {len(blob)} bytes")
    return blob


def read_batch_header(blob: bytes) -> tuple[BatchHeader, int]:
    """Parse (not verify) a batch's header and manifest, bounded; returns it and its length.

    Raises:
        EnvelopeError: ``bad_format``, ``unsupported_version`` or ``too_large``.
    """
    if len(blob) > MAX_BATCH_BYTES:
        raise _fail(CryptoErrorCode.TOO_LARGE, f"batch is {len(blob)} bytes")
    if len(blob) < _FIXED.size + 6 + TAG_BYTES + SIGNATURE_BYTES:
        raise _fail(CryptoErrorCode.BAD_FORMAT, "too short for a batch")
    (magic, version, kind, epoch, signer, nonce, statement_version, statement_hash, commitment,
     batch_id, plaintext_length) = _FIXED.unpack_from(blob)  # fmt: skip
    if magic != MAGIC:
        raise _fail(CryptoErrorCode.BAD_FORMAT, "not a Minga batch")
    if version not in VERSIONS:
        raise _fail(CryptoErrorCode.UNSUPPORTED_VERSION, f"batch version {version}")
    if kind not in tuple(BatchKind):
        raise _fail(CryptoErrorCode.BAD_FORMAT, f"unknown batch kind {kind}")
    if plaintext_length > MAX_PLAINTEXT_BYTES:
        raise _fail(CryptoErrorCode.TOO_LARGE, f"declares {plaintext_length} bytes of content")
    if statement_version < 1:
        raise _fail(CryptoErrorCode.BAD_FORMAT, "statement version 0")
    position = _FIXED.size
    length = blob[position]
    space_raw = blob[position + 1 : position + 1 + length]
    position += 1 + length
    space = space_raw.decode("ascii", errors="replace")
    if len(space_raw) != length or _ID.fullmatch(space) is None:
        raise _fail(CryptoErrorCode.BAD_FORMAT, "malformed space id in batch")
    if len(blob) < position + 4:
        raise _fail(CryptoErrorCode.BAD_FORMAT, "batch cut short")
    (manifest_length,) = struct.unpack_from(">I", blob, position)
    position += 4
    if manifest_length > MAX_MANIFEST_BYTES:
        raise _fail(CryptoErrorCode.TOO_LARGE, "manifest too large")
    raw = blob[position : position + manifest_length]
    position += manifest_length
    if len(raw) != manifest_length or len(blob) - position < TAG_BYTES + SIGNATURE_BYTES:
        raise _fail(CryptoErrorCode.BAD_FORMAT, "batch cut short")
    entries = _entries(raw, version)
    header = BatchHeader(
        BatchKind(kind),
        epoch,
        signer.hex(),
        nonce,
        statement_version,
        statement_hash,
        commitment,
        batch_id,
        plaintext_length,
        space,
        entries,
        version,
    )
    return header, position


def batch_id_of(blob: bytes) -> bytes:
    """A batch's id from its fixed header alone, read before anything else is parsed or
    verified: what recognises a batch sent again (the server compares the whole blob's hash
    with the one it answered, so a verified batch is never checked twice).

    Raises:
        EnvelopeError: ``bad_format``, ``unsupported_version`` or ``too_large``.
    """
    if len(blob) > MAX_BATCH_BYTES:
        raise _fail(CryptoErrorCode.TOO_LARGE, f"batch is {len(blob)} bytes")
    if len(blob) < _FIXED.size:
        raise _fail(CryptoErrorCode.BAD_FORMAT, "too short for a batch")
    fields = _FIXED.unpack_from(blob)
    if fields[0] != MAGIC:
        raise _fail(CryptoErrorCode.BAD_FORMAT, "not a Minga batch")
    if fields[1] not in VERSIONS:
        raise _fail(CryptoErrorCode.UNSUPPORTED_VERSION, f"batch version {fields[1]}")
    batch_id: bytes = fields[9]
    return batch_id


def _entries(raw: bytes, version: int) -> tuple[BatchEntry, ...]:
    try:
        manifest = _MANIFEST.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as error:
        raise _fail(CryptoErrorCode.BAD_FORMAT, f"manifest: {error}") from None
    ids = manifest.ids
    if isinstance(ids, bytes):
        if version < 2 or len(ids) % 16 or len(ids) > 16 * MAX_ENTRIES:
            raise _fail(CryptoErrorCode.BAD_FORMAT, "malformed packed ids in manifest")
        ids = [ids[i : i + 16] for i in range(0, len(ids), 16)]
    count = len(ids)
    if not 1 <= count <= MAX_ENTRIES or len(manifest.base) != count:
        raise _fail(CryptoErrorCode.BAD_FORMAT, "manifest lists do not match")
    gone = set(manifest.gone)
    if len(gone) != len(manifest.gone) or not all(0 <= i < count for i in gone):
        raise _fail(CryptoErrorCode.BAD_FORMAT, "manifest deletions out of range")
    entries: list[BatchEntry] = []
    for index, (raw_id, base) in enumerate(zip(ids, manifest.base, strict=True)):
        record = raw_id.hex() if len(raw_id) == 16 else raw_id.decode("ascii", errors="replace")
        if _ID.fullmatch(record) is None or (len(raw_id) != 16 and _HEX_ID.fullmatch(record)):
            # A hex id must go binary: one id, one spelling.
            raise _fail(CryptoErrorCode.BAD_FORMAT, "malformed record id in manifest")
        if not 0 <= base < 2**62:
            raise _fail(CryptoErrorCode.BAD_FORMAT, "base out of range")
        entries.append(BatchEntry(record, base, index in gone))
    if len({e.record for e in entries}) != count:
        raise _fail(CryptoErrorCode.BAD_FORMAT, "a record appears twice in the manifest")
    return tuple(entries)


def check_batch_signer(blob: bytes, signer: DevicePublicKeys) -> BatchHeader:
    """What a server can check without a space key: well-formed and signed by ``signer``.

    Raises:
        EnvelopeError: ``bad_format``, ``unsupported_version``, ``too_large``, ``wrong_author``
            or ``signature_invalid``.
    """
    header, _length = read_batch_header(blob)
    if header.signer != signer.device_id:
        raise _fail(CryptoErrorCode.WRONG_AUTHOR, f"signed by {header.signer}")
    if not signer.verify(blob[-SIGNATURE_BYTES:], SIGN_CONTEXT + blob[:-SIGNATURE_BYTES]):
        raise _fail(CryptoErrorCode.SIGNATURE_INVALID, "batch")
    return header


class BatchKeys(RecordKeys, Protocol):
    """What opening a batch needs beyond a record: an admin's keys, for a snapshot."""

    def admin_keys_at(self, space: str, epoch: int, device: str) -> DevicePublicKeys | None:
        """The public keys of ``device`` if it was an admin of ``space`` at ``epoch``."""


@dataclass(frozen=True)
class OpenedBatch:
    """A verified batch: its header and each entry's content (``None`` for a deletion), and
    each entry's tombstone facts (empty for a record, and before version 3)."""

    header: BatchHeader
    contents: tuple[dict[str, Any] | None, ...]
    facts: tuple[dict[str, Any], ...] = ()

    def alone(self, index: int) -> bool:
        """Entry ``index`` is a child deleted by itself (``facts["alone"]``)."""
        return (
            self.header.entries[index].deleted
            and index < len(self.facts)
            and self.facts[index].get("alone") is True
        )


def _facts(facts: dict[str, Any]) -> dict[str, Any]:
    """Every known tombstone fact, sealed true or false (the same length whatever it says)."""
    for name, kind in TOMBSTONE_FACTS.items():
        if name in facts and type(facts[name]) is not kind:
            raise ValueError(f"tombstone fact {name!r} is not {kind.__name__}")
    return {"alone": False, **facts}


def open_batch(blob: bytes, *, space: str, author: str, keys: BatchKeys) -> OpenedBatch:
    """Verify and open a batch the server delivered for ``space`` as written by ``author``.

    Raises:
        EnvelopeError: see sync/CRYPTO.md §5 for the order of the checks.
    """
    header, header_length = read_batch_header(blob)
    if header.space != space:
        raise _fail(CryptoErrorCode.WRONG_SPACE, f"sealed for space {header.space}")
    if header.signer != author:
        raise _fail(CryptoErrorCode.WRONG_AUTHOR, f"signed by {header.signer}")
    if header.kind is BatchKind.SNAPSHOT:
        signer = keys.admin_keys_at(space, header.epoch, header.signer)
    else:
        signer = keys.author_keys(space, header.epoch, header.signer)
    if signer is None or signer.device_id != header.signer:
        raise _fail(CryptoErrorCode.UNKNOWN_SIGNER, f"{header.signer} at epoch {header.epoch}")
    signed, signature = blob[:-SIGNATURE_BYTES], blob[-SIGNATURE_BYTES:]
    if not signer.verify(signature, SIGN_CONTEXT + signed):
        raise _fail(CryptoErrorCode.SIGNATURE_INVALID, "batch")
    held = keys.statement_at(space, header.statement_version)
    if held is None:
        raise _fail(CryptoErrorCode.STATEMENT_UNKNOWN, f"statement {header.statement_version}")
    held_epoch, held_hash = held
    if not hmac.compare_digest(held_hash, header.statement_hash):
        raise _fail(CryptoErrorCode.MEMBERSHIP_FORK, "sealed under another statement")
    if held_epoch != header.epoch:
        raise _fail(CryptoErrorCode.WRONG_EPOCH, f"statement is at epoch {held_epoch}")
    space_key = keys.space_key(space, header.epoch)
    if space_key is None:
        raise _fail(CryptoErrorCode.KEY_UNAVAILABLE, f"no key for epoch {header.epoch}")
    if not hmac.compare_digest(
        header.key_commitment, key_commitment(space, header.epoch, space_key)
    ):
        raise _fail(CryptoErrorCode.KEY_MISMATCH, f"epoch {header.epoch}")
    try:
        plaintext = ChaCha20Poly1305(space_key).decrypt(
            header.nonce, signed[header_length:], signed[:header_length]
        )
    except InvalidTag:
        raise _fail(CryptoErrorCode.DECRYPT_FAILED, f"epoch {header.epoch}") from None
    return OpenedBatch(header, *_contents(plaintext, header))


def _contents(
    plaintext: bytes, header: BatchHeader
) -> tuple[tuple[dict[str, Any] | None, ...], tuple[dict[str, Any], ...]]:
    declared = header.plaintext_length
    # Version 2's dictionary is at most 4096 ids of 34 B: the memory a hostile batch can cost
    # stays fixed, and its expansion is bounded by the declared length as for version 1.
    decompressor = (
        zstandard.ZstdDecompressor(dict_data=_ids_dictionary(header.entries))
        if header.version >= 2
        else zstandard.ZstdDecompressor()
    )
    try:
        reader = decompressor.stream_reader(io.BytesIO(plaintext), read_across_frames=False)
        packed = reader.read(declared + 1)
    except zstandard.ZstdError as error:
        raise _fail(CryptoErrorCode.BAD_CONTENT, "content is not one zstd frame") from error
    if len(packed) != declared:
        raise _fail(CryptoErrorCode.TOO_LARGE, "content is not the length its header declares")
    try:
        items = msgpack.unpackb(
            packed,
            raw=False,
            strict_map_key=True,
            max_ext_len=0,
            max_bin_len=declared,
            max_str_len=declared,
            max_array_len=MAX_ENTRIES,
            max_map_len=declared,
        )
    except Exception as error:  # msgpack raises ValueError, TypeError, UnicodeDecodeError...
        raise _fail(CryptoErrorCode.BAD_CONTENT, "content is not one msgpack list") from error
    if not isinstance(items, list) or len(items) != len(header.entries):
        raise _fail(CryptoErrorCode.BAD_CONTENT, "one content per entry")
    contents: list[dict[str, Any] | None] = []
    facts: list[dict[str, Any]] = []
    for entry, item in zip(header.entries, items, strict=True):
        if entry.deleted:
            if item is not None and header.version < FACTS_VERSION:
                raise _fail(CryptoErrorCode.BAD_CONTENT, "a deletion carries no content")
            if item is not None and not _valid_facts(item):
                raise _fail(CryptoErrorCode.BAD_CONTENT, "a deletion carries only its facts")
            contents.append(None)
            facts.append(item or {})
            continue
        facts.append({})
        if not isinstance(item, dict) or not all(isinstance(k, str) for k in item):
            raise _fail(CryptoErrorCode.BAD_CONTENT, "content must be a map with text keys")
        if any(name in item for name in _IDENTITY):
            raise _fail(CryptoErrorCode.BAD_CONTENT, "identity comes from the signed manifest")
        if nests_too_deep(item):
            raise _fail(
                CryptoErrorCode.BAD_CONTENT, f"content nests deeper than {MAX_CONTENT_DEPTH}"
            )
        if holds_bytes(item):
            raise _fail(CryptoErrorCode.BAD_CONTENT, "content holds bytes")
        contents.append({**item, "id": entry.record, "space_id": header.space})
    return tuple(contents), tuple(facts)


def _valid_facts(item: Any) -> bool:
    """A version-3 deletion's facts: a map with text keys, shallow, no bytes, each known fact
    of its own type (unknown keys are a later version's, ignored)."""
    return (
        isinstance(item, dict)
        and all(isinstance(k, str) for k in item)
        and not nests_too_deep(item)
        and not holds_bytes(item)
        and all(type(item[name]) is kind for name, kind in TOMBSTONE_FACTS.items() if name in item)
    )
