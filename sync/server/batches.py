"""Batches on the server (PROTOCOL.md §13): per-record compare-and-swap of a sealed batch,
compactions that move current versions into a new batch, and batch deliveries in pages.

The server reads only a batch's clear header and manifest (record ids, bases, deletions) and
checks its signer's signature with the enrolled key; it never opens content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, or_, select, update

from sync.crypto.batch import BatchHeader, BatchKind, batch_id_of, check_batch_signer
from sync.crypto.errors import EnvelopeError
from sync.crypto.keys import DevicePublicKeys
from sync.protocol import MAX_STALE_BATCHES, BatchAnswer, BatchDelivery, ErrorCode, Role
from sync.server import schema
from sync.server.chunks import release_references
from sync.server.db import Database
from sync.server.errors import ApiError
from sync.server.spaces import lock_space, role_of


@dataclass(frozen=True)
class _Row:
    revision: int
    deleted: bool
    author: str
    batch: str | None


#: How many answers a device keeps per space when no setting says (``push_batch_on``).
ANSWERS_PER_DEVICE = 64


def push_batch_on(
    conn: Connection,
    device_id: str,
    space_id: str,
    blob: bytes,
    cursor: int | None,
    now: int = 0,
    answers_per_device: int = ANSWERS_PER_DEVICE,
) -> BatchAnswer:
    """Apply one batch inside the caller's write transaction (see the module docstring).

    A batch this device pushed before (its answer was lost on the way) is answered as the first
    time from what was kept, before its signature or manifest is looked at: a re-send costs a
    hash of the body and one read, never more than the first send, and stores nothing."""
    try:
        batch_id = batch_id_of(blob).hex()
    except EnvelopeError as error:
        raise ApiError(
            400, ErrorCode.ENVELOPE_MISMATCH, f"batch refused: {error.code.value}"
        ) from None
    digest = hashlib.sha256(blob).digest()
    # Another device's batch id is refused by name only once the caller is known to be a member
    # (below): before that the answer must not tell anyone that an id was pushed here.
    answered = _answered(conn, device_id, space_id, batch_id, digest, cursor, others=False)
    if answered is not None:
        return answered
    keys = conn.execute(
        select(schema.device.c.sign_key, schema.device.c.box_key).where(
            schema.device.c.id == device_id
        )
    ).first()
    if keys is None:
        raise ApiError(404, ErrorCode.DEVICE_NOT_FOUND, "unknown device")
    try:
        header = check_batch_signer(blob, DevicePublicKeys(bytes(keys[0]), bytes(keys[1])))
    except EnvelopeError as error:
        code = ErrorCode.SIGNATURE_INVALID if error.code.value == "signature_invalid" else None
        raise ApiError(
            400, code or ErrorCode.ENVELOPE_MISMATCH, f"batch refused: {error.code.value}"
        ) from None
    if header.space != space_id:
        raise ApiError(400, ErrorCode.ENVELOPE_MISMATCH, "batch sealed for another space")
    space = lock_space(conn, space_id)
    role = role_of(conn, space_id, device_id) if space is not None else None
    if space is None or role is None:
        raise ApiError(404, ErrorCode.SPACE_NOT_FOUND, "no such space")
    # The same batch may have been committed by a re-send racing this one: the space's lock
    # orders them, and the second is answered as a re-send.
    answered = _answered(conn, device_id, space_id, batch_id, digest, cursor)
    if answered is not None:
        return answered
    needed = role is Role.ADMIN if header.kind is BatchKind.SNAPSHOT else role.can_write
    if not needed:
        raise ApiError(403, ErrorCode.ROLE_FORBIDDEN, "this role cannot write this batch")
    if space.epoch >= 1 and header.epoch < space.epoch:
        raise ApiError(409, ErrorCode.STALE_EPOCH, "batch sealed before the current epoch")
    if header.epoch > space.epoch:
        raise ApiError(409, ErrorCode.EPOCH_INVALID, "batch sealed at an epoch not begun")
    # Its answer may be forgotten (retention) while the batch is still stored: the very same
    # bytes are judged again below; other bytes under a stored id (ids reach every member in
    # deliveries) are refused by name, never stored over it.
    stored = _stored(conn, space_id, batch_id)
    if stored is not None and stored != blob:
        raise ApiError(409, ErrorCode.BATCH_ID_REUSED, "this batch id was pushed with other bytes")
    rows = _current(conn, space_id, [e.record for e in header.entries])
    if header.kind is BatchKind.BATCH:
        answer = _push(conn, device_id, space_id, space.last_seq, header, blob, rows, cursor, now)
    else:
        _compact(conn, device_id, space_id, header, blob, rows, stored=stored is not None)
        answer = BatchAnswer()
    _remember(conn, device_id, space_id, batch_id, digest, answer, space.last_seq, now)
    _keep_newest(conn, device_id, space_id, answers_per_device)
    return answer


def kept_answer(
    conn: Connection,
    device_id: str,
    space_id: str,
    batch_id: str,
    digest: bytes,
    cursor: int | None,
) -> BatchAnswer:
    """The answer to a batch this device pushed before, asked by id and hash alone (its answer
    was lost): the pusher need not send the batch again to learn it was taken.

    Raises:
        ApiError: ``404 batch_not_found`` (never pushed here: send it), ``409 batch_id_reused``.
    """
    answer = _answered(conn, device_id, space_id, batch_id, digest, cursor, others=False)
    if answer is None:
        raise ApiError(404, ErrorCode.BATCH_NOT_FOUND, "no batch was pushed here with this id")
    return answer


def _answered(
    conn: Connection,
    device_id: str,
    space_id: str,
    batch_id: str,
    digest: bytes,
    cursor: int | None,
    *,
    others: bool = True,
) -> BatchAnswer | None:
    """The kept answer to this very batch (``None``: never pushed here). The same id with other
    bytes, or from another device, is refused by name: never taken for the batch it names.

    ``others=False``: another device's batch is as if never pushed (``None``). Batch ids reach
    every member in deliveries, so whether one was pushed, and by whom, is told only to its
    pusher, or to a member whose push names it."""
    p = schema.batch_push.c
    kept = conn.execute(
        select(p.device_id, p.digest, p.answer, p.seq_before, p.seq_after).where(
            p.space_id == space_id, p.batch_id == batch_id
        )
    ).first()
    if kept is None or (kept.device_id != device_id and not others):
        return None
    if kept.device_id != device_id or bytes(kept.digest) != digest:
        raise ApiError(409, ErrorCode.BATCH_ID_REUSED, "this batch id was pushed with other bytes")
    answer = json.loads(kept.answer)
    accepted = tuple((int(a), int(b), int(c)) for a, b, c in answer["accepted"])
    return BatchAnswer(
        accepted=accepted,
        conflicts=tuple((int(a), int(b)) for a, b in answer["conflicts"]),
        # As first answered: the pusher moves past its own batch only if it was at the seq the
        # space had then (it still is, when only the answer was lost).
        cursor=kept.seq_after
        if accepted and cursor is not None and cursor == kept.seq_before
        else None,
    )


def _remember(
    conn: Connection,
    device_id: str,
    space_id: str,
    batch_id: str,
    digest: bytes,
    answer: BatchAnswer,
    seq_before: int,
    now: int,
) -> None:
    after = max((seq + count - 1 for _first, seq, count in answer.accepted), default=seq_before)
    conn.execute(
        insert(schema.batch_push).values(
            space_id=space_id,
            batch_id=batch_id,
            device_id=device_id,
            digest=digest,
            answer=json.dumps(
                {
                    "accepted": [list(run) for run in answer.accepted],
                    "conflicts": [list(pair) for pair in answer.conflicts],
                },
                separators=(",", ":"),
            ),
            seq_before=seq_before,
            seq_after=after,
            answered_at=now,
        )
    )


def _keep_newest(conn: Connection, device_id: str, space_id: str, count: int) -> None:
    """Forget all but the device's ``count`` newest answers in the space. Sound because a
    device pushes a new batch into a space only once every older one it kept was answered or
    set aside (sync/client/batches.py): only its newest can still await a re-send. Older
    ones go only when it has more than ``count``, so this is one indexed read per push."""
    p = schema.batch_push.c
    mine = and_(p.space_id == space_id, p.device_id == device_id)
    held = conn.execute(select(func.count()).select_from(schema.batch_push).where(mine))
    if held.scalar_one() <= count:
        return
    newest = (
        select(p.batch_id)
        .where(mine)
        .order_by(p.answered_at.desc(), p.seq_before.desc(), p.batch_id)
        .limit(count)
        .subquery()
    )
    conn.execute(
        delete(schema.batch_push).where(mine, p.batch_id.not_in(select(newest.c.batch_id)))
    )


def prune_answers(conn: Connection, now: int, ttl: int) -> int:
    """Forget batch push answers older than ``ttl`` seconds (housekeeping). A batch re-sent
    after its answer went is judged again: its entries were applied, so their bases are no
    longer the records' revisions and each is a conflict (nothing applied twice); the pusher
    then pulls its own versions and settles them as any conflict (PROTOCOL.md §13)."""
    p = schema.batch_push.c
    return int(conn.execute(delete(schema.batch_push).where(p.answered_at < now - ttl)).rowcount)


def _stored(conn: Connection, space_id: str, batch_id: str) -> bytes | None:
    """The bytes of the batch stored in the space under this id (``None``: none is)."""
    b = schema.batch.c
    found = conn.execute(
        select(b.blob).where(b.space_id == space_id, b.batch_id == batch_id)
    ).first()
    return None if found is None else bytes(found.blob)


def _current(conn: Connection, space_id: str, records: list[str]) -> dict[str, _Row]:
    r = schema.record.c
    found = conn.execute(
        select(r.record_id, r.revision, r.deleted, r.author_id, r.batch_id).where(
            r.space_id == space_id, r.record_id.in_(records)
        )
    )
    return {
        row.record_id: _Row(row.revision, bool(row.deleted), row.author_id, row.batch_id)
        for row in found
    }


def _store(conn: Connection, space_id: str, header: BatchHeader, author: str, blob: bytes) -> str:
    batch_id = header.batch_id.hex()
    conn.execute(
        insert(schema.batch).values(
            space_id=space_id,
            batch_id=batch_id,
            author_id=author,
            epoch=header.epoch,
            entries=len(header.entries),
            dropped=0,
            blob=blob,
            size=len(blob),
            version=header.version,
        )
    )
    return batch_id


def _push(
    conn: Connection,
    device_id: str,
    space_id: str,
    last_seq: int,
    header: BatchHeader,
    blob: bytes,
    rows: dict[str, _Row],
    cursor: int | None,
    now: int,
) -> BatchAnswer:
    before = last_seq
    conflicts: list[tuple[int, int]] = []
    accepted: list[tuple[int, int]] = []  # (index, seq)
    for index, entry in enumerate(header.entries):
        current = rows.get(entry.record)
        revision = current.revision if current is not None else 0
        if entry.base != revision:
            conflicts.append((index, revision))  # settled alone by the client, as any conflict
            continue
        last_seq += 1
        accepted.append((index, last_seq))
    if not accepted:
        return BatchAnswer(conflicts=tuple(conflicts))
    exists_in_db = conn.execute(
        select(func.count())
        .select_from(schema.batch)
        .where(
            schema.batch.c.space_id == space_id,
            schema.batch.c.batch_id == header.batch_id.hex(),
        )
    ).scalar_one()
    if exists_in_db:
        raise ApiError(409, ErrorCode.DUPLICATE_MUTATION, "this batch was stored already")
    batch_id = _store(conn, space_id, header, device_id, blob)
    new_rows: list[dict[str, object]] = []
    changed: list[dict[str, object]] = []
    for index, seq in accepted:
        entry = header.entries[index]
        row = {
            "space_id": space_id,
            "record_id": entry.record,
            "revision": entry.base + 1,
            "seq": seq,
            "blob": None,
            "deleted": entry.deleted,
            "author_id": device_id,
            "size": 0,
            "batch_id": batch_id,
            "batch_index": index,
        }
        (changed if entry.record in rows else new_rows).append(row)
    if new_rows:
        conn.execute(insert(schema.record), new_rows)
    if changed:
        # A deletion in a batch makes the batch that held the record's content due for
        # compaction at once, exactly as a single deletion does (the bound, CRYPTO.md §5).
        note_left(
            conn,
            space_id,
            [
                (held, bool(c["deleted"]))
                for c in changed
                if (held := rows[str(c["record_id"])].batch) is not None
            ],
        )
        _repoint(conn, space_id, changed)
        release_references(conn, space_id, [str(c["record_id"]) for c in changed], now)
    conn.execute(
        update(schema.space).where(schema.space.c.id == space_id).values(last_seq=last_seq)
    )
    _drop_unreferenced(conn, space_id)
    return BatchAnswer(
        accepted=_as_runs(accepted),
        conflicts=tuple(conflicts),
        # Nothing came in between: the pusher may move its cursor past its own batch.
        cursor=last_seq if cursor is not None and cursor == before else None,
    )


def _repoint(conn: Connection, space_id: str, rows: list[dict[str, object]]) -> None:
    r = schema.record.c
    for row in rows:
        values = {k: v for k, v in row.items() if k not in ("space_id", "record_id")}
        conn.execute(
            update(schema.record)
            .where(r.space_id == space_id, r.record_id == row["record_id"])
            .values(**values)
        )


def _compact(
    conn: Connection,
    device_id: str,
    space_id: str,
    header: BatchHeader,
    blob: bytes,
    rows: dict[str, _Row],
    *,
    stored: bool = False,
) -> None:
    """All or nothing: each entry must be a record's current revision and deletion, and (kind
    1) the caller's own record. Revisions and seqs stay; the records point at the new batch.

    ``stored``: these very bytes are stored already (sent again after retention forgot their
    answer): the records are pointed at it again, nothing is stored twice."""
    for entry in header.entries:
        current = rows.get(entry.record)
        if (
            current is None
            or current.revision != entry.base + 1
            or current.deleted != entry.deleted
            or (header.kind is BatchKind.COMPACTION and current.author != device_id)
        ):
            raise ApiError(
                409, ErrorCode.COMPACTION_MISMATCH, "an entry is not a current version of yours"
            )
    batch_id = header.batch_id.hex() if stored else _store(conn, space_id, header, device_id, blob)
    r = schema.record.c
    for index, entry in enumerate(header.entries):
        conn.execute(
            update(schema.record)
            .where(r.space_id == space_id, r.record_id == entry.record)
            .values(blob=None, size=0, batch_id=batch_id, batch_index=index, author_id=device_id)
        )
    _drop_unreferenced(conn, space_id)


def _drop_unreferenced(conn: Connection, space_id: str) -> None:
    """Batches no record points at any more: their content reaches nobody, so it goes."""
    b, r = schema.batch.c, schema.record.c
    conn.execute(
        delete(schema.batch).where(
            b.space_id == space_id,
            ~exists().where(and_(r.space_id == b.space_id, r.batch_id == b.batch_id)),
        )
    )


#: A batch is due for compaction once one of its records was deleted since, or once this share
#: of its entries was replaced (an everyday edit of one old record does not re-seal thousands).
REPLACED_SHARE = 8


def note_left(conn: Connection, space_id: str, left: list[tuple[str, bool]]) -> None:
    """Versions that left their batch (a single push replaced them): count the deletions, which
    make the batch due for compaction at once; drop a batch nothing points at any more."""
    b = schema.batch.c
    for batch_id in sorted({batch for batch, deleted in left if deleted}):
        gone = sum(1 for batch, deleted in left if deleted and batch == batch_id)
        conn.execute(
            update(schema.batch)
            .where(b.space_id == space_id, b.batch_id == batch_id)
            .values(dropped=b.dropped + gone)
        )


def _due(live: Any, b: Any) -> Any:
    return or_(b.dropped > 0, live * REPLACED_SHARE <= b.entries * (REPLACED_SHARE - 1))


def stale_on(conn: Connection, space_id: str) -> list[dict[str, object]]:
    """Batches of ``space_id`` in which some entry is no longer current, with their current
    entries (record, revision, deleted): what a compaction must re-seal."""
    b, r = schema.batch.c, schema.record.c
    live = (
        select(r.batch_id, func.count().label("live"))
        .where(r.space_id == space_id, r.batch_id.is_not(None))
        .group_by(r.batch_id)
        .subquery()
    )
    found = conn.execute(
        select(b.batch_id, b.author_id)
        .join(live, live.c.batch_id == b.batch_id)
        .where(b.space_id == space_id, live.c.live < b.entries, _due(live.c.live, b))
        .order_by(b.batch_id)
        .limit(MAX_STALE_BATCHES)
    ).all()
    stale: list[dict[str, object]] = []
    for row in found:
        entries = conn.execute(
            select(r.record_id, r.revision, r.deleted)
            .where(r.space_id == space_id, r.batch_id == row.batch_id)
            .order_by(r.seq)
        ).all()
        stale.append(
            {
                "batch": row.batch_id,
                "author": row.author_id,
                "live": [(e.record_id, e.revision, bool(e.deleted)) for e in entries],
            }
        )
    return stale


def stale_count(conn: Connection, space_id: str, device_id: str, admin: bool = False) -> int:
    """How many of ``device_id``'s batches in the space are due for compaction; for an admin
    also those whose author is no longer a writer here (left, removed or made a reader), which
    only an admin's snapshot can re-seal (CRYPTO.md §5)."""
    b, r, m = schema.batch.c, schema.record.c, schema.member.c
    writer = exists().where(
        m.space_id == b.space_id,
        m.device_id == b.author_id,
        m.role.in_([Role.ADMIN.value, Role.EDITOR.value]),
    )
    whose = or_(b.author_id == device_id, ~writer) if admin else b.author_id == device_id
    live = (
        select(func.count())
        .where(r.space_id == b.space_id, r.batch_id == b.batch_id)
        .scalar_subquery()
    )
    return int(
        conn.execute(
            select(func.count())
            .select_from(schema.batch)
            .where(
                b.space_id == space_id,
                whose,
                live < b.entries,
                _due(live, b),
            )
        ).scalar_one()
    )


def deliveries(
    conn: Connection, space_id: str, members: dict[str, list[tuple[int, int]]]
) -> list[BatchDelivery]:
    """The batches named in ``members`` (batch id → its (index, seq) current in the page)."""
    if not members:
        return []
    b = schema.batch.c
    found = conn.execute(
        select(b.batch_id, b.author_id, b.blob).where(
            b.space_id == space_id, b.batch_id.in_(list(members))
        )
    ).all()
    return [
        BatchDelivery(bytes(row.blob), row.author_id, _as_runs(members[row.batch_id]))
        for row in found
    ]


def batch_sizes(
    conn: Connection, space_id: str, batch_ids: list[str]
) -> dict[str, tuple[int, int]]:
    """Each batch's (size, format version)."""
    b = schema.batch.c
    found = conn.execute(
        select(b.batch_id, b.size, b.version).where(
            b.space_id == space_id, b.batch_id.in_(batch_ids)
        )
    )
    return {row.batch_id: (row.size, row.version) for row in found}


def _as_runs(items: list[tuple[int, int]]) -> tuple[tuple[int, int, int], ...]:
    runs: list[list[int]] = []
    for index, seq in sorted(items):
        if runs and runs[-1][0] + runs[-1][2] == index and runs[-1][1] + runs[-1][2] == seq:
            runs[-1][2] += 1
        else:
            runs.append([index, seq, 1])
    return tuple((a, b, c) for a, b, c in runs)


def prune_batch_answers(db: Database, now: int, ttl: int) -> int:
    """``prune_answers`` in its own write transaction; how many answers went."""
    with db.write() as conn:
        return prune_answers(conn, now, ttl)
