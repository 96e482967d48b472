"""Content-addressed encrypted chunks per space: HEAD (one or a file's at once), idempotent PUT,
ranged GET, collection.
Bytes live in a ChunkStore (folder or S3, see chunk_stores); the database row is the truth.
A PUT cut mid-body leaves its bytes in ``PartialUploads`` so the device resumes at an offset."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, exists, insert, or_, select, update

from sync.protocol import ErrorCode, Role
from sync.server import schema
from sync.server.chunk_stores import ChunkStore
from sync.server.db import Database
from sync.server.errors import ApiError
from sync.server.spaces import lock_space, require_role


class PartialUploads:
    """What has arrived of chunk uploads not finished, per (space, device, chunk), so a device
    whose PUT was cut sends only the rest (``Upload-Offset``, as tus does) instead of the whole
    chunk again.

    A PUT's body is tracked as it streams in (``track``), so a ``HEAD`` after a cut sees what
    arrived even while the server has not yet noticed the old connection is dead (a dropped
    link sends no reset: the server only times out). Finished or refused PUTs are forgotten
    (``forget``); a cut one stays. In memory and bounded: at most ``per_device`` chunks a
    device (its window of requests in flight, and as many cut ones: a device resumes those
    while new chunks go up beside them), ``max_bytes`` in all (the oldest go first),
    each forgotten after ``ttl`` seconds; a restart forgets them all and the device then sends
    its chunks whole. Nothing here is trusted: the finished chunk is hashed whole before it is
    stored, and a device only ever resumes its own bytes.
    """

    def __init__(
        self,
        per_device: int = 16,
        max_bytes: int = 64 * 1024 * 1024,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_device = per_device
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._held: OrderedDict[tuple[str, str, str], tuple[float, bytearray]] = OrderedDict()

    def track(self, space_id: str, device_id: str, digest: str, received: bytearray) -> None:
        """Follow ``received`` (the request appends to it) as this device's bytes of the chunk."""
        key = (space_id, device_id, digest)
        with self._lock:
            self._held.pop(key, None)
            self._expire()
            mine = [k for k in self._held if k[1] == device_id]
            for old in mine[: max(0, len(mine) - self.per_device + 1)]:
                del self._held[old]
            self._held[key] = (self._clock(), received)
            while len(self._held) > 1 and self._total() > self.max_bytes:
                del self._held[next(iter(self._held))]

    def keep(self, space_id: str, device_id: str, digest: str, data: bytes) -> None:
        """What arrived of a cut upload (tests and callers without a live buffer)."""
        if not data or len(data) > self.max_bytes:
            return
        self.track(space_id, device_id, digest, bytearray(data))

    def forget(self, space_id: str, device_id: str, digest: str, received: bytearray) -> None:
        """The PUT that tracked ``received`` ended (stored or refused): drop it, unless another
        request of the device tracks the chunk by now."""
        key = (space_id, device_id, digest)
        with self._lock:
            found = self._held.get(key)
            if found is not None and found[1] is received:
                del self._held[key]

    def offset(self, space_id: str, device_id: str, digest: str) -> int:
        """How many bytes of this chunk the device sent in a PUT not finished (0: none)."""
        with self._lock:
            self._expire()
            found = self._held.get((space_id, device_id, digest))
            return 0 if found is None else len(found[1])

    def take(self, space_id: str, device_id: str, digest: str, offset: int) -> bytes | None:
        """The first ``offset`` bytes, if that many arrived (then forgotten), else ``None``."""
        key = (space_id, device_id, digest)
        with self._lock:
            self._expire()
            found = self._held.get(key)
            if found is None or len(found[1]) < offset:
                return None
            del self._held[key]
            return bytes(found[1][:offset])

    def _total(self) -> int:
        return sum(len(received) for _kept, received in self._held.values())

    def _expire(self) -> None:
        limit = self._clock() - self.ttl
        while self._held:
            key, (kept, _data) = next(iter(self._held.items()))
            if kept >= limit:
                return
            del self._held[key]


def chunk_size(db: Database, space_id: str, device_id: str, digest: str, now: int) -> int:
    """The size of a stored chunk (HEAD); also refreshes it so collection leaves it alone."""
    with db.write() as conn:
        require_role(conn, space_id, device_id, Role.READER)
        size = conn.execute(
            select(schema.chunk.c.size).where(
                schema.chunk.c.space_id == space_id, schema.chunk.c.hash == digest
            )
        ).scalar_one_or_none()
        if size is None:
            raise ApiError(404, ErrorCode.CHUNK_NOT_FOUND, f"chunk {digest} not stored")
        conn.execute(
            update(schema.chunk)
            .where(schema.chunk.c.space_id == space_id, schema.chunk.c.hash == digest)
            .values(touched_at=now)
        )
    return int(size)


def missing_chunks(
    db: Database, space_id: str, device_id: str, digests: list[str], now: int
) -> list[str]:
    """Which of ``digests`` the space does not store, in the order asked (a batch of HEADs,
    authorized as one: a reader of the space). The stored ones are refreshed, as a HEAD
    refreshes, so collection leaves them alone until the record naming them is pushed."""
    wanted = list(dict.fromkeys(digests))
    with db.write() as conn:
        require_role(conn, space_id, device_id, Role.READER)
        stored = set(
            conn.execute(
                select(schema.chunk.c.hash).where(
                    schema.chunk.c.space_id == space_id, schema.chunk.c.hash.in_(wanted)
                )
            ).scalars()
        )
        if stored:
            conn.execute(
                update(schema.chunk)
                .where(schema.chunk.c.space_id == space_id, schema.chunk.c.hash.in_(stored))
                .values(touched_at=now)
            )
    return [digest for digest in wanted if digest not in stored]


def may_write(db: Database, space_id: str, device_id: str) -> bool:
    """Whether the device may store chunks in the space (an editor or admin there)."""
    try:
        with db.read() as conn:
            require_role(conn, space_id, device_id, Role.EDITOR)
    except ApiError:
        return False
    return True


def put_chunk(
    db: Database,
    store: ChunkStore,
    space_id: str,
    device_id: str,
    digest: str,
    data: bytes,
    now: int,
    grace: int = 0,
) -> bool:
    """Store a chunk whose SHA-256 the caller already verified; True when it was new.

    Over the space's quota, chunks records let go of more than ``grace`` seconds ago (held
    for ``released_chunk_grace_seconds`` in case a deletion is undone) make room, the oldest
    release first: bytes of deleted files do not keep a space full for 30 days after the
    deletion that was meant to free it (before 0009 they went at the next collection)."""
    yielded: list[str] = []
    try:
        return _put_chunk(db, store, space_id, device_id, digest, data, now, grace, yielded)
    finally:
        if yielded:
            # After the rows are gone for good, under the lock with the rows checked again.
            _remove_unrowed(db, store, space_id, yielded)


#: Released chunks read to make room for one upload (64 MB of 64 KB chunks): bounded work for a
#: PUT over quota; a space that needs more room than that is over quota, as before.
_YIELD_AT_MOST = 1024


def _releasable(conn: Connection, space_id: str, now: int, grace: int) -> list[tuple[str, int]]:
    """Chunks of the space no record names, let go of and untouched for ``grace`` seconds,
    the oldest release first (hash, size)."""
    referenced = exists().where(
        schema.record_chunk.c.space_id == schema.chunk.c.space_id,
        schema.record_chunk.c.hash == schema.chunk.c.hash,
    )
    rows = conn.execute(
        select(schema.chunk.c.hash, schema.chunk.c.size)
        .where(
            schema.chunk.c.space_id == space_id,
            schema.chunk.c.released_at.is_not(None),
            schema.chunk.c.released_at < now - grace,
            schema.chunk.c.touched_at < now - grace,
            ~referenced,
        )
        .order_by(schema.chunk.c.released_at, schema.chunk.c.hash)
        .limit(_YIELD_AT_MOST)
    ).all()
    return [(str(r.hash), int(r.size)) for r in rows]


def _room(releasable: list[tuple[str, int]], needed: int) -> list[tuple[str, int]] | None:
    """The fewest of ``releasable`` (in order) freeing ``needed`` bytes; None if all do not."""
    taken: list[tuple[str, int]] = []
    freed = 0
    for chunk in releasable:
        if freed >= needed:
            break
        taken.append(chunk)
        freed += chunk[1]
    return taken if freed >= needed else None


def _put_chunk(
    db: Database,
    store: ChunkStore,
    space_id: str,
    device_id: str,
    digest: str,
    data: bytes,
    now: int,
    grace: int,
    yielded: list[str],
) -> bool:
    with db.read() as conn:
        # Checked before touching the store, so an outsider cannot even fill the staging area,
        # and a chunk that is already there or over quota costs no write at all.
        require_role(conn, space_id, device_id, Role.EDITOR)
        space = conn.execute(
            select(schema.space.c.chunk_bytes, schema.space.c.quota_bytes).where(
                schema.space.c.id == space_id
            )
        ).one()
        known = conn.execute(
            select(schema.chunk.c.size).where(
                schema.chunk.c.space_id == space_id, schema.chunk.c.hash == digest
            )
        ).first()
        over = space.chunk_bytes + len(data) - space.quota_bytes
        if (
            known is None
            and over > 0
            and _room(_releasable(conn, space_id, now, grace), over) is None
        ):
            raise _over_quota(space_id, space.quota_bytes)
    staged = None if known is not None else store.stage(data, digest)
    try:
        with db.write() as conn:
            require_role(conn, space_id, device_id, Role.EDITOR)
            locked = lock_space(conn, space_id)
            assert locked is not None
            known = conn.execute(
                select(schema.chunk.c.size).where(
                    schema.chunk.c.space_id == space_id, schema.chunk.c.hash == digest
                )
            ).first()
            if known is not None:
                conn.execute(
                    update(schema.chunk)
                    .where(schema.chunk.c.space_id == space_id, schema.chunk.c.hash == digest)
                    .values(touched_at=now)
                )
                return False
            used = locked.chunk_bytes
            over = used + len(data) - locked.quota_bytes
            if over > 0:
                room = _room(_releasable(conn, space_id, now, grace), over)
                if room is None:
                    raise _over_quota(space_id, locked.quota_bytes)
                conn.execute(
                    delete(schema.chunk).where(
                        schema.chunk.c.space_id == space_id,
                        schema.chunk.c.hash.in_([h for h, _size in room]),
                    )
                )
                used -= sum(size for _h, size in room)
                yielded.extend(h for h, _size in room)
            if staged is None:  # collected between the first look and the lock
                staged = store.stage(data, digest)
            conn.execute(
                insert(schema.chunk).values(
                    space_id=space_id, hash=digest, size=len(data), created_at=now, touched_at=now
                )
            )
            conn.execute(
                update(schema.space)
                .where(schema.space.c.id == space_id)
                .values(chunk_bytes=used + len(data))
            )
            # The bytes are in place before the row commits: a committed row always has them.
            # A failed commit after this leaves an orphan, which `collect` sweeps.
            store.commit(staged, space_id, digest)
            return True
    finally:
        if staged is not None:
            store.discard(staged)


def _over_quota(space_id: str, quota: int) -> ApiError:
    return ApiError(
        409, ErrorCode.QUOTA_EXCEEDED, f"space {space_id} would exceed its quota of {quota} bytes"
    )


@dataclass(frozen=True)
class ChunkSlice:
    data: bytes
    start: int
    size: int


def get_chunk(
    db: Database,
    store: ChunkStore,
    space_id: str,
    device_id: str,
    digest: str,
    byte_range: tuple[int | None, int | None] | None,
) -> ChunkSlice:
    """A chunk, or the part of it a Range header asked for (to resume a cut download)."""
    with db.read() as conn:
        require_role(conn, space_id, device_id, Role.READER)
        size = conn.execute(
            select(schema.chunk.c.size).where(
                schema.chunk.c.space_id == space_id, schema.chunk.c.hash == digest
            )
        ).scalar_one_or_none()
    if size is None:
        raise ApiError(404, ErrorCode.CHUNK_NOT_FOUND, f"chunk {digest} not stored")
    start, end = 0, size - 1
    if byte_range is not None:
        first, last = byte_range
        if first is None:  # suffix range: the last `last` bytes
            if not last:
                raise _unsatisfiable(size)
            start = max(size - (last or 0), 0)
        else:
            start = first
            if last is not None:
                end = min(last, size - 1)
        if start >= size or start > end:
            raise _unsatisfiable(size)
    return ChunkSlice(store.read(space_id, digest, start, end - start + 1), start, size)


def _unsatisfiable(size: int) -> ApiError:
    # RFC 9110 §15.5.17: the 416 names the size, so a client resuming a download learns it has
    # the whole chunk already (or that its saved offset is stale) without another request.
    return ApiError(
        416,
        ErrorCode.RANGE_NOT_SATISFIABLE,
        f"range outside the chunk's {size} bytes",
        headers={"content-range": f"bytes */{size}"},
    )


def release_references(conn: Connection, space_id: str, record_ids: list[str], now: int) -> None:
    """Drop the chunk references of records a new version replaces, noting when each chunk
    was let go of (``chunk.released_at``): collection keeps it ``released_chunk_grace_seconds``
    from then, so an edit that beats a deletion can still bring its file back. A chunk the new
    version names again is referenced again at once, and its time is set anew when it is let
    go of again: only an unreferenced chunk's time is read. One statement each, bounded by the
    push's records (at most 500, each naming at most 256 chunks)."""
    named = select(schema.record_chunk.c.hash).where(
        schema.record_chunk.c.space_id == space_id,
        schema.record_chunk.c.record_id.in_(record_ids),
    )
    conn.execute(
        update(schema.chunk)
        .where(schema.chunk.c.space_id == space_id, schema.chunk.c.hash.in_(named))
        .values(released_at=now)
    )
    conn.execute(
        delete(schema.record_chunk).where(
            schema.record_chunk.c.space_id == space_id,
            schema.record_chunk.c.record_id.in_(record_ids),
        )
    )


def collect_chunks(
    db: Database,
    store: ChunkStore,
    now: int,
    grace: int,
    sweep_orphans: bool = False,
    released_grace: int = 0,
) -> int:
    """Delete chunks no live record references and nobody touched within `grace` seconds; a
    chunk a record let go of (a deletion, a version naming others: ``released_at``) only once
    that is `released_grace` seconds past too (never less than `grace`), so a file brought
    back over its deletion by an edit made apart can still be fetched.

    Runs per space under the space lock, so a push that references a chunk is ordered either
    before the collection (the chunk is kept) or after it (the push is told `chunk_missing`).
    With `sweep_orphans` it also lists the store and removes bytes that have had no row for
    `grace` seconds (left by a crash between a store write and its commit).
    """
    released_grace = max(released_grace, grace)
    removed = 0
    with db.read() as conn:
        spaces = list(conn.execute(select(schema.space.c.id)).scalars())
    for space_id in spaces:
        with db.write() as conn:
            space = lock_space(conn, space_id)
            if space is None:
                continue
            referenced = exists().where(
                schema.record_chunk.c.space_id == schema.chunk.c.space_id,
                schema.record_chunk.c.hash == schema.chunk.c.hash,
            )
            doomed = conn.execute(
                select(schema.chunk.c.hash, schema.chunk.c.size).where(
                    schema.chunk.c.space_id == space_id,
                    schema.chunk.c.touched_at < now - grace,
                    or_(
                        schema.chunk.c.released_at.is_(None),
                        schema.chunk.c.released_at < now - released_grace,
                    ),
                    ~referenced,
                )
            ).all()
            if not doomed:
                continue
            conn.execute(
                delete(schema.chunk).where(
                    schema.chunk.c.space_id == space_id,
                    schema.chunk.c.hash.in_([d.hash for d in doomed]),
                )
            )
            conn.execute(
                update(schema.space)
                .where(schema.space.c.id == space_id)
                .values(chunk_bytes=space.chunk_bytes - sum(d.size for d in doomed))
            )
        # The bytes go only after the rows are gone for good (a crash here leaves orphans, never
        # rows without bytes), and under the space lock again with the row re-checked: a PUT of
        # the same chunk that committed in between keeps its bytes.
        _remove_unrowed(db, store, space_id, [d.hash for d in doomed])
        removed += len(doomed)
    if sweep_orphans:
        removed += _sweep_orphans(db, store, now, grace)
    store.sweep_staging(now)
    return removed


def _remove_unrowed(db: Database, store: ChunkStore, space_id: str, digests: list[str]) -> None:
    with db.write() as conn:
        if lock_space(conn, space_id) is None:
            rowed: set[str] = set()
        else:
            rowed = set(
                conn.execute(
                    select(schema.chunk.c.hash).where(
                        schema.chunk.c.space_id == space_id, schema.chunk.c.hash.in_(digests)
                    )
                ).scalars()
            )
        for digest in digests:
            if digest not in rowed:
                store.remove(space_id, digest)


def _sweep_orphans(db: Database, store: ChunkStore, now: int, grace: int) -> int:
    candidates: dict[str, list[str]] = {}
    for item in store.listing():
        if item.modified < now - grace:
            candidates.setdefault(item.space_id, []).append(item.digest)
    removed = 0
    for space_id, digests in candidates.items():
        for start in range(0, len(digests), 500):
            batch = digests[start : start + 500]
            with db.read() as conn:
                rowed = set(
                    conn.execute(
                        select(schema.chunk.c.hash).where(
                            schema.chunk.c.space_id == space_id, schema.chunk.c.hash.in_(batch)
                        )
                    ).scalars()
                )
            orphans = [d for d in batch if d not in rowed]
            if orphans:
                _remove_unrowed(db, store, space_id, orphans)
                removed += len(orphans)
    return removed


def purge_expired(db: Database, now: int) -> None:
    """Drop spent credentials: expired challenges and tokens mean nothing to anyone."""
    with db.write() as conn:
        conn.execute(delete(schema.challenge).where(schema.challenge.c.expires_at <= now))
        conn.execute(delete(schema.token).where(schema.token.c.expires_at <= now))
