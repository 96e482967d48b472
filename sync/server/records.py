"""The sync round trip: compare-and-swap pushes of sealed records, then byte-capped pulls.
The server orders opaque blobs per space; it never opens them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    Boolean,
    CompoundSelect,
    Connection,
    LargeBinary,
    String,
    Table,
    bindparam,
    cast,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)

from sync.crypto.batch import FACTS_VERSION
from sync.crypto.envelope import carries_facts, sealed_epoch
from sync.protocol import (
    MAX_BATCH_ENTRIES,
    MAX_PAGE_BATCHES,
    Change,
    ErrorCode,
    Limits,
    Mutation,
    MutationResult,
    MutationStatus,
    Role,
    SpacePage,
)
from sync.server import schema
from sync.server.batches import batch_sizes, deliveries, note_left, stale_count
from sync.server.chunks import release_references
from sync.server.db import Database
from sync.server.spaces import lock_space

# What a change costs in a page besides its blob: ids, numbers and msgpack framing.
CHANGE_OVERHEAD_BYTES = 96
# Rows read for one page of a client that reads batches: a few batches' entries.
_BATCH_PAGE_ROWS = 4 * MAX_BATCH_ENTRIES


@dataclass
class _Current:
    revision: int
    seq: int
    blob: bytes | None
    deleted: bool
    author: str
    exists_in_db: bool
    #: The batch the stored version lives in (PROTOCOL.md §13), if any.
    batch_id: str | None = None

    def as_change(self, record_id: str) -> Change:
        return Change(record_id, self.revision, self.seq, self.blob, self.deleted, self.author)


@dataclass(frozen=True)
class _Applied:
    space_id: str
    record_id: str
    revision: int
    seq: int


def _roles(
    conn: Connection, device_id: str, spaces: Iterable[str]
) -> dict[str, tuple[Role, int, int, int]]:
    """The caller's role, the space's last seq, epoch and latest statement version, for each
    of `spaces` it belongs to (one query, also on an empty poll)."""
    wanted = list(spaces)
    if not wanted:
        return {}
    rows = conn.execute(_ROLES, {"device": device_id, "spaces": wanted}).all()
    return {r.space_id: (Role(r.role), r.last_seq, r.epoch, r.statement_version) for r in rows}


def _epoch_refusal(mutation: Mutation, space_epoch: int) -> ErrorCode | None:
    """Why a mutation cannot land at the space's current key epoch, or None.

    The epoch is read from the blob's clear envelope header, never taken from the client's
    word: a removed device still holds the old key and could declare a newer epoch, or none.
    Once the space has a key (epoch >= 1), a blob whose header cannot be read, or a deletion
    without a sealed marker, cannot show it was sealed at the current epoch and is refused.
    A declared ``epoch`` that differs from the header is refused as a lie (``epoch_invalid``).
    """
    sealed = sealed_epoch(mutation.blob) if mutation.blob is not None else None
    if mutation.epoch is not None and sealed is not None and mutation.epoch != sealed:
        return ErrorCode.EPOCH_INVALID
    if space_epoch < 1:
        return None  # no key issued yet: nothing can be stale
    if sealed is None or sealed < space_epoch:
        # Sealed before a rotation it had not heard of: a removed device may hold that key.
        return ErrorCode.STALE_EPOCH
    return None


# The hot path's statements are built once: SQLAlchemy then neither rebuilds them nor walks
# them for a cache key on every request (a fifth of a push's CPU in a profile).
_ROLES = (
    select(
        schema.member.c.space_id,
        schema.member.c.role,
        schema.space.c.last_seq,
        schema.space.c.epoch,
        schema.space.c.statement_version,
    )
    .join(schema.space, schema.space.c.id == schema.member.c.space_id)
    .where(
        schema.member.c.device_id == bindparam("device"),
        schema.member.c.space_id.in_(bindparam("spaces", expanding=True)),
        schema.member.c.away_verifier.is_(None),  # left behind while travelling
    )
)


def _rejected(mutation: Mutation, code: ErrorCode, missing: tuple[str, ...] = ()) -> MutationResult:
    return MutationResult(mutation.id, MutationStatus.REJECTED, code=code, missing=missing)


def push_on(
    conn: Connection, device_id: str, mutations: tuple[Mutation, ...], now: int
) -> list[MutationResult]:
    """Apply the outbox inside the caller's write transaction; each mutation is CAS on its base.

    Spaces are locked in sorted order (no deadlock between two batches touching the same spaces)
    and membership is read after the lock, so a removal that committed first is always seen.
    The caller commits: all of a request's mutations land together or not at all.
    """
    results: dict[str, MutationResult] = {}
    by_space: dict[str, list[Mutation]] = defaultdict(list)
    for mutation in mutations:
        by_space[mutation.space].append(mutation)
    # A first look without locks, so a push aimed at someone else's space cannot queue on
    # (and slow down) that space's lock.
    candidates = _roles(conn, device_id, by_space)
    for space_id in sorted(by_space):
        batch = by_space[space_id]
        space = lock_space(conn, space_id) if space_id in candidates else None
        role = None
        if space is not None:
            role = _roles(conn, device_id, [space_id]).get(space_id, (None, 0, 0, 0))[0]
        if space is None or role is None:
            results.update({m.id: _rejected(m, ErrorCode.SPACE_NOT_FOUND) for m in batch})
            continue
        if not role.can_write:
            results.update({m.id: _rejected(m, ErrorCode.ROLE_FORBIDDEN) for m in batch})
            continue
        results.update(
            _apply_space(conn, device_id, space_id, space.last_seq, space.epoch, batch, now)
        )
    return [results[m.id] for m in mutations]


def _apply_space(
    conn: Connection,
    device_id: str,
    space_id: str,
    last_seq: int,
    epoch: int,
    batch: list[Mutation],
    now: int,
) -> dict[str, MutationResult]:
    results: dict[str, MutationResult] = {}
    applied, records = _known(conn, device_id, space_id, batch)
    wanted_chunks = sorted({h for m in batch for h in m.chunks})
    present_chunks: set[str] = set()
    if wanted_chunks:
        present_chunks = set(
            conn.execute(
                select(schema.chunk.c.hash).where(
                    schema.chunk.c.space_id == space_id, schema.chunk.c.hash.in_(wanted_chunks)
                )
            ).scalars()
        )
    touched: dict[str, Mutation] = {}
    left_batches: list[tuple[str, bool]] = []  # (batch, deleted): versions leaving a batch
    new_applied: list[dict[str, object]] = []
    for mutation in batch:
        earlier = applied.get(mutation.id)
        if earlier is not None:
            # A retry of something that already landed: report the original outcome, not a
            # conflict with itself.
            if earlier.space_id != space_id or earlier.record_id != mutation.record:
                results[mutation.id] = _rejected(mutation, ErrorCode.MUTATION_ID_REUSED)
            else:
                results[mutation.id] = MutationResult(
                    mutation.id, MutationStatus.ACCEPTED, revision=earlier.revision, seq=earlier.seq
                )
            continue
        current = records.get(mutation.record)
        current_revision = current.revision if current is not None else 0
        if mutation.base != current_revision:
            results[mutation.id] = MutationResult(
                mutation.id,
                MutationStatus.CONFLICT,
                revision=current_revision,
                # A version held in a batch has no envelope of its own: the pull brings it.
                current=(
                    current.as_change(mutation.record)
                    if current is not None and current.batch_id is None
                    else None
                ),
            )
            continue
        refusal = _epoch_refusal(mutation, epoch)
        if refusal is not None:
            # After the idempotency check, so an accepted push re-sent late is still accepted.
            results[mutation.id] = _rejected(mutation, refusal)
            continue
        missing = tuple(h for h in mutation.chunks if h not in present_chunks)
        if missing:
            results[mutation.id] = _rejected(mutation, ErrorCode.CHUNK_MISSING, missing)
            continue
        last_seq += 1
        if current is not None and current.batch_id is not None:
            left_batches.append((current.batch_id, mutation.deleted))
        records[mutation.record] = _Current(
            current_revision + 1,
            last_seq,
            mutation.blob,
            mutation.deleted,
            device_id,
            current.exists_in_db if current is not None else False,
        )
        touched[mutation.record] = mutation
        new_applied.append(
            {
                "device_id": device_id,
                "mutation_id": mutation.id,
                "space_id": space_id,
                "record_id": mutation.record,
                "revision": current_revision + 1,
                "seq": last_seq,
                "applied_at": now,
            }
        )
        results[mutation.id] = MutationResult(
            mutation.id, MutationStatus.ACCEPTED, revision=current_revision + 1, seq=last_seq
        )
    if not touched:
        return results
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    for record_id in touched:
        state = records[record_id]
        row = {
            "b_space": space_id,
            "b_record": record_id,
            "revision": state.revision,
            "seq": state.seq,
            "blob": state.blob,
            "deleted": state.deleted,
            "author_id": state.author,
            "size": len(state.blob) if state.blob is not None else 0,
        }
        (updates if state.exists_in_db else inserts).append(row)
    if updates:
        # Moving a record's seq forward can collide with the unique (space, seq) index only if
        # two rows swapped seqs, which one monotonic counter never does.
        conn.execute(
            update(schema.record)
            .where(
                schema.record.c.space_id == bindparam("b_space"),
                schema.record.c.record_id == bindparam("b_record"),
            )
            .values(
                revision=bindparam("revision"),
                seq=bindparam("seq"),
                blob=bindparam("blob"),
                deleted=bindparam("deleted"),
                author_id=bindparam("author_id"),
                size=bindparam("size"),
                # A single version replaces one that lived in a batch (a compaction drops it).
                batch_id=None,
                batch_index=None,
            ),
            updates,
        )
    new_rows = [
        {
            "space_id": r["b_space"],
            "record_id": r["b_record"],
            **{k: v for k, v in r.items() if not k.startswith("b_")},
            "batch_id": None,
            "batch_index": None,
        }
        for r in inserts
    ]
    if updates:
        # Only records that existed can hold references to replace.
        release_references(conn, space_id, [str(u["b_record"]) for u in updates], now)
    refs = [
        {"space_id": space_id, "hash": h, "record_id": record_id}
        for record_id, mutation in touched.items()
        for h in mutation.chunks
    ]
    if refs:
        conn.execute(insert(schema.record_chunk), refs)
    if left_batches:
        note_left(conn, space_id, left_batches)
    if conn.dialect.name == "postgresql" and len(new_applied) == 1 and len(new_rows) <= 1:
        # One mutation, the common request: its new row, its applied row and the counter in one
        # statement (one round trip instead of three), built once so it compiles once.
        # Data-modifying WITH clauses run exactly once, inside this statement's transaction.
        params: dict[str, object] = {"s_id": space_id, "s_last": last_seq}
        params.update({f"a_{k}": v for k, v in new_applied[0].items()})
        if new_rows:
            params.update({f"r_{k}": v for k, v in new_rows[0].items()})
        conn.execute(_ONE_NEW_RECORD if new_rows else _ONE_EDIT, params)
        return results
    if new_rows:
        conn.execute(insert(schema.record), new_rows)
    conn.execute(insert(schema.applied_mutation), new_applied)
    conn.execute(
        update(schema.space).where(schema.space.c.id == space_id).values(last_seq=last_seq)
    )
    return results


def _known_statement() -> CompoundSelect[Any]:
    a, r = schema.applied_mutation.c, schema.record.c
    earlier = select(
        literal("a").label("kind"),
        a.mutation_id.label("key"),
        a.space_id,
        a.record_id,
        a.revision,
        a.seq,
        cast(null(), LargeBinary).label("blob"),
        cast(null(), Boolean).label("deleted"),
        cast(null(), String).label("author_id"),
        cast(null(), String).label("batch_id"),
    ).where(
        a.device_id == bindparam("device"),
        a.mutation_id.in_(bindparam("mutations", expanding=True)),
    )
    current = select(
        literal("r").label("kind"),
        r.record_id.label("key"),
        r.space_id,
        r.record_id,
        r.revision,
        r.seq,
        r.blob,
        r.deleted,
        r.author_id,
        r.batch_id,
    ).where(r.space_id == bindparam("space"), r.record_id.in_(bindparam("records", expanding=True)))
    return union_all(earlier, current)


_KNOWN = _known_statement()


def _row_of(table: Table, prefix: str) -> dict[str, BindParameter[Any]]:
    return {c.name: bindparam(prefix + c.name, type_=c.type) for c in table.columns}


_COUNTER = (
    update(schema.space)
    .where(schema.space.c.id == bindparam("s_id"))
    .values(last_seq=bindparam("s_last"))
    .add_cte(
        insert(schema.applied_mutation)
        .values(_row_of(schema.applied_mutation, "a_"))
        .cte("new_applied")
    )
)
_ONE_EDIT = _COUNTER
_ONE_NEW_RECORD = _COUNTER.add_cte(
    insert(schema.record).values(_row_of(schema.record, "r_")).cte("new_record")
)


def _known(
    conn: Connection, device_id: str, space_id: str, batch: list[Mutation]
) -> tuple[dict[str, _Applied], dict[str, _Current]]:
    """The batch's mutations this device already landed, and the records it touches, read in
    one round trip (a UNION ALL of two primary-key lookups)."""
    applied: dict[str, _Applied] = {}
    records: dict[str, _Current] = {}
    params = {
        "device": device_id,
        "mutations": [m.id for m in batch],
        "space": space_id,
        "records": list({m.record for m in batch}),
    }
    for row in conn.execute(_KNOWN, params):
        if row.kind == "a":
            applied[row.key] = _Applied(row.space_id, row.record_id, row.revision, row.seq)
        else:
            records[row.key] = _Current(
                row.revision,
                row.seq,
                bytes(row.blob) if row.blob is not None else None,
                bool(row.deleted),
                row.author_id,
                True,
                row.batch_id,
            )
    return applied, records


_PAGE = (
    select(
        schema.record.c.record_id,
        schema.record.c.revision,
        schema.record.c.seq,
        schema.record.c.blob,
        schema.record.c.deleted,
        schema.record.c.author_id,
        schema.record.c.size,
        schema.record.c.batch_id,
        schema.record.c.batch_index,
    )
    .where(
        schema.record.c.space_id == bindparam("space"), schema.record.c.seq > bindparam("cursor")
    )
    .order_by(schema.record.c.seq)
    .limit(bindparam("items"))
)


def pull(
    db: Database,
    device_id: str,
    cursors: Mapping[str, int],
    budget: int,
    limits: Limits,
    answered: Mapping[str, set[int]] | None = None,
    batches: bool = False,
    hold_at_batches: bool = False,
    batch_version: int = 1,
) -> dict[str, SpacePage]:
    """Changes after each cursor, oldest first, until `budget` bytes are spent.

    Every page holds at least one change when one exists, so a blob larger than the budget
    still gets through. A space whose counter has not moved costs no record query at all.
    `answered` holds, per space, the seqs this request's own push was just given: the push
    results already tell the client those versions, so they are not sent back (the cursor
    still moves past them). On an initial upload this halves what comes down.
    """
    with db.read() as conn:
        return pull_on(
            conn,
            device_id,
            cursors,
            budget,
            limits,
            answered,
            batches,
            hold_at_batches,
            batch_version,
        )


def pull_on(
    conn: Connection,
    device_id: str,
    cursors: Mapping[str, int],
    budget: int,
    limits: Limits,
    answered: Mapping[str, set[int]] | None = None,
    batches: bool = False,
    hold_at_batches: bool = False,
    batch_version: int = 1,
) -> dict[str, SpacePage]:
    """`pull` inside a transaction the caller already holds (an empty poll: one transaction).

    With ``batches`` (PROTOCOL.md §13) a record whose current version lives in a batch comes as
    that batch, once per page, costing the batch's size; the entries of a batch already in the
    page cost nothing more, so a batch's contiguous entries travel together.

    With ``hold_at_batches`` (a sync client from before batches, which does not ask for them) a
    page ends before the first version that lives in a batch, and says nothing more is there:
    such a client cannot open that version, would refuse it and move its cursor past it for
    good, so after an upgrade it would never fetch it. Held there, it loses nothing: it keeps
    pushing its own changes, and once upgraded it asks for batches and goes on from that seq.
    A courier download (no cursor of a device's own) still gets such versions without content,
    left out and counted by the exporter.

    ``batch_version`` is the highest batch format version the reader opens (PROTOCOL.md §13
    "Batch versions"): a page ends before the first version held in a newer batch, with
    ``more`` false, for the same reason and with the same way on once the reader is upgraded."""
    pages: dict[str, SpacePage] = {}
    roles = _roles(conn, device_id, cursors)
    spent = 0
    for space_id, cursor in cursors.items():
        if space_id not in roles:
            pages[space_id] = SpacePage(error=ErrorCode.SPACE_NOT_FOUND)
            continue
        role, last_seq, epoch, statement = roles[space_id]
        if last_seq <= cursor:
            pages[space_id] = SpacePage(cursor=cursor, epoch=epoch, statement=statement)
            continue
        if spent >= budget:
            pages[space_id] = SpacePage(cursor=cursor, more=True, epoch=epoch, statement=statement)
            continue
        items = limits.max_page_items + 1 if not batches else _BATCH_PAGE_ROWS
        rows = conn.execute(_PAGE, {"space": space_id, "cursor": cursor, "items": items}).all()
        changes: list[Change] = []
        members: dict[str, list[tuple[int, int]]] = {}
        sizes: dict[str, tuple[int, int]] = {}
        more = False
        skip = answered.get(space_id, set()) if answered else set()
        scanned = cursor
        held = newer = False
        for row in rows:
            if row.seq in skip and row.author_id == device_id:
                scanned = row.seq
                continue
            if hold_at_batches and row.batch_id is not None:
                held = True
                break
            if batches and row.batch_id is not None:
                if row.batch_id not in members:
                    if row.batch_id not in sizes:
                        sizes.update(batch_sizes(conn, space_id, [row.batch_id]))
                    size, version = sizes.get(row.batch_id, (0, 1))
                    if version > batch_version:
                        # A batch version the reader cannot open: held before it, as a
                        # reader from before batches is (it goes on once upgraded).
                        held = newer = True
                        break
                    cost = size + CHANGE_OVERHEAD_BYTES
                    if len(members) >= MAX_PAGE_BATCHES or (spent + cost > budget and spent > 0):
                        more = True
                        break
                    spent += cost
                    members[row.batch_id] = []
                members[row.batch_id].append((row.batch_index, row.seq))
                scanned = row.seq
                continue
            if row.deleted and batch_version < FACTS_VERSION and carries_facts(row.blob or b""):
                # A tombstone with sealed facts (CRYPTO.md §2): a reader from before them
                # refuses it (``bad_content``) and would move past the deletion for good;
                # held before it instead, as before a newer batch.
                held = newer = True
                break
            cost = row.size + CHANGE_OVERHEAD_BYTES
            if len(changes) >= limits.max_page_items or (spent + cost > budget and spent > 0):
                more = True
                break
            spent += cost
            changes.append(
                Change(
                    row.record_id,
                    row.revision,
                    row.seq,
                    bytes(row.blob) if row.blob is not None else None,
                    row.deleted,
                    row.author_id,
                )
            )
            scanned = row.seq
        if len(rows) >= items and not more and not held:
            more = True  # the rows read ran out before the budget: the rest comes next page
        new_cursor = scanned
        delivered = tuple(deliveries(conn, space_id, members)) if members else ()
        admin = role is Role.ADMIN
        stale = stale_count(conn, space_id, device_id, admin) if batches else 0
        pages[space_id] = SpacePage(
            tuple(changes),
            new_cursor,
            more,
            epoch,
            statement,
            batches=delivered,
            stale=stale,
            held=newer,
        )
    return pages
