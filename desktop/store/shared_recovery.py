"""Recovery shared among trusted people: a recovery secret split with SLIP-39, k of n.

A fresh 256-bit secret wraps the profile's master key (the same ``keys.py`` wrap as the
recovery key, bound to the profile, the share set and its k/n) in ``recovery-shares.json``
beside the key file; the secret itself is never stored: it exists only as SLIP-39 shares
(``shamir-mnemonic``, the reference implementation, so no secret-sharing arithmetic of ours),
each 33 words a person can print, or sealed to a trusted member's device (HPKE to its X25519
key, as space keys are wrapped) and carried by sync as a ``recovery_share`` record. Any k
shares give the secret back; fewer reveal nothing about it (Shamir over GF(256)).

Re-issuing makes a new secret and replaces the wrap, so old shares combine to a secret that
opens nothing any more; the old share records are deleted (and so disappear from holders'
computers at their next sync).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import shamir_mnemonic
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from sqlalchemy import Engine, select

from desktop.domain.records import new_id
from desktop.domain.recovery_records import RecoveryShare
from desktop.domain.translation import N_, _
from desktop.store import keys
from desktop.store.errors import ProfileDamaged, ProfileError, WrongRecoveryKey
from desktop.store.files import read_json_object, write_atomically
from desktop.store.profile import KEY_FILE, Profile, unlock_with_master_key
from desktop.store.records import RecordStore
from desktop.store.schema import RecordRow
from sync.crypto.keys import DeviceKeys, DevicePublicKeys

SHARES_FILE = "recovery-shares.json"
FORMAT = "minga-recovery-shares"
VERSION = 1
SECRET_BYTES = 32
MAX_SHARES = 16
_KEK_INFO = b"minga/v1/shared-recovery-wrap"
#: Same suite as space-key wraps (sync/crypto/spaces.py): X25519, HKDF-SHA256, ChaCha20-Poly1305.
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_SEAL_INFO = b"minga/v1/recovery-share\x00"


class SharesRefused(ProfileError):
    """Shares that cannot help (yet); ``reason`` picks the message."""

    code = "shares_refused"
    message = N_("These words are not a recovery share Minga can read. Check each word.")
    _REASONS: ClassVar[dict[str, str]] = {
        "mistyped": N_("These words are not a recovery share Minga can read. Check each word."),
        "too_few": N_(
            "Not enough shares yet: this set needs {threshold}. Nothing was opened; ask "
            "another trusted person for theirs."
        ),
        "mixed": N_(
            "These shares come from different sets. Use shares given out at the same time."
        ),
        "retired": N_(
            "These shares do not open this profile: they were replaced by newer ones, or they "
            "belong to another person's profile. Ask your trusted people for the shares you "
            "gave them last."
        ),
        "none_issued": N_("This profile has no shared recovery set up."),
        "bad_choice": N_("Choose how many shares to make (2 to 16) and how many are needed."),
    }

    def __init__(self, reason: str, detail: str = "", **details: object) -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.details = details

    def user_message(self) -> str:
        return _(self._REASONS.get(self.reason, self.message)).format(**self.details)


@dataclass(frozen=True)
class ShareSet:
    """What ``recovery-shares.json`` holds: which set is current and the master key's wrap."""

    profile_id: str
    identifier: int
    threshold: int
    count: int
    issued_at: str
    wrap: str

    def aad(self) -> bytes:
        bound = {
            "profile_id": self.profile_id,
            "wrap": "shared-recovery",
            "identifier": self.identifier,
            "threshold": self.threshold,
            "count": self.count,
            "v": VERSION,
        }
        return json.dumps(bound, sort_keys=True, separators=(",", ":")).encode("ascii")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "profile_id": self.profile_id,
            "identifier": self.identifier,
            "threshold": self.threshold,
            "count": self.count,
            "issued_at": self.issued_at,
            "wrap": self.wrap,
        }

    @classmethod
    def from_json(cls, data: Any) -> ShareSet:
        try:
            if data["format"] != FORMAT or data["version"] != VERSION:
                raise ProfileDamaged("unknown recovery shares format")
            found = cls(
                str(data["profile_id"]),
                int(data["identifier"]),
                int(data["threshold"]),
                int(data["count"]),
                str(data["issued_at"]),
                str(data["wrap"]),
            )
        except (KeyError, TypeError, ValueError):
            raise ProfileDamaged("recovery shares file unreadable") from None
        return found

    def open(self, secret: bytes) -> bytearray:
        master = keys._open(_kek(secret, self.profile_id), self.wrap, self.aad())
        if master is None:
            raise SharesRefused("retired")
        return master


def _kek(secret: bytes, profile_id: str) -> bytes:
    # Like the recovery key's: 256 random bits need no slow KDF.
    return keys._recovery_kek(secret, profile_id + "/shared")


def read_share_set(folder: Path) -> ShareSet | None:
    data = read_json_object(folder / SHARES_FILE)
    return ShareSet.from_json(data) if data else None


@dataclass(frozen=True)
class IssuedShares:
    """A new set: the words of each share, in order. Shown or sealed once, never stored."""

    share_set: ShareSet
    mnemonics: tuple[str, ...]


def issue_shares(profile: Profile, threshold: int, count: int) -> IssuedShares:
    """A new secret split ``threshold`` of ``count``; the previous set stops opening anything."""
    if not (2 <= count <= MAX_SHARES and 2 <= threshold <= count):
        raise SharesRefused("bad_choice")
    secret = secrets.token_bytes(SECRET_BYTES)
    groups = shamir_mnemonic.generate_mnemonics(
        group_threshold=1, groups=[(threshold, count)], master_secret=secret
    )
    mnemonics = tuple(groups[0])
    identifier = shamir_mnemonic.Share.from_mnemonic(mnemonics[0]).identifier
    profile_id = profile.key_file.profile_id
    unsealed = ShareSet(
        profile_id,
        identifier,
        threshold,
        count,
        datetime.now(UTC).isoformat(timespec="seconds"),
        "",
    )
    share_set = ShareSet(
        **{
            **unsealed.__dict__,
            "wrap": profile.wrap_master_key(_kek(secret, profile_id), unsealed.aad()),
        }
    )
    write_atomically(
        profile.folder / SHARES_FILE,
        (json.dumps(share_set.to_json(), indent=2, sort_keys=True) + "\n").encode("ascii"),
    )
    return IssuedShares(share_set, mnemonics)


def combine(mnemonics: list[str], share_set: ShareSet | None) -> bytearray:
    """The master key from k shares; refused by name when they cannot give it."""
    if share_set is None:
        raise SharesRefused("none_issued")
    cleaned = [" ".join(m.lower().split()) for m in mnemonics if m.strip()]
    try:
        parsed = [shamir_mnemonic.Share.from_mnemonic(m) for m in cleaned]
    except shamir_mnemonic.MnemonicError:
        raise SharesRefused("mistyped") from None
    if len({share.identifier for share in parsed}) > 1:
        raise SharesRefused("mixed")
    if parsed and parsed[0].identifier != share_set.identifier:
        raise SharesRefused("retired")
    distinct = {share.index for share in parsed}
    if len(distinct) < share_set.threshold:
        raise SharesRefused("too_few", threshold=share_set.threshold)
    try:
        secret = shamir_mnemonic.combine_mnemonics(cleaned)
    except shamir_mnemonic.MnemonicError as error:
        raise SharesRefused("mistyped", str(error)) from None
    return share_set.open(secret)


def unlock_with_shares(folder: Path, mnemonics: list[str], new_passphrase: str) -> Profile:
    """Open the profile in ``folder`` with k shares and make ``new_passphrase`` its passphrase."""
    from desktop.store.keys import KeyFile
    from desktop.store.profile import check_passphrase_strength

    check_passphrase_strength(new_passphrase)
    try:
        key_file = KeyFile.from_bytes((folder / KEY_FILE).read_bytes())
    except FileNotFoundError:
        from desktop.store.errors import ProfileNotFound

        raise ProfileNotFound(str(folder)) from None
    master = combine(mnemonics, read_share_set(folder))
    return unlock_with_master_key(folder, key_file, master, new_passphrase)


# --- shares sealed to a member's device -----------------------------------------------------


def _seal_info(holder: str, identifier: int, record: str) -> bytes:
    # Bound to the record and the set: a sealed share moved to another record does not open.
    return _SEAL_INFO + json.dumps(
        {"holder": holder, "set": identifier, "record": record}, sort_keys=True
    ).encode("ascii")


def seal_share(mnemonic: str, holder: DevicePublicKeys, identifier: int, record: str) -> str:
    """One share sealed to ``holder``'s X25519 key (HPKE base mode), base64 for a record."""
    sealed = _SUITE.encrypt(
        mnemonic.encode("utf-8"),
        holder.box_public_key(),
        info=_seal_info(holder.device_id, identifier, record),
    )
    return base64.b64encode(sealed).decode("ascii")


def open_share(share: RecoveryShare, holder: DeviceKeys) -> str:
    """The words of a share sealed to this device; ``WrongRecoveryKey`` if it is not ours."""
    try:
        raw = base64.b64decode(share.sealed, validate=True)
        plain = _SUITE.decrypt(
            raw,
            holder.box_private_key(),
            info=_seal_info(holder.device_id, share.set_identifier, share.id),
        )
    except (ValueError, InvalidTag):
        raise WrongRecoveryKey("share not sealed to this device") from None
    return plain.decode("utf-8")


def share_records(engine: Engine) -> list[RecoveryShare]:
    """Every live ``recovery_share`` record on this computer (issued here or held here)."""
    store = RecordStore(engine)
    with engine.connect() as connection:
        ids = list(
            connection.scalars(
                select(RecordRow.id).where(
                    RecordRow.record_type == "recovery_share", RecordRow.deleted.is_(False)
                )
            )
        )
    found = [store.get(record_id) for record_id in ids]
    return [record for record in found if isinstance(record, RecoveryShare)]


def shares_held(engine: Engine, device: DeviceKeys) -> list[RecoveryShare]:
    """Shares other people sealed to this device: the ones it can help them back in with."""
    return [r for r in share_records(engine) if r.holder_device == device.device_id]


def seal_to_members(
    profile: Profile,
    issued: IssuedShares,
    *,
    space: str,
    owner: str,
    holders: list[DevicePublicKeys],
) -> list[RecoveryShare]:
    """Save one share per holder (the first ``len(holders)`` shares) as records of ``space``;
    the next sync delivers them. Records of the previous set issued here are deleted."""
    if len(holders) > len(issued.mnemonics):
        raise SharesRefused("bad_choice")
    store = RecordStore(profile.engine)
    records = []
    for mnemonic, holder in zip(issued.mnemonics, holders, strict=False):
        record_id = new_id()
        records.append(
            RecoveryShare(
                id=record_id,
                space_id=space,
                owner=owner,
                owner_profile=profile.key_file.profile_id,
                holder_device=holder.device_id,
                set_identifier=issued.share_set.identifier,
                threshold=issued.share_set.threshold,
                share_count=issued.share_set.count,
                sealed=seal_share(mnemonic, holder, issued.share_set.identifier, record_id),
            )
        )
    store.save_all(records)
    return records


def retire_issued(profile: Profile, keep: int | None = None) -> int:
    """Delete the share records this profile issued for sets other than ``keep``."""
    store = RecordStore(profile.engine)
    own = profile.key_file.profile_id
    retired = 0
    for record in share_records(profile.engine):
        if record.owner_profile == own and record.set_identifier != keep:
            store.delete(record.id)
            retired += 1
    return retired
