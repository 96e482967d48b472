"""Space keys per epoch, HPKE-wrapped to each member device and signed by the issuing admin.

Signed, hash-chained membership statements say who holds which keys; a rollback, fork or
swapped public key is refused by code. Formats: sync/CRYPTO.md §3 and §4.
"""

from __future__ import annotations

import hmac
import os
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgpack
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke

from sync.crypto.envelope import key_commitment
from sync.crypto.errors import (
    CryptoError,
    CryptoErrorCode,
    KeyChanged,
    KeyWrapError,
    MembershipError,
)
from sync.crypto.keys import (
    KEY_BYTES,
    SIGNATURE_BYTES,
    DeviceKeys,
    DevicePublicKeys,
    Fingerprint,
    KeyPins,
    device_id_bytes,
    sha256,
)
from sync.protocol import Role

SPACE_KEY_BYTES = 32
WRAP_MAGIC = b"MNGW"
WRAP_VERSION = 1
WRAP_INFO_CONTEXT = b"minga-wrap-v1\x00"
WRAP_SIGN_CONTEXT = b"minga-wrap-sig-v1\x00"
#: HPKE base mode, X25519 / HKDF-SHA256 / ChaCha20-Poly1305: enc (32) ‖ sealed key (32 + 16).
WRAP_SEALED_BYTES = 32 + SPACE_KEY_BYTES + 16
STATEMENT_MAGIC = b"MNGS"
#: Version 2 adds ``key``: the commitment to the epoch's space key (``key_commitment``).
STATEMENT_VERSION = 2
STATEMENT_VERSIONS = (1, 2)
SAFETY_NUMBER_CONTEXT = b"minga-safety-v1\x00"
STATEMENT_SIGN_CONTEXT = b"minga-membership-v1\x00"
GENESIS_PREVIOUS = bytes(32)
FIRST_EPOCH = 1
MAX_MEMBERS = 1000
MAX_STATEMENT_BYTES = 256 * 1024
_MAX_EPOCH = 2**31 - 1
_WRAP_FIXED = struct.Struct(">4sBI16s16s")
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


def new_space_key() -> bytes:
    """A fresh random 256-bit key for one (space, epoch)."""
    return os.urandom(SPACE_KEY_BYTES)


def _space_bytes(space: str) -> bytes:
    if _ID.fullmatch(space) is None:
        raise ValueError("space id must be 1-64 of [A-Za-z0-9_-]")
    return space.encode("ascii")


# --- key wraps -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyWrap:
    """A parsed (not yet verified) wrap: which space key, for whom, issued by whom."""

    space: str
    epoch: int
    recipient: str
    issuer: str
    header: bytes
    sealed: bytes
    signature: bytes

    @classmethod
    def from_bytes(cls, blob: bytes) -> KeyWrap:
        """Raises: KeyWrapError ``bad_format`` or ``unsupported_version``."""
        fixed = _WRAP_FIXED.size
        if len(blob) < fixed + 2 + WRAP_SEALED_BYTES + SIGNATURE_BYTES or blob[:4] != WRAP_MAGIC:
            raise KeyWrapError(CryptoErrorCode.BAD_FORMAT, "not a Minga key wrap")
        _, version, epoch, recipient, issuer = _WRAP_FIXED.unpack_from(blob)
        if version != WRAP_VERSION:
            raise KeyWrapError(CryptoErrorCode.UNSUPPORTED_VERSION, f"wrap version {version}")
        length = blob[fixed]
        header_end = fixed + 1 + length
        space = blob[fixed + 1 : header_end].decode("ascii", errors="replace")
        if (
            _ID.fullmatch(space) is None
            or len(blob) != header_end + WRAP_SEALED_BYTES + SIGNATURE_BYTES
        ):
            raise KeyWrapError(CryptoErrorCode.BAD_FORMAT, "malformed key wrap")
        return cls(
            space,
            epoch,
            recipient.hex(),
            issuer.hex(),
            blob[:header_end],
            blob[header_end : header_end + WRAP_SEALED_BYTES],
            blob[header_end + WRAP_SEALED_BYTES :],
        )


def _wrap_header(space: str, epoch: int, recipient: str, issuer: str) -> bytes:
    if not FIRST_EPOCH <= epoch <= _MAX_EPOCH:
        raise ValueError("epoch out of range")
    raw_space = _space_bytes(space)
    return (
        _WRAP_FIXED.pack(
            WRAP_MAGIC,
            WRAP_VERSION,
            epoch,
            device_id_bytes(recipient),
            device_id_bytes(issuer),
        )
        + bytes([len(raw_space)])
        + raw_space
    )


def wrap_space_key(
    space_key: bytes,
    *,
    space: str,
    epoch: int,
    recipient: DevicePublicKeys,
    issuer: DeviceKeys,
) -> bytes:
    """Seal ``space_key`` to ``recipient`` with HPKE and sign it as ``issuer`` (an admin).

    The HPKE info is the wrap header, so the key opens only as (space, epoch, recipient, issuer).
    """
    if len(space_key) != SPACE_KEY_BYTES:
        raise ValueError("space keys are 32 bytes")
    header = _wrap_header(space, epoch, recipient.device_id, issuer.device_id)
    sealed = _SUITE.encrypt(space_key, recipient.box_public_key(), info=WRAP_INFO_CONTEXT + header)
    return header + sealed + issuer.sign(WRAP_SIGN_CONTEXT + header + sealed)


def open_key_wrap(
    blob: bytes,
    *,
    space: str,
    epoch: int,
    recipient: DeviceKeys,
    log: MembershipLog,
    issuer: str | None = None,
) -> bytes:
    """Verify a wrap the server delivered and return the space key inside.

    The issuer must be an admin of ``space`` at ``epoch`` in the verified ``log``, and the
    recipient a member then with exactly this device's keys. ``issuer`` is the one the server
    names, if any.

    Raises:
        KeyWrapError: ``bad_format``, ``unsupported_version``, ``wrong_space``, ``wrong_epoch``,
            ``wrong_recipient``, ``wrong_issuer``, ``unknown_signer``, ``signature_invalid``,
            ``key_unavailable`` (not a member then) or ``decrypt_failed``.
        KeyChanged: the log lists this device at that epoch with other public keys.
    """
    wrap = KeyWrap.from_bytes(blob)
    if wrap.space != space or log.space != space:
        raise KeyWrapError(CryptoErrorCode.WRONG_SPACE, f"wrap for space {wrap.space}")
    if wrap.epoch != epoch:
        raise KeyWrapError(CryptoErrorCode.WRONG_EPOCH, f"wrap for epoch {wrap.epoch}")
    if wrap.recipient != recipient.device_id:
        raise KeyWrapError(CryptoErrorCode.WRONG_RECIPIENT, f"wrap for {wrap.recipient}")
    if issuer is not None and wrap.issuer != issuer:
        raise KeyWrapError(CryptoErrorCode.WRONG_ISSUER, f"wrap issued by {wrap.issuer}")
    admin = log.admin_keys(epoch, wrap.issuer)
    if admin is None:
        raise KeyWrapError(CryptoErrorCode.UNKNOWN_SIGNER, f"{wrap.issuer} at epoch {epoch}")
    if not admin.verify(wrap.signature, WRAP_SIGN_CONTEXT + wrap.header + wrap.sealed):
        raise KeyWrapError(CryptoErrorCode.SIGNATURE_INVALID, f"wrap for epoch {epoch}")
    listed = log.member_keys(epoch, recipient.device_id)
    if listed is None:
        raise KeyWrapError(CryptoErrorCode.KEY_UNAVAILABLE, f"not a member at epoch {epoch}")
    if listed != recipient.public:
        raise KeyChanged(
            recipient.device_id, str(recipient.public.fingerprint), str(listed.fingerprint)
        )
    try:
        space_key = _SUITE.decrypt(
            wrap.sealed, recipient.box_private_key(), info=WRAP_INFO_CONTEXT + wrap.header
        )
    except InvalidTag:
        raise KeyWrapError(CryptoErrorCode.DECRYPT_FAILED, f"wrap for epoch {epoch}") from None
    committed = log.key_commitment(epoch)
    if committed is not None and not hmac.compare_digest(
        committed, key_commitment(space, epoch, space_key)
    ):
        # Signed by an admin, yet not the key the statements commit to: members are being
        # handed different keys for one epoch.
        raise KeyWrapError(CryptoErrorCode.KEY_MISMATCH, f"wrap for epoch {epoch}")
    return space_key


# --- membership statements -----------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    keys: DevicePublicKeys
    role: Role

    @property
    def device(self) -> str:
        return self.keys.device_id


@dataclass(frozen=True)
class MembershipStatement:
    """Who is in a space with which role and public keys, at which epoch; signed by an admin.

    ``version`` counts statements (1 = genesis); ``epoch`` counts space keys. ``previous`` is
    the hash of the statement before, so the statements of a space form one chain.
    """

    space: str
    version: int
    epoch: int
    previous: bytes
    issuer: str
    members: tuple[Member, ...]
    blob: bytes
    #: Commitment to the epoch's space key (format 2); None in a format-1 statement.
    key_commitment: bytes | None = None

    @property
    def hash(self) -> bytes:
        return sha256(self.blob)

    @property
    def format(self) -> int:
        return self.blob[4]

    @property
    def safety_number(self) -> Fingerprint:
        """30 digits members compare out of band: equal only if they hold the same latest
        statement, so the same members, keys, roles and history (its hash chains them)."""
        return Fingerprint(sha256(SAFETY_NUMBER_CONTEXT, self.hash))

    def member(self, device: str) -> Member | None:
        for member in self.members:
            if member.device == device:
                return member
        return None

    @property
    def devices(self) -> frozenset[str]:
        return frozenset(member.device for member in self.members)

    @classmethod
    def issue(
        cls,
        *,
        space: str,
        version: int,
        epoch: int,
        previous: bytes,
        members: Iterable[Member],
        issuer: DeviceKeys,
        key: bytes | None = None,
    ) -> MembershipStatement:
        """Sign a statement; ``key`` (the epoch's key commitment) makes it format 2, without
        it format 1 is written (kept for the known-answer vector: old statements still read)."""
        ordered = sorted(members, key=lambda member: member.device)
        body: dict[str, Any] = {
            "space": space,
            "version": version,
            "epoch": epoch,
            "previous": previous,
            "issuer": issuer.device_id,
            "members": [[m.device, m.role.value, m.keys.sign_key, m.keys.box_key] for m in ordered],
        }
        if key is not None:
            body["key"] = key
        signed = STATEMENT_MAGIC + bytes([1 if key is None else 2]) + msgpack.packb(body)
        blob = signed + issuer.sign(STATEMENT_SIGN_CONTEXT + signed)
        # Parsing what was just built keeps one definition of a well-formed statement.
        return cls.from_bytes(blob)

    @classmethod
    def from_bytes(cls, blob: bytes) -> MembershipStatement:
        """Parse (the signature is checked by ``MembershipLog``, which knows the issuer's key).

        Raises:
            MembershipError: ``bad_format`` or ``unsupported_version``.
        """
        if len(blob) > MAX_STATEMENT_BYTES or len(blob) < 5 + SIGNATURE_BYTES:
            raise _invalid_format("statement size")
        if blob[:4] != STATEMENT_MAGIC:
            raise _invalid_format("not a Minga membership statement")
        if blob[4] not in STATEMENT_VERSIONS:
            raise MembershipError(
                CryptoErrorCode.UNSUPPORTED_VERSION, f"statement version {blob[4]}"
            )
        try:
            body = msgpack.unpackb(
                blob[5:-SIGNATURE_BYTES], raw=False, strict_map_key=True, max_ext_len=0
            )
            return cls._from_body(body, blob, blob[4])
        except CryptoError:
            raise
        except Exception as error:  # any msgpack failure or wrong shape
            raise _invalid_format("statement body") from error

    @classmethod
    def _from_body(cls, body: Any, blob: bytes, format: int) -> MembershipStatement:
        fields = {"space", "version", "epoch", "previous", "issuer", "members"}
        if format >= 2:
            fields.add("key")
        if not isinstance(body, dict) or set(body) != fields:
            raise _invalid_format("statement fields")
        key = body.get("key")
        if key is not None and (not isinstance(key, bytes) or len(key) != 32):
            raise _invalid_format("key commitment")
        space, version, epoch = body["space"], body["version"], body["epoch"]
        previous, issuer, rows = body["previous"], body["issuer"], body["members"]
        if (
            not isinstance(space, str)
            or _ID.fullmatch(space) is None
            or not _is_int(version, 1, 2**62)
            or not _is_int(epoch, FIRST_EPOCH, _MAX_EPOCH)
            or not isinstance(previous, bytes)
            or len(previous) != 32
            or not isinstance(issuer, str)
            or not isinstance(rows, list)
            or not 1 <= len(rows) <= MAX_MEMBERS
        ):
            raise _invalid_format("statement values")
        members: list[Member] = []
        for row in rows:
            if not isinstance(row, list) or len(row) != 4:
                raise _invalid_format("member row")
            device, role, sign_key, box_key = row
            if not all(isinstance(key, bytes) and len(key) == KEY_BYTES for key in row[2:]):
                raise _invalid_format("member keys")
            keys = DevicePublicKeys(sign_key, box_key)
            if keys.device_id != device:
                raise KeyChanged(str(device), "(its own id)", str(keys.fingerprint))
            members.append(Member(keys, Role(role)))
        devices = [member.device for member in members]
        if devices != sorted(set(devices)):
            raise _invalid_format("members must be sorted and unique")
        return cls(space, version, epoch, previous, issuer, tuple(members), blob, key)

    def signed_by(self, keys: DevicePublicKeys) -> bool:
        signed, signature = self.blob[:-SIGNATURE_BYTES], self.blob[-SIGNATURE_BYTES:]
        return keys.device_id == self.issuer and keys.verify(
            signature, STATEMENT_SIGN_CONTEXT + signed
        )


def _is_int(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _invalid_format(detail: str) -> MembershipError:
    return MembershipError(CryptoErrorCode.BAD_FORMAT, detail)


def _invalid(detail: str) -> MembershipError:
    return MembershipError(CryptoErrorCode.MEMBERSHIP_INVALID, detail)


def _admin(statement: MembershipStatement, device: str) -> Member | None:
    member = statement.member(device)
    return member if member is not None and member.role is Role.ADMIN else None


def _check_genesis(statement: MembershipStatement) -> None:
    if statement.version != 1 or statement.epoch != FIRST_EPOCH:
        raise _invalid("a space's first statement is version 1 at epoch 1")
    if statement.previous != GENESIS_PREVIOUS:
        raise _invalid("a first statement has no previous statement")
    admin = _admin(statement, statement.issuer)
    if admin is None:
        raise MembershipError(CryptoErrorCode.UNKNOWN_SIGNER, "issuer is not an admin in it")
    if not statement.signed_by(admin.keys):
        raise MembershipError(CryptoErrorCode.SIGNATURE_INVALID, "first statement")


def loses_rights(before: Role, after: Role) -> bool:
    """A change of role that takes a right away: writing, or administering."""
    return (before.can_write and not after.can_write) or (
        before is Role.ADMIN and after is not Role.ADMIN
    )


def _check_step(before: MembershipStatement, after: MembershipStatement) -> None:
    """``after`` may follow ``before``: chained, issued by an admin of ``before``, keys kept."""
    if after.space != before.space:
        raise _invalid(f"statement for space {after.space}")
    if after.version != before.version + 1:
        raise _invalid(f"version {after.version} after {before.version}: statements are missing")
    if after.previous != before.hash:
        raise _invalid("does not chain to the statement before it")
    admin = _admin(before, after.issuer)
    if admin is None:
        raise MembershipError(CryptoErrorCode.UNKNOWN_SIGNER, f"{after.issuer} was not an admin")
    if not after.signed_by(admin.keys):
        raise MembershipError(CryptoErrorCode.SIGNATURE_INVALID, f"version {after.version}")
    if after.epoch not in (before.epoch, before.epoch + 1):
        raise _invalid(f"epoch {after.epoch} after {before.epoch}")
    if not before.devices <= after.devices and after.epoch != before.epoch + 1:
        # A removed device holds the current key: only a new epoch shuts it out.
        raise _invalid("a member was removed without starting a new epoch")
    for member in after.members:
        earlier = before.member(member.device)
        if earlier is not None and earlier.keys != member.keys:
            raise KeyChanged(
                member.device, str(earlier.keys.fingerprint), str(member.keys.fingerprint)
            )
        if (
            earlier is not None
            and loses_rights(earlier.role, member.role)
            and after.epoch != before.epoch + 1
        ):
            # Authority is per epoch (`writer_keys`, `admin_keys`): in the same epoch the
            # earlier statement would still let it write or wrap keys.
            raise _invalid(f"{member.device} lost a right without starting a new epoch")
    if not any(member.role is Role.ADMIN for member in after.members):
        raise _invalid("a space must keep an admin")
    if after.format < before.format:
        raise _invalid("a statement in an older format than the one before it")
    if (
        after.epoch == before.epoch
        and before.key_commitment is not None
        and after.key_commitment != before.key_commitment
    ):
        # One epoch, one key: a second commitment would hand members different keys.
        raise _invalid(f"another key commitment for epoch {after.epoch}")


class MembershipLog:
    """The verified chain of one space's membership statements, on this device.

    Starts from a first statement trusted on first use (its admin's fingerprint is what members
    compare out of band) and only ever moves forward. Every member key is checked against the
    profile's ``KeyPins``.
    """

    def __init__(self, genesis: bytes, pins: KeyPins | None = None) -> None:
        statement = MembershipStatement.from_bytes(genesis)
        _check_genesis(statement)
        self._pins = pins
        self._check_pins(statement)
        self.space = statement.space
        self._statements = [statement]

    @classmethod
    def from_blobs(cls, blobs: Iterable[bytes], pins: KeyPins | None = None) -> MembershipLog:
        """Rebuild a log from stored statements (oldest first), re-verifying every step."""
        iterator = iter(blobs)
        log = cls(next(iterator), pins)
        for blob in iterator:
            log.accept(blob)
        return log

    @property
    def latest(self) -> MembershipStatement:
        return self._statements[-1]

    @property
    def statements(self) -> tuple[MembershipStatement, ...]:
        return tuple(self._statements)

    def to_blobs(self) -> list[bytes]:
        return [statement.blob for statement in self._statements]

    def accept(self, blob: bytes) -> bool:
        """Take the next statement; True if it was new, False if already held.

        Raises:
            MembershipError: ``membership_rollback`` (older than the latest), ``membership_fork``
                (another statement with a version already held), ``membership_invalid``,
                ``unknown_signer``, ``signature_invalid``, ``bad_format``.
            KeyChanged: a member's public keys differ from the ones before or the pinned ones.
        """
        statement = MembershipStatement.from_bytes(blob)
        if statement.space != self.space:
            raise _invalid(f"statement for space {statement.space}")
        if statement.version <= self.latest.version:
            held = self._statements[statement.version - 1]
            if not hmac.compare_digest(held.hash, statement.hash):
                raise MembershipError(
                    CryptoErrorCode.MEMBERSHIP_FORK,
                    f"two statements at version {statement.version}",
                )
            if statement.version < self.latest.version:
                raise MembershipError(
                    CryptoErrorCode.MEMBERSHIP_ROLLBACK,
                    f"version {statement.version} but {self.latest.version} is held",
                )
            return False
        _check_step(self.latest, statement)
        self._check_pins(statement)
        self._statements.append(statement)
        return True

    def check_current(self, blob: bytes) -> MembershipStatement:
        """What the server says is the current statement: accept it, or refuse a rollback."""
        self.accept(blob)
        return self.latest

    def _check_pins(self, statement: MembershipStatement) -> None:
        if self._pins is not None:
            for member in statement.members:
                self._pins.check(member.keys)

    def key_commitment(self, epoch: int) -> bytes | None:
        """The commitment to ``epoch``'s key from the statements, if any is format 2."""
        for statement in self._at_epoch(epoch):
            if statement.key_commitment is not None:
                return statement.key_commitment
        return None

    def epoch_committed(self, epoch: int) -> bool:
        """Whether the statement that began ``epoch`` is format 2. Only then is a format-1
        envelope of it a downgrade: one sealed by an older app before a later statement of the
        same epoch was format 2 is genuine."""
        first = next(iter(self._at_epoch(epoch)), None)
        return first is not None and first.key_commitment is not None

    def statement(self, version: int) -> MembershipStatement | None:
        if 1 <= version <= len(self._statements):
            return self._statements[version - 1]
        return None

    def _at_epoch(self, epoch: int) -> Iterable[MembershipStatement]:
        return (s for s in self._statements if s.epoch == epoch)

    def member_keys(self, epoch: int, device: str) -> DevicePublicKeys | None:
        """The device's keys if it was a member (any role) in a statement of ``epoch``."""
        for statement in self._at_epoch(epoch):
            member = statement.member(device)
            if member is not None:
                return member.keys
        return None

    def writer_keys(self, epoch: int, device: str) -> DevicePublicKeys | None:
        """The device's keys if it could write (admin or editor) at ``epoch``."""
        for statement in self._at_epoch(epoch):
            member = statement.member(device)
            if member is not None and member.role.can_write:
                return member.keys
        return None

    def tenure_epoch(self, device: str, *, admin: bool = False) -> int | None:
        """The first epoch of the device's current, unbroken hold of the right to write (with
        ``admin``: to administer) up to the latest statement; None when the latest statement
        does not give it that right.

        Losing a right starts a new epoch (``_check_step``), so the keys of every epoch before
        this one were held by a device that since lost the right at least once: whatever it
        sealed under them could have been sealed after it lost it, and without a word of the
        server nothing tells the two apart (sync/CRYPTO.md §6).
        """
        start: int | None = None
        for statement in reversed(self._statements):
            member = statement.member(device)
            holds = member is not None and (
                member.role is Role.ADMIN if admin else member.role.can_write
            )
            if not holds:
                break
            start = statement.epoch
        return start

    def admin_keys(self, epoch: int, device: str) -> DevicePublicKeys | None:
        for statement in self._at_epoch(epoch):
            member = _admin(statement, device)
            if member is not None:
                return member.keys
        return None


# --- what an admin does ------------------------------------------------------------------------


@dataclass(frozen=True)
class SpaceChange:
    """A new statement and, for a new epoch or a new member, the wraps to upload with it.

    Upload ``wraps`` with ``PUT /v1/spaces/{space}/keys/{statement.epoch}``, publish the
    statement, then ``MembershipLog.accept`` it.
    """

    statement: MembershipStatement
    space_key: bytes
    wraps: Mapping[str, bytes]


def create_space(space: str, admin: DeviceKeys) -> SpaceChange:
    """The first statement of a new space (``admin`` alone), its first key, and its own wrap."""
    space_key = new_space_key()
    statement = MembershipStatement.issue(
        space=space,
        version=1,
        epoch=FIRST_EPOCH,
        previous=GENESIS_PREVIOUS,
        members=[Member(admin.public, Role.ADMIN)],
        issuer=admin,
        key=key_commitment(space, FIRST_EPOCH, space_key),
    )
    wrap = wrap_space_key(
        space_key, space=space, epoch=FIRST_EPOCH, recipient=admin.public, issuer=admin
    )
    return SpaceChange(statement, space_key, {admin.device_id: wrap})


def change_members(
    log: MembershipLog,
    admin: DeviceKeys,
    *,
    space_key: bytes,
    add: Mapping[str, tuple[DevicePublicKeys, Role]] | None = None,
    roles: Mapping[str, Role] | None = None,
    remove: Iterable[str] = (),
    rotate: bool = False,
) -> SpaceChange:
    """Add members, change roles, remove members; a removal, a demotion (a member losing the
    right to write or to administer) or ``rotate`` starts a new epoch.

    ``space_key`` is the current epoch's key. Added members get wraps of it; in a new epoch
    every remaining member gets a wrap of a fresh key and the removed ones get nothing.
    Old epochs stay readable to those who had them: their keys are never re-issued or revoked.
    """
    current = log.latest
    members = {member.device: member for member in current.members}
    removed = set(remove)
    unknown = removed - members.keys()
    if unknown:
        raise ValueError(f"not members: {sorted(unknown)}")
    for device in removed:
        del members[device]
    demoted = False
    for device, role in (roles or {}).items():
        if device not in members:
            raise ValueError(f"not a member: {device}")
        demoted |= loses_rights(members[device].role, role)
        members[device] = Member(members[device].keys, role)
    added = dict(add or {})
    for device, (keys, role) in added.items():
        if keys.device_id != device:
            raise ValueError("device id does not match its keys")
        members[device] = Member(keys, role)
    new_epoch = bool(removed) or demoted or rotate
    epoch = current.epoch + 1 if new_epoch else current.epoch
    key = new_space_key() if new_epoch else space_key
    statement = MembershipStatement.issue(
        space=log.space,
        version=current.version + 1,
        epoch=epoch,
        previous=current.hash,
        members=members.values(),
        issuer=admin,
        key=key_commitment(log.space, epoch, key),
    )
    recipients = statement.members if new_epoch else [members[device] for device in added]
    wraps = {
        member.device: wrap_space_key(
            key, space=log.space, epoch=epoch, recipient=member.keys, issuer=admin
        )
        for member in recipients
    }
    return SpaceChange(statement, key, wraps)


class SpaceKeyring:
    """This device's verified view of its spaces: membership logs and opened space keys.

    It is what ``open_record`` asks (``RecordKeys``); the profile stores ``logs`` (as blobs) and
    ``keys`` inside the encrypted store.
    """

    def __init__(self, device: DeviceKeys) -> None:
        self.device = device
        self.logs: dict[str, MembershipLog] = {}
        self.keys: dict[tuple[str, int], bytes] = {}

    def add_log(self, log: MembershipLog) -> None:
        self.logs[log.space] = log

    def add_wrap(self, space: str, epoch: int, blob: bytes, issuer: str | None = None) -> bytes:
        """Verify and open a wrap against the space's log; keep and return the key."""
        log = self.logs.get(space)
        if log is None:
            raise KeyWrapError(CryptoErrorCode.KEY_UNAVAILABLE, f"no membership for {space}")
        key = open_key_wrap(
            blob, space=space, epoch=epoch, recipient=self.device, log=log, issuer=issuer
        )
        held = self.keys.get((space, epoch))
        if held is not None and not hmac.compare_digest(held, key):
            # Two keys for one epoch: whoever holds the other one reads what we would seal.
            # The first stays; the second is refused and reported, never used.
            raise KeyWrapError(CryptoErrorCode.KEY_CONFLICT, f"a second key for epoch {epoch}")
        self.keys[(space, epoch)] = key
        return key

    def current_key(self, space: str) -> tuple[int, bytes] | None:
        """The epoch and key to seal new records with: the latest statement's epoch."""
        log = self.logs.get(space)
        if log is None:
            return None
        key = self.keys.get((space, log.latest.epoch))
        return None if key is None else (log.latest.epoch, key)

    def space_key(self, space: str, epoch: int) -> bytes | None:
        return self.keys.get((space, epoch))

    def author_keys(self, space: str, epoch: int, device: str) -> DevicePublicKeys | None:
        log = self.logs.get(space)
        return None if log is None else log.writer_keys(epoch, device)

    def admin_keys_at(self, space: str, epoch: int, device: str) -> DevicePublicKeys | None:
        """The device's keys if it was an admin of ``space`` at ``epoch`` (a snapshot's signer)."""
        log = self.logs.get(space)
        return None if log is None else log.admin_keys(epoch, device)

    def statement_at(self, space: str, version: int) -> tuple[int, bytes] | None:
        """(epoch, hash) of the verified statement of ``space`` at ``version``, if held."""
        log = self.logs.get(space)
        statement = None if log is None else log.statement(version)
        return None if statement is None else (statement.epoch, statement.hash)

    def epoch_committed(self, space: str, epoch: int) -> bool:
        log = self.logs.get(space)
        return log is not None and log.epoch_committed(epoch)
