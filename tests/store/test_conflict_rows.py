"""Conflict rows in a real profile: a conflict on a field of a newer format is settled among the
fields kept for it, the note of a record kept sealed cannot be dismissed while it is sealed, and
a choice keeping the value held leaves a decision mark in the content until the field is edited."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from desktop.domain.records import Organization, edit, new_id
from desktop.store.records import RecordStore
from desktop.store.sync_state import UNREADABLE_FORMAT, KeptBy, ProfileSyncState
from sync.client.merge import DECIDED, FieldConflict
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


def test_a_kept_value_choice_marks_the_field_until_it_is_edited_normally(tmp_path: Path) -> None:
    profile, _recovery = new_profile(tmp_path / "profile")
    try:
        records = RecordStore(profile.engine)
        org = records.save(Organization(space_id=new_id(), name="Casa Alba", revision=2))
        state = ProfileSyncState(profile.engine)

        def ask(mine: str, theirs: str) -> int:
            with profile.engine.begin() as connection:
                ProfileSyncState._keep_field_conflict(
                    connection,
                    org.space_id,
                    org.id,
                    FieldConflict("name", "Casa Abierta", mine, theirs),
                    KeptBy("", "peer", ""),
                )
            [conflict] = state.conflicts()
            return conflict.id

        def sent() -> dict[str, object]:
            local = state.local_record(org.space_id, org.id)
            assert local is not None and local.content is not None and local.dirty
            return dict(local.content)

        # Keeping the value held writes nothing new: the content sent carries a mark instead.
        assert state.resolve_conflict(ask("Casa Badu", "Casa Alba"), "Casa Alba") == "settled"
        first = sent()
        assert first["name"] == "Casa Alba" and set(first[DECIDED]) == {"name"}  # type: ignore[arg-type]
        # Another decision on the field replaces it (one mark per field, the latest).
        assert state.resolve_conflict(ask("Casa Badu", "Casa Alba"), "Casa Alba") == "settled"
        second = sent()
        assert set(second[DECIDED]) == {"name"} and second[DECIDED] != first[DECIDED]  # type: ignore[arg-type]
        # An edit of another field keeps it; an edit of the field drops it.
        records.save(edit(records.require(org.id), acronym="CA"))
        assert sent()[DECIDED] == second[DECIDED]
        records.save(edit(records.require(org.id), name="Casa Alba del Sur"))
        assert DECIDED not in sent()
        # A choice of another value is an edit: it leaves no mark.
        assert (
            state.resolve_conflict(ask("Casa Badu", "Casa Alba del Sur"), "Casa Badu") == "settled"
        )
        assert DECIDED not in sent() and sent()["name"] == "Casa Badu"
    finally:
        profile.close()
