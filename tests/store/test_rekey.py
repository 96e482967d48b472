"""Re-keying a profile (issue 13, finding 3), on a profile with 10,000 incidents and files.

A changed passphrase used to re-wrap the same master key, and the recovery key could never be
replaced: after a coerced unlock, or with an old copy of ``profile.json``, the old passphrase or
recovery key opened every later copy of the database. A re-key starts a new master key: the old
passphrase and the old recovery key, with the old key file, open nothing new."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from desktop.store import rekey
from desktop.store.demo import fill_profile
from desktop.store.errors import WrongPassphrase, WrongRecoveryKey
from desktop.store.profile import KEY_FILE, unlock, unlock_with_recovery_key
from desktop.store.rekey import NEXT_KEY_FILE, DatabaseBusy
from tests.helpers.profiles import PASSPHRASE, new_profile

NEW_PASSPHRASE = "a new passphrase for after the checkpoint"
LATER_PASSPHRASE = "yet another passphrase chosen later on"


def _counts(profile: object) -> tuple[int, int]:
    engine = profile.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        records = connection.scalar(text("SELECT count(*) FROM records"))
        incidents = connection.scalar(
            text("SELECT count(*) FROM records WHERE record_type = 'incident'")
        )
    return int(records), int(incidents)


def test_a_rekey_at_ten_thousand_incidents_leaves_the_old_secrets_opening_nothing_new(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "profile"
    profile, old_recovery = new_profile(folder)
    fill_profile(profile, incidents=10_000)
    before = _counts(profile)
    assert before[1] == 10_000
    vault = sorted(p.name for p in (folder / "attachments").rglob("*") if p.is_file())
    old_key_file = (folder / KEY_FILE).read_bytes()

    started = time.perf_counter()
    new_recovery = profile.start_new_keys(PASSPHRASE, NEW_PASSPHRASE)
    elapsed = time.perf_counter() - started
    print(f"re-key of {before[0]} records: {elapsed:.2f} s")
    assert new_recovery != old_recovery
    # The open profile keeps working through the same engine, under the new key.
    assert _counts(profile) == before
    profile.close()

    # The new secrets open it, with everything in it.
    with unlock(folder, NEW_PASSPHRASE) as reopened:
        assert _counts(reopened) == before
    with pytest.raises(WrongPassphrase):
        unlock(folder, PASSPHRASE)
    # An old copy of profile.json beside the new database: neither old secret opens it.
    stale = tmp_path / "with-old-key-file"
    shutil.copytree(folder, stale)
    (stale / KEY_FILE).write_bytes(old_key_file)
    with pytest.raises(Exception) as refused:
        unlock(stale, PASSPHRASE)
    assert "damaged" in type(refused.value).__name__.lower() or isinstance(
        refused.value, WrongPassphrase
    )
    with pytest.raises(Exception) as refused:
        unlock_with_recovery_key(stale, old_recovery, LATER_PASSPHRASE)
    assert "damaged" in type(refused.value).__name__.lower() or isinstance(
        refused.value, WrongRecoveryKey
    )
    # The old recovery key with the new key file: retired.
    with pytest.raises(WrongRecoveryKey):
        unlock_with_recovery_key(folder, old_recovery, LATER_PASSPHRASE)
    # The new recovery key works (and sets a passphrase).
    with unlock_with_recovery_key(folder, new_recovery, LATER_PASSPHRASE) as recovered:
        assert _counts(recovered) == before
    # Attachment files are untouched on disk: their keys live in the re-encrypted database.
    assert sorted(p.name for p in (folder / "attachments").rglob("*") if p.is_file()) == vault
    assert not (folder / NEXT_KEY_FILE).exists()


def test_a_rekey_cut_short_opens_with_whichever_key_file_matches(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    profile, _recovery = new_profile(folder)
    fill_profile(profile, incidents=20)
    before = _counts(profile)
    old_key_file = (folder / KEY_FILE).read_bytes()
    profile.start_new_keys(PASSPHRASE, NEW_PASSPHRASE)
    new_key_file = (folder / KEY_FILE).read_bytes()
    profile.close()

    # Cut after the database was re-encrypted, before the key file moved: both files exist.
    (folder / KEY_FILE).write_bytes(old_key_file)
    (folder / NEXT_KEY_FILE).write_bytes(new_key_file)
    with pytest.raises(WrongPassphrase):
        unlock(folder, PASSPHRASE)  # the old one opens its wrap, but not the database
    assert (folder / NEXT_KEY_FILE).exists()
    with unlock(folder, NEW_PASSPHRASE) as reopened:
        assert _counts(reopened) == before
    assert (folder / KEY_FILE).read_bytes() == new_key_file
    assert not (folder / NEXT_KEY_FILE).exists()

    # Cut before the database was re-encrypted: the next file is dropped, nothing else changes.
    (folder / NEXT_KEY_FILE).write_bytes(old_key_file)  # any other key file
    with unlock(folder, NEW_PASSPHRASE) as reopened:
        assert _counts(reopened) == before
    assert not (folder / NEXT_KEY_FILE).exists()


def test_a_rekey_refused_while_the_database_is_in_use_changes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    profile, _recovery = new_profile(folder)
    fill_profile(profile, incidents=5)
    digest = hashlib.sha256((folder / KEY_FILE).read_bytes()).hexdigest()
    with pytest.raises(WrongPassphrase):
        profile.start_new_keys("not the passphrase at all", NEW_PASSPHRASE)
    with profile.engine.connect() as busy:  # a sync reading, say: a read transaction open
        busy.execute(text("SELECT count(*) FROM records")).fetchone()
        with pytest.raises(DatabaseBusy):
            profile.start_new_keys(PASSPHRASE, NEW_PASSPHRASE)
    assert hashlib.sha256((folder / KEY_FILE).read_bytes()).hexdigest() == digest
    assert not (folder / NEXT_KEY_FILE).exists()
    assert _counts(profile)[0] > 0
    profile.close()
    unlock(folder, PASSPHRASE).close()


def test_an_error_after_the_database_was_re_encrypted_keeps_the_new_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database is re-encrypted (the rekey is committed), then the switch back to WAL
    fails ("database is locked": a connection arrived meanwhile). Deleting profile.json.next
    then left a database no key file opened: every record lost."""
    folder = tmp_path / "profile"
    profile, _ = new_profile(folder)
    fill_profile(profile, incidents=20)
    before = _counts(profile)
    real = rekey.reencrypt

    def committed_then_locked(database: Path, old_key: bytes, new_key: bytes) -> None:
        real(database, old_key, new_key)
        raise DatabaseBusy("database is locked")

    monkeypatch.setattr(rekey, "reencrypt", committed_then_locked)
    profile.start_new_keys(PASSPHRASE, NEW_PASSPHRASE)
    assert _counts(profile) == before
    profile.close()
    assert not (folder / NEXT_KEY_FILE).exists()
    with unlock(folder, NEW_PASSPHRASE) as reopened:
        assert _counts(reopened) == before
    with pytest.raises(WrongPassphrase):
        unlock(folder, PASSPHRASE)
