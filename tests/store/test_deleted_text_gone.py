"""Deleted means gone (issue 16): after a delete or an edit that drops text, and once the
profile has been locked, the old words are in no table, no FTS segment, no free page and no
WAL frame of the decrypted database.

The bound, as SECURITY.md states it: at the next lock (or quit, which locks). Until then the
WAL may hold earlier versions of pages; the tests show that too, so the check can fail.
"""

from __future__ import annotations

from pathlib import Path

from desktop.domain.records import Incident, new_id
from desktop.store.profile import DATABASE_FILE, unlock
from desktop.store.records import RecordQuery, RecordStore
from tests.helpers.profiles import PASSPHRASE, new_profile, raw_key
from tests.helpers.sqlcipher_pages import pages_holding

CANARY = "Quetzalcanary"
EDIT_CANARY = "Zapotecanary"


def _filler(store: RecordStore, space: str, count: int) -> None:
    # Enough other incidents that the index has many segments and pages to hide words in.
    store.save_all(
        [
            Incident(
                space_id=space,
                title=f"Incident {n} about water and schools",
                narrative=f"Narrative {n}: the school was closed and the well cut off.",
            )
            for n in range(count)
        ]
    )


def test_deleted_incident_leaves_no_word_after_the_lock(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    profile, _ = new_profile(folder)
    store = RecordStore(profile.engine)
    space = new_id()
    _filler(store, space, 300)
    doomed = store.save(
        Incident(
            space_id=space,
            title=f"Raid at {CANARY} farm",
            narrative=f"Witnesses from {CANARY} saw the raid.",
        )
    )
    _filler(store, space, 50)
    kept = store.save(
        Incident(space_id=space, title="Kept incident", narrative=f"Before {EDIT_CANARY} edit.")
    )
    key = raw_key(folder)
    assert store.count(RecordQuery("incident", text=CANARY)) == 1
    # The check can fail: the words are readable in the decrypted pages while they exist.
    assert pages_holding(folder / DATABASE_FILE, key, CANARY.encode())
    profile.close()  # lock: everything is in the database file now
    assert pages_holding(folder / DATABASE_FILE, key, CANARY.encode())

    profile = unlock(folder, PASSPHRASE)
    store = RecordStore(profile.engine)
    store.delete(doomed.id)
    edited = store.require(kept.id)
    assert isinstance(edited, Incident)
    store.save(
        Incident(
            id=edited.id,
            space_id=space,
            title="Kept incident",
            narrative="After the edit.",
            created_at=edited.created_at,
        )
    )
    assert store.count(RecordQuery("incident", text=CANARY)) == 0
    # Before the bound: pages not yet checkpointed still hold the words (the lock folds the
    # WAL in; secure_delete has zeroed what was freed).
    before = pages_holding(folder / DATABASE_FILE, key, CANARY.encode())
    print("before the lock:", before)
    assert before  # the main file still has them until the checkpoint at lock
    profile.close()

    for word in (CANARY, EDIT_CANARY):
        for encoded in (word.encode(), word.lower().encode()):
            assert pages_holding(folder / DATABASE_FILE, key, encoded) == []
    wal = folder / (DATABASE_FILE + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0

    # Search still works for what remains.
    profile = unlock(folder, PASSPHRASE)
    try:
        store = RecordStore(profile.engine)
        assert store.count(RecordQuery("incident", text="water")) == 350
        assert store.count(RecordQuery("incident", text="edit")) == 1
    finally:
        profile.close()
