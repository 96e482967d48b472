"""Device keys and fingerprints: stable formats, and a changed key is always a loud error."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sync.crypto.errors import CryptoError, CryptoErrorCode, KeyChanged
from sync.crypto.keys import (
    DeviceKeys,
    DevicePublicKeys,
    Fingerprint,
    KeyPins,
    check_fingerprint,
)
from sync.protocol import device_id_for

SIGN_SEED = bytes(range(32))
BOX_SEED = bytes(range(32, 64))


def _raw_public(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_known_answer_keys_device_id_and_fingerprint() -> None:
    keys = DeviceKeys.from_seeds(SIGN_SEED, BOX_SEED)
    sign_pub = _raw_public(Ed25519PrivateKey.from_private_bytes(SIGN_SEED))
    box_pub = _raw_public(X25519PrivateKey.from_private_bytes(BOX_SEED))
    assert keys.public == DevicePublicKeys(sign_pub, box_pub)
    assert keys.device_id == hashlib.sha256(sign_pub).digest()[:16].hex()
    assert keys.device_id == device_id_for(sign_pub)
    # The fingerprint recomputed here from its definition in sync/CRYPTO.md §1.
    digest = hashlib.sha256(b"minga-fingerprint-v1\x00" + sign_pub + box_pub).digest()
    groups = [f"{int.from_bytes(digest[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5)]
    fingerprint = keys.public.fingerprint
    assert fingerprint.digest == digest
    assert str(fingerprint) == " ".join(groups)
    assert len(fingerprint.digits) == 30
    assert str(fingerprint) == "08339 11602 88581 83801 98992 50558"


def test_private_keys_round_trip_through_profile_bytes() -> None:
    keys = DeviceKeys.generate()
    raw = keys.to_bytes()
    assert len(raw) == 65 and raw[0] == 1
    again = DeviceKeys.from_bytes(raw)
    assert again.public == keys.public
    assert keys.public.verify(again.sign(b"hello"), b"hello")
    for bad in (raw[:-1], b"\x02" + raw[1:], b""):
        with pytest.raises(ValueError):
            DeviceKeys.from_bytes(bad)


def test_repr_never_shows_private_material() -> None:
    keys = DeviceKeys.from_seeds(SIGN_SEED, BOX_SEED)
    assert SIGN_SEED.hex() not in repr(keys)
    assert keys.device_id in repr(keys)


def test_signatures_verify_only_for_the_signed_message_and_key() -> None:
    alice, bob = DeviceKeys.generate(), DeviceKeys.generate()
    signature = alice.sign(b"statement")
    assert alice.public.verify(signature, b"statement")
    assert not alice.public.verify(signature, b"statemenT")
    assert not bob.public.verify(signature, b"statement")
    assert not alice.public.verify(signature[:-1], b"statement")


def test_fingerprint_comparison_accepts_how_people_type_it() -> None:
    fingerprint = Fingerprint(bytes(range(32)))
    text = str(fingerprint)
    assert fingerprint.matches(text)
    assert fingerprint.matches(text.replace(" ", ""))
    assert fingerprint.matches(text.replace(" ", "-"))
    eastern = text.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert fingerprint.matches(eastern)
    wrong_digit = ("1" if text[0] != "1" else "2") + text[1:]
    assert not fingerprint.matches(wrong_digit)
    assert not fingerprint.matches(text[:-1])
    assert not fingerprint.matches(text + "0")
    assert not fingerprint.matches("abc")


def test_check_fingerprint_raises_a_coded_error() -> None:
    keys = DeviceKeys.generate().public
    check_fingerprint(keys, str(keys.fingerprint))
    with pytest.raises(CryptoError) as caught:
        check_fingerprint(keys, str(DeviceKeys.generate().public.fingerprint))
    assert caught.value.code is CryptoErrorCode.FINGERPRINT_MISMATCH


def test_pins_trust_on_first_use_then_refuse_a_changed_key_loudly() -> None:
    device = DeviceKeys.generate().public
    pins = KeyPins()
    assert pins.check(device) is True
    assert pins.check(device) is False
    swapped = DevicePublicKeys(device.sign_key, DeviceKeys.generate().public.box_key)
    assert swapped.device_id == device.device_id
    with pytest.raises(KeyChanged) as caught:
        pins.check(swapped)
    assert caught.value.code is CryptoErrorCode.KEY_CHANGED
    assert caught.value.device == device.device_id
    assert caught.value.pinned == str(device.fingerprint)
    assert caught.value.presented == str(swapped.fingerprint)
    # Still pinned to the original: refusing never re-pins.
    pin = pins.get(device.device_id)
    assert pin is not None and pin.keys == device


def test_a_changed_key_is_accepted_only_with_its_fingerprint_confirmed() -> None:
    device = DeviceKeys.generate().public
    pins = KeyPins()
    pins.check(device)
    swapped = DevicePublicKeys(device.sign_key, DeviceKeys.generate().public.box_key)
    with pytest.raises(CryptoError) as caught:
        pins.replace(swapped, str(device.fingerprint))
    assert caught.value.code is CryptoErrorCode.FINGERPRINT_MISMATCH
    with pytest.raises(KeyChanged):
        pins.mark_verified(swapped, str(swapped.fingerprint))
    pins.replace(swapped, str(swapped.fingerprint))
    assert pins.check(swapped) is False
    pin = pins.get(device.device_id)
    assert pin is not None and pin.verified


def test_mark_verified_records_the_comparison() -> None:
    device = DeviceKeys.generate().public
    pins = KeyPins()
    pins.mark_verified(device, str(device.fingerprint))
    pin = pins.get(device.device_id)
    assert pin is not None and pin.verified and len(pins) == 1
    assert list(KeyPins(pins)) == list(pins)


def test_server_listing_keys_under_another_devices_id_is_refused() -> None:
    alice, mallory = DeviceKeys.generate().public, DeviceKeys.generate().public
    assert DevicePublicKeys.claimed_by(alice.device_id, alice.sign_key, alice.box_key) == alice
    with pytest.raises(KeyChanged):
        DevicePublicKeys.claimed_by(alice.device_id, mallory.sign_key, alice.box_key)
    with pytest.raises(ValueError):
        DevicePublicKeys(b"short", alice.box_key)
