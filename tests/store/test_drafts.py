"""Drafts kept at lock: a round trip through the encrypted profile, and no plaintext on disk."""

from __future__ import annotations

from pathlib import Path

from desktop.store.drafts import Draft, DraftStore
from desktop.store.profile import unlock
from tests.helpers.profiles import PASSPHRASE, files_containing, new_profile


def _draft(**changes: object) -> Draft:
    values: dict[str, object] = {
        "editor": "incident",
        "space_id": "space-1",
        "record_id": "incident-1",
        "is_new": True,
        "label": "Desalojo en La Oroya",
        # Raw form state: an unparseable coordinate is kept as typed, not validated away.
        "state": {"title": "Desalojo", "latitude": "doce sur", "rights": ["land", "housing"]},
    }
    values.update(changes)
    return Draft(**values)  # type: ignore[arg-type]


def test_round_trip_replace_take_and_discard(tmp_path: Path) -> None:
    profile, _key = new_profile(tmp_path / "profile")
    store = DraftStore(profile.engine)
    assert store.all() == []
    first = store.save(_draft())
    assert first.saved_at
    other = store.save(_draft(editor="person", record_id=None, label="", state={"name": "Ana"}))
    assert [d.id for d in store.all()] == [first.id, other.id]
    assert store.get(first.id) == first
    assert first.state["latitude"] == "doce sur"

    # Locking twice with the same editor open replaces its draft rather than adding one.
    again = store.save(_draft(id=first.id, state={"title": "Desalojo forzoso"}))
    assert len(store.all()) == 2
    assert store.get(first.id) == again
    assert again.state == {"title": "Desalojo forzoso"}

    assert store.take(first.id) == again
    assert store.take(first.id) is None
    assert store.discard(other.id) is True
    assert store.discard(other.id) is False
    assert store.all() == []
    profile.close()


def test_drafts_survive_locking(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    profile, _key = new_profile(folder)
    saved = DraftStore(profile.engine).save(_draft(state={"narrative": "línea 1\nسطر ٢"}))
    profile.close()
    profile = unlock(folder, PASSPHRASE)
    assert DraftStore(profile.engine).all() == [saved]
    profile.close()


def test_canary_typed_in_a_draft_reaches_no_file_in_plaintext(tmp_path: Path) -> None:
    canary = "CANARY-draft-9c1e-Desalojo-إخلاء"
    folder = tmp_path / "profile"
    profile, _key = new_profile(folder)
    store = DraftStore(profile.engine)
    store.save(_draft(label=canary, state={"narrative": f"typed: {canary}"}))
    # While open: the fresh pages sit in the WAL, encrypted like the database.
    assert (folder / "minga.db-wal").exists()
    assert files_containing([folder], canary) == []
    profile.close()
    assert files_containing([folder], canary) == []
    # The scan can find it: unlocked, the draft does hold the canary.
    profile = unlock(folder, PASSPHRASE)
    [draft] = DraftStore(profile.engine).all()
    profile.close()
    assert canary in draft.state["narrative"] and draft.label == canary
