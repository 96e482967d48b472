"""Devices and their credentials: invites, enrollment, challenge–response, short-lived tokens.
No passwords: a device proves itself by signing a fresh challenge with its Ed25519 key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import math
import secrets
import threading
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sync.crypto.errors import CryptoError
from sync.crypto.keys import check_public_keys
from sync.protocol import (
    EnrollRequest,
    ErrorCode,
    Role,
    TokenRequest,
    challenge_statement,
    device_id_for,
    enroll_statement,
    format_invite,
    normalize_invite,
)
from sync.server import schema
from sync.server.db import Database
from sync.server.errors import ApiError


def secret_hash(secret: str | bytes) -> bytes:
    """Invite codes and tokens are kept only as SHA-256: a copied database cannot use them."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(secret.encode("ascii") if isinstance(secret, str) else secret)
    return digest.finalize()


def new_invite_code() -> str:
    """160 random bits as 32 base32 letters, printed in groups of four for reading aloud."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


@dataclass(frozen=True)
class Grant:
    space: str
    role: Role


def create_invite(conn: Connection, grants: Sequence[Grant], ttl: int, now: int) -> str:
    """Store a one-time invite joining `grants`; return the code (shown once, never stored)."""
    code = new_invite_code()
    code_hash = secret_hash(code)
    conn.execute(
        insert(schema.invite).values(code_hash=code_hash, created_at=now, expires_at=now + ttl)
    )
    for grant in grants:
        conn.execute(
            insert(schema.invite_grant).values(
                code_hash=code_hash, space_id=grant.space, role=grant.role.value
            )
        )
    return format_invite(code)


def enroll(db: Database, request: EnrollRequest, now: int) -> tuple[str, list[Grant]]:
    """Register a new device with a one-time invite; returns its id and the spaces it joined."""
    try:
        Ed25519PublicKey.from_public_bytes(request.sign_key).verify(
            request.signature, enroll_statement(request.invite, request.sign_key, request.box_key)
        )
    except (InvalidSignature, ValueError):
        raise ApiError(
            400, ErrorCode.SIGNATURE_INVALID, "enrollment signature does not verify"
        ) from None
    try:
        check_public_keys(request.sign_key, request.box_key)
    except CryptoError:
        # A small-order or non-canonical key lets anyone forge this device's signatures.
        raise ApiError(400, ErrorCode.KEY_INVALID, "device keys are weak or malformed") from None
    device_id = device_id_for(request.sign_key)
    code_hash = secret_hash(normalize_invite(request.invite))
    with db.write() as conn:
        # The conditional update is the one-time guarantee: of two racing enrollments with the
        # same code, exactly one sees rowcount 1.
        claimed = conn.execute(
            update(schema.invite)
            .where(
                schema.invite.c.code_hash == code_hash,
                schema.invite.c.used_at.is_(None),
                schema.invite.c.expires_at > now,
            )
            .values(used_at=now, device_id=device_id)
        ).rowcount
        if claimed != 1:
            raise ApiError(403, ErrorCode.INVITE_INVALID, "invite is unknown, used or expired")
        exists = conn.execute(
            select(schema.device.c.id).where(
                (schema.device.c.id == device_id) | (schema.device.c.sign_key == request.sign_key)
            )
        ).first()
        if exists is not None:
            # Raising rolls the claim back: the invite stays usable for the right device.
            raise ApiError(409, ErrorCode.DEVICE_EXISTS, "this device key is already enrolled")
        conn.execute(
            insert(schema.device).values(
                id=device_id, sign_key=request.sign_key, box_key=request.box_key, enrolled_at=now
            )
        )
        grants = [
            Grant(space=row.space_id, role=Role(row.role))
            for row in conn.execute(
                select(schema.invite_grant).where(schema.invite_grant.c.code_hash == code_hash)
            )
        ]
        for grant in grants:
            conn.execute(
                insert(schema.member).values(
                    space_id=grant.space, device_id=device_id, role=grant.role.value, added_at=now
                )
            )
    return device_id, grants


def _live_device(conn: Connection, device_id: str) -> bytes:
    row = conn.execute(
        select(schema.device.c.sign_key, schema.device.c.revoked_at).where(
            schema.device.c.id == device_id
        )
    ).first()
    if row is None:
        raise ApiError(404, ErrorCode.DEVICE_NOT_FOUND, f"device {device_id} is not enrolled")
    if row.revoked_at is not None:
        raise ApiError(401, ErrorCode.DEVICE_REVOKED, f"device {device_id} is revoked")
    return bytes(row.sign_key)


#: What a challenge's seal covers besides the device and the expiry: keeps it from meaning
#: anything else the secret might ever seal.
_CHALLENGE_CONTEXT = b"minga-challenge-v1\x00"
_SECRET_NAME = "challenge"


def server_secret(db: Database) -> bytes:
    """The challenge-sealing key every process over this database shares; made once.

    Two processes starting together may both try to make it: the second insert fails on the
    primary key and that process reads the first one's, so all agree.
    """
    query = select(schema.server_secret.c.value).where(schema.server_secret.c.name == _SECRET_NAME)
    with db.read() as conn:
        found = conn.execute(query).scalar_one_or_none()
    if found is not None:
        return bytes(found)
    try:
        with db.write() as conn:
            conn.execute(
                insert(schema.server_secret).values(
                    name=_SECRET_NAME, value=secrets.token_bytes(32)
                )
            )
    except IntegrityError:
        pass
    with db.read() as conn:
        return bytes(conn.execute(query).scalar_one())


def _seal(secret: bytes, device_id: str, expires: bytes, nonce: bytes) -> bytes:
    message = _CHALLENGE_CONTEXT + device_id.encode("ascii") + expires + nonce
    return hmac.new(secret, message, hashlib.sha256).digest()[:16]


def issue_challenge(db: Database, secret: bytes, device_id: str, now: int, ttl: int) -> bytes:
    """A challenge the server can check later without having stored it.

    32 bytes, as the protocol has always had: the expiry (4), a random nonce (12) and an
    HMAC-SHA256 over device, expiry and nonce under the shared secret (16). Issuing one writes
    nothing, so any number of them for a device's id costs that device nothing.
    """
    with db.read() as conn:
        _live_device(conn, device_id)
    expires = (now + ttl).to_bytes(4, "big")
    nonce = secrets.token_bytes(12)
    return expires + nonce + _seal(secret, device_id, expires, nonce)


def challenge_expiry(challenge: bytes) -> int:
    return int.from_bytes(challenge[:4], "big")


def issue_token(
    db: Database, secret: bytes, request: TokenRequest, now: int, ttl: int
) -> tuple[str, int]:
    """Trade a signed challenge for a bearer token.

    The seal and the signature are checked before anything is written: a stranger's answer
    (a forged or expired challenge, a wrong signature) costs one read. A correct answer spends
    the challenge (a row kept until it expires), so it buys one token only, in any process.
    """
    challenge = request.challenge
    expires, nonce, seal = challenge[:4], challenge[4:16], challenge[16:]
    if not hmac.compare_digest(seal, _seal(secret, request.device, expires, nonce)):
        raise ApiError(401, ErrorCode.CHALLENGE_INVALID, "challenge is unknown, used or expired")
    expires_at = challenge_expiry(challenge)
    if expires_at <= now:
        raise ApiError(401, ErrorCode.CHALLENGE_INVALID, "challenge is unknown, used or expired")
    with db.read() as conn:
        sign_key = _live_device(conn, request.device)
    try:
        Ed25519PublicKey.from_public_bytes(sign_key).verify(
            request.signature, challenge_statement(challenge, request.device)
        )
    except InvalidSignature:
        raise ApiError(
            401, ErrorCode.SIGNATURE_INVALID, "challenge signature does not verify"
        ) from None
    token = secrets.token_urlsafe(32)
    try:
        with db.write() as conn:
            _live_device(conn, request.device)  # revoked in between: no token
            conn.execute(
                delete(schema.challenge).where(
                    schema.challenge.c.device_id == request.device,
                    schema.challenge.c.expires_at <= now,
                )
            )
            # The primary key makes this the one-time guarantee: of two processes given the
            # same answer, exactly one inserts.
            conn.execute(
                insert(schema.challenge).values(
                    challenge=challenge, device_id=request.device, expires_at=expires_at
                )
            )
            conn.execute(
                delete(schema.token).where(
                    schema.token.c.device_id == request.device, schema.token.c.expires_at <= now
                )
            )
            conn.execute(
                insert(schema.token).values(
                    token_hash=secret_hash(token),
                    device_id=request.device,
                    expires_at=now + ttl,
                    revoked=False,
                )
            )
    except IntegrityError:
        raise ApiError(
            401, ErrorCode.CHALLENGE_INVALID, "challenge is unknown, used or expired"
        ) from None
    return token, now + ttl


def authenticate(db: Database, token: str, now: int) -> str:
    """The device a bearer token speaks for; checked against the database on every request so
    that revocation, by any process, takes effect at once."""
    with db.read() as conn:
        return authenticate_on(conn, token, now)


def authenticate_on(conn: Connection, token: str, now: int) -> str:
    """`authenticate` inside a transaction the caller goes on using (one round trip less)."""
    row = conn.execute(
        select(
            schema.token.c.device_id,
            schema.token.c.expires_at,
            schema.token.c.revoked,
            schema.device.c.revoked_at,
        )
        .join(schema.device, schema.device.c.id == schema.token.c.device_id)
        .where(schema.token.c.token_hash == secret_hash(token))
    ).first()
    if row is not None and row.revoked_at is not None:
        raise ApiError(401, ErrorCode.DEVICE_REVOKED, "device is revoked")
    if row is None or row.revoked:
        raise ApiError(401, ErrorCode.TOKEN_INVALID, "token is unknown or revoked")
    if row.expires_at <= now:
        raise ApiError(401, ErrorCode.TOKEN_EXPIRED, "token has expired")
    return str(row.device_id)


def revoke_token(db: Database, token: str) -> None:
    with db.write() as conn:
        conn.execute(
            update(schema.token)
            .where(schema.token.c.token_hash == secret_hash(token))
            .values(revoked=True)
        )


def revoke_device(db: Database, device_id: str, now: int) -> bool:
    """Revoke a device and every token it holds; returns False when no such device exists."""
    with db.write() as conn:
        changed = conn.execute(
            update(schema.device)
            .where(schema.device.c.id == device_id, schema.device.c.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
        conn.execute(
            update(schema.token).where(schema.token.c.device_id == device_id).values(revoked=True)
        )
        known = conn.execute(
            select(func.count()).select_from(schema.device).where(schema.device.c.id == device_id)
        ).scalar_one()
    return bool(changed) or bool(known)


#: What a limit of 0 (a door closed by the operator) tells a client to wait: an hour.
CLOSED_LIMIT_WAIT = 3600


class AddressLimiter:
    """How often each source address may try something, in memory of a fixed size.

    Addresses are hashed (with a key made per process, so nobody can aim at a bucket) into two
    fixed tables of counters; an address is allowed while either of its two buckets is under the
    limit in the sliding minute. Nothing is ever evicted, so made-up addresses or ids cannot
    flush anyone's count, and the memory is the same for ten addresses or ten million. Two
    addresses that share both buckets share a budget: with 65,536 buckets a row, an attacker
    must saturate most of the table from thousands of addresses to touch a given member.

    Kept in memory on purpose: writing addresses to the shared database would leave a record of
    who connected from where on a server that may be seized. With N processes the effective
    limit is N times the setting; nginx's limit (packaging/server/nginx.conf) is the global one.
    Nothing here needs to be shared for correctness: challenges and tokens live in the database.
    """

    ROWS = 2

    def __init__(self, per_minute: int, clock: Callable[[], float], slots: int = 65_536) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.slots = slots
        self._key = secrets.token_bytes(16)
        self._current = [array("I", bytes(4 * slots)) for _ in range(self.ROWS)]
        self._previous = [array("I", bytes(4 * slots)) for _ in range(self.ROWS)]
        self._window = int(clock() // 60)
        self._lock = threading.Lock()

    def _buckets(self, key: str) -> list[int]:
        digest = hashlib.blake2b(key.encode("utf-8", "replace"), key=self._key).digest()
        return [
            int.from_bytes(digest[4 * row : 4 * row + 4], "big") % self.slots
            for row in range(self.ROWS)
        ]

    def _roll(self, now: float) -> float:
        window = int(now // 60)
        if window != self._window:
            if window == self._window + 1:
                self._previous = self._current
            else:
                self._previous = [array("I", bytes(4 * self.slots)) for _ in range(self.ROWS)]
            self._current = [array("I", bytes(4 * self.slots)) for _ in range(self.ROWS)]
            self._window = window
        return (now % 60) / 60

    def _estimate(self, row: int, bucket: int, elapsed: float) -> float:
        # The sliding minute: all of this window plus the part of the last one still inside it.
        return self._current[row][bucket] + self._previous[row][bucket] * (1 - elapsed)

    def allow(self, key: str, cost: int = 1) -> bool:
        """Count one attempt for `key` and say whether it is within the limit."""
        with self._lock:
            elapsed = self._roll(self.clock())
            buckets = self._buckets(key)
            allowed = any(
                self._estimate(row, bucket, elapsed) < self.per_minute
                for row, bucket in enumerate(buckets)
            )
            if allowed:
                for row, bucket in enumerate(buckets):
                    self._current[row][bucket] = min(self._current[row][bucket] + cost, 0xFFFFFFFF)
            return allowed

    def exhausted(self, key: str) -> bool:
        """Whether `key` is over its limit now, without counting an attempt."""
        with self._lock:
            elapsed = self._roll(self.clock())
            return all(
                self._estimate(row, bucket, elapsed) >= self.per_minute
                for row, bucket in enumerate(self._buckets(key))
            )

    def seconds_to_wait(self, key: str) -> int:
        """The fewest whole seconds after which `key` is within its limit again, if it makes no
        attempt meanwhile (0: it is now); what a refusal's Retry-After says. Counts nothing."""
        if self.per_minute <= 0:
            return CLOSED_LIMIT_WAIT  # a limit of 0 lets nobody in, ever
        with self._lock:
            now = self.clock()
            elapsed = self._roll(now)
            into = now % 60
            waits = []
            for row, bucket in enumerate(self._buckets(key)):
                current, previous = self._current[row][bucket], self._previous[row][bucket]
                if self._estimate(row, bucket, elapsed) < self.per_minute:
                    return 0
                if current < self.per_minute:
                    # This window's count leaves room: wait until the part of the last window
                    # still counted has shrunk under what is left.
                    until = 60 * (1 - (self.per_minute - current) / previous) - into
                else:
                    # This window alone is over: in the next one it is the last window, and
                    # counts for less the further into the next one the clock stands.
                    until = 60 - into + 60 * (1 - self.per_minute / current)
                waits.append(until)
            # The estimate falls as the clock moves and is under the limit only strictly after
            # `until`: the next whole second is the first that lets the key in (rounded to the
            # microsecond first, so a float's 31.999999999999996 is not a second too soon).
            return math.floor(round(min(waits), 6)) + 1

    def count(self, key: str, cost: int = 1) -> None:
        """Count `cost` attempts for `key` (a failed proof), allowed or not."""
        with self._lock:
            self._roll(self.clock())
            for row, bucket in enumerate(self._buckets(key)):
                self._current[row][bucket] = min(self._current[row][bucket] + cost, 0xFFFFFFFF)


def address_key(host: str) -> str:
    """What a limit counts: an IPv4 address, or an IPv6 address's /64 (one subscriber's)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
