"""The wire codec and message validation, without a server: what both ends rely on.
Strict parsing here is what lets the server answer bad input with a clear 4xx."""

from __future__ import annotations

import contextlib
import os
import tracemalloc

import msgpack
import pytest
import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from sync.protocol import (
    LIMITS,
    ChallengeRequestShape,
    Change,
    ErrorCode,
    Limits,
    Mutation,
    MutationResult,
    MutationStatus,
    ProtocolError,
    SpacePage,
    StatementPage,
    StatementPut,
    StoredStatement,
    SyncRequest,
    SyncRequestShape,
    SyncResponse,
    SyncResponseShape,
    check_invite,
    decode_body,
    decode_message,
    device_id_for,
    encode_body,
    format_invite,
)

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789_-", min_size=1, max_size=64)


@given(
    push=st.lists(
        st.builds(
            Mutation,
            id=ids,
            space=ids,
            record=ids,
            base=st.integers(0, 2**40),
            blob=st.binary(min_size=1, max_size=300),
        ),
        max_size=5,
        unique_by=lambda m: m.id,
    ),
    pull=st.dictionaries(ids, st.integers(0, 2**40), max_size=4),
)
def test_sync_requests_survive_the_wire(push: list[Mutation], pull: dict[str, int]) -> None:
    request = SyncRequest(push=tuple(push), pull=pull)
    assert SyncRequest.from_wire(decode_body(encode_body(request.to_wire()))) == request


def test_sync_responses_survive_the_wire() -> None:
    change = Change("r", 3, 9, b"sealed", False, "ab" * 16)
    response = SyncResponse(
        results=(
            MutationResult("m1", MutationStatus.ACCEPTED, revision=4, seq=10),
            MutationResult("m2", MutationStatus.CONFLICT, revision=3, current=change),
            MutationResult(
                "m3", MutationStatus.REJECTED, code=ErrorCode.CHUNK_MISSING, missing=("a" * 64,)
            ),
        ),
        spaces={
            "s": SpacePage((change,), 9, True, 2, 5),
            "t": SpacePage(error=ErrorCode.SPACE_NOT_FOUND),
        },
    )
    assert SyncResponse.from_wire(decode_body(encode_body(response.to_wire()))) == response


def test_an_empty_poll_is_a_few_dozen_bytes() -> None:
    body = encode_body(SyncRequest(pull={"0123456789abcdef0123456789abcdef": 12345}).to_wire())
    assert len(body) < 80


def test_an_empty_poll_answer_with_epoch_and_statement_stays_small() -> None:
    # What a 2G link pays every poll; the bench measures the same with HTTP headers added.
    page = SpacePage(cursor=12345, epoch=3, statement=17)
    body = encode_body(SyncResponse(spaces={"0123456789abcdef0123456789abcdef": page}).to_wire())
    assert len(body) < 110


def test_a_space_page_from_an_older_server_has_no_statement_to_fetch() -> None:
    wire = {"changes": [], "cursor": 4, "more": False, "epoch": 1}
    assert SpacePage.from_wire(wire).statement == 0
    with pytest.raises(ProtocolError):
        SpacePage.from_wire({**wire, "statement": -1})


def test_statements_survive_the_wire_and_are_bounded_only_by_size() -> None:
    blob = b"MNGS\x01" + os.urandom(200)
    put = StatementPut(blob)
    assert StatementPut.from_wire(decode_body(encode_body(put.to_wire()))) == put
    # Opaque: any bytes are accepted, whatever their format, up to the limit.
    largest = StatementPut(os.urandom(LIMITS.max_statement_bytes))
    assert StatementPut.from_wire(largest.to_wire()) == largest
    with pytest.raises(ProtocolError) as too_big:
        StatementPut.from_wire({"v": 1, "statement": b"x" * (LIMITS.max_statement_bytes + 1)})
    assert too_big.value.code is ErrorCode.BODY_TOO_LARGE
    for bad in ({"v": 1, "statement": b""}, {"v": 1, "statement": "text"}, {"v": 1}):
        with pytest.raises(ProtocolError) as caught:
            StatementPut.from_wire(bad)
        assert caught.value.code is ErrorCode.BAD_MESSAGE
    with pytest.raises(ProtocolError) as old:
        StatementPut.from_wire({"v": 2, "statement": blob})
    assert old.value.code is ErrorCode.UNSUPPORTED_VERSION
    page = StatementPage((StoredStatement(1, blob), StoredStatement(2, b"y")), more=True)
    assert StatementPage.from_wire(decode_body(encode_body(page.to_wire()))) == page
    with pytest.raises(ProtocolError):
        StatementPage.from_wire({"v": 1, "statements": [{"version": 0, "statement": b"y"}]})


def test_a_zstd_bomb_is_refused_without_expanding() -> None:
    bomb = zstandard.ZstdCompressor().compress(b"\x00" * (LIMITS.max_decoded_bytes + 10))
    assert len(bomb) < 10_000
    with pytest.raises(ProtocolError) as caught:
        decode_body(bomb)
    assert caught.value.code is ErrorCode.BODY_TOO_LARGE


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", ErrorCode.BAD_ENCODING),
        (b"not zstd", ErrorCode.BAD_ENCODING),
        (zstandard.ZstdCompressor().compress(b"\xc1"), ErrorCode.BAD_ENCODING),
        (zstandard.ZstdCompressor().compress(msgpack.packb([1, 2])), ErrorCode.BAD_MESSAGE),
        (zstandard.ZstdCompressor().compress(msgpack.packb({1: 2})), ErrorCode.BAD_ENCODING),
        (
            zstandard.ZstdCompressor().compress(msgpack.packb({"v": 1}) + b"\x00"),
            ErrorCode.BAD_ENCODING,
        ),
    ],
)
def test_malformed_bodies_get_a_precise_code(body: bytes, code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_body(body)
    assert caught.value.code is code


def _mutation(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"id": "m", "space": "s", "record": "r", "base": 0, "blob": b"x"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None or k == "blob"}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"v": 2}, ErrorCode.UNSUPPORTED_VERSION),
        ({"v": True}, ErrorCode.UNSUPPORTED_VERSION),
        ({"v": 1, "push": [_mutation(base=True)]}, ErrorCode.BAD_MESSAGE),
        ({"v": 1, "push": [_mutation(base=-1)]}, ErrorCode.BAD_MESSAGE),
        ({"v": 1, "push": [_mutation(blob=None)]}, ErrorCode.BAD_MESSAGE),
        ({"v": 1, "push": [_mutation(blob="text")]}, ErrorCode.BAD_MESSAGE),
        ({"v": 1, "push": [_mutation(record="../etc")]}, ErrorCode.BAD_ID),
        ({"v": 1, "push": [_mutation(id="x" * 65)]}, ErrorCode.BAD_ID),
        ({"v": 1, "push": [_mutation(), _mutation(record="q")]}, ErrorCode.DUPLICATE_MUTATION),
        ({"v": 1, "push": [_mutation(deleted=True, chunks=["a" * 64])]}, ErrorCode.BAD_MESSAGE),
        ({"v": 1, "push": [_mutation(chunks=["A" * 64])]}, ErrorCode.BAD_ID),
        (
            {"v": 1, "push": [_mutation(blob=b"x" * (LIMITS.max_blob_bytes + 1))]},
            ErrorCode.BAD_MESSAGE,
        ),
        ({"v": 1, "push": [_mutation(id=str(n)) for n in range(501)]}, ErrorCode.BAD_MESSAGE),
        ({"v": 1, "pull": {"s": -1}}, ErrorCode.BAD_MESSAGE),
        ({"v": 1, "pull": {"bad space": 0}}, ErrorCode.BAD_ID),
        ({"v": 1, "max_bytes": 10}, ErrorCode.BAD_MESSAGE),
        ({"v": 1, "push": "x"}, ErrorCode.BAD_MESSAGE),
    ],
)
def test_invalid_sync_requests_are_refused_whole(
    message: dict[str, object], code: ErrorCode
) -> None:
    with pytest.raises(ProtocolError) as caught:
        SyncRequest.from_wire(message, Limits())
    assert caught.value.code is code


def test_a_deletion_needs_no_blob() -> None:
    request = SyncRequest.from_wire({"v": 1, "push": [_mutation(blob=None, deleted=True)]})
    assert request.push[0].deleted and request.push[0].blob is None


def test_device_ids_come_from_the_signing_key() -> None:
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    device = device_id_for(key)
    assert len(device) == 32 and device == device_id_for(key)
    assert device != device_id_for(bytes(32))


def test_invite_codes_tolerate_how_people_retype_them() -> None:
    code = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    assert check_invite(format_invite(code).lower()) == code
    assert check_invite(" ".join(format_invite(code).split("-"))) == code
    with pytest.raises(ProtocolError):
        check_invite("ABCD-1111")


def test_bodies_encode_correctly_from_many_threads_at_once() -> None:
    # The server encodes answers on a pool of worker threads; a shared zstd context breaks.
    from concurrent.futures import ThreadPoolExecutor

    # Large, partly random bodies: compression releases the GIL long enough for threads to meet.
    messages = [{"v": 1, "n": n, "blob": os.urandom(2000) * 50} for n in range(300)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        bodies = list(pool.map(encode_body, messages))
    assert [decode_body(b) for b in bodies] == messages


# --- bounded, typed decoding (issue 12) ---------------------------------------------------------


def _amplifying(containers_per_list: int = 4000, lists: int = 4000) -> bytes:
    """A small zstd frame of a msgpack map holding `lists` x `containers_per_list` empty lists."""
    inner = b"\xdc" + containers_per_list.to_bytes(2, "big") + b"\x90" * containers_per_list
    outer = b"\xdc" + lists.to_bytes(2, "big") + inner * lists
    return zstandard.ZstdCompressor().compress(b"\x82\xa1v\x01\xa4push" + outer)


def test_an_amplifying_body_is_refused_after_a_bounded_amount_of_work() -> None:
    body = _amplifying()
    assert len(body) < 4096  # about 16 million empty containers in a few kilobytes
    tracemalloc.start()
    try:
        for decode in (
            lambda: decode_message(body, SyncRequestShape),
            lambda: decode_body(body),
        ):
            tracemalloc.reset_peak()
            with pytest.raises(ProtocolError):
                decode()
            # What the expansion itself needs (the decoded bytes) plus little: never the
            # gigabyte that building every container would take.
            assert tracemalloc.get_traced_memory()[1] < 2 * LIMITS.max_decoded_bytes
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        # Bytes after the frame, and a second frame, are refused, not ignored.
        (encode_body({"v": 1, "device": "a" * 32}) + b"\x00", ErrorCode.BAD_ENCODING),
        (encode_body({"v": 1, "device": "a" * 32}) * 2, ErrorCode.BAD_ENCODING),
        # Integers are integers: 1.0 is not the version 1.
        (encode_body({"v": 1.0, "device": "a" * 32}), ErrorCode.BAD_MESSAGE),
        (encode_body({"v": 1, "device": 7}), ErrorCode.BAD_MESSAGE),
        (encode_body({"v": 1, "device": "a" * 32, "x": [[[[[]]]]] * 3}), None),
        # Nesting deeper than the interpreter's stack, in a field nobody asked for.
        (
            zstandard.ZstdCompressor().compress(b"\x82\xa1v\x01\xa1x" + b"\x91" * 50_000 + b"\xc0"),
            ErrorCode.BAD_ENCODING,
        ),
    ],
)
def test_typed_decoding_is_strict(body: bytes, code: ErrorCode | None) -> None:
    if code is None:  # unknown fields are skipped without being built
        assert decode_message(body, ChallengeRequestShape)["device"] == "a" * 32
        return
    with pytest.raises(ProtocolError) as caught:
        decode_message(body, ChallengeRequestShape)
    assert caught.value.code is code


def test_a_route_bound_refuses_a_small_body_that_expands() -> None:
    body = encode_body({"v": 1, "device": "a" * 32, "pad": b"\x00" * 5000})
    assert len(body) < 200
    with pytest.raises(ProtocolError) as caught:
        decode_message(body, ChallengeRequestShape, max_body=2048)
    assert caught.value.code is ErrorCode.BODY_TOO_LARGE


def test_a_frame_without_its_size_is_still_bounded() -> None:
    unsized = zstandard.ZstdCompressor(write_content_size=False)
    with pytest.raises(ProtocolError) as caught:
        decode_message(
            unsized.compress(b"\x00" * (LIMITS.max_decoded_bytes + 1)), SyncResponseShape
        )
    assert caught.value.code is ErrorCode.BODY_TOO_LARGE


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text() | st.binary(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=30,
    )
)
def test_any_value_in_any_field_is_refused_cleanly_or_accepted(value: object) -> None:
    for field_name in ("v", "push", "pull", "max_bytes", "junk"):
        body = encode_body({"v": 1, field_name: value})
        # Anything but a ProtocolError (a TypeError, a KeyError) would be a 500 on the server.
        with contextlib.suppress(ProtocolError):
            SyncRequest.from_wire(decode_message(body, SyncRequestShape))


def test_a_reader_declares_the_batch_version_it_opens_in_a_few_bytes() -> None:
    """PROTOCOL.md §13 "Batch versions": ``bv`` beside ``batches``, absent meaning 1 (an app
    from before it), skipped by a server's shape that does not know it, a few bytes a poll."""
    space = {"0123456789abcdef0123456789abcdef": 12345}
    old = SyncRequest(pull=space, batches=True)
    new = SyncRequest(pull=space, batches=True, batch_version=2)
    assert "bv" not in old.to_wire() and new.to_wire()["bv"] == 2
    assert SyncRequest.from_wire(decode_body(encode_body(new.to_wire()))) == new
    assert SyncRequest.from_wire(old.to_wire()).batch_version == 1
    grown = len(encode_body(new.to_wire())) - len(encode_body(old.to_wire()))
    assert 0 < grown <= 5 and len(encode_body(new.to_wire())) < 80
    for wrong in (0, 256, True, "2"):
        with pytest.raises(ProtocolError):
            SyncRequest.from_wire({**new.to_wire(), "bv": wrong})
