"""Kept batches (bundle_state.py, migrations 0017 and 0020): a pulled page looks only at the
kept batches that name one of its records, and still drops every batch it spoils."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, func, select, text

from desktop.store.bundle_state import Kept, keep_blobs
from desktop.store.profile import Profile
from desktop.store.schema import SyncBatchBlobRow, SyncBatchEntryRow
from sync.crypto.batch import SealedEntry, seal_batch
from sync.crypto.keys import DeviceKeys
from tests.helpers.profiles import new_profile

SPACE = "c" * 32
KEYS = DeviceKeys.generate()
SPACE_KEY = secrets.token_bytes(32)


@pytest.fixture
def profile(tmp_path: Path) -> Iterator[Profile]:
    made, _recovery = new_profile(tmp_path / "p")
    yield made
    made.close()


class Seqs:
    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last += 1
        return self.last


def _hold(connection: Connection, records: list[str], revision: int, deleted: bool = False) -> None:
    """The records as the pull stored them (what ``_spoiled`` reads beside the kept versions)."""
    connection.execute(
        text(
            "INSERT INTO records (id, record_type, space_id, revision, dirty, deleted, "
            "created_at, updated_at, label) VALUES (:r, 'organization', :s, :v, 0, :d, "
            "'2026-01-01', '2026-01-01', '') ON CONFLICT (id) DO UPDATE SET "
            "revision = excluded.revision, deleted = excluded.deleted"
        ),
        [{"r": r, "s": SPACE, "v": revision, "d": deleted} for r in records],
    )


def _keep_batch(profile: Profile, seqs: Seqs, records: list[str], revision: int = 1) -> bytes:
    """A batch of ``records`` at ``revision``, pulled and kept as a first sync keeps it."""
    blob = seal_batch(
        [SealedEntry(r, revision - 1, {"name": f"Org {r[:4]}"}) for r in records],
        space=SPACE,
        epoch=0,
        space_key=SPACE_KEY,
        signer=KEYS,
        statement=(1, b"\0" * 32),
    )
    kept = [
        Kept(SPACE, r, revision, seqs.next(), KEYS.device_id, None, blob, i)
        for i, r in enumerate(records)
    ]
    with profile.engine.begin() as connection:
        _hold(connection, records, revision)
        keep_blobs(connection, kept)
    return blob


def _replace(profile: Profile, seqs: Seqs, records: list[str], revision: int) -> int:
    """Store a pulled page of single versions of ``records``; returns the statements it ran."""
    ran: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        ran.append(statement)

    kept = [
        Kept(SPACE, r, revision, seqs.next(), KEYS.device_id, secrets.token_bytes(64))
        for r in records
    ]
    event.listen(profile.engine, "before_cursor_execute", count)
    try:
        with profile.engine.begin() as connection:
            _hold(connection, records, revision)
            keep_blobs(connection, kept)
    finally:
        event.remove(profile.engine, "before_cursor_execute", count)
    return len(ran)


def _kept(profile: Profile) -> int:
    with profile.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(SyncBatchBlobRow)) or 0)


def _ids(count: int) -> list[str]:
    return [secrets.token_hex(16) for _ in range(count)]


def test_a_pulled_page_costs_the_same_however_many_batches_are_kept(
    profile: Profile,
) -> None:
    seqs = Seqs()
    touched = [_ids(16) for _ in range(2)]
    for records in touched:
        _keep_batch(profile, seqs, records)
    few = _replace(profile, seqs, [touched[0][0]], 2)
    # Many more kept batches that the next page does not name.
    for _ in range(40):
        _keep_batch(profile, seqs, _ids(16))
    many = _replace(profile, seqs, [touched[1][0]], 2)
    assert _kept(profile) == 42  # one replaced entry of sixteen spoils nothing
    assert many == few, (few, many)


def test_a_deletion_drops_an_older_batch_that_no_longer_carries_the_record(
    profile: Profile,
) -> None:
    """Batch A carried R; batch B replaced R (A keeps carrying its other records). R's row
    points at B, yet A still holds R's older content: deleting R must drop A too."""
    seqs = Seqs()
    record, others = secrets.token_hex(16), _ids(15)
    first = _keep_batch(profile, seqs, [record, *others])
    _keep_batch(profile, seqs, [record, *_ids(15)], revision=2)
    assert _kept(profile) == 2
    tombstone = Kept(SPACE, record, 3, seqs.next(), KEYS.device_id, b"t" * 64, deleted=True)
    with profile.engine.begin() as connection:
        _hold(connection, [record], 3, deleted=True)
        keep_blobs(connection, [tombstone])
        left = set(connection.scalars(select(SyncBatchBlobRow.blob)))
        named = set(connection.scalars(select(SyncBatchEntryRow.record_id)))
    assert first not in left and left == set()
    assert record not in named and not named & set(others)
