"""The profile's key hierarchy: passphrase → Argon2id → key-encryption key → master key → HKDF.

The master key is random and never changes; the passphrase and the recovery key each wrap it,
so a new passphrase re-wraps 32 bytes and re-encrypts nothing. The key file holds the KDF
parameters, a salt and the two wraps; the passphrase wrap's associated data binds the profile
id and the KDF parameters, so a key file edited to other parameters cannot open the profile.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from desktop.domain.digits import ascii_digits
from desktop.store.errors import (
    MistypedRecoveryKey,
    ProfileDamaged,
    WeakKdfParameters,
    WrongPassphrase,
    WrongRecoveryKey,
)

KEY_BYTES = 32
SALT_BYTES = 16
NONCE_BYTES = 12
KEYFILE_FORMAT = "minga-profile"
KEYFILE_VERSION = 1

#: The floor no key file may go below (issue 2: 64 MiB); below it the profile is refused.
FLOOR_MEMORY_KIB = 64 * 1024
FLOOR_ITERATIONS = 1
#: Above these a key file is damaged or hostile (it would exhaust memory), not just slow.
CEILING_MEMORY_KIB = 4 * 1024 * 1024
CEILING_ITERATIONS = 64
MAX_LANES = 16
#: Calibration aims at this much memory when the machine has it: memory hardness is what
#: makes a guessing rig expensive, so spend the second on memory before passes.
PREFERRED_MEMORY_KIB = 256 * 1024

_SQLCIPHER_INFO = b"minga/v1/sqlcipher-key"
_RECOVERY_INFO = b"minga/v1/recovery-wrap-key"
_RECOVERY_SECRET_BYTES = 32
_RECOVERY_CHECK_BYTES = 2
_RECOVERY_GROUP = 5


@dataclass(frozen=True)
class KdfParameters:
    """Argon2id parameters, stored in the key file beside the database."""

    memory_kib: int
    iterations: int
    lanes: int
    salt: bytes

    @classmethod
    def fast_for_tests(cls) -> KdfParameters:
        """The floor itself: as cheap as the store allows, for tests and benchmarks only."""
        return cls(FLOOR_MEMORY_KIB, FLOOR_ITERATIONS, 4, os.urandom(SALT_BYTES))

    def check(self) -> None:
        """Refuse parameters below the floor (tampering) or absurdly high (damage)."""
        if (
            self.memory_kib < FLOOR_MEMORY_KIB
            or self.iterations < FLOOR_ITERATIONS
            or len(self.salt) < SALT_BYTES
        ):
            raise WeakKdfParameters(
                f"memory_kib={self.memory_kib} iterations={self.iterations} "
                f"salt_bytes={len(self.salt)}"
            )
        if (
            self.memory_kib > CEILING_MEMORY_KIB
            or self.iterations > CEILING_ITERATIONS
            or not 1 <= self.lanes <= MAX_LANES
        ):
            raise ProfileDamaged("KDF parameters out of range")

    def derive(self, passphrase: str) -> bytes:
        self.check()
        kdf = Argon2id(
            salt=self.salt,
            length=KEY_BYTES,
            iterations=self.iterations,
            lanes=self.lanes,
            memory_cost=self.memory_kib,
        )
        return kdf.derive(passphrase.encode("utf-8"))

    def to_json(self) -> dict[str, Any]:
        return {
            "algorithm": "argon2id",
            "memory_kib": self.memory_kib,
            "iterations": self.iterations,
            "lanes": self.lanes,
            "salt": base64.b64encode(self.salt).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: Any) -> KdfParameters:
        try:
            if data["algorithm"] != "argon2id":
                raise ProfileDamaged("unknown KDF")
            params = cls(
                memory_kib=_int(data["memory_kib"]),
                iterations=_int(data["iterations"]),
                lanes=_int(data["lanes"]),
                salt=base64.b64decode(data["salt"], validate=True),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ProfileDamaged(f"KDF parameters unreadable: {type(error).__name__}") from None
        params.check()
        return params


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def _physical_memory_kib() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024
    except (ValueError, OSError, AttributeError):
        return 0


def calibrate_kdf(target_seconds: float = 1.0) -> KdfParameters:
    """Choose Argon2id parameters that take about ``target_seconds`` on this machine.

    Memory first (up to 256 MiB, never more than 1/16 of physical memory, never below the
    floor), then as many passes as fit in the target.
    """
    physical = _physical_memory_kib()
    memory = PREFERRED_MEMORY_KIB
    if physical:
        memory = min(memory, max(FLOOR_MEMORY_KIB, physical // 16))
    lanes = max(1, min(4, os.cpu_count() or 1))

    def timed(passes: int) -> float:
        started = time.perf_counter()
        KdfParameters(memory, passes, lanes, os.urandom(SALT_BYTES)).derive("calibration")
        return time.perf_counter() - started

    # A first run pays for faulting the memory in; it would make one pass look too dear.
    timed(1)
    # Two probes separate the fixed cost (allocating the memory) from the cost of a pass.
    one, three = timed(1), timed(3)
    per_pass = (three - one) / 2 if three > one else three / 3
    per_pass = max(per_pass, 1e-3)
    fixed = max(one - per_pass, 0.0)
    iterations = round((target_seconds - fixed) / per_pass)
    iterations = max(FLOOR_ITERATIONS, min(CEILING_ITERATIONS, iterations))
    return KdfParameters(memory, iterations, lanes, os.urandom(SALT_BYTES))


def new_master_key() -> bytearray:
    return bytearray(secrets.token_bytes(KEY_BYTES))


def wipe(buffer: bytearray) -> None:
    """Overwrite key material we own; Python may hold other copies, so this is best effort."""
    for index in range(len(buffer)):
        buffer[index] = 0


def _derive(master_key: bytes | bytearray, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(
        bytes(master_key)
    )


def sqlcipher_key(master_key: bytes | bytearray) -> bytes:
    """The raw SQLCipher key (used as ``PRAGMA key = "x'…'"``, so SQLCipher runs no KDF)."""
    return _derive(master_key, _SQLCIPHER_INFO)


def _wrap_aad(profile_id: str, kind: str, kdf: KdfParameters | None) -> bytes:
    # The passphrase wrap binds its KDF parameters: weakening them in the file breaks the wrap.
    # The recovery wrap does not use the KDF, so it binds only the profile and its purpose.
    bound = {
        "profile_id": profile_id,
        "wrap": kind,
        "kdf": kdf.to_json() if kdf else None,
        "v": KEYFILE_VERSION,
    }
    return json.dumps(bound, sort_keys=True, separators=(",", ":")).encode("ascii")


def _seal(kek: bytes, master_key: bytes | bytearray, aad: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = ChaCha20Poly1305(kek).encrypt(nonce, bytes(master_key), aad)
    return base64.b64encode(nonce + sealed).decode("ascii")


def _open(kek: bytes, wrapped: str, aad: bytes) -> bytearray | None:
    try:
        raw = base64.b64decode(wrapped, validate=True)
    except (TypeError, ValueError):
        raise ProfileDamaged("wrap is not base64") from None
    if len(raw) != NONCE_BYTES + KEY_BYTES + 16:
        raise ProfileDamaged("wrap has the wrong length")
    try:
        return bytearray(ChaCha20Poly1305(kek).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad))
    except InvalidTag:
        return None


# --- recovery key -----------------------------------------------------------------------------


def new_recovery_secret() -> bytes:
    return secrets.token_bytes(_RECOVERY_SECRET_BYTES)


def format_recovery_key(secret: bytes) -> str:
    """Grouped base32 with a short checksum, e.g. ``ABCDE-FGHIJ-…`` (11 groups of 5)."""
    check = hashlib.sha256(secret).digest()[:_RECOVERY_CHECK_BYTES]
    text = base64.b32encode(secret + check).decode("ascii").rstrip("=")
    return "-".join(text[i : i + _RECOVERY_GROUP] for i in range(0, len(text), _RECOVERY_GROUP))


def parse_recovery_key(text: str) -> bytes:
    """Read a recovery key as typed: any case, spaces or dashes, 0/1/8 read as O/I/B, digits
    in any script (an Arabic keyboard types ٢ for 2)."""
    cleaned = "".join(ch for ch in ascii_digits(text).upper() if ch.isascii() and ch.isalnum())
    cleaned = cleaned.translate(str.maketrans("018", "OIB"))
    expected = len(format_recovery_key(bytes(_RECOVERY_SECRET_BYTES)).replace("-", ""))
    if len(cleaned) != expected:
        raise MistypedRecoveryKey(f"length {len(cleaned)} != {expected}")
    padded = cleaned + "=" * (-len(cleaned) % 8)
    try:
        raw = base64.b32decode(padded)
    except ValueError:
        raise MistypedRecoveryKey("not base32") from None
    secret, check = raw[:_RECOVERY_SECRET_BYTES], raw[_RECOVERY_SECRET_BYTES:]
    if hashlib.sha256(secret).digest()[:_RECOVERY_CHECK_BYTES] != check:
        raise MistypedRecoveryKey("checksum")
    return secret


def _recovery_kek(secret: bytes, profile_id: str) -> bytes:
    # The recovery secret is 256 random bits, so a fast KDF suffices: there is nothing to guess.
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=profile_id.encode("ascii"),
        info=_RECOVERY_INFO,
    ).derive(secret)


# --- the key file -----------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyFile:
    """What ``profile.json`` holds: a profile id, the KDF parameters and the two wraps."""

    profile_id: str
    kdf: KdfParameters
    passphrase_wrap: str
    recovery_wrap: str

    @classmethod
    def create(
        cls,
        master_key: bytearray,
        passphrase: str,
        recovery_secret: bytes,
        kdf: KdfParameters,
        profile_id: str | None = None,
    ) -> KeyFile:
        """``profile_id``: kept by a re-key (desktop/store/rekey.py); new otherwise."""
        profile_id = profile_id or secrets.token_hex(16)
        return cls(
            profile_id=profile_id,
            kdf=kdf,
            passphrase_wrap=_seal(
                kdf.derive(passphrase), master_key, _wrap_aad(profile_id, "passphrase", kdf)
            ),
            recovery_wrap=_seal(
                _recovery_kek(recovery_secret, profile_id),
                master_key,
                _wrap_aad(profile_id, "recovery", None),
            ),
        )

    def open_with_passphrase(self, passphrase: str) -> bytearray:
        kek = self.kdf.derive(passphrase)
        master = _open(
            kek, self.passphrase_wrap, _wrap_aad(self.profile_id, "passphrase", self.kdf)
        )
        if master is None:
            raise WrongPassphrase()
        return master

    def open_with_recovery_key(self, recovery_key: str) -> bytearray:
        secret = parse_recovery_key(recovery_key)
        master = _open(
            _recovery_kek(secret, self.profile_id),
            self.recovery_wrap,
            _wrap_aad(self.profile_id, "recovery", None),
        )
        if master is None:
            raise WrongRecoveryKey()
        return master

    def rewrapped(self, master_key: bytearray, new_passphrase: str) -> KeyFile:
        """A key file whose passphrase wrap is new, under a fresh salt; nothing else changes."""
        kdf = KdfParameters(
            self.kdf.memory_kib, self.kdf.iterations, self.kdf.lanes, os.urandom(SALT_BYTES)
        )
        return KeyFile(
            profile_id=self.profile_id,
            kdf=kdf,
            passphrase_wrap=_seal(
                kdf.derive(new_passphrase),
                master_key,
                _wrap_aad(self.profile_id, "passphrase", kdf),
            ),
            recovery_wrap=self.recovery_wrap,
        )

    def to_bytes(self) -> bytes:
        data = {
            "format": KEYFILE_FORMAT,
            "version": KEYFILE_VERSION,
            "profile_id": self.profile_id,
            "kdf": self.kdf.to_json(),
            "wraps": {"passphrase": self.passphrase_wrap, "recovery": self.recovery_wrap},
        }
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("ascii")

    @classmethod
    def from_bytes(cls, raw: bytes) -> KeyFile:
        try:
            data = json.loads(raw.decode("utf-8"))
            if data["format"] != KEYFILE_FORMAT or data["version"] != KEYFILE_VERSION:
                raise ProfileDamaged("unknown key file format or version")
            profile_id = data["profile_id"]
            wraps = data["wraps"]
            passphrase_wrap, recovery_wrap = wraps["passphrase"], wraps["recovery"]
            if not all(isinstance(v, str) for v in (profile_id, passphrase_wrap, recovery_wrap)):
                raise ProfileDamaged("key file fields have the wrong type")
            kdf_data = data["kdf"]
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
            raise ProfileDamaged("key file unreadable") from None
        return cls(profile_id, KdfParameters.from_json(kdf_data), passphrase_wrap, recovery_wrap)
