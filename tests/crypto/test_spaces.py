"""Space keys, HPKE wraps and membership statements: KATs, rotation, and every forgery refused."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import msgpack
import pytest
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sync.crypto.envelope import key_commitment, open_record, seal_record
from sync.crypto.errors import (
    CryptoError,
    CryptoErrorCode,
    EnvelopeError,
    KeyChanged,
    KeyWrapError,
    MembershipError,
)
from sync.crypto.keys import DeviceKeys, DevicePublicKeys, KeyPins
from sync.crypto.spaces import (
    GENESIS_PREVIOUS,
    Member,
    MembershipLog,
    MembershipStatement,
    SpaceKeyring,
    change_members,
    create_space,
    new_space_key,
    open_key_wrap,
    wrap_space_key,
)
from sync.protocol import Role

ADMIN_SIGN, ADMIN_BOX = bytes(range(32)), bytes(range(32, 64))
RECIPIENT_SIGN, RECIPIENT_BOX = bytes(range(128, 160)), bytes(range(160, 192))
ADMIN = DeviceKeys.from_seeds(ADMIN_SIGN, ADMIN_BOX)
RECIPIENT = DeviceKeys.from_seeds(RECIPIENT_SIGN, RECIPIENT_BOX)
SPACE_KEY = bytes(range(64, 96))

# Made once by wrap_space_key(SPACE_KEY, space="net", epoch=2, recipient=RECIPIENT, issuer=ADMIN);
# HPKE picks a fresh ephemeral key, so a wrap is pinned as bytes and checked by opening it.
WRAP_VECTOR = bytes.fromhex(
    "4d4e47570100000002519cae93e93ad011d785355894405ed856475aa75463474c0285df5dbf2bcab7036e6574"
    "8e6adcf51a2519cf47b8d298766d45987b207aa18f8a57d169458dd9c3188b11a3c7b5a681feef75eb3fdc618d"
    "85b9e59823acbfca168d1dc6559e35f5718b65691436f8ca6e8cf3655da401fc41c471d5583a67f060559a8ac6"
    "f0a50f3085142cbc87a41f6c932994923ff5eccadacff2fdbd0df5b8634993032504935ded4ea9032331f56b6d"
    "4add0e51614df55205"
)
GENESIS_SHA256 = "5a0a5ecdb69d0721e356e1adfdda3fd76cb486c12118439407fc9376e160017a"


def _device(seed: bytes) -> str:
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    return hashlib.sha256(public).digest()[:16].hex()


def _log_with_recipient_at_epoch_2(key_at_2: bytes | None = None) -> MembershipLog:
    """Genesis (admin) → add recipient (epoch 1) → rotate (epoch 2), all issued by the admin;
    the rotation commits to ``key_at_2`` when given (the vector's key), else to a fresh one."""
    created = create_space("net", ADMIN)
    log = MembershipLog(created.statement.blob)
    added = change_members(
        log,
        ADMIN,
        space_key=created.space_key,
        add={RECIPIENT.device_id: (RECIPIENT.public, Role.EDITOR)},
    )
    log.accept(added.statement.blob)
    if key_at_2 is None:
        rotated = change_members(log, ADMIN, space_key=added.space_key, rotate=True).statement
    else:
        rotated = MembershipStatement.issue(
            space="net",
            version=3,
            epoch=2,
            previous=log.latest.hash,
            members=log.latest.members,
            issuer=ADMIN,
            key=key_commitment("net", 2, key_at_2),
        )
    log.accept(rotated.blob)
    assert log.latest.epoch == 2
    return log


def test_known_answer_wrap_opens_with_the_primitives_and_the_module() -> None:
    header = (
        b"MNGW"
        + bytes([1])
        + struct.pack(">I", 2)
        + bytes.fromhex(_device(RECIPIENT_SIGN))
        + bytes.fromhex(_device(ADMIN_SIGN))
        + bytes([3])
        + b"net"
    )
    assert WRAP_VECTOR.startswith(header)
    sealed, signature = WRAP_VECTOR[len(header) : -64], WRAP_VECTOR[-64:]
    assert len(sealed) == 32 + 32 + 16
    admin_public = Ed25519PrivateKey.from_private_bytes(ADMIN_SIGN).public_key()
    admin_public.verify(signature, b"minga-wrap-sig-v1\x00" + header + sealed)
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
    box = X25519PrivateKey.from_private_bytes(RECIPIENT_BOX)
    assert suite.decrypt(sealed, box, info=b"minga-wrap-v1\x00" + header) == SPACE_KEY
    log = _log_with_recipient_at_epoch_2(SPACE_KEY)
    opened = open_key_wrap(
        WRAP_VECTOR, space="net", epoch=2, recipient=RECIPIENT, log=log, issuer=ADMIN.device_id
    )
    assert opened == SPACE_KEY


def test_known_answer_membership_statement() -> None:
    statement = MembershipStatement.issue(
        space="net",
        version=1,
        epoch=1,
        previous=GENESIS_PREVIOUS,
        members=[Member(RECIPIENT.public, Role.READER), Member(ADMIN.public, Role.ADMIN)],
        issuer=ADMIN,
    )
    rows = sorted(
        [
            [_device(ADMIN_SIGN), "admin", ADMIN.public.sign_key, ADMIN.public.box_key],
            [
                _device(RECIPIENT_SIGN),
                "reader",
                RECIPIENT.public.sign_key,
                RECIPIENT.public.box_key,
            ],
        ]
    )
    body = msgpack.packb(
        {
            "space": "net",
            "version": 1,
            "epoch": 1,
            "previous": bytes(32),
            "issuer": _device(ADMIN_SIGN),
            "members": rows,
        }
    )
    signed = b"MNGS\x01" + body
    signature = Ed25519PrivateKey.from_private_bytes(ADMIN_SIGN).sign(
        b"minga-membership-v1\x00" + signed
    )
    assert statement.blob == signed + signature
    assert statement.hash == hashlib.sha256(signed + signature).digest()
    assert statement.hash.hex() == GENESIS_SHA256
    log = MembershipLog(statement.blob)
    assert log.admin_keys(1, ADMIN.device_id) == ADMIN.public
    assert log.writer_keys(1, RECIPIENT.device_id) is None
    assert log.member_keys(1, RECIPIENT.device_id) == RECIPIENT.public


def test_space_lifecycle_add_write_remove_rotate() -> None:
    alice, bob, carol = ADMIN, RECIPIENT, DeviceKeys.generate()
    created = create_space("wg-water", alice)
    assert created.statement.epoch == 1 and set(created.wraps) == {alice.device_id}
    rings = {}
    for device in (alice, bob, carol):
        rings[device.device_id] = SpaceKeyring(device)
    log = MembershipLog(created.statement.blob)
    rings[alice.device_id].add_log(log)
    rings[alice.device_id].add_wrap("wg-water", 1, created.wraps[alice.device_id])
    assert rings[alice.device_id].current_key("wg-water") == (1, created.space_key)

    added = change_members(
        log,
        alice,
        space_key=created.space_key,
        add={
            bob.device_id: (bob.public, Role.EDITOR),
            carol.device_id: (carol.public, Role.READER),
        },
    )
    assert added.statement.epoch == 1 and added.space_key == created.space_key
    assert set(added.wraps) == {bob.device_id, carol.device_id}
    log.accept(added.statement.blob)
    for device in (bob, carol):
        ring = rings[device.device_id]
        ring.add_log(MembershipLog.from_blobs(log.to_blobs()))
        assert ring.add_wrap("wg-water", 1, added.wraps[device.device_id]) == created.space_key

    old = seal_record(
        {"title": "before"},
        space="wg-water",
        record="m1",
        revision=1,
        base=0,
        epoch=1,
        space_key=created.space_key,
        author=bob,
        statement=(log.latest.version, log.latest.hash),
    )
    assert open_record(
        old, space="wg-water", record="m1", revision=1, keys=rings[alice.device_id]
    ).content == {"title": "before"}
    # Carol reads but may not write: her envelopes are refused as from an unknown writer.
    by_reader = seal_record(
        {"title": "x"},
        space="wg-water",
        record="m2",
        revision=1,
        base=0,
        epoch=1,
        space_key=created.space_key,
        author=carol,
        statement=(log.latest.version, log.latest.hash),
    )
    with pytest.raises(EnvelopeError) as caught:
        open_record(
            by_reader, space="wg-water", record="m2", revision=1, keys=rings[alice.device_id]
        )
    assert caught.value.code is CryptoErrorCode.UNKNOWN_SIGNER

    removed = change_members(log, alice, space_key=created.space_key, remove=[bob.device_id])
    assert removed.statement.epoch == 2 and removed.space_key != created.space_key
    assert set(removed.wraps) == {alice.device_id, carol.device_id}
    for device in (alice, carol):
        ring = rings[device.device_id]
        ring.logs["wg-water"].accept(removed.statement.blob)
        ring.add_wrap("wg-water", 2, removed.wraps[device.device_id])
        assert ring.current_key("wg-water") == (2, removed.space_key)
    rings[bob.device_id].logs["wg-water"].accept(removed.statement.blob)
    assert rings[bob.device_id].current_key("wg-water") is None
    with pytest.raises(KeyWrapError) as wrap_error:  # Bob cannot use a wrap meant for Carol
        rings[bob.device_id].add_wrap("wg-water", 2, removed.wraps[carol.device_id])
    assert wrap_error.value.code is CryptoErrorCode.WRONG_RECIPIENT

    new = seal_record(
        {"title": "after"},
        space="wg-water",
        record="m1",
        revision=2,
        base=1,
        epoch=2,
        space_key=removed.space_key,
        author=alice,
        statement=(removed.statement.version, removed.statement.hash),
    )
    assert open_record(
        new, space="wg-water", record="m1", revision=2, keys=rings[carol.device_id]
    ).content == {"title": "after"}
    with pytest.raises(EnvelopeError) as caught:
        open_record(new, space="wg-water", record="m1", revision=2, keys=rings[bob.device_id])
    assert caught.value.code is CryptoErrorCode.KEY_UNAVAILABLE
    # Old epochs stay readable to those who had them.
    for ring in rings.values():
        assert open_record(old, space="wg-water", record="m1", revision=1, keys=ring).content
    # Carol joined at epoch 1 so holds it; a new member after the rotation gets only epoch 2.


def _wrap_error(blob: bytes, **overrides: Any) -> CryptoErrorCode:
    arguments: dict[str, Any] = {
        "space": "net",
        "epoch": 2,
        "recipient": RECIPIENT,
        "log": _log_with_recipient_at_epoch_2(),
    }
    arguments.update(overrides)
    with pytest.raises(KeyWrapError) as caught:
        open_key_wrap(blob, **arguments)
    return caught.value.code


def test_every_bit_flip_in_a_wrap_is_refused() -> None:
    log = _log_with_recipient_at_epoch_2()
    for position in range(len(WRAP_VECTOR)):
        damaged = bytearray(WRAP_VECTOR)
        damaged[position] ^= 0x10
        with pytest.raises(KeyWrapError):
            open_key_wrap(bytes(damaged), space="net", epoch=2, recipient=RECIPIENT, log=log)


def test_wraps_bound_to_space_epoch_recipient_and_issuer() -> None:
    assert _wrap_error(WRAP_VECTOR, space="wg-water") is CryptoErrorCode.WRONG_SPACE
    assert _wrap_error(WRAP_VECTOR, epoch=1) is CryptoErrorCode.WRONG_EPOCH
    assert _wrap_error(WRAP_VECTOR, recipient=ADMIN) is CryptoErrorCode.WRONG_RECIPIENT
    assert _wrap_error(WRAP_VECTOR, issuer=RECIPIENT.device_id) is CryptoErrorCode.WRONG_ISSUER
    assert _wrap_error(WRAP_VECTOR[:-1]) is CryptoErrorCode.BAD_FORMAT
    assert _wrap_error(b"MNGW\x02" + WRAP_VECTOR[5:]) is CryptoErrorCode.UNSUPPORTED_VERSION


def test_a_wrap_forged_by_a_non_admin_or_the_server_is_refused() -> None:
    # The recipient is an editor: not allowed to issue wraps.
    by_editor = wrap_space_key(
        bytes(32), space="net", epoch=2, recipient=RECIPIENT.public, issuer=RECIPIENT
    )
    assert _wrap_error(by_editor) is CryptoErrorCode.UNKNOWN_SIGNER
    # The server's own key, claiming to be the admin: the signature gives it away.
    server = DeviceKeys.generate()
    forged = wrap_space_key(
        bytes(32), space="net", epoch=2, recipient=RECIPIENT.public, issuer=server
    )
    header_end = len(forged) - 80 - 64
    as_admin = bytearray(forged)
    as_admin[25:41] = bytes.fromhex(ADMIN.device_id)  # issuer field
    assert header_end > 41
    assert _wrap_error(bytes(as_admin)) is CryptoErrorCode.SIGNATURE_INVALID


def test_hpke_info_binds_the_header() -> None:
    # An admin-signed wrap whose HPKE info was another header: refused at decryption.
    header = WRAP_VECTOR[: len(WRAP_VECTOR) - 80 - 64]
    other_info = b"minga-wrap-v1\x00" + header.replace(b"net", b"xyz")
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
    sealed = suite.encrypt(SPACE_KEY, RECIPIENT.public.box_public_key(), info=other_info)
    blob = header + sealed + ADMIN.sign(b"minga-wrap-sig-v1\x00" + header + sealed)
    assert _wrap_error(blob) is CryptoErrorCode.DECRYPT_FAILED


def test_a_wrap_for_a_device_not_a_member_at_that_epoch_is_refused() -> None:
    stranger = DeviceKeys.generate()
    wrap = wrap_space_key(bytes(32), space="net", epoch=2, recipient=stranger.public, issuer=ADMIN)
    assert _wrap_error(wrap, recipient=stranger) is CryptoErrorCode.KEY_UNAVAILABLE


def test_a_wrap_for_a_swapped_box_key_raises_key_changed() -> None:
    # The statement lists the recipient's device id with another X25519 key (say, the server's).
    swapped = DevicePublicKeys(RECIPIENT.public.sign_key, DeviceKeys.generate().public.box_key)
    created = create_space("net", ADMIN)
    log = MembershipLog(created.statement.blob)
    change = change_members(
        log, ADMIN, space_key=created.space_key, add={RECIPIENT.device_id: (swapped, Role.EDITOR)}
    )
    log.accept(change.statement.blob)
    wrap = wrap_space_key(bytes(32), space="net", epoch=1, recipient=RECIPIENT.public, issuer=ADMIN)
    with pytest.raises(KeyChanged):
        open_key_wrap(wrap, space="net", epoch=1, recipient=RECIPIENT, log=log)


# --- membership statements ----------------------------------------------------------------------


def _chain(length: int) -> tuple[MembershipLog, list[bytes], list[DeviceKeys]]:
    """A chain where each step adds one editor; the last step removes none."""
    created = create_space("net", ADMIN)
    log = MembershipLog(created.statement.blob)
    editors = []
    for _ in range(length - 1):
        editor = DeviceKeys.generate()
        editors.append(editor)
        change = change_members(
            log,
            ADMIN,
            space_key=created.space_key,
            add={editor.device_id: (editor.public, Role.EDITOR)},
        )
        log.accept(change.statement.blob)
    return log, log.to_blobs(), editors


def _membership_code(log: MembershipLog, blob: bytes) -> CryptoErrorCode:
    with pytest.raises(CryptoError) as caught:
        log.accept(blob)
    return caught.value.code


def _issue(log: MembershipLog, issuer: DeviceKeys = ADMIN, **overrides: Any) -> bytes:
    current = log.latest
    arguments: dict[str, Any] = {
        "space": current.space,
        "version": current.version + 1,
        "epoch": current.epoch,
        "previous": current.hash,
        "members": current.members,
        "issuer": issuer,
    }
    arguments.update(overrides)
    if "key" not in arguments:
        # Format 2 commits to the epoch's key: the same one within an epoch, a new one after.
        same = arguments["epoch"] == current.epoch
        arguments["key"] = current.key_commitment if same else new_space_key()
    return MembershipStatement.issue(**arguments).blob


def test_a_replayed_old_statement_is_a_rollback() -> None:
    log, blobs, _ = _chain(3)
    assert log.accept(blobs[-1]) is False  # the current one again: nothing new
    for old in blobs[:-1]:
        assert _membership_code(log, old) is CryptoErrorCode.MEMBERSHIP_ROLLBACK
        with pytest.raises(MembershipError):
            log.check_current(old)
    assert log.latest.version == 3


def test_another_statement_at_a_held_version_is_a_fork() -> None:
    log, blobs, _ = _chain(3)
    fresh = MembershipLog(blobs[0])
    fresh.accept(blobs[1])
    other = _issue(
        fresh, members=[*fresh.latest.members, Member(DeviceKeys.generate().public, Role.ADMIN)]
    )
    assert _membership_code(log, other) is CryptoErrorCode.MEMBERSHIP_FORK


def test_statements_must_chain_without_gaps() -> None:
    log, blobs, _ = _chain(2)
    assert _membership_code(log, _issue(log, version=4)) is CryptoErrorCode.MEMBERSHIP_INVALID
    assert (
        _membership_code(log, _issue(log, previous=bytes(32))) is CryptoErrorCode.MEMBERSHIP_INVALID
    )
    assert _membership_code(log, _issue(log, epoch=3)) is CryptoErrorCode.MEMBERSHIP_INVALID
    assert _membership_code(log, _issue(log, space="other")) is CryptoErrorCode.MEMBERSHIP_INVALID
    start = MembershipLog(blobs[0])
    with pytest.raises(MembershipError) as caught:  # skipping a statement
        start.accept(_issue(log))
    assert caught.value.code is CryptoErrorCode.MEMBERSHIP_INVALID


def test_a_removal_without_a_new_epoch_is_refused() -> None:
    log, _, editors = _chain(3)
    kept = [m for m in log.latest.members if m.device != editors[0].device_id]
    assert _membership_code(log, _issue(log, members=kept)) is CryptoErrorCode.MEMBERSHIP_INVALID
    assert log.accept(_issue(log, members=kept, epoch=2)) is True


def test_only_an_admin_of_the_previous_statement_may_issue() -> None:
    log, _, editors = _chain(2)
    promoted = [Member(m.keys, Role.ADMIN) for m in log.latest.members]
    assert _membership_code(log, _issue(log, issuer=editors[0], members=promoted)) is (
        CryptoErrorCode.UNKNOWN_SIGNER
    )
    blob = _issue(log)
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    assert _membership_code(log, flipped) is CryptoErrorCode.SIGNATURE_INVALID


def test_no_admin_left_is_refused() -> None:
    log, _, _ = _chain(2)
    demoted = [Member(m.keys, Role.EDITOR) for m in log.latest.members]
    assert _membership_code(log, _issue(log, members=demoted)) is CryptoErrorCode.MEMBERSHIP_INVALID


def test_a_swapped_public_key_of_a_member_is_refused() -> None:
    log, _, editors = _chain(2)
    swapped = DevicePublicKeys(editors[0].public.sign_key, DeviceKeys.generate().public.box_key)
    members = [
        Member(swapped, Role.EDITOR) if m.device == swapped.device_id else m
        for m in log.latest.members
    ]
    with pytest.raises(KeyChanged) as caught:
        log.accept(_issue(log, members=members))
    assert caught.value.code is CryptoErrorCode.KEY_CHANGED
    assert log.latest.version == 2


def test_pins_catch_a_key_swapped_across_spaces() -> None:
    pins = KeyPins()
    pins.check(RECIPIENT.public)
    swapped = DevicePublicKeys(RECIPIENT.public.sign_key, DeviceKeys.generate().public.box_key)
    genesis = MembershipStatement.issue(
        space="other",
        version=1,
        epoch=1,
        previous=GENESIS_PREVIOUS,
        members=[Member(ADMIN.public, Role.ADMIN), Member(swapped, Role.READER)],
        issuer=ADMIN,
    )
    with pytest.raises(KeyChanged):
        MembershipLog(genesis.blob, pins)


def test_genesis_rules() -> None:
    def genesis_code(**overrides: Any) -> CryptoErrorCode:
        arguments: dict[str, Any] = {
            "space": "net",
            "version": 1,
            "epoch": 1,
            "previous": GENESIS_PREVIOUS,
            "members": [Member(ADMIN.public, Role.ADMIN)],
            "issuer": ADMIN,
        }
        arguments.update(overrides)
        with pytest.raises(MembershipError) as caught:
            MembershipLog(MembershipStatement.issue(**arguments).blob)
        return caught.value.code

    assert genesis_code(version=2) is CryptoErrorCode.MEMBERSHIP_INVALID
    assert genesis_code(epoch=2) is CryptoErrorCode.MEMBERSHIP_INVALID
    assert genesis_code(previous=b"\x01" * 32) is CryptoErrorCode.MEMBERSHIP_INVALID
    assert genesis_code(issuer=RECIPIENT) is CryptoErrorCode.UNKNOWN_SIGNER


def test_malformed_statements_are_refused() -> None:
    blob = create_space("net", ADMIN).statement.blob
    for bad in (b"", blob[:10], b"XXXX" + blob[4:], blob[:-70] + blob[-64:]):
        with pytest.raises(MembershipError) as caught:
            MembershipStatement.from_bytes(bad)
        assert caught.value.code is CryptoErrorCode.BAD_FORMAT
    with pytest.raises(MembershipError) as caught:
        MembershipStatement.from_bytes(b"MNGS\x03" + blob[5:])
    assert caught.value.code is CryptoErrorCode.UNSUPPORTED_VERSION
    statement = MembershipStatement.from_bytes(blob)
    row = [
        statement.members[0].device,
        "admin",
        statement.members[0].keys.sign_key,
        statement.members[0].keys.box_key,
    ]
    base = {
        "space": "net",
        "version": 1,
        "epoch": 1,
        "previous": bytes(32),
        "issuer": statement.issuer,
    }
    cases = {
        "duplicate member": {**base, "members": [row, row]},
        "unknown role": {**base, "members": [[*row[:1], "owner", *row[2:]]]},
        "short key": {**base, "members": [[*row[:2], b"x", row[3]]]},
        "extra field": {**base, "members": [row], "note": "x"},
        "bool version": {**base, "version": True, "members": [row]},
    }
    for name, body in cases.items():
        with pytest.raises(MembershipError) as caught:
            MembershipStatement.from_bytes(b"MNGS\x01" + msgpack.packb(body) + bytes(64))
        assert caught.value.code is CryptoErrorCode.BAD_FORMAT, name
    other_id = {**base, "members": [[RECIPIENT.device_id, *row[1:]]]}
    with pytest.raises(KeyChanged):
        MembershipStatement.from_bytes(b"MNGS\x01" + msgpack.packb(other_id) + bytes(64))


def test_log_round_trips_through_stored_blobs_and_reverifies() -> None:
    log, blobs, editors = _chain(4)
    again = MembershipLog.from_blobs(blobs)
    assert again.latest.hash == log.latest.hash
    assert again.writer_keys(1, editors[-1].device_id) == editors[-1].public
    tampered = [*blobs[:2], blobs[3], blobs[2]]
    with pytest.raises(MembershipError):
        MembershipLog.from_blobs(tampered)
