"""Weak public keys are refused wherever a device's keys enter (finding 5 of issue 13).

With the Ed25519 identity point as a public key, ``R = identity, S = 0`` verifies for any
message under OpenSSL: whoever lists such a key in a statement (or enrolls with it) lets anyone
sign as that device, an admin's statements included. Small-order X25519 keys make every wrap's
shared secret all zeros. Each case is reproduced with the primitives first, then refused."""

from __future__ import annotations

import msgpack
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sync.crypto.errors import CryptoError, CryptoErrorCode
from sync.crypto.keys import DeviceKeys, DevicePublicKeys, check_public_keys
from sync.crypto.spaces import (
    STATEMENT_MAGIC,
    STATEMENT_SIGN_CONTEXT,
    MembershipLog,
    MembershipStatement,
    create_space,
)
from sync.protocol import device_id_for

P = 2**255 - 19
IDENTITY = (1).to_bytes(32, "little")
FORGED = IDENTITY + bytes(32)  # R = identity, S = 0

#: Small-order Ed25519 points, canonical and not, and encodings that are not points at all.
WEAK_SIGN_KEYS = {
    "identity": IDENTITY,
    "identity, non-canonical (y = p + 1)": (P + 1).to_bytes(32, "little"),
    "order 2 (y = -1)": (P - 1).to_bytes(32, "little"),
    "order 4 (y = 0)": bytes(32),
    "order 4, sign bit set": (1 << 255).to_bytes(32, "little"),
    "identity with the sign bit set (x = 0 cannot be negative)": ((1 << 255) | 1).to_bytes(
        32, "little"
    ),
    "y = p (non-canonical zero)": P.to_bytes(32, "little"),
    "not on the curve": (2).to_bytes(32, "little"),
}
WEAK_BOX_KEYS = {
    "zero": bytes(32),
    "one": (1).to_bytes(32, "little"),
    "u = p (non-canonical zero)": P.to_bytes(32, "little"),
    "u = p + 1 (non-canonical one)": (P + 1).to_bytes(32, "little"),
    "order 8": bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    "top bit set": (1 << 255 | 9).to_bytes(32, "little"),
}


def test_the_forgery_verifies_under_the_primitive_alone() -> None:
    for message in (b"", b"minga-membership-v1\x00anything", b"any other message"):
        Ed25519PublicKey.from_public_bytes(IDENTITY).verify(FORGED, message)


@pytest.mark.parametrize("name", sorted(WEAK_SIGN_KEYS))
def test_weak_signing_keys_are_refused(name: str) -> None:
    box = DeviceKeys.generate().public.box_key
    with pytest.raises(CryptoError) as refused:
        DevicePublicKeys(WEAK_SIGN_KEYS[name], box)
    assert refused.value.code is CryptoErrorCode.WEAK_KEY


@pytest.mark.parametrize("name", sorted(WEAK_BOX_KEYS))
def test_weak_receiving_keys_are_refused(name: str) -> None:
    sign = DeviceKeys.generate().public.sign_key
    with pytest.raises(CryptoError) as refused:
        check_public_keys(sign, WEAK_BOX_KEYS[name])
    assert refused.value.code is CryptoErrorCode.WEAK_KEY


def test_generated_keys_pass() -> None:
    for _ in range(50):
        public = DeviceKeys.generate().public
        check_public_keys(public.sign_key, public.box_key)


def _statement_listing(issuer: DeviceKeys, rows: list[list[object]], version: int) -> bytes:
    genesis = create_space("space-1", issuer).statement
    body = {
        "space": "space-1",
        "version": version,
        "epoch": 1,
        "previous": genesis.hash if version > 1 else bytes(32),
        "issuer": issuer.device_id,
        "members": sorted(rows, key=lambda row: str(row[0])),
    }
    signed = STATEMENT_MAGIC + b"\x01" + msgpack.packb(body)
    return signed + issuer.sign(STATEMENT_SIGN_CONTEXT + signed)


def test_a_statement_listing_an_identity_point_admin_is_refused() -> None:
    """The attack: an admin (or a forged genesis) lists a member whose key is the identity
    point; afterwards anyone could issue that member's statements with R = 0, S = 0."""
    admin = DeviceKeys.generate()
    weak = [device_id_for(IDENTITY), "admin", IDENTITY, DeviceKeys.generate().public.box_key]
    me = [admin.device_id, "admin", admin.public.sign_key, admin.public.box_key]
    genesis = create_space("space-1", admin).statement.blob
    log = MembershipLog(genesis)
    step = _statement_listing(admin, [me, weak], 2)
    with pytest.raises(CryptoError) as refused:
        log.accept(step)
    assert refused.value.code is CryptoErrorCode.WEAK_KEY
    with pytest.raises(CryptoError) as refused:
        MembershipStatement.from_bytes(_statement_listing(admin, [me, weak], 1))
    assert refused.value.code is CryptoErrorCode.WEAK_KEY
    assert log.latest.version == 1
