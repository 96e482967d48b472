"""Content-addressed encrypted chunks per space: HEAD, idempotent PUT, ranged GET, collection.
Files live at <chunk_dir>/<space>/<hash[:2]>/<hash>; the database row is the source of truth."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, exists, insert, select, update

from sync.protocol import ErrorCode, Role
from sync.server import schema
from sync.server.db import Database
from sync.server.errors import ApiError
from sync.server.spaces import lock_space, require_role


class ChunkStore:
    """The chunk files; written to a temporary name, fsynced, then renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / ".tmp"

    def ensure(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path_for(self, space_id: str, digest: str) -> Path:
        return self.root / space_id / digest[:2] / digest

    def stage(self, data: bytes) -> Path:
        self.ensure()
        staged = self.tmp / secrets.token_hex(16)
        with open(staged, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return staged

    def commit(self, staged: Path, space_id: str, digest: str) -> None:
        target = self.path_for(space_id, digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Same name, same content: replacing a file left by a racing PUT changes nothing.
        os.replace(staged, target)

    def read(self, space_id: str, digest: str, start: int, length: int) -> bytes:
        with open(self.path_for(space_id, digest), "rb") as handle:
            handle.seek(start)
            return handle.read(length)

    def remove(self, space_id: str, digest: str) -> None:
        self.path_for(space_id, digest).unlink(missing_ok=True)


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


def put_chunk(
    db: Database,
    store: ChunkStore,
    space_id: str,
    device_id: str,
    digest: str,
    data: bytes,
    now: int,
) -> bool:
    """Store a chunk whose SHA-256 the caller already verified; True when it was new."""
    with db.read() as conn:
        # Checked before touching the disk, so an outsider cannot even fill the staging folder.
        require_role(conn, space_id, device_id, Role.EDITOR)
    staged = store.stage(data)
    try:
        with db.write() as conn:
            require_role(conn, space_id, device_id, Role.EDITOR)
            space = lock_space(conn, space_id)
            assert space is not None
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
            if space.chunk_bytes + len(data) > space.quota_bytes:
                raise ApiError(
                    409,
                    ErrorCode.QUOTA_EXCEEDED,
                    f"space {space_id} would exceed its quota of {space.quota_bytes} bytes",
                )
            conn.execute(
                insert(schema.chunk).values(
                    space_id=space_id, hash=digest, size=len(data), created_at=now, touched_at=now
                )
            )
            conn.execute(
                update(schema.space)
                .where(schema.space.c.id == space_id)
                .values(chunk_bytes=space.chunk_bytes + len(data))
            )
            # The file is in place before the row commits: a committed row always has its file.
            store.commit(staged, space_id, digest)
            return True
    finally:
        staged.unlink(missing_ok=True)


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
    return ApiError(416, ErrorCode.RANGE_NOT_SATISFIABLE, f"range outside the chunk's {size} bytes")


def collect_chunks(db: Database, store: ChunkStore, now: int, grace: int) -> int:
    """Delete chunks no live record references and nobody touched within `grace` seconds.

    Runs per space under the space lock, so a push that references a chunk is ordered either
    before the collection (the chunk is kept) or after it (the push is told `chunk_missing`).
    """
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
        # Files go only after the rows are gone for good; a crash here leaves orphan files,
        # never rows without files.
        for d in doomed:
            store.remove(space_id, d.hash)
        removed += len(doomed)
    return removed


def purge_expired(db: Database, now: int) -> None:
    """Drop spent credentials: expired challenges and tokens mean nothing to anyone."""
    with db.write() as conn:
        conn.execute(delete(schema.challenge).where(schema.challenge.c.expires_at <= now))
        conn.execute(delete(schema.token).where(schema.token.c.expires_at <= now))
