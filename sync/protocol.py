"""The Minga wire protocol, shared by the sync client and the server: one place for both.
Messages, limits, error codes and the msgpack+zstd body codec; see sync/PROTOCOL.md."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Final

import msgpack
import msgspec
import zstandard
from cryptography.hazmat.primitives import hashes
from msgspec import UNSET, Meta, Struct, UnsetType

PROTOCOL_VERSION: Final = 1
# One media type for every structured body: a zstd frame holding one msgpack map.
MEDIA_TYPE: Final = "application/x-minga"
CHUNK_MEDIA_TYPE: Final = "application/octet-stream"

_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DEVICE_PATTERN: Final = re.compile(r"[0-9a-f]{32}")
_HASH_PATTERN: Final = re.compile(r"[0-9a-f]{64}")
_INVITE_PATTERN: Final = re.compile(r"[A-Z2-7]{32}")
_TOKEN_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{43}")

AUTH_CONTEXT: Final = b"minga-auth-v1\x00"
ENROLL_CONTEXT: Final = b"minga-enroll-v1\x00"


class Role(StrEnum):
    """A member's role in a space: admins manage members and keys, editors write, readers read."""

    ADMIN = "admin"
    EDITOR = "editor"
    READER = "reader"

    @property
    def can_write(self) -> bool:
        return self in (Role.ADMIN, Role.EDITOR)


class ErrorCode(StrEnum):
    """Machine-readable error codes: the `code` of an error body or of a per-item rejection."""

    BAD_REQUEST = "bad_request"
    BAD_ENCODING = "bad_encoding"
    BAD_MESSAGE = "bad_message"
    BAD_ID = "bad_id"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    BODY_TOO_LARGE = "body_too_large"
    HEADER_TOO_LARGE = "header_too_large"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    AUTH_MISSING = "auth_missing"
    TOKEN_INVALID = "token_invalid"
    TOKEN_EXPIRED = "token_expired"
    DEVICE_REVOKED = "device_revoked"
    INVITE_INVALID = "invite_invalid"
    DEVICE_EXISTS = "device_exists"
    CHALLENGE_INVALID = "challenge_invalid"
    SIGNATURE_INVALID = "signature_invalid"
    KEY_INVALID = "key_invalid"
    RATE_LIMITED = "rate_limited"
    SPACE_NOT_FOUND = "space_not_found"
    SPACE_EXISTS = "space_exists"
    SPACE_LIMIT = "space_limit"
    ROLE_FORBIDDEN = "role_forbidden"
    DEVICE_NOT_FOUND = "device_not_found"
    MEMBER_NOT_FOUND = "member_not_found"
    LAST_ADMIN = "last_admin"
    EPOCH_INVALID = "epoch_invalid"
    RECIPIENT_NOT_MEMBER = "recipient_not_member"
    STATEMENT_VERSION_INVALID = "statement_version_invalid"
    CHUNK_HASH_MISMATCH = "chunk_hash_mismatch"
    CHUNK_NOT_FOUND = "chunk_not_found"
    CHUNK_MISSING = "chunk_missing"
    STALE_EPOCH = "stale_epoch"
    QUOTA_EXCEEDED = "quota_exceeded"
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable"
    UPLOAD_OFFSET_MISMATCH = "upload_offset_mismatch"
    MUTATION_ID_REUSED = "mutation_id_reused"
    DUPLICATE_MUTATION = "duplicate_mutation"
    ENVELOPE_MISMATCH = "envelope_mismatch"
    GRANT_INVALID = "grant_invalid"
    GRANT_EXPIRED = "grant_expired"
    COMPACTION_MISMATCH = "compaction_mismatch"
    BATCH_ID_REUSED = "batch_id_reused"
    BATCH_NOT_FOUND = "batch_not_found"
    INTERNAL = "internal"


class MutationStatus(StrEnum):
    ACCEPTED = "accepted"
    CONFLICT = "conflict"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Limits:
    """Every bound the server enforces; published at GET /v1/info so clients size their batches."""

    max_body_bytes: int = 8 * 1024 * 1024
    max_decoded_bytes: int = 16 * 1024 * 1024
    max_mutations: int = 500
    max_blob_bytes: int = 1024 * 1024
    max_pull_spaces: int = 500
    max_page_bytes: int = 4 * 1024 * 1024
    default_page_bytes: int = 256 * 1024
    min_page_bytes: int = 1024
    max_page_items: int = 2000
    max_chunk_bytes: int = 1024 * 1024
    max_chunk_refs: int = 256
    max_wrap_bytes: int = 4096
    max_wraps: int = 1000
    # A signed membership statement lists every member with both public keys; the clients' own
    # bound (sync.crypto.spaces.MAX_STATEMENT_BYTES) is the same, so nothing valid is refused.
    max_statement_bytes: int = 256 * 1024
    max_statement_version: int = 2**31 - 1
    max_epoch: int = 2**31 - 1
    max_revision: int = 2**62
    max_header_bytes: int = 256
    # Enrollment, challenges, tokens, space creation, roles and invites: a few hundred bytes,
    # so a stranger's body (and what it expands to) is bounded far below a sync body's.
    max_small_body_bytes: int = 2048

    def to_wire(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


LIMITS: Final = Limits()
#: Batches (PROTOCOL.md §13; the format's own bounds are sync.crypto.batch's, the same values).
MAX_BATCH_ENTRIES: Final = 4096
MAX_BATCH_BYTES: Final = 1024 * 1024
MAX_PAGE_BATCHES: Final = 64
MAX_STALE_BATCHES: Final = 64


class ProtocolError(Exception):
    """A message that breaks the protocol: the receiver rejects it whole and changes nothing."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- the body codec --------------------------------------------------------------------------

# zstd contexts are not thread-safe (the server encodes on many worker threads): one per thread.
_contexts = threading.local()


def encode_body(message: Mapping[str, Any]) -> bytes:
    """Pack one message for the wire: msgpack (bin for bytes, str for text), then a zstd frame."""
    packed: bytes = msgpack.packb(message, use_bin_type=True)
    compressor = getattr(_contexts, "compressor", None)
    if compressor is None:
        compressor = _contexts.compressor = zstandard.ZstdCompressor(level=3, write_checksum=False)
    result: bytes = compressor.compress(packed)
    return result


#: Most containers (maps and arrays) a body decoded without a shape may hold: a sync answer has a
#: few thousand; a body of a million empty containers is refused after this many are built.
MAX_CONTAINERS: Final = 50_000
#: Deepest nesting any message needs is 4 (answer > spaces > page > changes > change).
MAX_DEPTH: Final = 16


def inflate(data: bytes, max_body: int, max_decoded: int) -> bytes:
    """One zstd frame and nothing after it, expanded to at most `max_decoded` bytes.

    The expansion is read through a bounded stream, so a bomb never allocates its claimed or
    real size; a frame that declares more than the bound is refused before any expansion.

    Raises:
        ProtocolError: `body_too_large` or `bad_encoding`.
    """
    if len(data) > max_body:
        raise ProtocolError(ErrorCode.BODY_TOO_LARGE, "body exceeds its size limit")
    if not data:
        raise ProtocolError(ErrorCode.BAD_ENCODING, "body is empty")
    try:
        claimed = zstandard.frame_content_size(data)
    except zstandard.ZstdError as exc:
        raise ProtocolError(ErrorCode.BAD_ENCODING, "body is not a valid zstd frame") from exc
    if claimed > max_decoded:
        raise ProtocolError(ErrorCode.BODY_TOO_LARGE, "body claims to expand past its limit")
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(data), read_across_frames=False
        )
        if claimed >= 0:
            # The usual case (our encoder writes the size): one read of exactly that much, and
            # a frame that expands past its own claim is refused.
            packed = reader.read(claimed + 1)
            if len(packed) > claimed:
                raise ProtocolError(ErrorCode.BAD_ENCODING, "body expands past its frame's size")
        else:
            parts: list[bytes] = []
            size = 0
            while size <= max_decoded:
                part = reader.read(min(256 * 1024, max_decoded + 1 - size))
                if not part:
                    break
                parts.append(part)
                size += len(part)
            packed = b"".join(parts)
    except zstandard.ZstdError as exc:
        raise ProtocolError(ErrorCode.BAD_ENCODING, "body is not a valid zstd frame") from exc
    if len(packed) > max_decoded:
        raise ProtocolError(ErrorCode.BODY_TOO_LARGE, "decoded body exceeds its size limit")
    if not packed:
        raise ProtocolError(ErrorCode.BAD_ENCODING, "body is empty")
    # The bounded read stops at the end of the first frame; whatever follows it (a second
    # frame, junk) must not be silently ignored. The frame is known to expand to at most
    # max_decoded here, so a second, one-shot pass is bounded too and tells what is left over.
    try:
        rest = zstandard.ZstdDecompressor().decompressobj()
        rest.decompress(data)
    except zstandard.ZstdError as exc:
        raise ProtocolError(ErrorCode.BAD_ENCODING, "body is not a valid zstd frame") from exc
    if not rest.eof or rest.unused_data:
        raise ProtocolError(ErrorCode.BAD_ENCODING, "body holds bytes after its zstd frame")
    return packed


def decode_body(data: bytes, limits: Limits = LIMITS) -> dict[str, Any]:
    """Unpack one message of no known shape, bounded in bytes, containers and depth.

    Production code decodes with `decode_message` and a shape; this is for tools and tests that
    look at any message (the hostile relay), and it is bounded all the same.

    Raises:
        ProtocolError: with code `body_too_large`, `bad_encoding` or `bad_message`.
    """
    packed = inflate(data, limits.max_body_bytes, limits.max_decoded_bytes)
    built = 0

    def count(container: Any) -> Any:
        # Called as each map or array is completed, innermost first: a body made of a million
        # empty containers stops after MAX_CONTAINERS of them, not after all are built.
        nonlocal built
        built += 1
        if built > MAX_CONTAINERS:
            raise ProtocolError(ErrorCode.BODY_TOO_LARGE, "body holds too many containers")
        return container

    try:
        message = msgpack.unpackb(
            packed,
            raw=False,
            strict_map_key=True,
            max_bin_len=limits.max_blob_bytes * 2,
            max_str_len=64 * 1024,
            max_array_len=max(limits.max_mutations, limits.max_pull_spaces, limits.max_wraps) * 4,
            max_map_len=max(limits.max_pull_spaces, limits.max_wraps) * 2,
            max_ext_len=0,
            list_hook=count,
            object_hook=count,
        )
    except ProtocolError:
        raise
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise ProtocolError(ErrorCode.BAD_ENCODING, "body is not one valid msgpack object") from exc
    except Exception as exc:  # msgpack raises plain TypeError/UnicodeDecodeError too
        raise ProtocolError(ErrorCode.BAD_ENCODING, "body is not one valid msgpack object") from exc
    if not isinstance(message, dict):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "body must be a map")
    if _depth(message) > MAX_DEPTH:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "body is nested too deeply")
    return message


def _depth(value: object, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


# --- shapes: what each message may hold, checked while it is decoded ---------------------------
#
# msgspec decodes msgpack straight into these typed structs and refuses a wrong type where it
# meets it, so a body cannot make the receiver build objects the message has no room for: every
# list and map has a bound, every integer is an integer (1.0 is refused), unknown fields are
# skipped without being built. The dataclasses below stay the API and check meaning (patterns,
# ranges, codes); a shape only bounds what reaches them. Bounds are the protocol's (LIMITS).

Version = int | str | bool | None


class Shape(Struct, forbid_unknown_fields=False):
    """Base of the wire shapes: extra fields from a newer peer are skipped, not built."""


class MutationShape(Shape):
    id: str
    space: str
    record: str
    base: int
    blob: bytes | None = None
    deleted: bool | UnsetType | None = UNSET
    chunks: Annotated[list[str], Meta(max_length=LIMITS.max_chunk_refs)] | UnsetType | None = UNSET
    epoch: int | UnsetType | None = UNSET


_Mutations = Annotated[list[MutationShape], Meta(max_length=LIMITS.max_mutations)]


class SyncRequestShape(Shape):
    v: Version = None
    push: _Mutations | UnsetType | None = UNSET
    pull: Annotated[dict[str, int], Meta(max_length=LIMITS.max_pull_spaces)] | UnsetType | None = (
        UNSET
    )
    max_bytes: int | UnsetType | None = UNSET
    batches: bool | UnsetType | None = UNSET
    bv: int | UnsetType | None = UNSET


#: [first index, first seq, count]: a run of a batch's entries that are current.
_Run = Annotated[list[int], Meta(min_length=3, max_length=3)]
_Runs = Annotated[list[_Run], Meta(max_length=MAX_BATCH_ENTRIES)]


class BatchDeliveryShape(Shape):
    batch: Annotated[bytes, Meta(max_length=MAX_BATCH_BYTES)]
    author: str
    live: _Runs


class BatchPushShape(Shape, kw_only=True):
    v: Version = None
    batch: Annotated[bytes, Meta(max_length=MAX_BATCH_BYTES)]
    cursor: int | UnsetType | None = UNSET


class BatchAnswerShape(Shape):
    v: Version = None
    accepted: _Runs | UnsetType | None = UNSET
    conflicts: (
        Annotated[list[Annotated[list[int], Meta(min_length=2, max_length=2)]],
                  Meta(max_length=MAX_BATCH_ENTRIES)] | UnsetType | None
    ) = UNSET  # fmt: skip
    cursor: int | UnsetType | None = UNSET


class StaleBatchShape(Shape):
    batch: str
    author: str
    live: Annotated[list[tuple[str, int, bool]], Meta(max_length=MAX_BATCH_ENTRIES)]


class StaleBatchesShape(Shape, kw_only=True):
    v: Version = None
    stale: Annotated[list[StaleBatchShape], Meta(max_length=MAX_STALE_BATCHES)]


class ChangeShape(Shape):
    record: str
    revision: int
    seq: int
    author: str
    blob: bytes | None = None
    deleted: bool | UnsetType | None = UNSET


class MutationResultShape(Shape):
    id: str
    status: str
    revision: int | UnsetType | None = UNSET
    seq: int | UnsetType | None = UNSET
    current: ChangeShape | UnsetType | None = UNSET
    code: str | UnsetType | None = UNSET
    missing: Annotated[list[str], Meta(max_length=LIMITS.max_chunk_refs)] | UnsetType | None = UNSET


class SpacePageShape(Shape):
    changes: (
        Annotated[list[ChangeShape], Meta(max_length=LIMITS.max_page_items)] | UnsetType | None
    ) = UNSET
    cursor: int | UnsetType = UNSET
    more: bool | UnsetType | None = UNSET
    epoch: int | UnsetType | None = UNSET
    statement: int | UnsetType | None = UNSET
    error: str | UnsetType = UNSET
    batches: (
        Annotated[list[BatchDeliveryShape], Meta(max_length=MAX_PAGE_BATCHES)] | UnsetType | None
    ) = UNSET
    stale: int | UnsetType | None = UNSET
    held: bool | UnsetType | None = UNSET


_Results = Annotated[list[MutationResultShape], Meta(max_length=LIMITS.max_mutations)]
_Pages = Annotated[dict[str, SpacePageShape], Meta(max_length=LIMITS.max_pull_spaces)]


class SyncResponseShape(Shape):
    v: Version = None
    results: _Results | UnsetType | None = UNSET
    spaces: _Pages | UnsetType | None = UNSET


class EnrollRequestShape(Shape):
    v: Version = None
    invite: str | UnsetType = UNSET
    sign_key: bytes | UnsetType = UNSET
    box_key: bytes | UnsetType = UNSET
    signature: bytes | UnsetType = UNSET


class ChallengeRequestShape(Shape):
    v: Version = None
    device: str | UnsetType = UNSET


class TokenRequestShape(Shape):
    v: Version = None
    device: str | UnsetType = UNSET
    challenge: bytes | UnsetType = UNSET
    signature: bytes | UnsetType = UNSET


class SpaceCreateShape(Shape):
    v: Version = None
    space: str | UnsetType | None = UNSET


class MemberPutShape(Shape):
    v: Version = None
    role: str | UnsetType = UNSET


class InviteCreateShape(Shape):
    v: Version = None
    role: str | UnsetType = UNSET
    ttl: int | UnsetType | None = UNSET


class TravelLeaveShape(Shape):
    v: Version = None
    spaces: Annotated[list[str], Meta(max_length=LIMITS.max_pull_spaces)] | UnsetType = UNSET
    verifier: bytes | UnsetType = UNSET


class TravelReturnShape(Shape):
    v: Version = None
    token: bytes | UnsetType = UNSET


class KeyWrapsPutShape(Shape):
    v: Version = None
    wraps: Annotated[dict[str, bytes], Meta(max_length=LIMITS.max_wraps)] | UnsetType = UNSET


class StatementPutShape(Shape):
    v: Version = None
    statement: bytes | UnsetType = UNSET


class StoredStatementShape(Shape):
    version: int
    statement: bytes


class StatementPageShape(Shape):
    v: Version = None
    statements: (
        Annotated[list[StoredStatementShape], Meta(max_length=LIMITS.max_page_items)] | UnsetType
    ) = UNSET
    more: bool | UnsetType | None = UNSET


class CarriedMutationShape(MutationShape):
    author: str | UnsetType = UNSET


class CourierPushShape(Shape):
    v: Version = None
    push: (
        Annotated[list[CarriedMutationShape], Meta(max_length=LIMITS.max_mutations)]
        | UnsetType
        | None
    ) = UNSET


_Cursors = Annotated[dict[str, int], Meta(max_length=LIMITS.max_pull_spaces)]


class CourierPullShape(Shape):
    v: Version = None
    grant: bytes | UnsetType = UNSET
    signature: bytes | UnsetType = UNSET
    after: _Cursors | UnsetType | None = UNSET
    max_bytes: int | UnsetType | None = UNSET
    batches: bool | UnsetType | None = UNSET
    bv: int | UnsetType | None = UNSET


class CourierGrantShape(Shape):
    device: str | UnsetType = UNSET
    courier: str | UnsetType | None = UNSET
    expires: int | UnsetType = UNSET
    pull: _Cursors | UnsetType | None = UNSET
    statements: _Cursors | UnsetType | None = UNSET
    epochs: _Cursors | UnsetType | None = UNSET


class CourierResultsShape(Shape):
    v: Version = None
    results: _Results | UnsetType | None = UNSET


# Answers the app reads that have no dataclass of their own.

#: Members, spaces and wraps a listing may hold: far above any real network, far below harm.
MAX_LISTED: Final = 10_000


class InfoShape(Shape):
    v: Version = None
    limits: Annotated[dict[str, int], Meta(max_length=64)] | UnsetType = UNSET


class GrantShape(Shape):
    space: str
    role: str


class EnrolledShape(Shape):
    v: Version = None
    device: str | UnsetType = UNSET
    spaces: Annotated[list[GrantShape], Meta(max_length=MAX_LISTED)] | UnsetType = UNSET


class ChallengeShape(Shape):
    v: Version = None
    challenge: bytes | UnsetType = UNSET
    expires_at: int | UnsetType = UNSET


class TokenShape(Shape):
    v: Version = None
    token: str | UnsetType = UNSET
    expires_at: int | UnsetType = UNSET


class SpaceEntryShape(Shape):
    space: str
    role: str
    epoch: int | UnsetType = UNSET
    seq: int | UnsetType = UNSET
    statement: int | UnsetType = UNSET


class SpacesShape(Shape):
    v: Version = None
    spaces: Annotated[list[SpaceEntryShape], Meta(max_length=MAX_LISTED)] | UnsetType = UNSET


class MemberEntryShape(Shape):
    device: str
    role: str
    sign_key: bytes
    box_key: bytes


class MembersShape(Shape):
    v: Version = None
    members: Annotated[list[MemberEntryShape], Meta(max_length=MAX_LISTED)] | UnsetType = UNSET


class WrapEntryShape(Shape):
    epoch: int
    issuer: str
    wrap: bytes


class CourierDownloadShape(Shape):
    v: Version = None
    device: str | UnsetType = UNSET
    spaces: _Pages | UnsetType | None = UNSET
    statements: (
        Annotated[
            dict[
                str,
                Annotated[list[StoredStatementShape], Meta(max_length=LIMITS.max_page_items)],
            ],
            Meta(max_length=LIMITS.max_pull_spaces),
        ]
        | UnsetType
        | None
    ) = UNSET
    wraps: (
        Annotated[
            dict[str, Annotated[list[WrapEntryShape], Meta(max_length=MAX_LISTED)]],
            Meta(max_length=LIMITS.max_pull_spaces),
        ]
        | UnsetType
        | None
    ) = UNSET


class WrapsShape(Shape):
    v: Version = None
    wraps: Annotated[list[WrapEntryShape], Meta(max_length=MAX_LISTED)] | UnsetType = UNSET


class InviteShape(Shape):
    v: Version = None
    invite: str | UnsetType = UNSET
    expires_at: int | UnsetType = UNSET


class TravelReturnedShape(Shape):
    v: Version = None
    spaces: Annotated[list[str], Meta(max_length=MAX_LISTED)] | UnsetType = UNSET


class ChunkProbeShape(Shape):
    """Which of these chunks of a space are not stored (one request for a file's chunks)."""

    v: Version = None
    chunks: Annotated[list[str], Meta(max_length=LIMITS.max_chunk_refs)] | UnsetType = UNSET


class ChunkProbeAnswerShape(Shape):
    v: Version = None
    missing: Annotated[list[str], Meta(max_length=LIMITS.max_chunk_refs)] | UnsetType = UNSET
    #: Of the missing ones, bytes this device sent before a cut (``Upload-Offset``), when any.
    offsets: Annotated[dict[str, int], Meta(max_length=LIMITS.max_chunk_refs)] | UnsetType = UNSET


#: A chunk probe's body: ``max_chunk_refs`` hex addresses and their framing, with room.
CHUNK_PROBE_MAX_BODY: Final = LIMITS.max_chunk_refs * 72 + 1024


class AckShape(Shape):
    """An answer whose content the app does not use (a created space, a stored member or
    wraps, a stored statement): only its shape is bounded."""

    v: Version = None


_decoders: dict[type[Any], msgspec.msgpack.Decoder[Any]] = {}


def decode_message(
    data: bytes, shape: type[Shape], limits: Limits = LIMITS, *, max_body: int | None = None
) -> dict[str, Any]:
    """Unpack one message into `shape`, refusing whatever the shape has no room for.

    `max_body` bounds both the body and its expansion (a route whose messages are small says
    so); by default the limits' max_body_bytes and max_decoded_bytes apply. The result is the
    message as a plain map for the dataclasses' `from_wire`, which check meaning.

    Raises:
        ProtocolError: `body_too_large`, `bad_encoding` (not one zstd frame of msgpack) or
        `bad_message` (a wrong type, a list too long, a required field missing).
    """
    packed = inflate(
        data,
        limits.max_body_bytes if max_body is None else max_body,
        limits.max_decoded_bytes if max_body is None else max_body,
    )
    decoder = _decoders.get(shape)
    if decoder is None:
        decoder = _decoders[shape] = msgspec.msgpack.Decoder(shape)
    try:
        decoded = decoder.decode(packed)
    except msgspec.ValidationError as exc:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"message does not fit: {exc}") from None
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ProtocolError(
            ErrorCode.BAD_ENCODING, f"body is not one valid msgpack map: {exc}"
        ) from None
    result: dict[str, Any] = msgspec.to_builtins(decoded, builtin_types=(bytes,))
    return result


# --- field readers: strict, with the field name in every message ------------------------------


def _bad(name: str, why: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_MESSAGE, f"field {name!r} {why}")


def _get(obj: Mapping[str, Any], name: str, required: bool = True) -> Any:
    if name not in obj:
        if required:
            raise _bad(name, "is required")
        return None
    return obj[name]


def _int(
    obj: Mapping[str, Any], name: str, low: int, high: int, *, default: int | None = None
) -> int:
    value = _get(obj, name, required=default is None)
    if value is None:
        if default is None:
            raise _bad(name, "is required")
        return default
    # bool is an int subclass in Python; on the wire it is a different type.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(name, "must be an integer")
    if not low <= value <= high:
        raise _bad(name, f"must be between {low} and {high}")
    return value


def _bool(obj: Mapping[str, Any], name: str, default: bool) -> bool:
    value = _get(obj, name, required=False)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad(name, "must be a boolean")
    return value


def _batch_version(obj: Mapping[str, Any]) -> int:
    # Absent: a reader from before batch versions were declared, which opens version 1.
    return _int(obj, "bv", 1, 255) if obj.get("bv") is not None else 1


def _bytes(obj: Mapping[str, Any], name: str, low: int, high: int) -> bytes:
    value = _get(obj, name)
    if not isinstance(value, bytes):
        raise _bad(name, "must be binary")
    if not low <= len(value) <= high:
        raise _bad(name, f"must be {low} to {high} bytes")
    return value


def _str(obj: Mapping[str, Any], name: str, pattern: re.Pattern[str], required: bool = True) -> str:
    value = _get(obj, name, required=required)
    if value is None and not required:
        return ""
    return check_text(value, pattern, name)


def check_text(value: object, pattern: re.Pattern[str], name: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise ProtocolError(ErrorCode.BAD_ID, f"{name} is malformed")
    return value


def check_id(value: object, name: str = "id") -> str:
    """An id chosen by a client (space, record, mutation): 1-64 of [A-Za-z0-9_-]."""
    return check_text(value, _ID_PATTERN, name)


def check_device_id(value: object, name: str = "device") -> str:
    return check_text(value, _DEVICE_PATTERN, name)


def check_chunk_hash(value: object, name: str = "hash") -> str:
    return check_text(value, _HASH_PATTERN, name)


def check_token(value: object) -> str:
    return check_text(value, _TOKEN_PATTERN, "token")


def _version(obj: Mapping[str, Any]) -> None:
    version = obj.get("v")
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_VERSION, f"protocol version must be {PROTOCOL_VERSION}"
        )


def _role(obj: Mapping[str, Any], name: str = "role") -> Role:
    value = _get(obj, name)
    try:
        return Role(value)
    except ValueError:
        raise _bad(name, "must be admin, editor or reader") from None


# --- identities and signed statements ------------------------------------------------------------


def device_id_for(sign_key: bytes) -> str:
    """A device's id: the first 16 bytes of SHA-256 over its Ed25519 public key, in hex.

    Clients compute it offline (to bind it into record envelopes) and nobody can claim another
    device's id without its key.
    """
    digest = hashes.Hash(hashes.SHA256())
    digest.update(sign_key)
    return digest.finalize()[:16].hex()


def chunk_hash(data: bytes) -> str:
    """The content address of an encrypted chunk: SHA-256 of its bytes, lowercase hex."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize().hex()


def challenge_statement(challenge: bytes, device: str) -> bytes:
    """The bytes a device signs to answer a challenge; the context prefix keeps it single-use."""
    return AUTH_CONTEXT + challenge + device.encode("ascii")


def enroll_statement(invite: str, sign_key: bytes, box_key: bytes) -> bytes:
    """The bytes a new device signs at enrollment: proves it holds the key it registers."""
    return ENROLL_CONTEXT + normalize_invite(invite).encode("ascii") + sign_key + box_key


def normalize_invite(code: str) -> str:
    """Invite codes are read aloud and retyped: case, spaces and dashes do not matter."""
    return code.replace("-", "").replace(" ", "").upper()


def format_invite(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def check_invite(value: object) -> str:
    if not isinstance(value, str) or len(value) > 64:
        raise ProtocolError(ErrorCode.BAD_ID, "invite is malformed")
    return check_text(normalize_invite(value), _INVITE_PATTERN, "invite")


# --- messages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    """One outbox entry: create (base 0), update or delete a record, compare-and-swap on base."""

    id: str
    space: str
    record: str
    base: int
    blob: bytes | None
    deleted: bool = False
    chunks: tuple[str, ...] = ()
    #: The key epoch the blob was sealed at (plaintext: the server knows epochs anyway). The
    #: server refuses one older than the space's current epoch (`stale_epoch`); ``None``, as
    #: older clients send, is not checked.
    epoch: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": self.id,
            "space": self.space,
            "record": self.record,
            "base": self.base,
            "blob": self.blob,
        }
        if self.deleted:
            wire["deleted"] = True
        if self.chunks:
            wire["chunks"] = list(self.chunks)
        if self.epoch is not None:
            wire["epoch"] = self.epoch
        return wire

    @classmethod
    def from_wire(cls, obj: object, limits: Limits = LIMITS) -> Mutation:
        if not isinstance(obj, dict):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "each mutation must be a map")
        deleted = _bool(obj, "deleted", False)
        blob = _get(obj, "blob", required=False)
        if blob is not None:
            blob = _bytes(obj, "blob", 1, limits.max_blob_bytes)
        elif not deleted:
            raise _bad("blob", "is required unless deleted")
        raw_chunks = _get(obj, "chunks", required=False) or []
        if not isinstance(raw_chunks, list) or len(raw_chunks) > limits.max_chunk_refs:
            raise _bad("chunks", f"must be a list of at most {limits.max_chunk_refs} hashes")
        if deleted and raw_chunks:
            raise _bad("chunks", "must be empty for a deletion")
        return cls(
            id=check_id(_get(obj, "id"), "mutation id"),
            space=check_id(_get(obj, "space"), "space"),
            record=check_id(_get(obj, "record"), "record"),
            base=_int(obj, "base", 0, limits.max_revision),
            blob=blob,
            deleted=deleted,
            chunks=tuple(sorted({check_chunk_hash(h, "chunk") for h in raw_chunks})),
            epoch=_int(obj, "epoch", 1, limits.max_epoch) if obj.get("epoch") is not None else None,
        )


@dataclass(frozen=True)
class SyncRequest:
    """One round trip: the outbox to push and, per space, the cursor to pull after."""

    push: tuple[Mutation, ...] = ()
    pull: Mapping[str, int] = field(default_factory=dict)
    max_bytes: int | None = None
    #: The client reads batches (§13): pages may carry them instead of single records.
    batches: bool = False
    #: The highest batch version the client opens (§13 "Batch versions"), with ``batches``.
    batch_version: int = 1

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"v": PROTOCOL_VERSION}
        if self.push:
            wire["push"] = [m.to_wire() for m in self.push]
        if self.pull:
            wire["pull"] = dict(self.pull)
        if self.max_bytes is not None:
            wire["max_bytes"] = self.max_bytes
        if self.batches:
            wire["batches"] = True
            if self.batch_version > 1:
                wire["bv"] = self.batch_version
        return wire

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], limits: Limits = LIMITS) -> SyncRequest:
        _version(obj)
        raw_push = _get(obj, "push", required=False) or []
        if not isinstance(raw_push, list) or len(raw_push) > limits.max_mutations:
            raise _bad("push", f"must be a list of at most {limits.max_mutations} mutations")
        push = tuple(Mutation.from_wire(m, limits) for m in raw_push)
        if len({m.id for m in push}) != len(push):
            raise ProtocolError(ErrorCode.DUPLICATE_MUTATION, "mutation ids repeat in one batch")
        raw_pull = _get(obj, "pull", required=False) or {}
        if not isinstance(raw_pull, dict) or len(raw_pull) > limits.max_pull_spaces:
            raise _bad("pull", f"must map at most {limits.max_pull_spaces} spaces to cursors")
        pull: dict[str, int] = {}
        for space, cursor in raw_pull.items():
            check_id(space, "space")
            pull[space] = _int({"cursor": cursor}, "cursor", 0, limits.max_revision)
        max_bytes = None
        if "max_bytes" in obj:
            max_bytes = _int(obj, "max_bytes", limits.min_page_bytes, limits.max_page_bytes)
        return cls(
            push=push,
            pull=pull,
            max_bytes=max_bytes,
            batches=_bool(obj, "batches", False),
            batch_version=_batch_version(obj),
        )


@dataclass(frozen=True)
class Change:
    """A record's current state as a reader sees it; `blob` may be None for a tombstone."""

    record: str
    revision: int
    seq: int
    blob: bytes | None
    deleted: bool
    author: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "revision": self.revision,
            "seq": self.seq,
            "blob": self.blob,
            "deleted": self.deleted,
            "author": self.author,
        }

    @classmethod
    def from_wire(cls, obj: object) -> Change:
        if not isinstance(obj, dict):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "each change must be a map")
        blob = obj.get("blob")
        if blob is not None and not isinstance(blob, bytes):
            raise _bad("blob", "must be binary or nil")
        return cls(
            record=check_id(_get(obj, "record"), "record"),
            revision=_int(obj, "revision", 1, LIMITS.max_revision),
            seq=_int(obj, "seq", 1, LIMITS.max_revision),
            blob=blob,
            deleted=_bool(obj, "deleted", False),
            author=check_device_id(_get(obj, "author"), "author"),
        )


@dataclass(frozen=True)
class MutationResult:
    """The outcome of one mutation: accepted (new revision and seq), conflict, or rejected."""

    id: str
    status: MutationStatus
    revision: int | None = None
    seq: int | None = None
    current: Change | None = None
    code: ErrorCode | None = None
    missing: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"id": self.id, "status": self.status.value}
        if self.revision is not None:
            wire["revision"] = self.revision
        if self.seq is not None:
            wire["seq"] = self.seq
        if self.current is not None:
            wire["current"] = self.current.to_wire()
        if self.code is not None:
            wire["code"] = self.code.value
        if self.missing:
            wire["missing"] = list(self.missing)
        return wire

    @classmethod
    def from_wire(cls, obj: object) -> MutationResult:
        if not isinstance(obj, dict):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "each result must be a map")
        current = obj.get("current")
        code = obj.get("code")
        return cls(
            id=check_id(_get(obj, "id"), "mutation id"),
            status=MutationStatus(_get(obj, "status")),
            revision=obj.get("revision"),
            seq=obj.get("seq"),
            current=Change.from_wire(current) if current is not None else None,
            code=ErrorCode(code) if code is not None else None,
            missing=tuple(obj.get("missing") or ()),
        )


@dataclass(frozen=True)
class SpacePage:
    """The changes of one space after the client's cursor, oldest first, cut by bytes.

    `cursor` is what the client stores once it has applied `changes`; `more` says another
    request would return more. `epoch` and `statement` are the space's current key epoch and
    latest membership statement version, so a poll tells the client when to fetch either.
    `error` replaces everything else when the space is not readable.
    """

    changes: tuple[Change, ...] = ()
    cursor: int = 0
    more: bool = False
    epoch: int = 0
    statement: int = 0
    error: ErrorCode | None = None
    #: Batches one of whose current entries falls in this page (§13), for clients that ask.
    batches: tuple[BatchDelivery, ...] = ()
    #: How many of the caller's own batches hold a replaced entry (to compact), when > 0.
    stale: int = 0
    #: The page ends before a batch of a version the reader does not open (§13 "Batch
    #: versions"): its app says it needs updating. Sent only when true.
    held: bool = False

    def to_wire(self) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error.value}
        wire: dict[str, Any] = {
            "changes": [c.to_wire() for c in self.changes],
            "cursor": self.cursor,
            "more": self.more,
            "epoch": self.epoch,
            "statement": self.statement,
        }
        if self.batches:
            wire["batches"] = [b.to_wire() for b in self.batches]
        if self.stale:
            wire["stale"] = self.stale
        if self.held:
            wire["held"] = True
        return wire

    @classmethod
    def from_wire(cls, obj: object) -> SpacePage:
        if not isinstance(obj, dict):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "each space page must be a map")
        if "error" in obj:
            return cls(error=ErrorCode(obj["error"]))
        changes = obj.get("changes") or []
        if not isinstance(changes, list):
            raise _bad("changes", "must be a list")
        return cls(
            changes=tuple(Change.from_wire(c) for c in changes),
            cursor=_int(obj, "cursor", 0, LIMITS.max_revision),
            more=_bool(obj, "more", False),
            epoch=_int(obj, "epoch", 0, LIMITS.max_epoch, default=0),
            # Absent from servers older than the statement routes: 0, nothing to fetch.
            statement=_int(obj, "statement", 0, LIMITS.max_statement_version, default=0),
            batches=tuple(BatchDelivery.from_wire(b) for b in obj.get("batches") or ()),
            stale=_int(obj, "stale", 0, MAX_STALE_BATCHES, default=0),
            held=_bool(obj, "held", False),
        )


@dataclass(frozen=True)
class BatchDelivery:
    """A sealed batch in a page, with the runs of its entries that are current in the page:
    (first index, first seq, count). Record, revision and deletion come from its manifest."""

    batch: bytes
    author: str
    live: tuple[tuple[int, int, int], ...]

    def to_wire(self) -> dict[str, Any]:
        return {"batch": self.batch, "author": self.author, "live": [list(r) for r in self.live]}

    @classmethod
    def from_wire(cls, obj: object) -> BatchDelivery:
        if not isinstance(obj, dict):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "each batch must be a map")
        return cls(
            batch=_bytes(obj, "batch", 1, MAX_BATCH_BYTES),
            author=check_device_id(_get(obj, "author"), "author"),
            live=_runs(obj.get("live") or []),
        )


def _runs(raw: object) -> tuple[tuple[int, int, int], ...]:
    if not isinstance(raw, list) or len(raw) > MAX_BATCH_ENTRIES:
        raise _bad("live", "must be a list of runs")
    runs: list[tuple[int, int, int]] = []
    for run in raw:
        if not isinstance(run, list) or len(run) != 3:
            raise _bad("live", "each run is [first index, first seq, count]")
        index, seq, count = (_int({"n": n}, "n", 0, LIMITS.max_revision) for n in run)
        if index + count > MAX_BATCH_ENTRIES or count < 1 or seq < 1:
            raise _bad("live", "run out of range")
        runs.append((index, seq, count))
    return tuple(runs)


@dataclass(frozen=True)
class BatchAnswer:
    """The answer to a batch push: runs of accepted entries (first index, first seq, count),
    conflicts (index, current revision), and the pusher's new cursor when nothing else came in
    between."""

    accepted: tuple[tuple[int, int, int], ...] = ()
    conflicts: tuple[tuple[int, int], ...] = ()
    cursor: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "v": PROTOCOL_VERSION,
            "accepted": [list(r) for r in self.accepted],
            "conflicts": [list(c) for c in self.conflicts],
        }
        if self.cursor is not None:
            wire["cursor"] = self.cursor
        return wire

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> BatchAnswer:
        _version(obj)
        conflicts = []
        for item in obj.get("conflicts") or []:
            index, revision = (_int({"n": n}, "n", 0, LIMITS.max_revision) for n in item)
            if index >= MAX_BATCH_ENTRIES:
                raise _bad("conflicts", "index out of range")
            conflicts.append((index, revision))
        cursor = obj.get("cursor")
        return cls(
            accepted=_runs(obj.get("accepted") or []),
            conflicts=tuple(conflicts),
            cursor=None if cursor is None else _int(obj, "cursor", 0, LIMITS.max_revision),
        )


@dataclass(frozen=True)
class SyncResponse:
    results: tuple[MutationResult, ...] = ()
    spaces: Mapping[str, SpacePage] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            "v": PROTOCOL_VERSION,
            "results": [r.to_wire() for r in self.results],
            "spaces": {space: page.to_wire() for space, page in self.spaces.items()},
        }

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> SyncResponse:
        _version(obj)
        results = obj.get("results") or []
        spaces = obj.get("spaces") or {}
        if not isinstance(results, list) or not isinstance(spaces, dict):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "results must be a list, spaces a map")
        return cls(
            results=tuple(MutationResult.from_wire(r) for r in results),
            spaces={check_id(s, "space"): SpacePage.from_wire(p) for s, p in spaces.items()},
        )


#: Response header of ``POST /v1/sync`` naming, before the body, the cursor to ask from next
#: in each space whose page says ``more`` (§7, "Pages ahead"): the client asks for the next
#: page while this one is still downloading, and uses that answer only if the body says the
#: same. Absent when no space has more, or when the list would not fit ``MORE_HEADER_BYTES``.
MORE_HEADER: Final = "Minga-More"
MORE_HEADER_BYTES: Final = 4096
_MORE_ITEM: Final = re.compile(r"([A-Za-z0-9_-]{1,64})=(0|[1-9][0-9]{0,18})")


def more_header(spaces: Mapping[str, SpacePage]) -> str | None:
    """The ``Minga-More`` value for these pages: ``space=cursor`` of each page with more,
    comma-separated; ``None`` when there is none or it would be longer than the bound."""
    value = ",".join(
        f"{space}={page.cursor}"
        for space, page in spaces.items()
        if page.error is None and page.more
    )
    return value if value and len(value) <= MORE_HEADER_BYTES else None


def parse_more_header(value: str | None) -> dict[str, int] | None:
    """The cursors a ``Minga-More`` header names; ``None`` for none or anything malformed (a
    hint only: the client then waits for the body, as without it)."""
    if not value or len(value) > MORE_HEADER_BYTES:
        return None
    found: dict[str, int] = {}
    for item in value.split(","):
        match = _MORE_ITEM.fullmatch(item.strip())
        if match is None or match[1] in found:
            return None
        found[match[1]] = int(match[2])
    return found


@dataclass(frozen=True)
class CourierPush:
    """Mutations of other devices a courier carried (``POST /v1/courier/push``): each is
    applied as its ``author``'s own push, only if the author's signature on the sealed blob
    verifies with the key it enrolled and the author may write (PROTOCOL.md §12)."""

    push: tuple[tuple[str, Mutation], ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {
            "v": PROTOCOL_VERSION,
            "push": [{"author": author, **m.to_wire()} for author, m in self.push],
        }

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], limits: Limits = LIMITS) -> CourierPush:
        _version(obj)
        raw = _get(obj, "push", required=False) or []
        if not isinstance(raw, list) or len(raw) > limits.max_mutations:
            raise _bad("push", f"must be a list of at most {limits.max_mutations} mutations")
        push = []
        for item in raw:
            mutation = Mutation.from_wire(item, limits)
            if mutation.blob is None:
                # The author's signature is the only authority a courier brings: none, no entry.
                raise _bad("blob", "is required for a carried mutation")
            push.append((check_device_id(_get(item, "author"), "author"), mutation))
        if len({(a, m.id) for a, m in push}) != len(push):
            raise ProtocolError(ErrorCode.DUPLICATE_MUTATION, "mutation ids repeat in one batch")
        return cls(tuple(push))


#: Signature context of a courier grant (an offline device lets a courier pull for it).
GRANT_CONTEXT = b"minga-courier-grant-v1\x00"
#: The longest a grant may be valid: an offline device's clock may be off, but not by months.
MAX_GRANT_SECONDS = 60 * 86400


@dataclass(frozen=True)
class CourierGrant:
    """Signed by an offline device: "the holder of ``courier`` (any enrolled device when
    empty) may download, until ``expires``, what I could pull after these cursors, with my
    statements after these versions and my key wraps after these epochs"."""

    device: str
    expires: int
    pull: Mapping[str, int]
    statements: Mapping[str, int]
    epochs: Mapping[str, int]
    courier: str = ""

    def to_bytes(self) -> bytes:
        packed: bytes = msgpack.packb(
            {
                "device": self.device,
                "courier": self.courier,
                "expires": self.expires,
                "pull": dict(self.pull),
                "statements": dict(self.statements),
                "epochs": dict(self.epochs),
            },
            use_bin_type=True,
        )
        return packed

    @classmethod
    def from_bytes(cls, data: bytes, limits: Limits = LIMITS) -> CourierGrant:
        try:
            # Typed and bounded like every message (a grant is signed, but by anyone).
            obj = msgspec.to_builtins(
                msgspec.msgpack.decode(data, type=CourierGrantShape), builtin_types=(bytes,)
            )
        except (msgspec.DecodeError, RecursionError) as error:
            raise ProtocolError(ErrorCode.GRANT_INVALID, "grant is not msgpack") from error
        if not isinstance(obj, dict):
            raise ProtocolError(ErrorCode.GRANT_INVALID, "grant must be a map")
        maps = []
        for name, high in (
            ("pull", limits.max_revision),
            ("statements", limits.max_statement_version),
            ("epochs", limits.max_epoch),
        ):
            raw = obj.get(name) or {}
            if not isinstance(raw, dict) or len(raw) > limits.max_pull_spaces:
                raise _bad(name, "must map spaces to numbers")
            maps.append(
                {check_id(k, "space"): _int({"n": v}, "n", 0, high) for k, v in raw.items()}
            )
        courier = obj.get("courier") or ""
        return cls(
            device=check_device_id(_get(obj, "device"), "device"),
            expires=_int(obj, "expires", 0, 2**62),
            pull=maps[0],
            statements=maps[1],
            epochs=maps[2],
            courier=check_device_id(courier, "courier") if courier else "",
        )


@dataclass(frozen=True)
class CourierPull:
    """``POST /v1/courier/pull``: a grant and its signature; ``after`` moves cursors on
    while paging (never below the grant's)."""

    grant: bytes
    signature: bytes
    after: Mapping[str, int] = field(default_factory=dict)
    max_bytes: int | None = None
    #: The courier hands batches on in its bundle (§12.4): pages may carry them, as in §13.
    batches: bool = False
    #: The highest batch version the courier's app opens (§13 "Batch versions").
    batch_version: int = 1

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "v": PROTOCOL_VERSION,
            "grant": self.grant,
            "signature": self.signature,
        }
        if self.after:
            wire["after"] = dict(self.after)
        if self.max_bytes is not None:
            wire["max_bytes"] = self.max_bytes
        if self.batches:
            wire["batches"] = True
            if self.batch_version > 1:
                wire["bv"] = self.batch_version
        return wire

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], limits: Limits = LIMITS) -> CourierPull:
        _version(obj)
        raw_after = obj.get("after") or {}
        if not isinstance(raw_after, dict) or len(raw_after) > limits.max_pull_spaces:
            raise _bad("after", "must map spaces to cursors")
        after = {
            check_id(k, "space"): _int({"n": v}, "n", 0, limits.max_revision)
            for k, v in raw_after.items()
        }
        max_bytes = None
        if "max_bytes" in obj:
            max_bytes = _int(obj, "max_bytes", limits.min_page_bytes, limits.max_page_bytes)
        return cls(
            grant=_bytes(obj, "grant", 1, 64 * 1024),
            signature=_bytes(obj, "signature", 64, 64),
            after=after,
            max_bytes=max_bytes,
            batches=_bool(obj, "batches", False),
            batch_version=_batch_version(obj),
        )


@dataclass(frozen=True)
class CourierDownload:
    """The answer to ``CourierPull``: pages as the granting device would pull them, and (on
    the first page) its newer statements and its own key wraps."""

    device: str
    spaces: Mapping[str, SpacePage]
    statements: Mapping[str, tuple[StoredStatement, ...]] = field(default_factory=dict)
    wraps: Mapping[str, tuple[tuple[int, str, bytes], ...]] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> CourierDownload:
        _version(obj)
        raw_spaces = obj.get("spaces") or {}
        raw_statements = obj.get("statements") or {}
        raw_wraps = obj.get("wraps") or {}
        if not all(isinstance(x, dict) for x in (raw_spaces, raw_statements, raw_wraps)):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "spaces, statements, wraps must be maps")
        statements = {
            check_id(space, "space"): tuple(
                StoredStatement(
                    _int(item, "version", 1, LIMITS.max_statement_version),
                    _bytes(item, "statement", 1, LIMITS.max_statement_bytes),
                )
                for item in items
            )
            for space, items in raw_statements.items()
        }
        wraps = {
            check_id(space, "space"): tuple(
                (
                    _int(item, "epoch", 1, LIMITS.max_epoch),
                    check_device_id(_get(item, "issuer"), "issuer"),
                    _bytes(item, "wrap", 1, LIMITS.max_wrap_bytes),
                )
                for item in items
            )
            for space, items in raw_wraps.items()
        }
        return cls(
            device=check_device_id(_get(obj, "device"), "device"),
            spaces={check_id(s, "space"): SpacePage.from_wire(p) for s, p in raw_spaces.items()},
            statements=statements,
            wraps=wraps,
        )


@dataclass(frozen=True)
class EnrollRequest:
    """A new device registers its public keys with a one-time invite, signed by its own key."""

    invite: str
    sign_key: bytes
    box_key: bytes
    signature: bytes

    def to_wire(self) -> dict[str, Any]:
        return {
            "v": PROTOCOL_VERSION,
            "invite": self.invite,
            "sign_key": self.sign_key,
            "box_key": self.box_key,
            "signature": self.signature,
        }

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> EnrollRequest:
        _version(obj)
        return cls(
            invite=check_invite(_get(obj, "invite")),
            sign_key=_bytes(obj, "sign_key", 32, 32),
            box_key=_bytes(obj, "box_key", 32, 32),
            signature=_bytes(obj, "signature", 64, 64),
        )


@dataclass(frozen=True)
class ChallengeRequest:
    device: str

    def to_wire(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "device": self.device}

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> ChallengeRequest:
        _version(obj)
        return cls(device=check_device_id(_get(obj, "device")))


@dataclass(frozen=True)
class TokenRequest:
    """The signed answer to a challenge; a valid one buys a short-lived bearer token."""

    device: str
    challenge: bytes
    signature: bytes

    def to_wire(self) -> dict[str, Any]:
        return {
            "v": PROTOCOL_VERSION,
            "device": self.device,
            "challenge": self.challenge,
            "signature": self.signature,
        }

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> TokenRequest:
        _version(obj)
        return cls(
            device=check_device_id(_get(obj, "device")),
            challenge=_bytes(obj, "challenge", 32, 32),
            signature=_bytes(obj, "signature", 64, 64),
        )


@dataclass(frozen=True)
class SpaceCreate:
    """Create a space; the client may choose its id (it binds it into envelopes offline)."""

    space: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"v": PROTOCOL_VERSION}
        if self.space is not None:
            wire["space"] = self.space
        return wire

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> SpaceCreate:
        _version(obj)
        space = obj.get("space")
        return cls(space=check_id(space, "space") if space is not None else None)


@dataclass(frozen=True)
class ChunkProbe:
    """Ask which of a file's chunks a space does not store: one request, not a HEAD each
    (PROTOCOL.md §8). At most ``max_chunk_refs`` addresses, as many as a record names."""

    chunks: tuple[str, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "chunks": list(self.chunks)}

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], limits: Limits = LIMITS) -> ChunkProbe:
        _version(obj)
        raw = _get(obj, "chunks")
        if not isinstance(raw, list) or not 1 <= len(raw) <= limits.max_chunk_refs:
            raise _bad("chunks", f"must be a list of 1 to {limits.max_chunk_refs} hashes")
        return cls(tuple(check_chunk_hash(h, "chunk") for h in raw))


@dataclass(frozen=True)
class ChunkProbeAnswer:
    """The chunks asked about that are not stored, in the order asked, and of those the bytes
    this device sent before a cut (its ``Upload-Offset``: only the rest needs sending)."""

    missing: tuple[str, ...]
    offsets: Mapping[str, int] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "missing": list(self.missing), "offsets": dict(self.offsets)}

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], limits: Limits = LIMITS) -> ChunkProbeAnswer:
        _version(obj)
        raw = _get(obj, "missing")
        if not isinstance(raw, list) or len(raw) > limits.max_chunk_refs:
            raise _bad("missing", f"must be a list of at most {limits.max_chunk_refs} hashes")
        missing = tuple(check_chunk_hash(h, "chunk") for h in raw)
        offsets = _get(obj, "offsets", required=False) or {}
        if not isinstance(offsets, Mapping):
            raise _bad("offsets", "must be a map of hash to bytes")
        found: dict[str, int] = {}
        for digest, offset in offsets.items():
            if (
                check_chunk_hash(digest, "offsets") not in missing
                or not isinstance(offset, int)
                or isinstance(offset, bool)
                or not 0 < offset < limits.max_chunk_bytes
            ):
                raise _bad("offsets", "must name missing chunks with a byte count inside one")
            found[digest] = offset
        return cls(missing, found)


@dataclass(frozen=True)
class MemberPut:
    role: Role

    def to_wire(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "role": self.role.value}

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> MemberPut:
        _version(obj)
        return cls(role=_role(obj))


@dataclass(frozen=True)
class TravelLeave:
    """Travel mode: the caller leaves these spaces behind until it presents the token whose
    SHA-256 is ``verifier`` (issue 16)."""

    spaces: tuple[str, ...]
    verifier: bytes

    def to_wire(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "spaces": list(self.spaces), "verifier": self.verifier}

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], limits: Limits = LIMITS) -> TravelLeave:
        _version(obj)
        raw = _get(obj, "spaces")
        if not isinstance(raw, list) or not 1 <= len(raw) <= limits.max_pull_spaces:
            raise _bad("spaces", f"must list 1 to {limits.max_pull_spaces} spaces")
        spaces = tuple(check_id(space, "space") for space in raw)
        return cls(spaces=spaces, verifier=_bytes(obj, "verifier", 32, 32))


@dataclass(frozen=True)
class TravelReturn:
    """Travel mode: the token that lifts the caller's away marks (its SHA-256 is their
    verifier)."""

    token: bytes

    def to_wire(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "token": self.token}

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> TravelReturn:
        _version(obj)
        return cls(token=_bytes(obj, "token", 32, 32))


@dataclass(frozen=True)
class InviteCreate:
    """An admin invites a new device into one space with a role; the code works once."""

    role: Role
    ttl: int

    def to_wire(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "role": self.role.value, "ttl": self.ttl}

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> InviteCreate:
        _version(obj)
        return cls(role=_role(obj), ttl=_int(obj, "ttl", 60, 30 * 86400, default=7 * 86400))


@dataclass(frozen=True)
class KeyWrapsPut:
    """Opaque, admin-signed wraps of one epoch's space key, one per recipient device."""

    wraps: Mapping[str, bytes]

    def to_wire(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "wraps": dict(self.wraps)}

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], limits: Limits = LIMITS) -> KeyWrapsPut:
        _version(obj)
        raw = _get(obj, "wraps")
        if not isinstance(raw, dict) or not 1 <= len(raw) <= limits.max_wraps:
            raise _bad("wraps", f"must map 1 to {limits.max_wraps} devices to wraps")
        wraps: dict[str, bytes] = {}
        for device, wrap in raw.items():
            check_device_id(device, "recipient")
            wraps[device] = _bytes({"wrap": wrap}, "wrap", 1, limits.max_wrap_bytes)
        return cls(wraps=wraps)


@dataclass(frozen=True)
class StatementPut:
    """One signed membership statement, opaque to the server: only its size is checked.

    The clients verify signature, hash chain and version inside the blob (sync/CRYPTO.md §4);
    the server only keeps the statements of a space in the order admins put them.
    """

    statement: bytes

    def to_wire(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "statement": self.statement}

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], limits: Limits = LIMITS) -> StatementPut:
        _version(obj)
        value = _get(obj, "statement")
        if not isinstance(value, bytes) or not value:
            raise _bad("statement", "must be non-empty binary")
        if len(value) > limits.max_statement_bytes:
            raise ProtocolError(
                ErrorCode.BODY_TOO_LARGE,
                f"statement exceeds max_statement_bytes ({limits.max_statement_bytes})",
            )
        return cls(statement=value)


@dataclass(frozen=True)
class StoredStatement:
    """A statement as the server hands it back: its version and the blob, byte for byte."""

    version: int
    statement: bytes

    def to_wire(self) -> dict[str, Any]:
        return {"version": self.version, "statement": self.statement}

    @classmethod
    def from_wire(cls, obj: object, limits: Limits = LIMITS) -> StoredStatement:
        if not isinstance(obj, dict):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "each statement must be a map")
        return cls(
            version=_int(obj, "version", 1, limits.max_statement_version),
            statement=_bytes(obj, "statement", 1, limits.max_statement_bytes),
        )


@dataclass(frozen=True)
class StatementPage:
    """The statements after a version, oldest first, cut by bytes; `more` asks for another page."""

    statements: tuple[StoredStatement, ...] = ()
    more: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "v": PROTOCOL_VERSION,
            "statements": [s.to_wire() for s in self.statements],
            "more": self.more,
        }

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any], limits: Limits = LIMITS) -> StatementPage:
        _version(obj)
        raw = _get(obj, "statements")
        if not isinstance(raw, list):
            raise _bad("statements", "must be a list")
        return cls(
            statements=tuple(StoredStatement.from_wire(s, limits) for s in raw),
            more=_bool(obj, "more", False),
        )
