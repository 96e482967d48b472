"""The store side of courier bundles (``sync.client.carry.CarryState``), mixed into
``ProfileSyncState``: sealed record blobs, carried mutations, peers' cursors, bundles seen."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence

from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update

from desktop.store.schema import (
    SyncBlobFloorRow,
    SyncBundlePeerRow,
    SyncBundleSeenRow,
    SyncCarriedRow,
    SyncCourierGrantRow,
    SyncRecordBlobRow,
)
from sync.client.carry import CarriedMutation, StoredBlob
from sync.crypto.envelope import EnvelopeKind, read_header
from sync.protocol import Mutation

#: Blobs streamed per query when exporting (bounded memory for 100,000 records).
_BATCH = 500


#: A verified version's sealed blob, unless a newer one is held (one statement, so a whole page
#: of them is one ``executemany``).
_KEEP_BLOB = text(
    "INSERT INTO sync_record_blobs (record_id, space_id, revision, seq, author, blob) "
    "VALUES (:r, :s, :v, :q, :a, :b) ON CONFLICT (record_id) DO UPDATE SET "
    "space_id = excluded.space_id, revision = excluded.revision, seq = excluded.seq, "
    "author = excluded.author, blob = excluded.blob "
    "WHERE excluded.revision > sync_record_blobs.revision"
)


#: A newer version without an envelope of its own (a batch's): the older blob held is no
#: longer the record's current version, and a bundle must not hand it on as if it were.
_DROP_OLDER_BLOB = text("DELETE FROM sync_record_blobs WHERE record_id = :r AND revision < :v")

#: Records whose held server version has no blob at that revision (see ``count_uncarriable``).
_COUNT_UNCARRIABLE = text(
    "SELECT count(*) FROM records WHERE space_id = :s AND revision > 0 AND NOT EXISTS "
    "(SELECT 1 FROM sync_record_blobs b WHERE b.record_id = records.id "
    "AND b.revision >= records.revision)"
)


def keep_blobs(
    connection: Connection, blobs: Iterable[tuple[str, str, int, int, str, bytes | None]]
) -> None:
    """Remember verified versions' sealed blobs, each unless a newer one is held: tuples of
    (space, record, revision, seq, author, blob); those without a blob or seq are skipped."""
    rows: list[dict[str, object]] = []
    superseded: list[dict[str, object]] = []
    for space, record, revision, seq, author, blob in blobs:
        if blob and seq > 0:
            rows.append({"r": record, "s": space, "v": revision, "q": seq, "a": author, "b": blob})
        elif seq > 0:
            # No envelope of its own (a version that came in a batch): nothing to keep, and
            # an older version's blob is not what the record holds any more.
            superseded.append({"r": record, "v": revision})
    if superseded:
        connection.execute(_DROP_OLDER_BLOB, superseded)
    if rows:
        connection.execute(_KEEP_BLOB, rows)


def keep_blob(
    connection: Connection,
    space: str,
    record: str,
    revision: int,
    seq: int,
    author: str,
    blob: bytes | None,
) -> None:
    """Remember a verified version's sealed blob, unless a newer one is held."""
    keep_blobs(connection, [(space, record, revision, seq, author, blob)])


class BundleTables:
    """Bundle bookkeeping over ``self._engine`` (the profile's SQLCipher engine)."""

    _engine: Engine

    def record_blobs(self, space: str, after_seq: int) -> Iterator[StoredBlob]:
        last = after_seq
        while True:
            with self._engine.connect() as connection:
                rows = connection.execute(
                    select(SyncRecordBlobRow)
                    .where(SyncRecordBlobRow.space_id == space, SyncRecordBlobRow.seq > last)
                    .order_by(SyncRecordBlobRow.seq)
                    .limit(_BATCH)
                ).all()
            for row in rows:
                deleted = read_header(row.blob)[0].kind is EnvelopeKind.TOMBSTONE
                yield StoredBlob(
                    row.space_id,
                    row.record_id,
                    row.revision,
                    row.seq,
                    row.author,
                    deleted,
                    row.blob,
                )
            if len(rows) < _BATCH:
                return
            last = rows[-1].seq

    def count_record_blobs(self, space: str, after_seq: int) -> int:
        with self._engine.connect() as connection:
            return int(
                connection.scalar(
                    select(func.count())
                    .select_from(SyncRecordBlobRow)
                    .where(SyncRecordBlobRow.space_id == space, SyncRecordBlobRow.seq > after_seq)
                )
                or 0
            )

    def count_uncarriable(self, space: str) -> int:
        with self._engine.connect() as connection:
            return int(connection.scalar(_COUNT_UNCARRIABLE, {"s": space}) or 0)

    def blob_floor(self, space: str) -> int:
        with self._engine.connect() as connection:
            floor = connection.scalar(
                select(SyncBlobFloorRow.floor).where(SyncBlobFloorRow.space_id == space)
            )
        return int(floor or 0)

    def carried(self, *, pending_only: bool = True) -> list[CarriedMutation]:
        statement = select(SyncCarriedRow).order_by(SyncCarriedRow.record_id)
        if pending_only:
            statement = statement.where(SyncCarriedRow.relayed.is_(False))
        with self._engine.connect() as connection:
            rows = connection.execute(statement).all()
        return [
            CarriedMutation(
                row.author,
                Mutation(
                    row.mutation_id,
                    row.space_id,
                    row.record_id,
                    row.base_revision,
                    row.blob,
                    row.deleted,
                    tuple(json.loads(row.chunks)),
                    row.epoch,
                ),
            )
            for row in rows
        ]

    def known_carried(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        with self._engine.connect() as connection:
            for author, mutation_id in keys:
                row = connection.scalar(
                    select(SyncCarriedRow.mutation_id).where(
                        SyncCarriedRow.author == author, SyncCarriedRow.mutation_id == mutation_id
                    )
                )
                if row is not None:
                    found.add((author, mutation_id))
        return found

    def add_carried(self, mutations: Sequence[CarriedMutation]) -> None:
        if not mutations:
            return
        with self._engine.begin() as connection:
            for carried in mutations:
                m = carried.mutation
                exists = connection.scalar(
                    select(SyncCarriedRow.mutation_id).where(
                        SyncCarriedRow.author == carried.author, SyncCarriedRow.mutation_id == m.id
                    )
                )
                if exists is not None or m.blob is None:
                    continue
                connection.execute(
                    insert(SyncCarriedRow).values(
                        author=carried.author,
                        mutation_id=m.id,
                        space_id=m.space,
                        record_id=m.record,
                        base_revision=m.base,
                        deleted=m.deleted,
                        epoch=m.epoch,
                        chunks=json.dumps(list(m.chunks)),
                        blob=m.blob,
                        relayed=False,
                    )
                )

    def mark_relayed(self, keys: Sequence[tuple[str, str]]) -> None:
        with self._engine.begin() as connection:
            for author, mutation_id in keys:
                connection.execute(
                    update(SyncCarriedRow)
                    .where(
                        SyncCarriedRow.author == author, SyncCarriedRow.mutation_id == mutation_id
                    )
                    .values(relayed=True, blob=b"")
                )

    def peer_cursors(self, device: str) -> dict[str, int]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(SyncBundlePeerRow).where(SyncBundlePeerRow.device == device)
            ).all()
        return {row.space_id: row.cursor for row in rows}

    def save_peer_cursors(self, device: str, cursors: Mapping[str, int]) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(SyncBundlePeerRow).where(SyncBundlePeerRow.device == device))
            rows = [{"device": device, "space_id": s, "cursor": c} for s, c in cursors.items()]
            if rows:
                connection.execute(insert(SyncBundlePeerRow), rows)

    def bundle_seen(self, bundle_id: str) -> bool:
        with self._engine.connect() as connection:
            return (
                connection.scalar(
                    select(SyncBundleSeenRow.bundle_id).where(
                        SyncBundleSeenRow.bundle_id == bundle_id
                    )
                )
                is not None
            )

    def mark_bundle_seen(self, bundle_id: str) -> None:
        with self._engine.begin() as connection:
            if not connection.scalar(
                select(SyncBundleSeenRow.bundle_id).where(SyncBundleSeenRow.bundle_id == bundle_id)
            ):
                connection.execute(insert(SyncBundleSeenRow).values(bundle_id=bundle_id))

    def courier_grant(self, device: str) -> tuple[bytes, bytes] | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(SyncCourierGrantRow).where(SyncCourierGrantRow.device == device)
            ).first()
        return None if row is None else (row.grant, row.signature)

    def save_courier_grant(self, device: str, grant: bytes, signature: bytes) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(SyncCourierGrantRow).where(SyncCourierGrantRow.device == device)
            )
            connection.execute(
                insert(SyncCourierGrantRow).values(device=device, grant=grant, signature=signature)
            )
