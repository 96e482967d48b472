"""Which records have a conflict waiting for a person: the lists mark them.

Read with the rows a list shows (the ids of one chunk), so marking costs one indexed query per
chunk, whatever the number of records.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, select

from desktop.store.schema import UNSENT_KEPT, SyncConflictRow


def records_in_conflict(engine: Engine, record_ids: Iterable[str]) -> set[str]:
    """Those of ``record_ids`` with at least one conflict or flag not yet settled."""
    wanted = list(dict.fromkeys(record_ids))
    found: set[str] = set()
    with engine.connect() as connection:
        for start in range(0, len(wanted), 500):  # well under SQLite's variable limit
            batch = wanted[start : start + 500]
            rows = connection.execute(
                select(SyncConflictRow.record_id)
                .where(SyncConflictRow.record_id.in_(batch), SyncConflictRow.kind != UNSENT_KEPT)
                .distinct()
            )
            found.update(row[0] for row in rows)
    return found
