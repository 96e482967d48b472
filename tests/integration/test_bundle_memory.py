"""A hostile bundle cannot make its reader hold much more than the bytes it reads: a frame of
two megabytes of empty maps would unpack to some 130 MB of Python objects per frame."""

from __future__ import annotations

import io
import struct
import tracemalloc

import msgpack

from sync.client import bundle_format
from sync.client.bundle_format import BundleProblem, BundleRefused, read_segments
from sync.crypto.keys import DeviceKeys


def _hostile(frames: int) -> bytes:
    head = io.BytesIO()
    bundle_format.BundleWriter(head, DeviceKeys.generate(), frames)
    body_size = bundle_format.MAX_FRAME_BYTES - 32
    data = head.getvalue()
    for index in range(frames):
        # [index, "have", [{}, {}, ... ]]: each one-byte empty map a 64-byte dict.
        body = b"\x93" + msgpack.packb(index) + b"\xa4have"
        body += b"\xdd" + struct.pack(">I", body_size) + b"\x80" * body_size
        data += struct.pack(">I", len(body)) + body
    return data


def test_a_frame_of_millions_of_empty_maps_is_refused_with_little_memory() -> None:
    data = _hostile(3)
    tracemalloc.start()
    try:
        _preamble, segments = read_segments(io.BytesIO(data))
        try:
            list(segments)
        except BundleRefused as refusal:
            problem = refusal.problem, refusal.item
        else:
            raise AssertionError("a hostile bundle was read")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problem == (BundleProblem.DAMAGED, 0)
    # The file's own bytes (about 6 MB) are in memory at most once more, no amplification.
    assert peak < 24 * 1024 * 1024, peak


def test_deep_nesting_is_refused_as_damage() -> None:
    head = io.BytesIO()
    bundle_format.BundleWriter(head, DeviceKeys.generate(), 1)
    body = b"\x93\x00\xa4have" + b"\x91" * 100_000 + b"\xc0"
    data = head.getvalue() + struct.pack(">I", len(body)) + body
    _preamble, segments = read_segments(io.BytesIO(data))
    try:
        list(segments)
    except BundleRefused as refusal:
        assert (refusal.problem, refusal.item) == (BundleProblem.DAMAGED, 0)
    else:
        raise AssertionError("a deeply nested bundle was read")
