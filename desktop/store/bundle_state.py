"""The store side of courier bundles (``sync.client.carry.CarryState``), mixed into
``ProfileSyncState``: sealed record blobs, carried mutations, peers' cursors, bundles seen."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from desktop.store.bulk import id_list, in_ids
from desktop.store.schema import (
    RecordRow,
    SyncBatchBlobRow,
    SyncBatchEntryRow,
    SyncBlobFloorRow,
    SyncBundlePeerRow,
    SyncBundleSeenRow,
    SyncCarriedRow,
    SyncCourierGrantRow,
    SyncRecordBlobRow,
)
from sync.client.carry import CarriedMutation, StoredBatch, StoredBlob
from sync.crypto.batch import read_batch_header
from sync.crypto.envelope import EnvelopeKind, read_header
from sync.protocol import Mutation

#: Blobs streamed per query when exporting (bounded memory for 100,000 records).
_BATCH = 500


#: A verified version's sealed blob (or the kept batch that carries it), unless a newer one is
#: held (one statement, so a whole page of them is one ``executemany``).
_KEEP_BLOB = text(
    "INSERT INTO sync_record_blobs (record_id, space_id, revision, seq, author, blob, batch, "
    "batch_index) VALUES (:r, :s, :v, :q, :a, :b, :g, :i) ON CONFLICT (record_id) DO UPDATE SET "
    "space_id = excluded.space_id, revision = excluded.revision, seq = excluded.seq, "
    "author = excluded.author, blob = excluded.blob, batch = excluded.batch, "
    "batch_index = excluded.batch_index WHERE excluded.revision > sync_record_blobs.revision"
)

_KEEP_BATCH = text(
    "INSERT INTO sync_batch_blobs (digest, space_id, author, blob) VALUES (:d, :s, :a, :b) "
    "ON CONFLICT (digest) DO NOTHING"
)

#: The records a kept batch names, one statement for its whole manifest (bulk.py).
_NAME_ENTRIES = text(
    "INSERT INTO sync_batch_entries (record_id, digest) SELECT value, :d FROM json_each(:ids) "
    "WHERE true ON CONFLICT (record_id, digest) DO NOTHING"
)

#: A dropped batch's rows, found from its manifest (the table is ordered by record).
_UNNAME_ENTRIES = text(
    "DELETE FROM sync_batch_entries WHERE record_id IN (SELECT value FROM json_each(:ids)) "
    "AND digest = :d"
)

#: The kept batches of a space naming a record deleted here (``prune_spoiled``).
_NAMING_DELETED = text(
    "SELECT DISTINCT e.digest FROM sync_batch_entries e "
    "JOIN sync_batch_blobs b ON b.digest = e.digest "
    "JOIN records r ON r.id = e.record_id "
    "WHERE r.deleted AND b.space_id IN (SELECT value FROM json_each(:spaces))"
)

#: A newer version without an envelope or batch kept for it: the older blob held is no longer
#: the record's current version, and a bundle must not hand it on as if it were.
#: One statement for a page: ``:pairs`` is a JSON array of [record, revision] (bulk.py).
_DROP_OLDER_BLOB = text(
    "DELETE FROM sync_record_blobs WHERE rowid IN (SELECT b.rowid FROM json_each(:pairs) AS p "
    "JOIN sync_record_blobs AS b ON b.record_id = p.value ->> 0 AND b.revision < p.value ->> 1)"
)

#: Records whose held server version has neither a blob nor a kept batch at that revision (see
#: ``count_uncarriable``). A row with neither is a version whose batch was dropped as spoiled:
#: kept for its seq, so a compaction of it can carry it again (``carry_in_batch``).
_COUNT_UNCARRIABLE = text(
    "SELECT count(*) FROM records WHERE space_id = :s AND revision > 0 AND NOT EXISTS "
    "(SELECT 1 FROM sync_record_blobs b WHERE b.record_id = records.id "
    "AND b.revision >= records.revision AND (length(b.blob) > 0 OR b.batch IS NOT NULL))"
)


class Kept(NamedTuple):
    """A verified version to remember for bundles: its envelope (``blob``), or the sealed
    batch it came in and its entry there; ``deleted`` for a tombstone."""

    space: str
    record: str
    revision: int
    seq: int
    author: str
    blob: bytes | None
    batch: bytes | None = None
    batch_index: int = 0
    deleted: bool = False


def keep_blobs(connection: Connection, kept: Iterable[Kept]) -> None:
    """Remember verified versions' sealed blobs or batches, each unless a newer one is held;
    those without a seq are skipped. A kept batch that no longer carries anything, or that holds
    content the space since deleted or replaced (``_spoiled``), is dropped in the same
    transaction; only the kept batches naming a record of ``kept`` are looked at."""
    rows: list[dict[str, object]] = []
    superseded: list[tuple[str, int]] = []
    batches: dict[bytes, dict[str, object]] = {}
    records: set[str] = set()
    check = False
    for item in kept:
        if item.seq <= 0:
            continue
        row = {"r": item.record, "s": item.space, "v": item.revision, "q": item.seq}
        row.update(a=item.author, b=b"", g=None, i=None)
        records.add(item.record)
        check = check or item.deleted
        if item.blob:
            rows.append({**row, "b": item.blob})
        elif item.batch:
            found = batches.get(item.batch)
            if found is None:
                found = {"d": hashlib.sha256(item.batch).hexdigest(), "s": item.space}
                found.update(a=item.author, b=item.batch)
                batches[item.batch] = found
            rows.append({**row, "g": found["d"], "i": item.batch_index})
        else:
            # No envelope of its own and no batch (an older server's courier download): nothing
            # to keep, and an older version's blob is not what the record holds any more.
            superseded.append((item.record, item.revision))
    if not records:
        return
    if superseded:
        connection.execute(_DROP_OLDER_BLOB, {"pairs": json.dumps(superseded)})
    new = _keep_batches(connection, list(batches.values())) if batches else []
    if rows:
        # A version replacing one a batch carried may leave that batch spoiled or unneeded.
        check = check or bool(superseded) or _replaces_batched(connection, rows)
        connection.execute(_KEEP_BLOB, rows)
    # A batch kept now may come spoiled already (an older bundle's, whose deleted record is
    # held here only as a tombstone): looked at once, when it comes.
    if check:
        prune_batches(connection, naming(connection, sorted(records)))
    elif new:
        prune_batches(connection, new)


def _keep_batches(connection: Connection, batches: list[dict[str, object]]) -> list[str]:
    """Keep batches not kept yet, with the records their manifests name (a batch spanning
    several pages is delivered with each: its manifest is read once, when first kept); the
    digests of those kept now."""
    new: list[str] = []
    for batch in batches:
        if not connection.execute(_KEEP_BATCH, batch).rowcount:
            continue  # kept already
        blob = batch["b"]
        assert isinstance(blob, bytes)
        records = sorted({entry.record for entry in read_batch_header(blob)[0].entries})
        connection.execute(_NAME_ENTRIES, {"d": batch["d"], "ids": id_list(records)})
        new.append(str(batch["d"]))
    return new


def naming(connection: Connection, records: Sequence[str]) -> list[str]:
    """The kept batches whose manifest names one of ``records`` (the index of 0020): the only
    ones a change to those records can spoil or leave carrying nothing."""
    if not records:
        return []
    return sorted(
        set(
            connection.scalars(
                select(SyncBatchEntryRow.digest).where(in_ids(SyncBatchEntryRow.record_id, records))
            )
        )
    )


def _replaces_batched(connection: Connection, rows: list[dict[str, object]]) -> bool:
    found = connection.scalar(
        select(func.count())
        .select_from(SyncRecordBlobRow)
        .where(
            in_ids(SyncRecordBlobRow.record_id, [row["r"] for row in rows]),
            SyncRecordBlobRow.batch.is_not(None),
        )
    )
    return bool(found)


def prune_batches(connection: Connection, digests: Iterable[str]) -> None:
    """Drop those of the kept batches ``digests`` that carry nothing held here any more, and
    those ``_spoiled``: the versions they carried become uncarriable (counted by an export)
    until a compaction of them carries them again."""
    for digest in sorted(set(digests)):
        blob = connection.scalar(
            select(SyncBatchBlobRow.blob).where(SyncBatchBlobRow.digest == digest)
        )
        if blob is None:
            continue
        live = int(
            connection.scalar(
                select(func.count())
                .select_from(SyncRecordBlobRow)
                .where(SyncRecordBlobRow.batch == digest)
            )
            or 0
        )
        if live and not _spoiled(connection, bytes(blob)):
            continue
        drop_batch(connection, digest, bytes(blob))


def drop_batch(connection: Connection, digest: str, blob: bytes) -> None:
    """Forget a kept batch: the versions it carried keep their rows (and seqs), uncarriable."""
    connection.execute(
        update(SyncRecordBlobRow)
        .where(SyncRecordBlobRow.batch == digest)
        .values(batch=None, batch_index=None)
    )
    records = sorted({entry.record for entry in read_batch_header(blob)[0].entries})
    connection.execute(_UNNAME_ENTRIES, {"d": digest, "ids": id_list(records)})
    connection.execute(delete(SyncBatchBlobRow).where(SyncBatchBlobRow.digest == digest))


def _spoiled(connection: Connection, blob: bytes) -> bool:
    """Whether a bundle must stop handing this batch on: a record it holds content for was
    deleted since, or an eighth of its entries were replaced — the server's rule for a batch
    due for compaction (CRYPTO.md §5), so a bundle hands on a deleted or replaced version no
    longer than the server does. An entry whose record is not held yet (a first sync cut
    between pages) counts as neither."""
    entries = read_batch_header(blob)[0].entries
    records = [e.record for e in entries]
    held: dict[str, int] = {}
    alive: set[str] = set()
    #: Records deleted here, at the revision they were deleted from: a deletion made on this
    #: device or merged from a carried mutation keeps the record's revision until the server
    #: accepts it, yet the content is deleted here from that moment.
    deleted_here: dict[str, int] = {}
    for record, revision, deleted in connection.execute(
        select(RecordRow.id, RecordRow.revision, RecordRow.deleted).where(
            in_ids(RecordRow.id, records)
        )
    ):
        held[record] = max(held.get(record, 0), int(revision))
        if deleted:
            deleted_here[record] = max(deleted_here.get(record, 0), int(revision))
        else:
            alive.add(record)
    for record, revision in connection.execute(
        select(SyncRecordBlobRow.record_id, SyncRecordBlobRow.revision).where(
            in_ids(SyncRecordBlobRow.record_id, records)
        )
    ):
        held[record] = max(held.get(record, 0), int(revision))
    replaced = 0
    for entry in entries:
        if not entry.deleted and deleted_here.get(entry.record, 0) >= entry.revision:
            return True  # its content was deleted here, pushed or not
        if held.get(entry.record, 0) <= entry.revision:
            continue
        replaced += 1
        if not entry.deleted and entry.record not in alive:
            return True  # its content here was deleted since
    return replaced * 8 >= len(entries)


def stored_mutation(row: Any) -> Mutation:
    """A mutation kept in a table that spells it the same way (``sync_carried``,
    ``sync_returned``): mutation id, space, record, base revision, blob, deleted, chunks, epoch."""
    return Mutation(
        row.mutation_id,
        row.space_id,
        row.record_id,
        row.base_revision,
        row.blob,
        row.deleted,
        tuple(json.loads(row.chunks)),
        row.epoch,
    )


class BundleTables:
    """Bundle bookkeeping over ``self._engine`` (the profile's SQLCipher engine)."""

    _engine: Engine

    def record_blobs(self, space: str, after_seq: int) -> Iterator[StoredBlob]:
        last = after_seq
        while True:
            with self._engine.connect() as connection:
                rows = connection.execute(
                    select(SyncRecordBlobRow)
                    .where(
                        SyncRecordBlobRow.space_id == space,
                        SyncRecordBlobRow.seq > last,
                        func.length(SyncRecordBlobRow.blob) > 0,
                    )
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
                    .where(
                        SyncRecordBlobRow.space_id == space,
                        SyncRecordBlobRow.seq > after_seq,
                        func.length(SyncRecordBlobRow.blob) > 0,
                    )
                )
                or 0
            )

    def record_batches(self, space: str, after_seq: int) -> Iterator[StoredBatch]:
        """The kept batches of ``space`` carrying a version with seq > ``after_seq``, one at a
        time, each with the runs of those entries (first index, first seq, count)."""
        for digest in self._batch_digests(space, after_seq):
            with self._engine.connect() as connection:
                kept = connection.execute(
                    select(SyncBatchBlobRow).where(SyncBatchBlobRow.digest == digest)
                ).first()
                entries = connection.execute(
                    select(SyncRecordBlobRow.batch_index, SyncRecordBlobRow.seq)
                    .where(SyncRecordBlobRow.batch == digest, SyncRecordBlobRow.seq > after_seq)
                    .order_by(SyncRecordBlobRow.batch_index)
                ).all()
            if kept is None or not entries:
                continue
            runs: list[tuple[int, int, int]] = []
            for index, seq in entries:
                if runs and (index, seq) == (runs[-1][0] + runs[-1][2], runs[-1][1] + runs[-1][2]):
                    runs[-1] = (runs[-1][0], runs[-1][1], runs[-1][2] + 1)
                else:
                    runs.append((int(index or 0), int(seq), 1))
            yield StoredBatch(space, kept.author, kept.blob, tuple(runs))

    def count_record_batches(self, space: str, after_seq: int) -> int:
        return len(self._batch_digests(space, after_seq))

    def _batch_digests(self, space: str, after_seq: int) -> list[str]:
        with self._engine.connect() as connection:
            return [
                str(digest)
                for digest in connection.scalars(
                    select(SyncRecordBlobRow.batch)
                    .where(
                        SyncRecordBlobRow.space_id == space,
                        SyncRecordBlobRow.seq > after_seq,
                        SyncRecordBlobRow.batch.is_not(None),
                    )
                    .group_by(SyncRecordBlobRow.batch)
                    .order_by(func.min(SyncRecordBlobRow.seq))
                )
            ]

    def carry_in_batch(
        self, space: str, author: str, blob: bytes, entries: Sequence[tuple[str, int, int]]
    ) -> None:
        """A batch this device sealed again (a compaction or an admin's snapshot) now carries
        the versions it re-sealed: (record, revision, index) held here at exactly that
        revision point at it, and the batch they left is dropped once it carries nothing."""
        digest = hashlib.sha256(blob).hexdigest()
        with self._engine.begin() as connection:
            _keep_batches(connection, [{"d": digest, "s": space, "a": author, "b": blob}])
            connection.execute(
                update(SyncRecordBlobRow)
                .where(
                    SyncRecordBlobRow.record_id == bindparam("r"),
                    SyncRecordBlobRow.revision == bindparam("v"),
                )
                .values(blob=b"", batch=digest, batch_index=bindparam("i")),
                [{"r": record, "v": revision, "i": index} for record, revision, index in entries],
            )
            prune_batches(connection, naming(connection, [record for record, _v, _i in entries]))

    def held_revisions(self, space: str, records: Sequence[str]) -> dict[str, int]:
        """The newest server revision of ``records`` whose sealed version is held here, a
        record or not: a tombstone for a record never held leaves no record, only this. One
        statement whatever the count (the ids go as one JSON parameter, bulk.py)."""
        if not records:
            return {}
        with self._engine.connect() as connection:
            return {
                str(record): int(revision)
                for record, revision in connection.execute(
                    select(SyncRecordBlobRow.record_id, SyncRecordBlobRow.revision).where(
                        SyncRecordBlobRow.space_id == space,
                        in_ids(SyncRecordBlobRow.record_id, records),
                    )
                )
            }

    def prune_spoiled(self, spaces: Sequence[str]) -> None:
        """Drop the kept batches of ``spaces`` spoiled since they were last looked at: a
        deletion made here offline, or merged from a carried mutation, stores no version, so
        nothing pruned them when it was saved."""
        with self._engine.begin() as connection:
            prune_batches(
                connection,
                connection.scalars(_NAMING_DELETED, {"spaces": json.dumps(list(spaces))}),
            )

    def count_uncarriable(self, space: str) -> int:
        with self._engine.connect() as connection:
            return int(connection.scalar(_COUNT_UNCARRIABLE, {"s": space}) or 0)

    def first_uncarried_seq(self, space: str) -> int | None:
        with self._engine.connect() as connection:
            found = connection.scalar(
                select(func.min(SyncRecordBlobRow.seq)).where(
                    SyncRecordBlobRow.space_id == space,
                    func.length(SyncRecordBlobRow.blob) == 0,
                    SyncRecordBlobRow.batch.is_(None),
                )
            )
        return None if found is None else int(found)

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
        return [CarriedMutation(row.author, stored_mutation(row)) for row in rows]

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
