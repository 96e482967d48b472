"""What an ordinary pull pays for the kept batches of a space (issue 19; bundle_state.py).

Run with ``make bench PYTEST_ARGS="-k kept_batches"``. A profile keeps K sealed batches of E
entries each in one space (as a first sync of K × E records leaves them), then stores pulled
pages of P records, each page replacing versions carried by one batch (an everyday edit of old
records, the case that makes the store look at its kept batches). It prints the time per page
and how many statements a page ran; it asserts only that the replaced versions left
their batch (no timed assertion).
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from sqlalchemy import event, func, select

from desktop.store.bundle_state import Kept, keep_blobs
from desktop.store.schema import SyncBatchBlobRow, SyncRecordBlobRow
from sync.crypto.batch import SealedEntry, seal_batch
from sync.crypto.keys import DeviceKeys
from tests.helpers.profiles import new_profile

KEPT = int(os.environ.get("MINGA_BENCH_KEPT_BATCHES", "400"))
ENTRIES = int(os.environ.get("MINGA_BENCH_KEPT_ENTRIES", "64"))
PAGE = 50
PAGES = 10


def test_a_pull_page_costs_what_the_page_touches_not_the_kept_store(tmp_path: Path) -> None:
    profile, _recovery = new_profile(tmp_path / "profile")
    space = secrets.token_hex(16)
    keys, space_key = DeviceKeys.generate(), secrets.token_bytes(32)
    batches: list[list[str]] = []
    seq = 0
    started = time.perf_counter()
    for _ in range(KEPT):
        records = [secrets.token_hex(16) for _ in range(ENTRIES)]
        entries = [
            SealedEntry(r, 0, {"name": f"Colectivo {r[:6]}", "description": "Acompañamiento"})
            for r in records
        ]
        blob = seal_batch(
            entries,
            space=space,
            epoch=0,
            space_key=space_key,
            signer=keys,
            statement=(1, b"\0" * 32),
        )
        kept = []
        for index, record in enumerate(records):
            seq += 1
            kept.append(Kept(space, record, 1, seq, keys.device_id, None, blob, index))
        with profile.engine.begin() as connection:
            keep_blobs(connection, kept)
        batches.append(records)
    print(f"\nkept {KEPT} batches of {ENTRIES} entries in {time.perf_counter() - started:.1f} s")
    looked: list[int] = [0]

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        looked[0] += 1

    event.listen(profile.engine, "before_cursor_execute", count)
    times: list[float] = []
    for page in range(PAGES):
        replaced = batches[page * (KEPT // PAGES)][:PAGE]
        kept = []
        for record in replaced:
            seq += 1
            kept.append(Kept(space, record, 2, seq, keys.device_id, secrets.token_bytes(400)))
        started = time.perf_counter()
        with profile.engine.begin() as connection:
            keep_blobs(connection, kept)
        times.append(time.perf_counter() - started)
    event.remove(profile.engine, "before_cursor_execute", count)
    with profile.engine.connect() as connection:
        left = connection.scalar(
            select(func.count())
            .select_from(SyncRecordBlobRow)
            .where(SyncRecordBlobRow.revision == 2, SyncRecordBlobRow.batch.is_not(None))
        )
        still = connection.scalar(select(func.count()).select_from(SyncBatchBlobRow))
    profile.close()
    times.sort()
    print(
        f"page of {PAGE} replaced versions over {KEPT} kept batches: "
        f"median {1000 * times[len(times) // 2]:.1f} ms, max {1000 * times[-1]:.1f} ms; "
        f"statements per page {looked[0] / PAGES:.0f}; {still} kept batches remain"
    )
    assert left == 0
