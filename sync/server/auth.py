"""Devices and their credentials: invites, enrollment, challenge–response, short-lived tokens.
No passwords: a device proves itself by signing a fresh challenge with its Ed25519 key."""

from __future__ import annotations

import base64
import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, delete, func, insert, select, update

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

# A device may hold a few challenges at once (parallel retries over a bad link), not a pile.
MAX_OPEN_CHALLENGES = 5


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


def issue_challenge(db: Database, device_id: str, now: int, ttl: int) -> tuple[bytes, int]:
    challenge = secrets.token_bytes(32)
    with db.write() as conn:
        _live_device(conn, device_id)
        conn.execute(
            delete(schema.challenge).where(
                schema.challenge.c.device_id == device_id, schema.challenge.c.expires_at <= now
            )
        )
        open_challenges = (
            conn.execute(
                select(schema.challenge.c.challenge)
                .where(schema.challenge.c.device_id == device_id)
                .order_by(schema.challenge.c.expires_at.desc())
            )
            .scalars()
            .all()
        )
        stale = open_challenges[MAX_OPEN_CHALLENGES - 1 :]
        if stale:
            conn.execute(delete(schema.challenge).where(schema.challenge.c.challenge.in_(stale)))
        conn.execute(
            insert(schema.challenge).values(
                challenge=challenge, device_id=device_id, expires_at=now + ttl
            )
        )
    return challenge, now + ttl


def issue_token(db: Database, request: TokenRequest, now: int, ttl: int) -> tuple[str, int]:
    """Trade a signed challenge for a bearer token; the challenge is spent either way."""
    token = secrets.token_urlsafe(32)
    with db.write() as conn:
        sign_key = _live_device(conn, request.device)
        spent = conn.execute(
            delete(schema.challenge).where(
                schema.challenge.c.challenge == request.challenge,
                schema.challenge.c.device_id == request.device,
                schema.challenge.c.expires_at > now,
            )
        ).rowcount
        if spent != 1:
            raise ApiError(
                401, ErrorCode.CHALLENGE_INVALID, "challenge is unknown, used or expired"
            )
        try:
            Ed25519PublicKey.from_public_bytes(sign_key).verify(
                request.signature, challenge_statement(request.challenge, request.device)
            )
            verified = True
        except InvalidSignature:
            verified = False
        if verified:
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
    if not verified:
        raise ApiError(401, ErrorCode.SIGNATURE_INVALID, "challenge signature does not verify")
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


class RateLimiter:
    """A sliding-window counter per key, kept in memory on purpose.

    Keys are client addresses and device ids; writing them to the shared database would leave a
    record of who connected from where on a server that may be seized. The price: with N server
    processes the effective limit is N times the setting.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float], max_keys: int = 50_000) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - 60:
                hits.popleft()
            allowed = len(hits) < self.per_minute
            if allowed:
                hits.append(now)
            self._hits[key] = hits
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
            return allowed
