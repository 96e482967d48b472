"""Why a sealed record, a key wrap, a membership statement or a device key was refused.

Every refusal is a ``CryptoError`` with a machine-readable ``code``: the UI translates it, the
sync engine decides by it (quarantine the blob, warn loudly, stop syncing the space)."""

from __future__ import annotations

from enum import StrEnum


class CryptoErrorCode(StrEnum):
    """The reasons, one each; never reused for another meaning once released."""

    #: Not a Minga blob of this kind, cut short, or with bytes after it.
    BAD_FORMAT = "bad_format"
    #: A format version this app does not know (a newer app wrote it).
    UNSUPPORTED_VERSION = "unsupported_version"
    #: The decoded content would exceed the size cap (a compression bomb or a hostile peer).
    TOO_LARGE = "too_large"
    #: The plaintext is not one msgpack map with text keys.
    BAD_CONTENT = "bad_content"
    #: The signature does not verify: the bytes were changed, or someone else signed them.
    SIGNATURE_INVALID = "signature_invalid"
    #: The signer is not a known member with the right role for this space and epoch.
    UNKNOWN_SIGNER = "unknown_signer"
    #: A genuine blob presented for another space.
    WRONG_SPACE = "wrong_space"
    #: A genuine blob presented for another record.
    WRONG_RECORD = "wrong_record"
    #: A genuine blob presented at another revision (an old version replayed).
    WRONG_REVISION = "wrong_revision"
    #: The base revision is not the one the revision was made from.
    WRONG_BASE = "wrong_base"
    #: Sealed under an epoch not acceptable here (older than the one required).
    WRONG_EPOCH = "wrong_epoch"
    #: The author the server names is not the author who sealed it.
    WRONG_AUTHOR = "wrong_author"
    #: A key wrap addressed to another device.
    WRONG_RECIPIENT = "wrong_recipient"
    #: A key wrap issued by someone other than the issuer the server names.
    WRONG_ISSUER = "wrong_issuer"
    #: This device holds no key for that space and epoch (not a member then, or wrap missing).
    KEY_UNAVAILABLE = "key_unavailable"
    #: Authenticated decryption failed although the signature held: wrong key or a bad writer.
    DECRYPT_FAILED = "decrypt_failed"
    #: A device's public key differs from the one pinned for it: a loud warning, never silent.
    KEY_CHANGED = "key_changed"
    #: A fingerprint typed or scanned does not match the device's keys.
    FINGERPRINT_MISMATCH = "fingerprint_mismatch"
    #: A membership statement older than (or equal in version to) one already accepted.
    MEMBERSHIP_ROLLBACK = "membership_rollback"
    #: Two different statements claim the same place in a space's history.
    MEMBERSHIP_FORK = "membership_fork"
    #: A statement that does not follow from the one before it (gap, wrong hash, bad epoch step,
    #: a removal without a new epoch, no admin left, issued by a non-admin).
    MEMBERSHIP_INVALID = "membership_invalid"
    #: A public key of small order or not canonically encoded: signatures or shared secrets
    #: under it could be forged by anyone (an identity-point Ed25519 key verifies R=0, S=0).
    WEAK_KEY = "weak_key"
    #: A key (from a wrap, or the one an envelope commits to) that is not the key the
    #: statements commit to for that epoch: members are being handed different keys.
    KEY_MISMATCH = "key_mismatch"
    #: A second, different key for an epoch this device already holds a key for.
    KEY_CONFLICT = "key_conflict"
    #: An envelope sealed under a membership statement this device does not hold (yet).
    STATEMENT_UNKNOWN = "statement_unknown"


class CryptoError(ValueError):
    """A blob or key refused; ``code`` says why, ``detail`` is English for logs (no payloads)."""

    def __init__(self, code: CryptoErrorCode, detail: str = "") -> None:
        super().__init__(f"{code.value}: {detail}" if detail else code.value)
        self.code = code
        self.detail = detail


class EnvelopeError(CryptoError):
    """A sealed record or tombstone that must not be applied."""


class KeyWrapError(CryptoError):
    """A space-key wrap that must not be used."""


class MembershipError(CryptoError):
    """A membership statement that must not be accepted: rollback, fork or invalid step."""


class KeyChanged(CryptoError):
    """A device now presents other public keys than the ones pinned for it.

    Raised, never logged and skipped: the UI shows both fingerprints and asks the person to
    compare them out of band before anything from that device is trusted again.
    """

    def __init__(self, device: str, pinned: str, presented: str) -> None:
        super().__init__(
            CryptoErrorCode.KEY_CHANGED,
            f"device {device} was pinned as {pinned} but now presents {presented}",
        )
        self.device = device
        self.pinned = pinned
        self.presented = presented
