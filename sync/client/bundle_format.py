"""The courier bundle container: numbered frames, a running hash, signed checkpoints.

A bundle carries items that are already sealed and signed by their authors (record envelopes,
membership statements, key wraps); this layer only makes the *file* tamper-evident, so a cut,
reordered, spliced or bit-flipped copy is refused by name before anything of the damaged part is
applied. Layout (sync/PROTOCOL.md "Courier bundles"):

    file       = "MNGB" | version u8 (1; 2 with batches; 3 with tombstone facts) | u32 length
                 | preamble | frame*
    preamble   = {"bundle": 16 random bytes, "signer": Ed25519 public key (32),
                  "box": X25519 public key (32), "items": number of item frames}
    frame      = u32 length | msgpack [index, kind, payload]
    running    h0 = SHA-256("minga-bundle-v1\\0" | magic | version | length | preamble)
               h(i+1) = SHA-256(h(i) | u32 length | frame body)
    checkpoint = a frame of kind "check" after every segment of items (and "end" last) with
                 payload {"bundle", "items": items so far, "hash": h before it,
                 "signature": Ed25519 over "minga-bundle-v1\\0" | bundle | u64 items | hash}

Items are numbered 0, 1, 2... across the whole file; checkpoints are not numbered. A reader
hands out one segment only once its checkpoint verifies. Only library primitives are used
(``cryptography``'s Ed25519 and hashlib's SHA-256).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any

import msgpack
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sync.crypto.keys import DeviceKeys, DevicePublicKeys

MAGIC = b"MNGB"
#: Version 2 is written only when the bundle holds sealed batches (kind "batch"): a reader of
#: version 1 skips kinds it does not know, and skipping those would lose versions for good (the
#: cursor item after them says they were handed over), so it must refuse the file by name
#: (``unsupported_version``) instead. A bundle without batches stays version 1, readable by all.
VERSION = 2
PLAIN_VERSION = 1
#: Version 3 is written only when the bundle holds a deletion whose tombstone carries sealed
#: facts (an envelope, or a batch of version 3; CRYPTO.md §2 "Tombstone facts"): a reader from
#: before them would refuse each such deletion as ``bad_content`` and, the cursor item after it
#: saying it was handed over, never get it again; it refuses the file by name instead.
FACTS_VERSION = 3
_READABLE = (PLAIN_VERSION, VERSION, FACTS_VERSION)
CONTEXT = b"minga-bundle-v1\x00"
BUNDLE_ID_BYTES = 16
#: Items per signed segment, and the bytes after which a segment is closed early: a reader
#: holds at most one segment in memory before it can apply it.
SEGMENT_ITEMS = 512
SEGMENT_BYTES = 4 * 1024 * 1024
#: No frame of ours comes near this (a record blob ≤ 1 MiB, a chunk ≤ 1 MiB): a larger length
#: is damage, refused before reading it.
MAX_FRAME_BYTES = 2 * 1024 * 1024 + 4096
MAX_PREAMBLE_BYTES = 4096
#: Maps and lists in one frame: ours hold a handful (a "have" one per space held). A frame
#: of two megabytes of one-byte empty maps would unpack to ~130 MB of objects; refused instead.
MAX_FRAME_CONTAINERS = 4096
_LENGTH = struct.Struct(">I")
CHECK = "check"
END = "end"


class BundleProblem(StrEnum):
    """Why a bundle file was refused; each is shown to the person by name."""

    NOT_A_BUNDLE = "not_a_bundle"
    UNSUPPORTED_VERSION = "unsupported_version"
    TRUNCATED = "truncated"
    REORDERED = "reordered"
    SPLICED = "spliced"
    DAMAGED = "damaged"
    REPLAYED = "replayed"


class BundleRefused(Exception):
    """The file (from ``item`` on) is not what its exporter wrote; nothing past the last
    verified checkpoint was handed out."""

    def __init__(self, problem: BundleProblem, item: int, detail: str = "") -> None:
        super().__init__(f"{problem.value} at item {item}" + (f": {detail}" if detail else ""))
        self.problem = problem
        self.item = item
        self.detail = detail


@dataclass(frozen=True)
class Preamble:
    bundle: bytes
    signer: DevicePublicKeys
    items: int

    @property
    def bundle_id(self) -> str:
        return self.bundle.hex()


@dataclass(frozen=True)
class Item:
    index: int
    kind: str
    payload: Any


def _signed(bundle: bytes, items: int, running: bytes) -> bytes:
    return CONTEXT + bundle + struct.pack(">Q", items) + running


class BundleWriter:
    """Writes items to a binary stream; ``close`` signs the last segment and the end."""

    def __init__(
        self,
        stream: IO[bytes],
        keys: DeviceKeys,
        items: int,
        *,
        batches: bool = False,
        facts: bool = False,
    ) -> None:
        self._stream = stream
        self._keys = keys
        self.bundle = os.urandom(BUNDLE_ID_BYTES)
        self._items_declared = items
        public = keys.public
        preamble = msgpack.packb(
            {
                "bundle": self.bundle,
                "signer": public.sign_key,
                "box": public.box_key,
                "items": items,
            },
            use_bin_type=True,
        )
        version = FACTS_VERSION if facts else VERSION if batches else PLAIN_VERSION
        head = MAGIC + bytes([version]) + _LENGTH.pack(len(preamble)) + preamble
        stream.write(head)
        self.bytes_written = len(head)
        self._running = hashlib.sha256(CONTEXT + head).digest()
        self._index = 0
        self._segment_items = 0
        self._segment_bytes = 0

    def add(self, kind: str, payload: Any) -> None:
        if kind in (CHECK, END):
            raise ValueError("reserved frame kind")
        if self._index >= self._items_declared:
            raise ValueError("more items than declared")
        self._frame([self._index, kind, payload])
        self._index += 1
        self._segment_items += 1
        if self._segment_items >= SEGMENT_ITEMS or self._segment_bytes >= SEGMENT_BYTES:
            self._checkpoint(CHECK)

    def close(self) -> None:
        if self._index != self._items_declared:
            raise ValueError(f"declared {self._items_declared} items, wrote {self._index}")
        if self._segment_items:
            self._checkpoint(CHECK)
        self._checkpoint(END)
        self._stream.flush()

    def _checkpoint(self, kind: str) -> None:
        signature = self._keys.sign(_signed(self.bundle, self._index, self._running))
        payload = {
            "bundle": self.bundle,
            "items": self._index,
            "hash": self._running,
            "signature": signature,
        }
        self._frame([None, kind, payload])
        self._segment_items = 0
        self._segment_bytes = 0

    def _frame(self, body_value: list[Any]) -> None:
        body = msgpack.packb(body_value, use_bin_type=True)
        if len(body) > MAX_FRAME_BYTES:
            raise ValueError(f"frame of {len(body)} bytes")
        framed = _LENGTH.pack(len(body)) + body
        self._stream.write(framed)
        self.bytes_written += len(framed)
        self._segment_bytes += len(framed)
        self._running = hashlib.sha256(self._running + framed).digest()


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    return data if isinstance(data, bytes) else b""


def read_preamble(stream: IO[bytes]) -> tuple[Preamble, bytes]:
    """The preamble and the initial running hash; ``BundleRefused`` if not a bundle."""
    fixed = _read_exact(stream, len(MAGIC) + 1 + _LENGTH.size)
    if len(fixed) < len(MAGIC) + 1 + _LENGTH.size or fixed[: len(MAGIC)] != MAGIC:
        raise BundleRefused(BundleProblem.NOT_A_BUNDLE, 0)
    if fixed[len(MAGIC)] not in _READABLE:
        raise BundleRefused(BundleProblem.UNSUPPORTED_VERSION, 0, f"version {fixed[len(MAGIC)]}")
    (length,) = _LENGTH.unpack_from(fixed, len(MAGIC) + 1)
    if length > MAX_PREAMBLE_BYTES:
        raise BundleRefused(BundleProblem.DAMAGED, 0, "preamble length")
    raw = _read_exact(stream, length)
    if len(raw) != length:
        raise BundleRefused(BundleProblem.TRUNCATED, 0, "in the preamble")
    try:
        value = msgpack.unpackb(raw, raw=False, strict_map_key=True, max_ext_len=0)
        bundle, signer = value["bundle"], DevicePublicKeys(value["signer"], value["box"])
        items = int(value["items"])
        if not isinstance(bundle, bytes) or len(bundle) != BUNDLE_ID_BYTES or items < 0:
            raise ValueError("preamble fields")
    except Exception as error:  # msgpack and the key constructor raise many kinds
        raise BundleRefused(BundleProblem.DAMAGED, 0, "preamble") from error
    return Preamble(bundle, signer, items), hashlib.sha256(CONTEXT + fixed + raw).digest()


def read_segments(
    stream: IO[bytes], progress: Callable[[int], None] | None = None
) -> tuple[Preamble, Iterator[list[Item]]]:
    """The preamble, and the item segments in order, each handed out only after its signed
    checkpoint verified. Raises ``BundleRefused`` (from the iterator) at the first problem;
    segments handed out before it are intact. ``progress`` gets the bytes read so far."""
    preamble, running = read_preamble(stream)
    verify = Ed25519PublicKey.from_public_bytes(preamble.signer.sign_key).verify

    def segments() -> Iterator[list[Item]]:
        nonlocal running
        consumed = len(MAGIC) + 1 + _LENGTH.size
        expected = 0
        pending: list[Item] = []
        pending_bytes = 0
        while True:
            prefix = _read_exact(stream, _LENGTH.size)
            if len(prefix) != _LENGTH.size:
                raise BundleRefused(BundleProblem.TRUNCATED, expected, "ends before its end mark")
            (length,) = _LENGTH.unpack(prefix)
            if length > MAX_FRAME_BYTES:
                raise BundleRefused(BundleProblem.DAMAGED, expected, "frame length")
            body = _read_exact(stream, length)
            if len(body) != length:
                raise BundleRefused(BundleProblem.TRUNCATED, expected, "inside a frame")
            consumed += _LENGTH.size + length
            if progress is not None:
                progress(consumed)
            before = running
            running = hashlib.sha256(running + prefix + body).digest()
            try:
                index, kind, payload = _unpack_frame(body)
            except Exception as error:
                raise BundleRefused(BundleProblem.DAMAGED, expected, "frame body") from error
            if kind in (CHECK, END):
                _check(preamble, payload, expected, before, verify)
                if pending:
                    yield pending
                    pending = []
                    pending_bytes = 0
                if kind == END:
                    if expected != preamble.items:
                        raise BundleRefused(BundleProblem.TRUNCATED, expected, "items missing")
                    if _read_exact(stream, 1):
                        raise BundleRefused(BundleProblem.SPLICED, expected, "bytes after the end")
                    return
                continue
            if not isinstance(index, int) or index != expected:
                problem = BundleProblem.REORDERED
                if not isinstance(index, int) or index >= preamble.items:
                    problem = BundleProblem.DAMAGED
                raise BundleRefused(problem, expected, f"found item {index}")
            if not isinstance(kind, str):
                raise BundleRefused(BundleProblem.DAMAGED, expected, "frame kind")
            pending.append(Item(index, kind, payload))
            pending_bytes += _LENGTH.size + length
            if len(pending) > SEGMENT_ITEMS or pending_bytes > SEGMENT_BYTES + MAX_FRAME_BYTES:
                # Longer than any writer makes a segment: refused before it fills memory.
                raise BundleRefused(BundleProblem.DAMAGED, expected, "segment without checkpoint")
            expected += 1
            if expected > preamble.items:
                raise BundleRefused(BundleProblem.SPLICED, expected, "more items than declared")

    return preamble, segments()


def _unpack_frame(body: bytes) -> Any:
    """The frame's value; raises past ``MAX_FRAME_CONTAINERS`` maps and lists, so a hostile
    frame costs memory in proportion to a few times its bytes, not ~64 times."""
    containers = 0

    def counted(value: Any) -> Any:
        nonlocal containers
        containers += 1
        if containers > MAX_FRAME_CONTAINERS:
            raise ValueError("too many maps and lists in one frame")
        return value

    return msgpack.unpackb(
        body,
        raw=False,
        strict_map_key=True,
        max_ext_len=0,
        list_hook=counted,
        object_hook=counted,
    )


def _check(
    preamble: Preamble,
    payload: Any,
    expected: int,
    running: bytes,
    verify: Callable[[bytes, bytes], None],
) -> None:
    if not isinstance(payload, dict):
        raise BundleRefused(BundleProblem.DAMAGED, expected, "checkpoint")
    if payload.get("bundle") != preamble.bundle:
        # A segment copied in from another bundle carries that bundle's id.
        raise BundleRefused(BundleProblem.SPLICED, expected, "checkpoint of another bundle")
    if payload.get("items") != expected:
        raise BundleRefused(BundleProblem.REORDERED, expected, "checkpoint out of place")
    signature = payload.get("signature")
    if payload.get("hash") != running or not isinstance(signature, bytes):
        raise BundleRefused(BundleProblem.DAMAGED, expected, "contents differ from the signed")
    try:
        verify(signature, _signed(preamble.bundle, expected, running))
    except InvalidSignature:
        raise BundleRefused(BundleProblem.DAMAGED, expected, "signature") from None


__all__ = [
    "BundleProblem",
    "BundleRefused",
    "BundleWriter",
    "Item",
    "Preamble",
    "read_preamble",
    "read_segments",
]
