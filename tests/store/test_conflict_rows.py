"""Conflict rows in a real profile: a conflict on a field of a newer format is settled among the
fields kept for it, and the note of a record kept sealed cannot be dismissed while it is sealed."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from desktop.domain.records import Organization, new_id
from desktop.store.records import RecordStore
from desktop.store.sync_state import UNREADABLE_FORMAT, KeptBy, ProfileSyncState
from sync.client.merge import FieldConflict
from tests.helpers.profiles import new_profile


def test_a_conflict_on_a_field_of_a_newer_format_is_settled_beside_the_record(
    tmp_path: Path,
) -> None:
    profile, _recovery = new_profile(tmp_path / "profile")
    try:
        records = RecordStore(profile.engine)
        org = records.save(Organization(space_id=new_id(), name="Casa Abierta"))
        with profile.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO record_extras (record_id, fields) VALUES (:i, :f)"),
                {"i": org.id, "f": json.dumps({"schema": 2, "motto": "Juntas"})},
            )
            ProfileSyncState._keep_field_conflict(
                connection,
                org.space_id,
                org.id,
                FieldConflict("motto", "Solas", "Unidas", "Juntas"),
                KeptBy("", "peer", ""),
            )
        state = ProfileSyncState(profile.engine)
        [conflict] = state.conflicts()
        assert (conflict.current, conflict.moved_since) == ("Juntas", False)
        assert state.resolve_conflict(conflict.id, "Unidas") == "settled"
        local = state.local_record(org.space_id, org.id)
        assert local is not None and local.content is not None and local.dirty
        assert (local.content["motto"], local.content["schema"]) == ("Unidas", 2)
        assert records.require(org.id).name == "Casa Abierta"
    finally:
        profile.close()


def test_the_note_of_a_sealed_record_stays_until_a_newer_version_opens_it(
    tmp_path: Path,
) -> None:
    profile, _recovery = new_profile(tmp_path / "profile")
    try:
        record = new_id()
        with profile.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO sync_sealed_records "
                    "(record_id, space_id, revision, author, content, reason) "
                    "VALUES (:r, 's', 3, 'peer', :c, 'unknown record type')"
                ),
                {"r": record, "c": json.dumps({"type": "testimony", "title": "Testimonio"})},
            )
            ProfileSyncState._keep_flag(connection, "s", record, UNREADABLE_FORMAT)
        state = ProfileSyncState(profile.engine)
        [note] = state.conflicts()
        state.resolve_conflict(note.id)
        assert [c.kind for c in state.conflicts()] == [UNREADABLE_FORMAT]
        assert state.sealed_title(record) == "Testimonio"
        assert state.reopen_sealed() == 0  # this version still cannot open it
    finally:
        profile.close()
