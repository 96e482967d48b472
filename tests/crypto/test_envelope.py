"""Record envelopes: a known-answer vector, round trips, and every tampering refused by code."""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import msgpack
import pytest
import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.crypto.envelope import (
    EnvelopeHeader,
    EnvelopeKind,
    carries_facts,
    open_record,
    read_header,
    seal_record,
    seal_tombstone,
)
from sync.crypto.errors import CryptoErrorCode, EnvelopeError
from sync.crypto.keys import DeviceKeys, DevicePublicKeys

SIGN_SEED = bytes(range(32))
BOX_SEED = bytes(range(32, 64))
SPACE_KEY = bytes(range(64, 96))
NONCE = bytes.fromhex("000102030405060708090a0b")
CONTENT: dict[str, Any] = {
    "type": "incident",
    "schema": 1,
    "title": "Desalojo forzoso — إخلاء قسري",
    "rights": ["housing", "water"],
    "latitude": -12.5,
    "headcount": 40,
}


@dataclass
class Keyring:
    """The verified state opening needs, as plain dicts: (space, epoch) → key, writers."""

    keys: dict[tuple[str, int], bytes] = field(default_factory=dict)
    writers: dict[tuple[str, int], dict[str, DevicePublicKeys]] = field(default_factory=dict)

    def add(self, space: str, epoch: int, key: bytes, *writers: DeviceKeys) -> None:
        self.keys[(space, epoch)] = key
        self.writers.setdefault((space, epoch), {}).update({w.device_id: w.public for w in writers})

    def space_key(self, space: str, epoch: int) -> bytes | None:
        return self.keys.get((space, epoch))

    def author_keys(self, space: str, epoch: int, device: str) -> DevicePublicKeys | None:
        return self.writers.get((space, epoch), {}).get(device)

    def epoch_committed(self, space: str, epoch: int) -> bool:
        return False  # format-1 statements only: these vectors predate key commitments


ALICE = DeviceKeys.from_seeds(SIGN_SEED, BOX_SEED)
BOB_SEED = bytes(range(100, 132))
BOB = DeviceKeys.from_seeds(BOB_SEED, BOX_SEED)
OUTSIDER = DeviceKeys.generate()


def _keyring() -> Keyring:
    ring = Keyring()
    ring.add("net", 3, SPACE_KEY, ALICE, BOB)
    ring.add("net", 4, bytes(32), ALICE, BOB)
    ring.add("wg-water", 3, SPACE_KEY, ALICE, BOB)
    return ring


#: What the tests seal records and tombstones as, unless told otherwise.
_SEALED_AS: dict[str, Any] = {
    "space": "net",
    "record": "inc-1",
    "revision": 8,
    "base": 7,
    "epoch": 3,
    "space_key": SPACE_KEY,
    "author": ALICE,
}


def _seal(**overrides: Any) -> bytes:
    arguments: dict[str, Any] = {**_SEALED_AS, **overrides}
    return seal_record(CONTENT, **arguments)


def _open(blob: bytes, **overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "space": "net",
        "record": "inc-1",
        "revision": 8,
        "keys": _keyring(),
    }
    arguments.update(overrides)
    return open_record(blob, **arguments)


def _code(blob: bytes, **overrides: Any) -> CryptoErrorCode:
    with pytest.raises(EnvelopeError) as caught:
        _open(blob, **overrides)
    return caught.value.code


def _header(
    kind: int = 0, epoch: int = 3, space: bytes = b"net", record: bytes = b"inc-1"
) -> bytes:
    device = hashlib.sha256(ALICE.public.sign_key).digest()[:16]
    return (
        b"MNGR"
        + bytes([1, kind])
        + struct.pack(">IQQ", epoch, 8, 7)
        + device
        + NONCE
        + bytes([len(space)])
        + space
        + bytes([len(record)])
        + record
    )


def _forge(
    header: bytes, plaintext: bytes, key: bytes = SPACE_KEY, signer: bytes = SIGN_SEED
) -> bytes:
    """An envelope built from the primitives, as a writer holding the keys could."""
    ciphertext = ChaCha20Poly1305(key).encrypt(NONCE, plaintext, header)
    signature = Ed25519PrivateKey.from_private_bytes(signer).sign(
        b"minga-record-v1\x00" + header + ciphertext
    )
    return header + ciphertext + signature


def test_known_answer_vector_record() -> None:
    packed = msgpack.packb(CONTENT, use_bin_type=True)
    plaintext = zstandard.ZstdCompressor(level=6, write_checksum=False).compress(packed)
    expected = _forge(_header(), plaintext)
    assert _seal(nonce=NONCE) == expected
    assert _header().hex() == (
        "4d4e4752"
        "01"
        "00"
        "00000003"
        "0000000000000008"
        "0000000000000007"
        + hashlib.sha256(ALICE.public.sign_key).digest()[:16].hex()
        + NONCE.hex()
        + "03"
        + b"net".hex()
        + "05"
        + b"inc-1".hex()
    )
    opened = _open(expected)
    assert opened.content == CONTENT and not opened.deleted


def test_known_answer_vector_tombstone() -> None:
    blob = seal_tombstone(
        space="net",
        record="inc-1",
        revision=8,
        base=7,
        epoch=3,
        space_key=SPACE_KEY,
        author=ALICE,
        nonce=NONCE,
    )
    assert blob == _forge(_header(kind=1), b"")
    # Pinned bytes: a change of the format must show up here and in sync/CRYPTO.md.
    assert hashlib.sha256(blob).hexdigest() == TOMBSTONE_SHA256
    opened = _open(blob)
    assert opened.deleted and opened.content is None
    assert opened.header.author == ALICE.device_id


@pytest.mark.parametrize(
    "content", [{"x": b""}, {"decided": {"name": b"\x01"}}, {"decided": {b"name": "t"}}]
)
def test_content_holding_bytes_is_refused(content: dict[str, Any]) -> None:
    # Contents are JSON-shaped (every Minga stores them as JSON): bytes, sealed only by a
    # hostile or broken app, stopped every reader's sync at json.dumps (rev-marks).
    blob = seal_record(
        content,
        space="net",
        record="inc-1",
        revision=8,
        base=7,
        epoch=3,
        space_key=SPACE_KEY,
        author=BOB,
    )
    assert _code(blob, author=BOB.device_id) is CryptoErrorCode.BAD_CONTENT


TOMBSTONE_SHA256 = "ba80b39e1e84460f4f3b5d63f483f1ee30a540fef37cd2256d4755e7e9383e36"


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=20),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers(-(2**63), 2**63 - 1)
            | st.text()
            | st.floats(allow_nan=False),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
            max_leaves=12,
        ),
        max_size=8,
    )
)
def test_round_trip(content: dict[str, Any]) -> None:
    blob = seal_record(
        content,
        space="net",
        record="inc-1",
        revision=8,
        base=7,
        epoch=3,
        space_key=SPACE_KEY,
        author=BOB,
    )
    opened = _open(blob, author=BOB.device_id)
    assert opened.content == content
    assert opened.header == EnvelopeHeader(
        EnvelopeKind.RECORD, 3, 8, 7, BOB.device_id, opened.header.nonce, "net", "inc-1"
    )


def test_nonces_are_fresh() -> None:
    assert read_header(_seal())[0].nonce != read_header(_seal())[0].nonce


def test_every_bit_flip_is_refused() -> None:
    blob = _seal()
    header_length = read_header(blob)[1]
    for position in range(len(blob)):
        for bit in (0, 5):
            damaged = bytearray(blob)
            damaged[position] ^= 1 << bit
            code = _code(bytes(damaged))
            if position >= header_length:  # ciphertext or signature
                assert code is CryptoErrorCode.SIGNATURE_INVALID, position
            else:
                assert code is not CryptoErrorCode.DECRYPT_FAILED, position


def test_a_blob_moved_to_another_record_or_space_is_named() -> None:
    blob = _seal()
    assert _code(blob, record="inc-2") is CryptoErrorCode.WRONG_RECORD
    assert _code(blob, space="wg-water") is CryptoErrorCode.WRONG_SPACE


def test_rewriting_the_binding_to_fit_breaks_the_signature() -> None:
    header, plaintext = _header(), b"irrelevant"
    genuine = _forge(header, plaintext)
    ciphertext_and_signature = genuine[len(header) :]
    moved = _header(record=b"inc-2") + ciphertext_and_signature
    assert _code(moved, record="inc-2") is CryptoErrorCode.SIGNATURE_INVALID
    other_space = _header(space=b"wg-water") + ciphertext_and_signature
    assert _code(other_space, space="wg-water") is CryptoErrorCode.SIGNATURE_INVALID
    relabelled_epoch = _header(epoch=4) + ciphertext_and_signature
    assert _code(relabelled_epoch) is CryptoErrorCode.SIGNATURE_INVALID


def test_an_old_revision_replayed_as_a_newer_one_is_named() -> None:
    old = _seal(revision=5, base=4)
    assert _code(old) is CryptoErrorCode.WRONG_REVISION
    assert _open(old, revision=5).content == CONTENT


def test_a_base_that_does_not_precede_the_revision_is_refused() -> None:
    header = bytearray(_header())
    header[18:26] = struct.pack(">Q", 6)  # base 6 for revision 8
    assert _code(_forge(bytes(header), b"x")) is CryptoErrorCode.WRONG_BASE
    with pytest.raises(ValueError):
        _seal(revision=8, base=6)


def test_epochs_unknown_superseded_or_unheld_are_refused() -> None:
    blob = _seal()
    assert _code(blob, min_epoch=4) is CryptoErrorCode.WRONG_EPOCH
    assert _open(blob, min_epoch=3).content == CONTENT
    ring = _keyring()
    ring.writers[("net", 9)] = {ALICE.device_id: ALICE.public}
    later = _seal(epoch=9)
    assert _code(later, keys=ring) is CryptoErrorCode.KEY_UNAVAILABLE
    assert _code(later) is CryptoErrorCode.UNKNOWN_SIGNER


def test_authors_wrong_unknown_or_impersonated_are_refused() -> None:
    blob = _seal()
    assert _code(blob, author=BOB.device_id) is CryptoErrorCode.WRONG_AUTHOR
    assert _open(blob, author=ALICE.device_id).content == CONTENT
    outsider = _seal(author=OUTSIDER)
    assert _code(outsider) is CryptoErrorCode.UNKNOWN_SIGNER
    # Bob, a member, signs a blob that claims Alice wrote it.
    impersonation = _forge(_header(), b"x", signer=BOB_SEED)
    assert _code(impersonation) is CryptoErrorCode.SIGNATURE_INVALID
    # The server's listed keys for Alice must really be Alice's.
    ring = _keyring()
    ring.writers[("net", 3)][ALICE.device_id] = BOB.public
    assert _code(blob, keys=ring) is CryptoErrorCode.UNKNOWN_SIGNER


def test_a_writer_sealing_under_a_wrong_key_is_caught_at_decryption() -> None:
    blob = _forge(_header(), b"x", key=os.urandom(32))
    assert _code(blob) is CryptoErrorCode.DECRYPT_FAILED


def test_zstd_bomb_is_refused_without_expanding() -> None:
    bomb = zstandard.ZstdCompressor(level=19).compress(bytes(5 * 1024 * 1024))
    assert len(bomb) < 2048
    assert _code(_forge(_header(), bomb)) is CryptoErrorCode.TOO_LARGE


@pytest.mark.parametrize(
    "plaintext",
    [
        b"not zstd",
        zstandard.ZstdCompressor().compress(msgpack.packb([1, 2, 3])),
        zstandard.ZstdCompressor().compress(msgpack.packb({1: "x"}, strict_types=False)),
        zstandard.ZstdCompressor().compress(b"\xc1"),
        zstandard.ZstdCompressor().compress(msgpack.packb({"a": 1}) + b"\x00"),
    ],
)
def test_content_that_is_not_one_text_keyed_map_is_refused(plaintext: bytes) -> None:
    assert _code(_forge(_header(), plaintext)) is CryptoErrorCode.BAD_CONTENT


def test_a_tombstone_with_content_is_refused() -> None:
    assert _code(_forge(_header(kind=1), b"x")) is CryptoErrorCode.BAD_CONTENT


def test_malformed_blobs_are_refused_before_any_key_is_used() -> None:
    blob = _seal()
    assert _code(blob[:40]) is CryptoErrorCode.BAD_FORMAT
    assert _code(b"PK\x03\x04" + blob[4:]) is CryptoErrorCode.BAD_FORMAT
    assert _code(blob[:4] + b"\x03" + blob[5:]) is CryptoErrorCode.UNSUPPORTED_VERSION
    # A format-1 envelope relabelled 2 lacks the statement binding: cut short, not read.
    assert _code(blob[:4] + b"\x02" + blob[5:]) is CryptoErrorCode.BAD_FORMAT
    assert _code(blob[:5] + b"\x07" + blob[6:]) is CryptoErrorCode.BAD_FORMAT
    header_length = read_header(blob)[1]
    assert _code(blob[: header_length + 70]) is CryptoErrorCode.BAD_FORMAT
    assert _code(blob + b"\x00") is CryptoErrorCode.SIGNATURE_INVALID
    assert _code(bytes(2 * 1024 * 1024)) is CryptoErrorCode.TOO_LARGE
    long_id = bytearray(blob)
    long_id[58] = 200  # the space id's length runs past the blob's ids
    assert _code(bytes(long_id)) is CryptoErrorCode.BAD_FORMAT


def test_sealing_refuses_what_the_server_would_refuse() -> None:
    with pytest.raises(EnvelopeError) as caught:
        seal_record(
            {"narrative": os.urandom(1100 * 1024)},
            space="net",
            record="r",
            revision=1,
            base=0,
            epoch=1,
            space_key=SPACE_KEY,
            author=ALICE,
        )
    assert caught.value.code is CryptoErrorCode.TOO_LARGE
    for bad in (
        {"space": "no spaces"},
        {"record": "x" * 65},
        {"space_key": b"short"},
        {"epoch": -1},
        {"nonce": b"short"},
    ):
        with pytest.raises(ValueError):
            _seal(**bad)


def _tombstone(**overrides: Any) -> bytes:
    arguments: dict[str, Any] = {**_SEALED_AS, **overrides}
    return seal_tombstone(**arguments)


def _facts_plaintext(facts: Any) -> bytes:
    packed = msgpack.packb(facts, use_bin_type=True)
    return zstandard.ZstdCompressor(level=6, write_checksum=False).compress(packed)


def test_a_tombstone_carries_its_facts_sealed_and_the_same_length_whatever_they_say() -> None:
    """CRYPTO.md §2 "Tombstone facts": the fact lives in the ciphertext, and a tombstone that
    says "deleted alone" is as long as one that does not, so the server learns nothing."""
    alone = _tombstone(facts={"alone": True})
    taken = _tombstone(facts={"alone": False})
    assert len(alone) == len(taken)
    assert read_header(alone)[0].kind is EnvelopeKind.TOMBSTONE
    assert carries_facts(alone) and carries_facts(taken)
    assert not carries_facts(_tombstone()) and not carries_facts(_seal())
    opened = _open(alone)
    assert opened.deleted and opened.content is None and opened.alone
    assert dict(opened.facts) == {"alone": True}
    assert not _open(taken).alone
    # A tombstone from before facts (empty plaintext) still opens, saying nothing.
    old = _open(_tombstone())
    assert old.deleted and not old.alone and dict(old.facts) == {}


def test_a_tombstone_fact_this_version_does_not_know_is_ignored() -> None:
    """A later version's fact does not break this reader: unknown keys are skipped."""
    blob = _forge(_header(kind=1), _facts_plaintext({"alone": True, "later": [1, "x"]}))
    opened = _open(blob)
    assert opened.alone and opened.facts["later"] == [1, "x"]
    assert not _open(_forge(_header(kind=1), _facts_plaintext({"later": 1}))).alone


@pytest.mark.parametrize(
    "facts",
    [{"alone": 1}, {"alone": "yes"}, {"alone": None}, {"alone": [True]}],
)
def test_a_known_tombstone_fact_of_another_type_is_refused_by_name(facts: dict[str, Any]) -> None:
    assert _code(_forge(_header(kind=1), _facts_plaintext(facts))) is CryptoErrorCode.BAD_CONTENT
    with pytest.raises(ValueError):
        _tombstone(facts=facts)


def test_a_tampered_tombstone_with_facts_is_refused_by_name() -> None:
    blob = bytearray(_tombstone(facts={"alone": True}))
    header_length = read_header(bytes(blob))[1]
    blob[header_length] ^= 1  # the sealed facts
    assert _code(bytes(blob)) is CryptoErrorCode.SIGNATURE_INVALID
    # Facts that are not one map are refused as any content is.
    assert _code(_forge(_header(kind=1), _facts_plaintext([True]))) is CryptoErrorCode.BAD_CONTENT
