"""Couriers: an enrolled device with a connection hands in mutations other devices sealed
offline, and downloads for a device that has no connection what that device may read.

The server still opens nothing. A carried mutation is applied as its author's own push (the
same compare-and-swap, idempotency by the author's mutation id, role and epoch checks) only if
the author's Ed25519 signature on the sealed blob verifies with the key the author enrolled and
the blob's clear header names exactly this mutation. The courier's own rights never enter:
it needs no membership in the spaces it carries. A download needs the offline device's signed
grant. Design: sync/PROTOCOL.md §12.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from sync.crypto.envelope import EnvelopeKind, check_author_signature
from sync.crypto.errors import CryptoError, CryptoErrorCode
from sync.crypto.keys import DevicePublicKeys
from sync.protocol import (
    GRANT_CONTEXT,
    MAX_GRANT_SECONDS,
    CourierGrant,
    CourierPull,
    CourierPush,
    ErrorCode,
    Limits,
    Mutation,
    MutationResult,
    MutationStatus,
)
from sync.server import records, schema, spaces
from sync.server.db import Database
from sync.server.errors import ApiError
from sync.server.spaces import lock_space


def relay(db: Database, message: CourierPush, now: int) -> list[MutationResult]:
    """Apply carried mutations in one write transaction; results in request order."""
    with db.write() as conn:
        return relay_on(conn, message, now)


def _rejected(mutation: Mutation, code: ErrorCode) -> MutationResult:
    return MutationResult(mutation.id, MutationStatus.REJECTED, code=code)


def relay_on(conn: Connection, message: CourierPush, now: int) -> list[MutationResult]:
    authors = {author for author, _m in message.push}
    keys = {
        row.id: row
        for row in conn.execute(
            select(
                schema.device.c.id,
                schema.device.c.sign_key,
                schema.device.c.box_key,
                schema.device.c.revoked_at,
            ).where(schema.device.c.id.in_(sorted(authors)))
        )
    }
    results: dict[tuple[str, str], MutationResult] = {}
    checked: dict[str, list[Mutation]] = defaultdict(list)
    for author, mutation in message.push:
        row = keys.get(author)
        if row is None:
            results[(author, mutation.id)] = _rejected(mutation, ErrorCode.DEVICE_NOT_FOUND)
            continue
        if row.revoked_at is not None:
            results[(author, mutation.id)] = _rejected(mutation, ErrorCode.DEVICE_REVOKED)
            continue
        verified = _verified(mutation, DevicePublicKeys(bytes(row.sign_key), bytes(row.box_key)))
        if isinstance(verified, ErrorCode):
            results[(author, mutation.id)] = _rejected(mutation, verified)
            continue
        checked[author].append(verified)
    # Every space any author writes to, locked once in sorted order before any push: two
    # relays touching the same spaces in another order cannot deadlock.
    for space in sorted({m.space for batch in checked.values() for m in batch}):
        lock_space(conn, space)
    for author in sorted(checked):
        batch = tuple(checked[author])
        for result in records.push_on(conn, author, batch, now):
            # A conflict's current version is for the author, not for a courier that may be
            # no member of the space: the author gets it with the record's next version.
            results[(author, result.id)] = dataclasses.replace(result, current=None)
    return [results[(author, m.id)] for author, m in message.push]


def _verified(mutation: Mutation, author: DevicePublicKeys) -> Mutation | ErrorCode:
    """The mutation with the epoch its envelope names, or why it is refused."""
    assert mutation.blob is not None  # CourierPush.from_wire requires it
    try:
        header = check_author_signature(mutation.blob, author)
    except CryptoError as error:
        if error.code in (CryptoErrorCode.SIGNATURE_INVALID, CryptoErrorCode.WRONG_AUTHOR):
            return ErrorCode.SIGNATURE_INVALID
        return ErrorCode.ENVELOPE_MISMATCH
    deleted = header.kind is EnvelopeKind.TOMBSTONE
    if (
        header.space != mutation.space
        or header.record != mutation.record
        or header.base != mutation.base
        or header.revision != mutation.base + 1
        or deleted != mutation.deleted
        or (mutation.epoch is not None and mutation.epoch != header.epoch)
    ):
        # The signed header is the author's word; fields a courier changed do not match it.
        return ErrorCode.ENVELOPE_MISMATCH
    return Mutation(
        mutation.id,
        mutation.space,
        mutation.record,
        mutation.base,
        mutation.blob,
        mutation.deleted,
        mutation.chunks,
        header.epoch,  # always checked against the space's epoch (stale_epoch)
    )


def pull_for(
    db: Database, courier: str, request: CourierPull, now: int, limits: Limits
) -> dict[str, Any]:
    """What the grant's device could pull, with its statements and its own key wraps."""
    grant = CourierGrant.from_bytes(request.grant, limits)
    with db.read() as conn:
        row = conn.execute(
            select(
                schema.device.c.sign_key, schema.device.c.box_key, schema.device.c.revoked_at
            ).where(schema.device.c.id == grant.device)
        ).first()
        if row is None or row.revoked_at is not None:
            raise ApiError(403, ErrorCode.GRANT_INVALID, "the granting device is not enrolled")
        granter = DevicePublicKeys(bytes(row.sign_key), bytes(row.box_key))
        if not granter.verify(request.signature, GRANT_CONTEXT + request.grant):
            raise ApiError(403, ErrorCode.GRANT_INVALID, "the grant's signature does not verify")
        if grant.courier and grant.courier != courier:
            raise ApiError(403, ErrorCode.GRANT_INVALID, "the grant names another courier")
        if grant.expires < now:
            raise ApiError(403, ErrorCode.GRANT_EXPIRED, "the grant has expired")
        if grant.expires > now + MAX_GRANT_SECONDS:
            raise ApiError(403, ErrorCode.GRANT_INVALID, "the grant is valid for too long")
        cursors = {
            space: max(cursor, request.after.get(space, cursor))
            for space, cursor in grant.pull.items()
        }
        budget = request.max_bytes or limits.default_page_bytes
        pages = records.pull_on(
            conn,
            grant.device,
            cursors,
            budget,
            limits,
            batches=request.batches,
            batch_version=request.batch_version,
        )
    statements: dict[str, list[dict[str, Any]]] = {}
    wraps: dict[str, list[dict[str, Any]]] = {}
    if not request.after:
        # Once per download (the first page): the chain and the device's own key wraps.
        for space, page in pages.items():
            if page.error is not None:
                continue
            found, _more = spaces.statements_after(
                db,
                space,
                grant.device,
                grant.statements.get(space, 0),
                limits.max_page_bytes,
                limits.max_page_items,
            )
            statements[space] = [{"version": v, "statement": blob} for v, blob in found]
            wraps[space] = spaces.key_wraps_for(db, space, grant.device, grant.epochs.get(space, 0))
    return {
        "device": grant.device,
        "spaces": {space: page.to_wire() for space, page in pages.items()},
        "statements": statements,
        "wraps": wraps,
    }
