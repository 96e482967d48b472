"""Device keys: an X25519 key to receive space keys and an Ed25519 key to sign, per device.

Fingerprints let members compare keys out of band; pinned keys turn any change into ``KeyChanged``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import nacl.bindings
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from sync.crypto.errors import CryptoError, CryptoErrorCode, KeyChanged
from sync.protocol import device_id_for

KEY_BYTES = 32
SIGNATURE_BYTES = 64
#: Version byte of the private-key serialization kept inside the encrypted profile.
DEVICE_KEYS_VERSION = 1
DEVICE_KEYS_BYTES = 1 + 2 * KEY_BYTES
FINGERPRINT_CONTEXT = b"minga-fingerprint-v1\x00"
FINGERPRINT_GROUPS = 6
FINGERPRINT_GROUP_DIGITS = 5

_RAW = serialization.Encoding.Raw
_RAW_PUBLIC = serialization.PublicFormat.Raw
_RAW_PRIVATE = serialization.PrivateFormat.Raw
_NO_ENCRYPTION = serialization.NoEncryption()


def sha256(*parts: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    for part in parts:
        digest.update(part)
    return digest.finalize()


def device_id_bytes(device: str) -> bytes:
    """A device id (32 lowercase hex) as the 16 bytes the binary formats carry."""
    if len(device) != 32 or device != device.lower():
        raise ValueError("a device id is 32 lowercase hex digits")
    return bytes.fromhex(device)


#: Any fixed clamped scalar: X25519 clamping makes it a multiple of the cofactor 8, so every
#: small-order point multiplies to the all-zero output, which the library refuses.
_PROBE = X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
_X25519_P = 2**255 - 19


def check_public_keys(sign_key: bytes, box_key: bytes) -> None:
    """Refuse public keys anyone could forge for, or that decode two ways.

    Ed25519: libsodium's point check (canonical encoding, on the curve, in the prime-order
    subgroup, not of small order). With a small-order key such as the identity point,
    ``R = identity, S = 0`` verifies for every message, so anyone could sign as that device.
    X25519: a canonical u-coordinate (below 2^255 - 19, top bit clear) that is not of small
    order (the shared secret would be all zeros, known to everybody).

    Raises:
        CryptoError: ``weak_key``.
    """
    if len(sign_key) != KEY_BYTES or not nacl.bindings.crypto_core_ed25519_is_valid_point(sign_key):
        raise CryptoError(CryptoErrorCode.WEAK_KEY, "signing key is not a valid Ed25519 key")
    if len(box_key) != KEY_BYTES or int.from_bytes(box_key, "little") >= _X25519_P:
        raise CryptoError(CryptoErrorCode.WEAK_KEY, "receiving key is not a canonical X25519 key")
    try:
        _PROBE.exchange(X25519PublicKey.from_public_bytes(box_key))
    except ValueError:
        raise CryptoError(CryptoErrorCode.WEAK_KEY, "receiving key is of small order") from None


@dataclass(frozen=True)
class DevicePublicKeys:
    """What a device publishes: its Ed25519 signing key and X25519 receiving key, raw 32 bytes."""

    sign_key: bytes
    box_key: bytes

    def __post_init__(self) -> None:
        if len(self.sign_key) != KEY_BYTES or len(self.box_key) != KEY_BYTES:
            raise ValueError("device public keys are 32 bytes each")
        # Every way a device's keys enter (enrollment, statements, the server's listings, the
        # store) builds this: a weak key is refused before anything is checked with it.
        check_public_keys(self.sign_key, self.box_key)

    @classmethod
    def claimed_by(cls, device: str, sign_key: bytes, box_key: bytes) -> DevicePublicKeys:
        """Keys the server lists for ``device``; refused loudly unless the id is their hash."""
        keys = cls(sign_key, box_key)
        if keys.device_id != device:
            raise KeyChanged(device, "(its own id)", str(keys.fingerprint))
        return keys

    @property
    def device_id(self) -> str:
        return device_id_for(self.sign_key)

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint.of(self)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is this device's Ed25519 signature over ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.sign_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def box_public_key(self) -> X25519PublicKey:
        return X25519PublicKey.from_public_bytes(self.box_key)


class DeviceKeys:
    """A device's two private keys. Kept only inside the encrypted profile (``to_bytes``)."""

    def __init__(self, sign_private: Ed25519PrivateKey, box_private: X25519PrivateKey) -> None:
        self._sign = sign_private
        self._box = box_private
        self.public = DevicePublicKeys(
            sign_private.public_key().public_bytes(_RAW, _RAW_PUBLIC),
            box_private.public_key().public_bytes(_RAW, _RAW_PUBLIC),
        )

    @classmethod
    def generate(cls) -> DeviceKeys:
        return cls(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

    @classmethod
    def from_seeds(cls, sign_seed: bytes, box_seed: bytes) -> DeviceKeys:
        """Keys from their 32-byte raw private forms (tests and ``from_bytes``)."""
        return cls(
            Ed25519PrivateKey.from_private_bytes(sign_seed),
            X25519PrivateKey.from_private_bytes(box_seed),
        )

    def to_bytes(self) -> bytes:
        """``version (1) ‖ Ed25519 private (32) ‖ X25519 private (32)``, for the profile only."""
        return (
            bytes([DEVICE_KEYS_VERSION])
            + self._sign.private_bytes(_RAW, _RAW_PRIVATE, _NO_ENCRYPTION)
            + self._box.private_bytes(_RAW, _RAW_PRIVATE, _NO_ENCRYPTION)
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> DeviceKeys:
        if len(raw) != DEVICE_KEYS_BYTES or raw[0] != DEVICE_KEYS_VERSION:
            raise ValueError("not a Minga device key (wrong length or version)")
        return cls.from_seeds(raw[1 : 1 + KEY_BYTES], raw[1 + KEY_BYTES :])

    @property
    def device_id(self) -> str:
        return self.public.device_id

    def sign(self, message: bytes) -> bytes:
        return self._sign.sign(message)

    def box_private_key(self) -> X25519PrivateKey:
        return self._box

    def __repr__(self) -> str:  # never print private material, even in a traceback
        return f"DeviceKeys(device_id={self.device_id!r})"


@dataclass(frozen=True)
class Fingerprint:
    """SHA-256 over both public keys, shown as 30 decimal digits in 6 groups of 5.

    Digit ``group i`` is the big-endian integer of digest bytes ``[5i, 5i+5)`` modulo 100000,
    zero-padded (the way Signal's safety numbers are built); 30 digits carry about 99.6 bits.
    Digits rather than words: they read the same in all four languages (and in Eastern Arabic
    numerals), and need no word list per language.
    """

    digest: bytes

    @classmethod
    def of(cls, keys: DevicePublicKeys) -> Fingerprint:
        return cls(sha256(FINGERPRINT_CONTEXT, keys.sign_key, keys.box_key))

    @property
    def groups(self) -> tuple[str, ...]:
        width = FINGERPRINT_GROUP_DIGITS
        return tuple(
            str(int.from_bytes(self.digest[i * width : (i + 1) * width], "big") % 10**width).zfill(
                width
            )
            for i in range(FINGERPRINT_GROUPS)
        )

    @property
    def digits(self) -> str:
        return "".join(self.groups)

    def __str__(self) -> str:
        return " ".join(self.groups)

    def matches(self, typed: str) -> bool:
        """Whether a fingerprint read aloud and typed (any spacing, any script's digits) is this."""
        wanted = _normalize_digits(typed)
        return wanted is not None and hmac.compare_digest(wanted, self.digits)


def _normalize_digits(typed: str) -> str | None:
    digits: list[str] = []
    for char in typed:
        if char.isspace() or char in "-.":
            continue
        if not char.isdecimal():
            return None
        digits.append(str(int(char)))  # int() reads Arabic-Indic and other decimal digits
    return "".join(digits)


def same_digits(shown: str, typed: str) -> bool:
    """Whether digits typed (any spacing, any script's digits) are the ``shown`` ones, all of
    them: what a card asks before a person may confirm a fingerprint or safety number."""
    wanted, got = _normalize_digits(shown), _normalize_digits(typed)
    return wanted is not None and got is not None and hmac.compare_digest(wanted, got)


def check_fingerprint(keys: DevicePublicKeys, typed: str) -> None:
    """Raise unless ``typed`` is the fingerprint of ``keys`` (out-of-band comparison)."""
    if not keys.fingerprint.matches(typed):
        raise CryptoError(
            CryptoErrorCode.FINGERPRINT_MISMATCH,
            f"device {keys.device_id} has fingerprint {keys.fingerprint}",
        )


@dataclass(frozen=True)
class Pin:
    keys: DevicePublicKeys
    #: True once a person compared the fingerprint out of band; first use only pins.
    verified: bool = False


class KeyPins:
    """The public keys this profile has seen for each device: trust on first use, then pinned.

    A device that later presents other keys raises ``KeyChanged``, whatever the server says;
    only ``replace`` (after a person compared the new fingerprint) changes a pin.
    """

    def __init__(self, pins: Iterable[Pin] = ()) -> None:
        self._pins: dict[str, Pin] = {pin.keys.device_id: pin for pin in pins}

    def __iter__(self) -> Iterator[Pin]:
        return iter(self._pins.values())

    def __len__(self) -> int:
        return len(self._pins)

    def get(self, device: str) -> Pin | None:
        return self._pins.get(device)

    def check(self, keys: DevicePublicKeys) -> bool:
        """Pin ``keys`` if the device is new (returns True); raise ``KeyChanged`` if it differs."""
        pinned = self._pins.get(keys.device_id)
        if pinned is None:
            self._pins[keys.device_id] = Pin(keys)
            return True
        if pinned.keys != keys:
            raise KeyChanged(keys.device_id, str(pinned.keys.fingerprint), str(keys.fingerprint))
        return False

    def mark_verified(self, keys: DevicePublicKeys, typed_fingerprint: str) -> None:
        """Record that a person compared the fingerprint out of band and it matched."""
        check_fingerprint(keys, typed_fingerprint)
        self.check(keys)
        self._pins[keys.device_id] = Pin(keys, verified=True)

    def replace(self, keys: DevicePublicKeys, typed_fingerprint: str) -> None:
        """Accept a changed key, only with the new fingerprint confirmed out of band."""
        check_fingerprint(keys, typed_fingerprint)
        self._pins[keys.device_id] = Pin(keys, verified=True)
