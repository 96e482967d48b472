"""Epoch keys committed, envelopes bound to their statement and key (issue 13, findings 1 and 4).

Format 2 of the membership statement commits to its epoch's key; format 2 of the record envelope
names the statement it was sealed under (version and hash) and commits to its key. Old formats
still read. Known-answer vectors are recomputed from the primitives, independent of the module.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import msgpack
import pytest
import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sync.crypto.envelope import key_commitment, open_record, read_header, seal_record
from sync.crypto.errors import CryptoError, CryptoErrorCode, EnvelopeError
from sync.crypto.keys import DeviceKeys
from sync.crypto.spaces import (
    GENESIS_PREVIOUS,
    Member,
    MembershipLog,
    MembershipStatement,
    SpaceKeyring,
    change_members,
    create_space,
    new_space_key,
    wrap_space_key,
)
from sync.protocol import Role

ADMIN = DeviceKeys.from_seeds(bytes(range(32)), bytes(range(32, 64)))
MEMBER = DeviceKeys.from_seeds(bytes(range(100, 132)), bytes(range(132, 164)))
SPACE_KEY = bytes(range(64, 96))
NONCE = bytes.fromhex("000102030405060708090a0b")
CONTENT: dict[str, Any] = {"id": "inc-1", "space_id": "net", "title": "Desalojo — إخلاء"}


def _network() -> tuple[MembershipLog, bytes]:
    """A genesis and a statement adding MEMBER, both format 2; the epoch-1 key."""
    genesis = create_space("net", ADMIN)
    log = MembershipLog(genesis.statement.blob)
    change = change_members(
        log,
        ADMIN,
        space_key=genesis.space_key,
        add={MEMBER.device_id: (MEMBER.public, Role.EDITOR)},
    )
    log.accept(change.statement.blob)
    return log, genesis.space_key


def _keyring(log: MembershipLog, key: bytes, device: DeviceKeys = MEMBER) -> SpaceKeyring:
    ring = SpaceKeyring(device)
    ring.add_log(log)
    ring.keys[("net", 1)] = key
    return ring


# --- epoch keys committed --------------------------------------------------------------------


def test_statements_commit_to_the_epoch_key_and_a_wrap_of_another_key_is_refused() -> None:
    log, key = _network()
    assert [s.format for s in log.statements] == [2, 2]
    assert log.key_commitment(1) == key_commitment("net", 1, key)
    ring = SpaceKeyring(MEMBER)
    ring.add_log(log)
    genuine = wrap_space_key(key, space="net", epoch=1, recipient=MEMBER.public, issuer=ADMIN)
    assert ring.add_wrap("net", 1, genuine) == key
    # The admin (or a removed admin's laptop) wraps another key for the same epoch to one member:
    # signed by an admin of that epoch, so format 1 had nothing to refuse it with.
    other = wrap_space_key(
        new_space_key(), space="net", epoch=1, recipient=MEMBER.public, issuer=ADMIN
    )
    fresh = SpaceKeyring(MEMBER)
    fresh.add_log(log)
    with pytest.raises(CryptoError) as refused:
        fresh.add_wrap("net", 1, other)
    assert refused.value.code is CryptoErrorCode.KEY_MISMATCH
    assert fresh.space_key("net", 1) is None


def test_a_second_key_for_a_held_epoch_is_refused_even_without_a_commitment() -> None:
    """Format-1 statements commit to nothing: the first key held stays, a second is refused."""
    genesis = MembershipStatement.issue(
        space="old",
        version=1,
        epoch=1,
        previous=GENESIS_PREVIOUS,
        members=[Member(ADMIN.public, Role.ADMIN), Member(MEMBER.public, Role.EDITOR)],
        issuer=ADMIN,
    )
    assert genesis.format == 1 and genesis.key_commitment is None
    ring = SpaceKeyring(MEMBER)
    ring.add_log(MembershipLog(genesis.blob))
    first, second = new_space_key(), new_space_key()
    for key in (first, first):  # the same key again is harmless
        ring.add_wrap(
            "old",
            1,
            wrap_space_key(key, space="old", epoch=1, recipient=MEMBER.public, issuer=ADMIN),
        )
    with pytest.raises(CryptoError) as refused:
        ring.add_wrap(
            "old",
            1,
            wrap_space_key(second, space="old", epoch=1, recipient=MEMBER.public, issuer=ADMIN),
        )
    assert refused.value.code is CryptoErrorCode.KEY_CONFLICT
    assert ring.space_key("old", 1) == first


def test_one_epoch_one_commitment_and_no_downgrade() -> None:
    log, key = _network()
    latest = log.latest
    members = list(latest.members)
    another = MembershipStatement.issue(
        space="net",
        version=latest.version + 1,
        epoch=latest.epoch,
        previous=latest.hash,
        members=members,
        issuer=ADMIN,
        key=key_commitment("net", 1, new_space_key()),
    )
    with pytest.raises(CryptoError) as refused:
        log.accept(another.blob)
    assert refused.value.code is CryptoErrorCode.MEMBERSHIP_INVALID
    downgrade = MembershipStatement.issue(
        space="net",
        version=latest.version + 1,
        epoch=latest.epoch,
        previous=latest.hash,
        members=members,
        issuer=ADMIN,
    )
    with pytest.raises(CryptoError) as refused:
        log.accept(downgrade.blob)
    assert refused.value.code is CryptoErrorCode.MEMBERSHIP_INVALID
    # A rotation commits to the new key; format 1 before format 2 is an upgrade, accepted.
    rotated = change_members(log, ADMIN, space_key=key, rotate=True)
    log.accept(rotated.statement.blob)
    assert log.key_commitment(2) == key_commitment("net", 2, rotated.space_key)


# --- envelopes bound to their statement and key -----------------------------------------------


def _sealed(log: MembershipLog, key: bytes, version: int | None = None, **overrides: Any) -> bytes:
    statement = log.statements[(version or log.latest.version) - 1]
    arguments: dict[str, Any] = {
        "space": "net",
        "record": "inc-1",
        "revision": 1,
        "base": 0,
        "epoch": 1,
        "space_key": key,
        "author": ADMIN,
        "statement": (statement.version, statement.hash),
    }
    arguments.update(overrides)
    return seal_record(CONTENT, **arguments)


def _open(blob: bytes, ring: SpaceKeyring) -> Any:
    return open_record(blob, space="net", record="inc-1", revision=1, keys=ring)


def _code(blob: bytes, ring: SpaceKeyring) -> CryptoErrorCode:
    with pytest.raises(EnvelopeError) as refused:
        _open(blob, ring)
    return refused.value.code


def test_an_envelope_names_its_statement_and_a_member_shown_a_fork_learns_of_it() -> None:
    log, key = _network()
    blob = _sealed(log, key)
    header, _length = read_header(blob)
    assert header.version == 2 and header.binding is not None
    assert header.binding.statement_version == 2
    assert header.binding.statement_hash == log.latest.hash
    assert _open(blob, _keyring(log, key)).content == CONTENT

    # A member whose version 2 is another statement (a removed admin's branch) refuses it.
    genesis = log.statements[0]
    forked_log = MembershipLog(genesis.blob)
    forked = change_members(
        forked_log, ADMIN, space_key=key, add={MEMBER.device_id: (MEMBER.public, Role.READER)}
    )
    forked_log.accept(forked.statement.blob)
    assert forked_log.latest.hash != log.latest.hash
    assert _code(blob, _keyring(forked_log, key)) is CryptoErrorCode.MEMBERSHIP_FORK
    # One that holds only the genesis must fetch statements first.
    assert _code(blob, _keyring(MembershipLog(genesis.blob), key)) is (
        CryptoErrorCode.STATEMENT_UNKNOWN
    )


def test_an_envelope_opens_under_one_key_only() -> None:
    """An insider seals under key B but commits to key A: members holding A fail the AEAD,
    members holding B refuse it before decrypting; nobody reads two contents from it."""
    log, key_a = _network()
    key_b = new_space_key()
    statement = log.latest
    honest = _sealed(log, key_a)
    header, length = read_header(honest)
    plaintext = zstandard.ZstdCompressor(level=6, write_checksum=False).compress(
        msgpack.packb({**CONTENT, "title": "other"}, use_bin_type=True)
    )
    wire_header = honest[:length]  # commits to key A
    ciphertext = ChaCha20Poly1305(key_b).encrypt(header.nonce, plaintext, wire_header)
    forged = (
        wire_header + ciphertext + ADMIN.sign(b"minga-record-v1\x00" + wire_header + ciphertext)
    )
    assert _code(forged, _keyring(log, key_a)) is CryptoErrorCode.DECRYPT_FAILED
    assert _code(forged, _keyring(log, key_b)) is CryptoErrorCode.KEY_MISMATCH
    assert statement.hash == header.binding.statement_hash  # type: ignore[union-attr]


def _old_network(key: bytes) -> MembershipLog:
    """A space begun by an app before format 2: a format-1 genesis listing ADMIN and MEMBER."""
    genesis = MembershipStatement.issue(
        space="net",
        version=1,
        epoch=1,
        previous=GENESIS_PREVIOUS,
        members=[
            Member(ADMIN.public, Role.ADMIN),
            Member(MEMBER.public, Role.EDITOR),
        ],
        issuer=ADMIN,
    )
    return MembershipLog(genesis.blob)


def _format_1(key: bytes) -> bytes:
    return seal_record(
        CONTENT,
        space="net",
        record="inc-1",
        revision=1,
        base=0,
        epoch=1,
        space_key=key,
        author=ADMIN,
    )


def test_format_1_envelopes_still_open_in_an_epoch_begun_before_format_2() -> None:
    old = _format_1(SPACE_KEY)
    assert old[4] == 1
    log = _old_network(SPACE_KEY)
    assert _open(old, _keyring(log, SPACE_KEY)).content == CONTENT
    # Sealed by an older app before a later statement of the same epoch was format 2: genuine.
    latest = log.latest
    upgrade = MembershipStatement.issue(
        space="net",
        version=2,
        epoch=1,
        previous=latest.hash,
        members=latest.members,
        issuer=ADMIN,
        key=key_commitment("net", 1, SPACE_KEY),
    )
    log.accept(upgrade.blob)
    assert _open(old, _keyring(log, SPACE_KEY)).content == CONTENT


def test_a_format_1_envelope_is_refused_in_an_epoch_whose_key_is_committed() -> None:
    """The downgrade of test_an_envelope_opens_under_one_key_only: the insider seals format 1
    (no key commitment) under key B, which a forked member holds; format 2 refused it with
    key_mismatch, format 1 must not open for them either."""
    log, key_a = _network()
    key_b = new_space_key()
    forged = _format_1(key_b)
    assert _code(forged, _keyring(log, key_b)) is CryptoErrorCode.KEY_MISMATCH
    assert _code(_format_1(key_a), _keyring(log, key_a)) is CryptoErrorCode.KEY_MISMATCH


def test_safety_numbers_match_for_one_statement_and_differ_for_a_fork() -> None:
    log, key = _network()
    again = MembershipLog.from_blobs(log.to_blobs())
    assert str(again.latest.safety_number) == str(log.latest.safety_number)
    assert len(log.latest.safety_number.digits) == 30
    forked_log = MembershipLog(log.statements[0].blob)
    forked_log.accept(
        change_members(
            forked_log, ADMIN, space_key=key, add={MEMBER.device_id: (MEMBER.public, Role.READER)}
        ).statement.blob
    )
    assert str(forked_log.latest.safety_number) != str(log.latest.safety_number)
    digest = hashlib.sha256(b"minga-safety-v1\x00" + log.latest.hash).digest()
    assert log.latest.safety_number.digest == digest


# --- known answers ------------------------------------------------------------------------------


def test_known_answer_envelope_v2() -> None:
    statement_hash = bytes(range(200, 232))
    blob = seal_record(
        CONTENT,
        space="net",
        record="inc-1",
        revision=8,
        base=7,
        epoch=3,
        space_key=SPACE_KEY,
        author=ADMIN,
        nonce=NONCE,
        statement=(5, statement_hash),
    )
    commitment = hashlib.sha256(
        b"minga-epoch-key-v1\x00" + b"net" + struct.pack(">I", 3) + SPACE_KEY
    ).digest()
    header = (
        b"MNGR"
        + bytes([2, 0])
        + struct.pack(">IQQ", 3, 8, 7)
        + hashlib.sha256(ADMIN.public.sign_key).digest()[:16]
        + NONCE
        + struct.pack(">I", 5)
        + statement_hash
        + commitment
        + b"\x03net\x05inc-1"
    )
    plaintext = zstandard.ZstdCompressor(level=6, write_checksum=False).compress(
        msgpack.packb(CONTENT, use_bin_type=True)
    )
    ciphertext = ChaCha20Poly1305(SPACE_KEY).encrypt(NONCE, plaintext, header)
    signature = Ed25519PrivateKey.from_private_bytes(bytes(range(32))).sign(
        b"minga-record-v1\x00" + header + ciphertext
    )
    assert blob == header + ciphertext + signature
    assert hashlib.sha256(blob).hexdigest() == ENVELOPE_V2_SHA256


def test_known_answer_statement_v2() -> None:
    commitment = key_commitment("net", 1, SPACE_KEY)
    statement = MembershipStatement.issue(
        space="net",
        version=1,
        epoch=1,
        previous=GENESIS_PREVIOUS,
        members=[Member(ADMIN.public, Role.ADMIN)],
        issuer=ADMIN,
        key=commitment,
    )
    body = msgpack.packb(
        {
            "space": "net",
            "version": 1,
            "epoch": 1,
            "previous": bytes(32),
            "issuer": ADMIN.device_id,
            "members": [[ADMIN.device_id, "admin", ADMIN.public.sign_key, ADMIN.public.box_key]],
            "key": commitment,
        }
    )
    signed = b"MNGS\x02" + body
    signature = Ed25519PrivateKey.from_private_bytes(bytes(range(32))).sign(
        b"minga-membership-v1\x00" + signed
    )
    assert statement.blob == signed + signature
    assert statement.hash.hex() == STATEMENT_V2_SHA256
    assert MembershipLog(statement.blob).key_commitment(1) == commitment


ENVELOPE_V2_SHA256 = "116a2fd4e7366ff72d926dc8e5fc5cbabcd21a6f830f6345583724e058cb3a68"
STATEMENT_V2_SHA256 = "cd1cdf1e5ab4191bde2edd14672c5cffbdc521f47450bb0cc88157b4259f51d0"
