"""Batches (CRYPTO.md §5): tampered, swapped and mislabelled batches are refused by name, the
signer must be a writer (an admin for a snapshot) and the author the server names, and no
batch expands past the length its signed header declares."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zstandard
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sync.client.batches import open_delivery
from sync.crypto.batch import (
    SIGN_CONTEXT,
    BatchHeader,
    BatchKind,
    SealedEntry,
    open_batch,
    read_batch_header,
    seal_batch,
)
from sync.crypto.envelope import key_commitment
from sync.crypto.errors import CryptoErrorCode, EnvelopeError
from sync.crypto.keys import DeviceKeys, DevicePublicKeys
from sync.crypto.spaces import MembershipLog, SpaceKeyring, change_members, create_space
from sync.protocol import BatchDelivery, Role

ADMIN = DeviceKeys.generate()
EDITOR = DeviceKeys.generate()
READER = DeviceKeys.generate()
IDS = [f"{i:032x}" for i in range(1, 6)]


def _network() -> tuple[SpaceKeyring, bytes]:
    genesis = create_space("net", ADMIN)
    log = MembershipLog(genesis.statement.blob)
    change = change_members(
        log,
        ADMIN,
        space_key=genesis.space_key,
        add={
            EDITOR.device_id: (EDITOR.public, Role.EDITOR),
            READER.device_id: (READER.public, Role.READER),
        },
    )
    log.accept(change.statement.blob)
    ring = SpaceKeyring(READER)
    ring.add_log(log)
    ring.keys[("net", 1)] = genesis.space_key
    return ring, genesis.space_key


RING, KEY = _network()
STATEMENT = (RING.logs["net"].latest.version, RING.logs["net"].latest.hash)


def _entries(**extra: Any) -> list[SealedEntry]:
    return [SealedEntry(r, 0, {"type": "organization", "name": f"Org {r}", **extra}) for r in IDS]


def _sealed(signer: DeviceKeys = EDITOR, space: str = "net", **kw: Any) -> bytes:
    return seal_batch(
        kw.pop("entries", None) or _entries(),
        space=space,
        epoch=1,
        space_key=KEY,
        signer=signer,
        statement=STATEMENT,
        **kw,
    )


def _code(blob: bytes, author: str = EDITOR.device_id, space: str = "net") -> CryptoErrorCode:
    with pytest.raises(EnvelopeError) as refused:
        open_batch(blob, space=space, author=author, keys=RING)
    return refused.value.code


def test_a_batch_opens_with_each_record_identified_by_the_signed_manifest() -> None:
    entries = [*_entries()[:4], SealedEntry(IDS[4], 3, None)]
    opened = open_batch(_sealed(entries=entries), space="net", author=EDITOR.device_id, keys=RING)
    assert [c and (c["id"], c["space_id"]) for c in opened.contents[:4]] == [
        (r, "net") for r in IDS[:4]
    ]
    assert opened.contents[4] is None
    assert [(e.record, e.revision, e.deleted) for e in opened.header.entries][-1] == (
        IDS[4],
        4,
        True,
    )


def test_tampering_anywhere_is_refused_by_name() -> None:
    blob = _sealed()
    _header, length = read_batch_header(blob)
    for position in (5, 12, 30, 60, length - 3, length + 5, len(blob) - 70, len(blob) - 1):
        flipped = bytearray(blob)
        flipped[position] ^= 0x01
        assert _code(bytes(flipped)) in (
            CryptoErrorCode.SIGNATURE_INVALID,
            CryptoErrorCode.BAD_FORMAT,
            CryptoErrorCode.WRONG_AUTHOR,
            CryptoErrorCode.UNKNOWN_SIGNER,
            CryptoErrorCode.WRONG_EPOCH,
            CryptoErrorCode.STATEMENT_UNKNOWN,
            CryptoErrorCode.TOO_LARGE,
        ), position
    # A manifest whose ids are swapped (a record moved to another entry) is not the signed one.
    header, length = read_batch_header(blob)
    swapped = header.to_bytes().replace(bytes.fromhex(IDS[0]), b"\xff" * 16, 1)
    assert _code(swapped + blob[length:]) is CryptoErrorCode.SIGNATURE_INVALID


def test_a_batch_moved_to_another_space_or_author_is_refused() -> None:
    assert _code(_sealed(), space="other") is CryptoErrorCode.WRONG_SPACE
    # Signed by the editor, stated by the server as the admin's: records claimed by another.
    assert _code(_sealed(), author=ADMIN.device_id) is CryptoErrorCode.WRONG_AUTHOR


def test_the_signer_must_be_a_writer_and_a_snapshot_an_admin() -> None:
    assert _code(_sealed(READER), author=READER.device_id) is CryptoErrorCode.UNKNOWN_SIGNER
    snapshot = _sealed(EDITOR, kind=BatchKind.SNAPSHOT)
    assert _code(snapshot) is CryptoErrorCode.UNKNOWN_SIGNER
    by_admin = _sealed(ADMIN, kind=BatchKind.SNAPSHOT)
    assert open_batch(by_admin, space="net", author=ADMIN.device_id, keys=RING).contents[0]


def _forged(
    plaintext: bytes, declared: int, signer: DeviceKeys = EDITOR, version: int = 2
) -> bytes:
    """A batch its signer built by hand: a hostile member, not the module."""
    from sync.crypto.batch import BatchEntry

    header = BatchHeader(
        BatchKind.BATCH,
        1,
        signer.device_id,
        bytes(12),
        STATEMENT[0],
        STATEMENT[1],
        key_commitment("net", 1, KEY),
        bytes(16),
        declared,
        "net",
        tuple(BatchEntry(r, 0, False) for r in IDS),
        version,
    ).to_bytes()
    ciphertext = ChaCha20Poly1305(KEY).encrypt(bytes(12), plaintext, header)
    return header + ciphertext + signer.sign(SIGN_CONTEXT + header + ciphertext)


def test_content_never_expands_past_its_declared_length_nor_claims_its_own_identity() -> None:
    packed = msgpack.packb([{"name": "x" * 1000} for _ in IDS])
    compressed = zstandard.ZstdCompressor().compress(packed)
    assert _code(_forged(compressed, 100)) is CryptoErrorCode.TOO_LARGE
    assert _code(_forged(compressed, 9 * 1024 * 1024)) is CryptoErrorCode.TOO_LARGE
    claims = msgpack.packb([{"id": IDS[1], "name": "x"} for _ in IDS])
    forged = _forged(zstandard.ZstdCompressor().compress(claims), len(claims))
    assert _code(forged) is CryptoErrorCode.BAD_CONTENT
    short = msgpack.packb([{"name": "x"}])
    assert _code(_forged(zstandard.ZstdCompressor().compress(short), len(short))) is (
        CryptoErrorCode.BAD_CONTENT
    )


def test_content_nested_past_what_any_reader_opens_is_refused() -> None:
    """Lists 1,000 deep under a field: msgpack opens them, json and the merge do not (rev14)."""
    deep: Any = "x"
    for _ in range(1000):
        deep = [deep]
    packed = msgpack.packb([{"name": "x", "annex": deep} for _ in IDS])
    assert _code(_forged(zstandard.ZstdCompressor().compress(packed), len(packed))) is (
        CryptoErrorCode.BAD_CONTENT
    )


def test_content_holding_bytes_is_refused() -> None:
    """No Minga seals bytes (contents are stored as JSON): a decision mark or any field holding
    one (a value or a map key) made every reader's json raise TypeError (rev-marks)."""
    for item in (
        {"name": "x", "decided": {"name": b"\x00\x01"}},
        {"name": "x", "decided": {b"name": "00ff00ff00ff00ff"}},
        {"name": b"x"},
    ):
        packed = msgpack.packb([item for _ in IDS], use_bin_type=True)
        assert _code(_forged(zstandard.ZstdCompressor().compress(packed), len(packed))) is (
            CryptoErrorCode.BAD_CONTENT
        ), item


def test_a_delivery_names_entries_only_inside_its_manifest_and_its_page() -> None:
    blob = _sealed()
    delivery = BatchDelivery(blob, EDITOR.device_id, ((0, 11, 5),))
    opened = open_delivery("net", delivery, RING, after=12, upto=14)
    assert [(c.record, c.seq, c.revision) for c in opened.changes] == [
        (IDS[2], 13, 1),
        (IDS[3], 14, 1),
    ]
    with pytest.raises(EnvelopeError) as refused:
        open_delivery("net", BatchDelivery(blob, EDITOR.device_id, ((3, 11, 3),)), RING, 0, 99)
    assert refused.value.code is CryptoErrorCode.BAD_FORMAT


def test_a_manifest_too_long_is_refused_before_anything_is_built() -> None:
    blob = _sealed()
    header, length = read_batch_header(blob)
    fixed = 4 + 1 + 1 + 4 + 16 + 12 + 4 + 32 + 32 + 16 + 4 + 1 + 3
    huge = blob[:fixed] + struct.pack(">I", 2**31) + blob[fixed + 4 :]
    assert _code(huge) is CryptoErrorCode.TOO_LARGE
    assert header.space == "net" and length < len(blob)


# --- version 2: ids packed, content compressed with the batch's ids as its dictionary ---------


class _FixtureKeys:
    """The keys tests/crypto/data/batch_v1.bin was sealed with (fixed seeds)."""

    signer = DeviceKeys.from_seeds(bytes(range(32)), bytes(range(32, 64)))

    def space_key(self, space: str, epoch: int) -> bytes | None:
        return bytes(range(100, 132)) if (space, epoch) == ("net", 1) else None

    def author_keys(self, space: str, epoch: int, device: str) -> DevicePublicKeys | None:
        return self.signer.public if device == self.signer.device_id else None

    def admin_keys_at(self, space: str, epoch: int, device: str) -> DevicePublicKeys | None:
        return None

    def statement_at(self, space: str, version: int) -> tuple[int, bytes] | None:
        return (1, bytes(range(200, 232))) if version == 2 else None

    def epoch_committed(self, space: str, epoch: int) -> bool:
        return epoch == 1


def test_a_version_1_batch_sealed_before_still_opens() -> None:
    # Sealed by the code before version 2 (766a49a; /tmp script in notes/e19-bytes.md): the
    # kind of batch a server keeps from before, which a new client must still read.
    blob = (Path(__file__).parent / "data" / "batch_v1.bin").read_bytes()
    keys = _FixtureKeys()
    opened = open_batch(blob, space="net", author=keys.signer.device_id, keys=keys)
    assert opened.header.version == 1
    ids = [f"{i:032x}" for i in range(1, 4)]
    assert [(e.record, e.revision, e.deleted) for e in opened.header.entries] == [
        (ids[0], 1, False),
        (ids[1], 1, False),
        (ids[2], 3, True),
        ("legacy_id-7", 1, False),
    ]
    assert opened.contents[1] == {
        "type": "person",
        "name": "Ana",
        "organization_id": ids[0],
        "id": ids[1],
        "space_id": "net",
    }
    assert opened.contents[2] is None and opened.contents[3]
    # Its bytes still say version 1, and tampering with them is refused as before.
    flipped = bytearray(blob)
    flipped[-80] ^= 1
    with pytest.raises(EnvelopeError) as refused:
        open_batch(bytes(flipped), space="net", author=keys.signer.device_id, keys=keys)
    assert refused.value.code is CryptoErrorCode.SIGNATURE_INVALID


def test_a_new_batch_packs_its_ids_and_compresses_with_them_as_its_dictionary() -> None:
    # Each content names the record before it, as people name their organization.
    entries = [
        SealedEntry(r, 0, {"type": "person", "organization_id": IDS[i - 1]})
        for i, r in enumerate(IDS)
    ]
    blob = _sealed(entries=entries)
    header, length = read_batch_header(blob)
    assert header.version == 2 and blob[4] == 2
    manifest = msgpack.unpackb(blob[length - _manifest_length(blob) : length])
    assert manifest["ids"] == b"".join(bytes.fromhex(r) for r in IDS)
    opened = open_batch(blob, space="net", author=EDITOR.device_id, keys=RING)
    assert [c and c["organization_id"] for c in opened.contents] == [IDS[-1], *IDS[:-1]]
    # A manifest that mixes a hex id with another keeps the ids one by one.
    mixed = _sealed(entries=[*entries[:2], SealedEntry("legacy_id-7", 0, {"x": 1})])
    assert read_batch_header(mixed)[0].entries[2].record == "legacy_id-7"
    assert open_batch(mixed, space="net", author=EDITOR.device_id, keys=RING).contents[2]


def _manifest_length(blob: bytes) -> int:
    fixed = 4 + 1 + 1 + 4 + 16 + 12 + 4 + 32 + 32 + 16 + 4
    position = fixed + 1 + blob[fixed]
    length: int = struct.unpack_from(">I", blob, position)[0]
    return length


def test_a_dictionary_compressed_batch_tampered_or_forged_is_refused_by_name() -> None:
    blob = _sealed()
    _header, length = read_batch_header(blob)
    for position in (length + 3, len(blob) - 70):
        flipped = bytearray(blob)
        flipped[position] ^= 0x01
        assert _code(bytes(flipped)) is CryptoErrorCode.SIGNATURE_INVALID, position
    # The ids packed, one of them swapped: not the signed manifest.
    swapped = blob.replace(bytes.fromhex(IDS[0]), bytes.fromhex(IDS[0])[::-1], 1)
    assert swapped != blob and _code(swapped) is CryptoErrorCode.SIGNATURE_INVALID
    # A member's own forgery, signed and dictionary-compressed: no dictionary lets it expand
    # past the length its header declares.
    bomb = msgpack.packb([{"name": "x" * 200_000} for _ in IDS])
    compressed = zstandard.ZstdCompressor().compress(bomb)
    assert _code(_forged(compressed, 1000)) is CryptoErrorCode.TOO_LARGE
    # Packed ids are a version 2 spelling only, and whole ids only.
    ids = b"".join(bytes.fromhex(r) for r in IDS)
    for version, packed_ids in ((1, ids), (2, ids[:-1])):
        manifest = msgpack.packb({"ids": packed_ids, "base": [0] * 5, "gone": []})
        with pytest.raises(EnvelopeError) as refused:
            read_batch_header(_with_manifest(blob, manifest, version))
        assert refused.value.code is CryptoErrorCode.BAD_FORMAT, version
    assert (
        len(
            read_batch_header(
                _with_manifest(blob, msgpack.packb({"ids": ids, "base": [0] * 5}), 2)
            )[0].entries
        )
        == 5
    )


def _with_manifest(blob: bytes, manifest: bytes, version: int) -> bytes:
    """``blob``'s header with another manifest and version (unsigned: only the header parse
    is asked)."""
    _header, length = read_batch_header(blob)
    start = length - _manifest_length(blob)
    head = bytearray(blob[: start - 4])
    head[4] = version
    return bytes(head) + struct.pack(">I", len(manifest)) + manifest + blob[length:]


def _forged_deletions(items: list[Any], version: int) -> bytes:
    """A batch of deletions only, built by hand with ``items`` as their plaintext entries."""
    from sync.crypto.batch import BatchEntry

    packed = msgpack.packb(items, use_bin_type=True)
    entries = tuple(BatchEntry(r, 2, True) for r in IDS[: len(items)])
    header = BatchHeader(
        BatchKind.BATCH,
        1,
        EDITOR.device_id,
        bytes(12),
        STATEMENT[0],
        STATEMENT[1],
        key_commitment("net", 1, KEY),
        bytes(16),
        len(packed),
        "net",
        entries,
        version,
    )
    plaintext = zstandard.ZstdCompressor(
        dict_data=zstandard.ZstdCompressionDict(
            b"".join(msgpack.packb(e.record) for e in entries),
            dict_type=zstandard.DICT_TYPE_RAWCONTENT,
        )
    ).compress(packed)
    raw = header.to_bytes()
    ciphertext = ChaCha20Poly1305(KEY).encrypt(bytes(12), plaintext, raw)
    return raw + ciphertext + EDITOR.sign(SIGN_CONTEXT + raw + ciphertext)


def test_a_deletion_in_a_batch_carries_its_tombstone_facts_at_version_3() -> None:
    """CRYPTO.md §5: a batch holding a deletion is version 3, each deletion with every known
    fact sealed (``alone``: a child deleted by itself); one without a deletion stays 2."""
    entries = [
        *_entries()[:3],
        SealedEntry(IDS[3], 3, None, {"alone": True}),
        SealedEntry(IDS[4], 1, None),
    ]
    blob = _sealed(entries=entries)
    assert blob[4] == 3 and read_batch_header(blob)[0].version == 3
    opened = open_batch(blob, space="net", author=EDITOR.device_id, keys=RING)
    assert opened.contents[3] is None and opened.contents[4] is None
    assert [opened.alone(i) for i in range(5)] == [False, False, False, True, False]
    assert opened.facts[3] == {"alone": True} and opened.facts[4] == {"alone": False}
    assert _sealed()[4] == 2
    with pytest.raises(ValueError):
        _sealed(entries=[SealedEntry(IDS[0], 1, None, {"alone": "yes"})])


def test_tombstone_facts_in_a_batch_are_checked_and_unknown_ones_ignored() -> None:
    opened = open_batch(
        _forged_deletions([{"alone": True, "later": 1}, None], 3),
        space="net",
        author=EDITOR.device_id,
        keys=RING,
    )
    assert opened.alone(0) and not opened.alone(1)
    # Version 2 holds nil for a deletion, as before; a known fact of another type, bytes or
    # a deletion's facts that are not a map are refused by name.
    for items, version in (
        ([{"alone": True}], 2),
        ([{"alone": 1}], 3),
        ([{"alone": True, "x": b"\x00"}], 3),
        ([[True]], 3),
    ):
        assert _code(_forged_deletions(items, version)) is CryptoErrorCode.BAD_CONTENT
