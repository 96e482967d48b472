"""Spaces and membership: roles, members' public keys, and the opaque per-epoch key wraps.
Every check reads the database inside the request's own transaction, so removal bites at once."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sync.protocol import ErrorCode, Role
from sync.server import schema
from sync.server.auth import Grant, create_invite
from sync.server.db import Database
from sync.server.errors import ApiError, role_forbidden, space_not_found


@dataclass(frozen=True)
class SpaceRow:
    id: str
    last_seq: int
    epoch: int
    quota_bytes: int
    chunk_bytes: int
    statement_version: int


# Built once: the push path runs it on every request (see records._ROLES).
_LOCK_SPACE = (
    select(
        schema.space.c.id,
        schema.space.c.last_seq,
        schema.space.c.epoch,
        schema.space.c.quota_bytes,
        schema.space.c.chunk_bytes,
        schema.space.c.statement_version,
    )
    .where(schema.space.c.id == bindparam("space"))
    .with_for_update()
)


def lock_space(conn: Connection, space_id: str) -> SpaceRow | None:
    """Take the space's counter row for the rest of the transaction.

    On PostgreSQL this is a row lock (SELECT ... FOR UPDATE): writers of one space queue here, so
    sequence numbers are handed out in commit order and a reader can never see seq n+1 while n
    is still uncommitted. SQLite has a single writer already (BEGIN IMMEDIATE).
    """
    row = conn.execute(_LOCK_SPACE, {"space": space_id}).first()
    if row is None:
        return None
    return SpaceRow(
        row.id, row.last_seq, row.epoch, row.quota_bytes, row.chunk_bytes, row.statement_version
    )


def role_of(conn: Connection, space_id: str, device_id: str) -> Role | None:
    """The device's role, or None for an outsider or a membership left behind while travelling."""
    value = conn.execute(
        select(schema.member.c.role).where(
            schema.member.c.space_id == space_id,
            schema.member.c.device_id == device_id,
            schema.member.c.away_verifier.is_(None),
        )
    ).scalar_one_or_none()
    return Role(value) if value is not None else None


def check_role(db: Database, space_id: str, device_id: str, needed: Role) -> Role:
    """``require_role`` in a read transaction of its own: checked before a body is read."""
    with db.read() as conn:
        return require_role(conn, space_id, device_id, needed)


def require_role(conn: Connection, space_id: str, device_id: str, needed: Role) -> Role:
    """The caller's role, or refusal: 404 for outsiders, 403 when the role is too low."""
    role = role_of(conn, space_id, device_id)
    if role is None:
        raise space_not_found(space_id)
    if needed is Role.ADMIN and role is not Role.ADMIN:
        raise role_forbidden(space_id)
    if needed is Role.EDITOR and not role.can_write:
        raise role_forbidden(space_id)
    return role


def create_space(
    db: Database, device_id: str, space_id: str | None, now: int, quota: int, limit: int
) -> str:
    space_id = space_id or secrets.token_hex(16)
    try:
        with db.write() as conn:
            created = conn.execute(
                select(func.count())
                .select_from(schema.space)
                .where(schema.space.c.created_by == device_id)
            ).scalar_one()
            if created >= limit:
                raise ApiError(409, ErrorCode.SPACE_LIMIT, f"a device may create {limit} spaces")
            if conn.execute(select(schema.space.c.id).where(schema.space.c.id == space_id)).first():
                raise ApiError(409, ErrorCode.SPACE_EXISTS, f"space {space_id} already exists")
            conn.execute(
                insert(schema.space).values(
                    id=space_id,
                    created_at=now,
                    last_seq=0,
                    epoch=0,
                    quota_bytes=quota,
                    chunk_bytes=0,
                    created_by=device_id,
                )
            )
            conn.execute(
                insert(schema.member).values(
                    space_id=space_id, device_id=device_id, role=Role.ADMIN.value, added_at=now
                )
            )
    except IntegrityError:
        # Two creators racing for one id: the loser learns the same thing as a later caller.
        raise ApiError(409, ErrorCode.SPACE_EXISTS, f"space {space_id} already exists") from None
    return space_id


def create_space_for_operator(conn: Connection, now: int, quota: int) -> str:
    """A space made from the command line, before any device exists to administer it."""
    space_id = secrets.token_hex(16)
    conn.execute(
        insert(schema.space).values(
            id=space_id, created_at=now, last_seq=0, epoch=0, quota_bytes=quota, chunk_bytes=0
        )
    )
    return space_id


def list_spaces(db: Database, device_id: str) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(
            select(
                schema.member.c.space_id,
                schema.member.c.role,
                schema.space.c.epoch,
                schema.space.c.last_seq,
                schema.space.c.statement_version,
            )
            .join(schema.space, schema.space.c.id == schema.member.c.space_id)
            .where(schema.member.c.device_id == device_id, schema.member.c.away_verifier.is_(None))
            .order_by(schema.member.c.space_id)
        ).all()
    return [
        {
            "space": r.space_id,
            "role": r.role,
            "epoch": r.epoch,
            "seq": r.last_seq,
            "statement": r.statement_version,
        }
        for r in rows
    ]


def list_members(db: Database, space_id: str, device_id: str) -> list[dict[str, Any]]:
    """Members with their public keys, so clients can wrap space keys and verify signatures."""
    with db.read() as conn:
        require_role(conn, space_id, device_id, Role.READER)
        rows = conn.execute(
            select(
                schema.member.c.device_id,
                schema.member.c.role,
                schema.device.c.sign_key,
                schema.device.c.box_key,
            )
            .join(schema.device, schema.device.c.id == schema.member.c.device_id)
            .where(schema.member.c.space_id == space_id)
            .order_by(schema.member.c.device_id)
        ).all()
    return [
        {
            "device": r.device_id,
            "role": r.role,
            "sign_key": bytes(r.sign_key),
            "box_key": bytes(r.box_key),
        }
        for r in rows
    ]


def _admins(conn: Connection, space_id: str) -> set[str]:
    return set(
        conn.execute(
            select(schema.member.c.device_id).where(
                schema.member.c.space_id == space_id, schema.member.c.role == Role.ADMIN.value
            )
        ).scalars()
    )


def put_member(db: Database, space_id: str, actor: str, target: str, role: Role, now: int) -> None:
    """Add a device to a space or change its role (admins only)."""
    with db.write() as conn:
        require_role(conn, space_id, actor, Role.ADMIN)
        lock_space(conn, space_id)
        revoked_at = conn.execute(
            select(schema.device.c.revoked_at).where(schema.device.c.id == target)
        ).first()
        if revoked_at is None or revoked_at[0] is not None:
            raise ApiError(404, ErrorCode.DEVICE_NOT_FOUND, f"device {target} is not enrolled")
        current = role_of(conn, space_id, target)
        if current is None:
            conn.execute(
                insert(schema.member).values(
                    space_id=space_id, device_id=target, role=role.value, added_at=now
                )
            )
            return
        if current is Role.ADMIN and role is not Role.ADMIN and _admins(conn, space_id) == {target}:
            raise ApiError(409, ErrorCode.LAST_ADMIN, "a space must keep at least one admin")
        conn.execute(
            update(schema.member)
            .where(schema.member.c.space_id == space_id, schema.member.c.device_id == target)
            .values(role=role.value)
        )


def remove_member(db: Database, space_id: str, actor: str, target: str) -> None:
    """Remove a member (an admin, or the member itself leaving); access ends with the commit.

    The space row is locked first, so a push already running for that member finishes before
    the removal and none starts after it.
    """
    with db.write() as conn:
        if actor != target:
            require_role(conn, space_id, actor, Role.ADMIN)
        elif role_of(conn, space_id, actor) is None:
            raise space_not_found(space_id)
        lock_space(conn, space_id)
        current = role_of(conn, space_id, target)
        if current is None:
            raise ApiError(404, ErrorCode.MEMBER_NOT_FOUND, f"device {target} is not a member")
        if current is Role.ADMIN and _admins(conn, space_id) == {target}:
            raise ApiError(409, ErrorCode.LAST_ADMIN, "a space must keep at least one admin")
        conn.execute(
            delete(schema.member).where(
                schema.member.c.space_id == space_id, schema.member.c.device_id == target
            )
        )
        # Wraps it already fetched cannot be recalled; the rest it has no more business holding.
        conn.execute(
            delete(schema.key_wrap).where(
                schema.key_wrap.c.space_id == space_id, schema.key_wrap.c.device_id == target
            )
        )


def invite_to_space(
    db: Database, space_id: str, actor: str, role: Role, ttl: int, now: int
) -> tuple[str, int]:
    with db.write() as conn:
        require_role(conn, space_id, actor, Role.ADMIN)
        code = create_invite(conn, [Grant(space_id, role)], ttl, now)
    return code, now + ttl


def put_key_wraps(
    db: Database, space_id: str, actor: str, epoch: int, wraps: Mapping[str, bytes]
) -> int:
    """Store an admin's signed wraps of one epoch's key; epoch current+1 starts a new epoch.

    The server cannot check the signatures (it holds no keys it could check them against that a
    malicious server could not also fake); clients verify them. It does check that every
    recipient is a member now, so a removed device is never handed a new epoch.
    """
    with db.write() as conn:
        require_role(conn, space_id, actor, Role.ADMIN)
        space = lock_space(conn, space_id)
        assert space is not None  # require_role found a membership row, which references it
        if epoch < 1 or epoch not in (space.epoch, space.epoch + 1):
            raise ApiError(
                409,
                ErrorCode.EPOCH_INVALID,
                f"epoch must be {max(space.epoch, 1)} or {space.epoch + 1}",
            )
        members = set(
            conn.execute(
                select(schema.member.c.device_id).where(schema.member.c.space_id == space_id)
            ).scalars()
        )
        outsiders = sorted(set(wraps) - members)
        if outsiders:
            raise ApiError(
                409,
                ErrorCode.RECIPIENT_NOT_MEMBER,
                f"not members of the space: {', '.join(outsiders)}",
            )
        conn.execute(
            delete(schema.key_wrap).where(
                schema.key_wrap.c.space_id == space_id,
                schema.key_wrap.c.epoch == epoch,
                schema.key_wrap.c.device_id.in_(list(wraps)),
            )
        )
        conn.execute(
            insert(schema.key_wrap),
            [
                {
                    "space_id": space_id,
                    "device_id": device,
                    "epoch": epoch,
                    "issuer_id": actor,
                    "wrap": wrap,
                }
                for device, wrap in wraps.items()
            ],
        )
        if epoch > space.epoch:
            conn.execute(
                update(schema.space).where(schema.space.c.id == space_id).values(epoch=epoch)
            )
    return epoch


def key_wraps_for(db: Database, space_id: str, device_id: str, since: int) -> list[dict[str, Any]]:
    """Only the caller's own wraps: a device never learns what was wrapped for another."""
    with db.read() as conn:
        require_role(conn, space_id, device_id, Role.READER)
        rows = conn.execute(
            select(schema.key_wrap.c.epoch, schema.key_wrap.c.issuer_id, schema.key_wrap.c.wrap)
            .where(
                schema.key_wrap.c.space_id == space_id,
                schema.key_wrap.c.device_id == device_id,
                schema.key_wrap.c.epoch > since,
            )
            .order_by(schema.key_wrap.c.epoch)
        ).all()
    return [{"epoch": r.epoch, "issuer": r.issuer_id, "wrap": bytes(r.wrap)} for r in rows]


def put_statement(db: Database, space_id: str, actor: str, version: int, blob: bytes) -> bool:
    """Append an admin's signed membership statement; True if stored, False if already held.

    Only version current+1 is accepted (the first is 1), so the server's copy of the chain has
    no gaps and nothing in it is ever replaced; re-putting the identical blob at the current
    version is a no-op, so a client may retry after a lost answer. The server cannot judge the
    signature or the chain (it opens nothing); clients do, and refuse rollbacks and forks.
    """
    with db.write() as conn:
        require_role(conn, space_id, actor, Role.ADMIN)
        # The counter row lock serializes admins putting statements to one space.
        space = lock_space(conn, space_id)
        assert space is not None  # require_role found a membership row, which references it
        current = space.statement_version
        if version == current and current > 0:
            held = conn.execute(
                select(schema.membership_statement.c.blob).where(
                    schema.membership_statement.c.space_id == space_id,
                    schema.membership_statement.c.version == version,
                )
            ).scalar_one()
            if bytes(held) == blob:
                return False
        if version != current + 1:
            raise statement_version_invalid(current, version)
        conn.execute(
            insert(schema.membership_statement).values(
                space_id=space_id, version=version, blob=blob, size=len(blob)
            )
        )
        conn.execute(
            update(schema.space)
            .where(schema.space.c.id == space_id)
            .values(statement_version=version)
        )
    return True


def statement_version_invalid(current: int, version: int) -> ApiError:
    if version == current:
        why = f"a different statement {version} is already stored"
    elif version < current:
        why = f"statement {version} is older than the current {current}"
    else:
        why = f"statement {version} would leave a gap after {current}"
    return ApiError(
        409,
        ErrorCode.STATEMENT_VERSION_INVALID,
        f"{why}; the next must be {current + 1}",
        {"current": current},
    )


def statements_after(
    db: Database, space_id: str, device_id: str, since: int, budget: int, max_items: int
) -> tuple[list[tuple[int, bytes]], bool]:
    """The statements after `since`, oldest first, until `budget` bytes (always at least one).

    Sizes are read first and blobs only for the page, so a long history of large statements
    never loads into memory at once.
    """
    with db.read() as conn:
        require_role(conn, space_id, device_id, Role.READER)
        sizes = conn.execute(
            select(schema.membership_statement.c.version, schema.membership_statement.c.size)
            .where(
                schema.membership_statement.c.space_id == space_id,
                schema.membership_statement.c.version > since,
            )
            .order_by(schema.membership_statement.c.version)
            .limit(max_items + 1)
        ).all()
        last = since
        spent = 0
        for count, row in enumerate(sizes):
            if count >= max_items or (spent + row.size > budget and spent > 0):
                break
            spent += row.size
            last = row.version
        more = last < (sizes[-1].version if sizes else since)
        if last == since:
            return [], more
        rows = conn.execute(
            select(schema.membership_statement.c.version, schema.membership_statement.c.blob)
            .where(
                schema.membership_statement.c.space_id == space_id,
                schema.membership_statement.c.version > since,
                schema.membership_statement.c.version <= last,
            )
            .order_by(schema.membership_statement.c.version)
        ).all()
    return [(r.version, bytes(r.blob)) for r in rows], more


# --- travel mode (issue 16) ------------------------------------------------------------------


def leave_spaces(db: Database, device_id: str, space_ids: list[str], verifier: bytes) -> int:
    """Mark the caller's memberships of ``space_ids`` as away: from now on it is answered as an
    outsider there (listing, pulls, pushes, keys, statements, chunks) until it presents the
    token whose SHA-256 is ``verifier``. Leaving again replaces the verifier. Spaces it is not
    a member of are ignored (the answer does not say which), so ids cannot be probed."""
    with db.write() as conn:
        changed = conn.execute(
            update(schema.member)
            .where(
                schema.member.c.device_id == device_id,
                schema.member.c.space_id.in_(space_ids),
            )
            .values(away_verifier=verifier)
        ).rowcount
    return int(changed or 0)


def return_to_spaces(db: Database, device_id: str, token: bytes) -> list[str]:
    """Lift the away mark of every membership the token's hash matches; returns those spaces."""
    verifier = hashlib.sha256(token).digest()
    with db.write() as conn:
        spaces = list(
            conn.scalars(
                select(schema.member.c.space_id).where(
                    schema.member.c.device_id == device_id,
                    schema.member.c.away_verifier == verifier,
                )
            )
        )
        if spaces:
            conn.execute(
                update(schema.member)
                .where(
                    schema.member.c.device_id == device_id,
                    schema.member.c.away_verifier == verifier,
                )
                .values(away_verifier=None)
            )
    return sorted(spaces)
