"""Backups: one encrypted file, consistent while the profile is in use, restored bit-exact.

A damaged, truncated, re-ordered or wrong-passphrase backup is refused with nothing written;
a restore never lands in a folder that holds anything; no byte of the file says what is in it.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3.dbapi2 as sqlcipher
from sqlalchemy import text

from desktop.domain.records import Incident
from desktop.domain.translation import set_language
from desktop.store.attachments import ATTACHMENTS_FOLDER
from desktop.store.backup import (
    CHUNK_SIZE,
    BackupRefused,
    backup_into_folder,
    backups_in,
    restore_backup,
    verify_backup,
    write_backup,
)
from desktop.store.demo import fill_profile
from desktop.store.errors import WrongPassphrase, WrongRecoveryKey
from desktop.store.evidence import EvidenceStore, device_actor
from desktop.store.profile import Profile, unlock
from desktop.store.spaces import local_spaces
from tests.helpers.profiles import PASSPHRASE, canary_encodings, new_profile

CANARY = "backup-canary-kestrel-5521"

#: Tables compared row by row between a profile and its restored copy.
_TABLES = (
    "records",
    "record_contents",
    "record_codes",
    "record_bases",
    "attachment_keys",
    "material_pins",
    "material_texts",
    "settings",
)


def _rows(profile: Profile) -> dict[str, list[tuple[Any, ...]]]:
    with profile.engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))]
            for table in _TABLES
        }


def _sorted(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {table: sorted(values, key=repr) for table, values in rows.items()}


def _files(folder: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((folder / ATTACHMENTS_FOLDER).glob("*.sealed"))
    }


def _add_evidence(profile: Profile, originals: Path, count: int) -> dict[str, bytes]:
    """``count`` evidence files (one with the canary inside) on new incidents; id → bytes."""
    store = EvidenceStore.of(profile)
    space = local_spaces(store.records).network
    originals.mkdir(exist_ok=True)
    result = {}
    for index in range(count):
        incident = store.records.save(
            Incident(space_id=space.id, title=f"{CANARY} incident {index}", narrative=CANARY)
        )
        data = CANARY.encode() * 50 + os.urandom(3 * CHUNK_SIZE // (index + 1))
        path = originals / f"evidence-{index}.bin"
        path.write_bytes(data)
        evidence = store.import_file(incident, path, actor=device_actor(profile))
        result[evidence.id] = data
    return result


@pytest.fixture(scope="module")
def big_profile(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, bytes]]]:
    """A profile with 10,000 incidents, the demo's materials and a few evidence files."""
    set_language("en")
    folder = tmp_path_factory.mktemp("big") / "profile"
    profile, _ = new_profile(folder)
    counts = fill_profile(profile, incidents=10_000, seed=3)
    assert counts["Incident"] == 10_000 and counts["MaterialFile"] > 0
    evidence = _add_evidence(profile, folder.parent / "originals", 5)
    profile.close()
    yield folder, evidence


def test_round_trip_at_ten_thousand_incidents_is_bit_exact(
    big_profile: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    folder, evidence = big_profile
    backup = tmp_path / "usb" / "profile.mingabackup"
    backup.parent.mkdir()
    seen: list[tuple[int, int]] = []
    with unlock(folder, PASSPHRASE) as profile:
        summary = write_backup(profile, backup, lambda done, total: seen.append((done, total)))
        before = _rows(profile)
    assert summary.attachments == len(_files(folder)) >= 5 + 8
    assert seen and seen[-1][0] == seen[-1][1] and seen[-1][1] > 0  # the progress bar ends full

    assert verify_backup(backup, PASSPHRASE).files == summary.files
    restored = tmp_path / "new-computer" / "profile"
    restore_backup(backup, restored, PASSPHRASE)
    assert _files(restored) == _files(folder)
    with unlock(restored, PASSPHRASE) as copy:
        assert _sorted(_rows(copy)) == _sorted(before)
        with copy.engine.connect() as connection:
            assert (
                connection.scalar(text("SELECT count(*) FROM records WHERE record_type='incident'"))
                == 10_000 + 5
            )
        store = EvidenceStore.of(copy)
        for evidence_id, data in evidence.items():
            assert store.open(evidence_id, actor=device_actor(copy)).data == data


def test_backup_taken_while_the_app_writes_is_consistent(tmp_path: Path) -> None:
    set_language("en")
    profile, _ = new_profile(tmp_path / "p")
    originals = tmp_path / "originals"
    _add_evidence(profile, originals, 2)
    store = EvidenceStore.of(profile)
    space = local_spaces(store.records).network
    stop = threading.Event()
    written: list[str] = []
    failures: list[BaseException] = []

    def writer() -> None:
        # The app at work: incidents saved, evidence imported and deleted, all the while.
        index = 0
        try:
            while not stop.is_set():
                incident = store.records.save(Incident(space_id=space.id, title=f"busy {index}"))
                written.append(incident.id)
                if index % 2 == 0:
                    path = originals / f"live-{index}.bin"
                    path.write_bytes(os.urandom(100_000))
                    evidence = store.import_file(incident, path, actor="test")
                    if index % 4 == 0:
                        store.delete(evidence.id)
                index += 1
        except BaseException as error:  # pragma: no cover - reported below
            failures.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            threading.Event().wait(0.01)
        backups = []
        for round_ in range(5):
            backups.append(tmp_path / f"b{round_}.mingabackup")
            write_backup(profile, backups[-1])
    finally:
        stop.set()
        thread.join()
    assert not failures
    total = len(written)
    profile.close()
    for index, backup in enumerate(backups):
        restored = tmp_path / f"r{index}"
        restore_backup(backup, restored, PASSPHRASE)
        with unlock(restored, PASSPHRASE) as copy:
            with copy.engine.connect() as connection:
                assert connection.scalar(text("PRAGMA integrity_check")) == "ok"
                busy = connection.scalar(
                    text("SELECT count(*) FROM records WHERE record_type='incident'")
                )
                # The two first incidents, and at most one saved but not yet counted.
                assert 20 <= busy <= total + 3
            # Every file the copied database names is in the copy and opens intact.
            restored_store = EvidenceStore.of(copy)
            with copy.engine.connect() as connection:
                ids = list(
                    connection.scalars(
                        text("SELECT id FROM records WHERE record_type='evidence' AND deleted=0")
                    )
                )
            assert ids
            for evidence_id in ids:
                restored_store.open(evidence_id, actor="test")


@pytest.fixture
def small_backup(tmp_path: Path) -> tuple[Path, str]:
    set_language("en")
    profile, recovery_key = new_profile(tmp_path / "p")
    _add_evidence(profile, tmp_path / "originals", 3)
    backup = tmp_path / "small.mingabackup"
    write_backup(profile, backup)
    profile.close()
    return backup, recovery_key


def _nothing_written(parent: Path, target: Path) -> None:
    assert not target.exists()
    assert [p.name for p in parent.iterdir()] == []


def _refused(backup: Path, tmp_path: Path, reason: str, passphrase: str = PASSPHRASE) -> None:
    parent = tmp_path / "restore-here"
    parent.mkdir(exist_ok=True)
    target = parent / "profile"
    with pytest.raises(BackupRefused) as refusal:
        restore_backup(backup, target, passphrase)
    assert refusal.value.reason == reason, refusal.value.detail
    assert backup.name in refusal.value.user_message()
    _nothing_written(parent, target)
    with pytest.raises(BackupRefused) as checked:
        verify_backup(backup, passphrase)
    assert checked.value.reason == reason


def test_a_flipped_byte_anywhere_is_refused_with_nothing_written(
    small_backup: tuple[Path, str], tmp_path: Path
) -> None:
    backup, _ = small_backup
    original = backup.read_bytes()
    size = len(original)
    # In the header's JSON, in the stream header, in the first, a middle and the last chunk.
    for offset in (40, 200, 600, size // 2, size - 40, size - 1):
        damaged = bytearray(original)
        damaged[offset] ^= 0x01
        backup.write_bytes(bytes(damaged))
        parent = tmp_path / "restore-here"
        parent.mkdir(exist_ok=True)
        with pytest.raises((BackupRefused, WrongPassphrase)):
            restore_backup(backup, parent / "profile", PASSPHRASE)
        _nothing_written(parent, parent / "profile")
    backup.write_bytes(original)
    verify_backup(backup, PASSPHRASE)


def test_a_chunk_altered_swapped_or_dropped_is_refused(
    small_backup: tuple[Path, str], tmp_path: Path
) -> None:
    backup, _ = small_backup
    original = backup.read_bytes()
    sealed = CHUNK_SIZE + 16
    header_end = _body_offset(original)
    chunks = [
        original[header_end + i : header_end + i + sealed]
        for i in range(0, len(original) - header_end, sealed)
    ]
    assert len(chunks) >= 4
    head = original[:header_end]
    # Swapped: same length, each chunk genuine, out of order.
    backup.write_bytes(head + chunks[1] + chunks[0] + b"".join(chunks[2:]))
    _refused(backup, tmp_path, "damaged")
    # One dropped and another repeated in its place: the length still matches.
    backup.write_bytes(head + chunks[0] + chunks[2] + b"".join(chunks[2:]))
    _refused(backup, tmp_path, "damaged")
    # Dropped: shorter than the header says.
    backup.write_bytes(head + chunks[0] + b"".join(chunks[2:]))
    _refused(backup, tmp_path, "truncated")
    # The last chunk cut off.
    backup.write_bytes(head + b"".join(chunks[:-1]))
    _refused(backup, tmp_path, "truncated")
    # A chunk taken from another backup of the same profile (another key): refused.
    other = tmp_path / "other.mingabackup"
    with unlock(tmp_path / "p", PASSPHRASE) as profile:
        write_backup(profile, other)
    foreign = other.read_bytes()
    foreign_start = _body_offset(foreign)
    backup.write_bytes(
        head + foreign[foreign_start : foreign_start + sealed] + original[header_end + sealed :]
    )
    _refused(backup, tmp_path, "damaged")


def _body_offset(data: bytes) -> int:
    """Where the STREAM's chunks begin: after magic, length, JSON header, stream header."""
    from desktop.store.backup import MAGIC

    length = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 4], "big")
    return len(MAGIC) + 4 + length + 17


def test_truncated_backups_are_refused_by_name(
    small_backup: tuple[Path, str], tmp_path: Path
) -> None:
    backup, _ = small_backup
    original = backup.read_bytes()
    for keep in (10, 30, 300, len(original) // 3, len(original) - CHUNK_SIZE, len(original) - 1):
        backup.write_bytes(original[:keep])
        parent = tmp_path / "restore-here"
        parent.mkdir(exist_ok=True)
        with pytest.raises(BackupRefused) as refusal:
            restore_backup(backup, parent / "profile", PASSPHRASE)
        assert refusal.value.reason in ("truncated", "damaged"), keep
        assert "small.mingabackup" in refusal.value.user_message()
        _nothing_written(parent, parent / "profile")
    backup.write_bytes(original[: len(original) - CHUNK_SIZE])
    _refused(backup, tmp_path, "truncated")


def test_wrong_passphrase_and_not_a_backup_are_refused(
    small_backup: tuple[Path, str], tmp_path: Path
) -> None:
    backup, _ = small_backup
    parent = tmp_path / "restore-here"
    parent.mkdir()
    with pytest.raises(WrongPassphrase):
        restore_backup(backup, parent / "profile", "not the passphrase at all")
    _nothing_written(parent, parent / "profile")
    with pytest.raises(WrongPassphrase):
        verify_backup(backup, "not the passphrase at all")
    other = tmp_path / "holiday.jpg"
    other.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(5000))
    _refused(other, tmp_path, "not_a_backup")


def test_restore_with_the_recovery_key_sets_a_new_passphrase(
    small_backup: tuple[Path, str], tmp_path: Path
) -> None:
    backup, recovery_key = small_backup
    with pytest.raises(WrongRecoveryKey):
        restore_backup(
            backup,
            tmp_path / "x",
            recovery_key="AAAAA-" * 10 + "AAAA",
            new_passphrase="a brand new passphrase",
        )
    assert not (tmp_path / "x").exists()
    restore_backup(
        backup, tmp_path / "r", recovery_key=recovery_key, new_passphrase="a brand new passphrase"
    )
    with pytest.raises(WrongPassphrase):
        unlock(tmp_path / "r", PASSPHRASE)
    unlock(tmp_path / "r", "a brand new passphrase").close()


def test_restore_refuses_a_folder_that_holds_anything(
    small_backup: tuple[Path, str], tmp_path: Path
) -> None:
    backup, _ = small_backup
    target = tmp_path / "occupied"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(BackupRefused) as refusal:
        restore_backup(backup, target, PASSPHRASE)
    assert refusal.value.reason == "target_not_empty"
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["occupied", "originals", "p", "small.mingabackup"]
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    restore_backup(backup, empty, PASSPHRASE)
    unlock(empty, PASSPHRASE).close()


def test_no_byte_of_the_backup_holds_the_canary(
    small_backup: tuple[Path, str], tmp_path: Path
) -> None:
    backup, _ = small_backup
    data = backup.read_bytes()
    for needle in canary_encodings(CANARY):
        assert needle not in data
    # And the canary is really inside: the restored copy holds it.
    restore_backup(backup, tmp_path / "r", PASSPHRASE)
    with unlock(tmp_path / "r", PASSPHRASE) as copy, copy.engine.connect() as connection:
        assert connection.scalar(
            text("SELECT count(*) FROM record_contents WHERE content LIKE :c"),
            {"c": f"%{CANARY}%"},
        )
    # The database inside is SQLCipher's ciphertext even once restored: not SQLite's header.
    assert not (tmp_path / "r" / "minga.db").read_bytes().startswith(b"SQLite format 3")
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(tmp_path / "r" / "minga.db").execute("SELECT * FROM sqlite_master")
    assert sqlcipher is not None


def test_an_existing_destination_is_never_overwritten(tmp_path: Path) -> None:
    set_language("en")
    profile, _ = new_profile(tmp_path / "p")
    destination = tmp_path / "taken.mingabackup"
    destination.write_bytes(b"someone else's file")
    with pytest.raises(BackupRefused) as refusal:
        write_backup(profile, destination)
    assert refusal.value.reason == "destination_exists"
    assert destination.read_bytes() == b"someone else's file"
    profile.close()


def test_scheduled_backups_keep_the_newest_few(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    set_language("en")
    profile, _ = new_profile(tmp_path / "p")
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "holiday.jpg").write_bytes(b"not ours")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    written = [
        backup_into_folder(profile, stick, keep=3, now=start + timedelta(days=day))
        for day in range(5)
    ]
    profile.close()
    assert backups_in(stick) == written[-3:]
    assert (stick / "holiday.jpg").read_bytes() == b"not ours"
    verify_backup(written[-1], PASSPHRASE)
    assert not list(stick.glob(".*"))


def test_files_deleted_while_a_backup_copies_them_are_removed_after_it(tmp_path: Path) -> None:
    from desktop.store.attachments import deletions_held

    set_language("en")
    profile, _ = new_profile(tmp_path / "p")
    evidence = _add_evidence(profile, tmp_path / "originals", 2)
    store = EvidenceStore.of(profile)
    sealed = sorted((profile.folder / ATTACHMENTS_FOLDER).glob("*.sealed"))
    assert len(sealed) == 2
    with deletions_held(profile.folder / ATTACHMENTS_FOLDER):
        for evidence_id in evidence:
            store.delete(evidence_id)
        # The records are gone at once; the files wait for the copy to finish.
        assert all(path.exists() for path in sealed)
    assert not any(path.exists() for path in sealed)
    profile.close()


def test_the_backup_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """The file carries the passphrase-wrapped key: another account on the computer (or on a
    shared stick's host) must not copy it away to guess the passphrase offline."""
    set_language("en")
    profile, _ = new_profile(tmp_path / "p")
    previous = os.umask(0o022)
    try:
        written = write_backup(profile, tmp_path / "b.mingabackup")
    finally:
        os.umask(previous)
        profile.close()
    assert written.size
    assert (tmp_path / "b.mingabackup").stat().st_mode & 0o777 == 0o600


_KILLED_BACKUP = """
import os, signal, sys
from pathlib import Path
from desktop.store.backup import write_backup
from desktop.store.profile import unlock
profile = unlock(Path(sys.argv[1]), sys.argv[2])
def die(done, total):
    os.kill(os.getpid(), signal.SIGKILL)
write_backup(profile, Path(sys.argv[3]), die)
"""


def test_a_backup_killed_midway_leaves_no_copy_of_deleted_evidence(tmp_path: Path) -> None:
    """A backup killed mid-way (battery, SIGKILL) leaves its workspace: a database copy and
    links to the sealed files. Evidence deleted later must not live on there: the next backup
    clears what a dead one left, and never the workspace of one still running."""
    import subprocess
    import sys

    from desktop.store.backup import workspace_in_use

    set_language("en")
    folder = tmp_path / "p"
    profile, _ = new_profile(folder)
    evidence = _add_evidence(profile, tmp_path / "originals", 2)
    profile.close()
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_BACKUP, str(folder), PASSPHRASE, str(tmp_path / "k.b")],
        cwd=Path(__file__).parents[2],
        check=False,
    )
    assert killed.returncode == -9
    left = list(folder.glob(".backup-*"))
    assert left, "the killed backup left nothing: the test did not kill it mid-way"
    assert not (tmp_path / "k.b").exists()
    with unlock(folder, PASSPHRASE) as profile:
        store = EvidenceStore.of(profile)
        for evidence_id in evidence:
            store.delete(evidence_id)
        with workspace_in_use(folder) as running:
            write_backup(profile, tmp_path / "next.mingabackup")
            assert running.is_dir(), "a running backup's workspace was removed"
    assert list(folder.glob(".backup-*")) == []
    assert not list(folder.rglob("*.sealed"))
    assert (tmp_path / ".k.b.partial").stat().st_mode & 0o777 == 0o600


_KILLED_RESTORE = """
import os, signal, sys
from pathlib import Path
from desktop.store.backup import restore_backup
def die(done, total):
    os.kill(os.getpid(), signal.SIGKILL)
restore_backup(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], progress=die)
"""


def test_a_restore_killed_midway_writes_nothing_at_the_target_and_its_leftover_goes(
    small_backup: tuple[Path, str], tmp_path: Path
) -> None:
    import subprocess
    import sys

    backup, _ = small_backup
    target = tmp_path / "new" / "profile"
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_RESTORE, str(backup), str(target), PASSPHRASE],
        cwd=Path(__file__).parents[2],
        check=False,
    )
    assert killed.returncode == -9
    assert not target.exists()
    assert list(target.parent.glob(".profile.restoring-*")), "not killed mid-way"
    restore_backup(backup, target, PASSPHRASE)
    assert sorted(p.name for p in target.parent.iterdir()) == ["profile"]
    with unlock(target, PASSPHRASE):
        pass


def test_scheduled_backups_never_prune_a_colleagues_backups_on_the_same_stick(
    tmp_path: Path,
) -> None:
    """Two people back up to one USB stick's folder: each keeps their newest few, and never
    deletes the other's."""
    from datetime import UTC, datetime, timedelta

    set_language("en")
    mine, _ = new_profile(tmp_path / "mine")
    theirs, _ = new_profile(tmp_path / "theirs")
    stick = tmp_path / "stick"
    stick.mkdir()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    their_backups = [
        backup_into_folder(theirs, stick, keep=2, now=start + timedelta(hours=hour))
        for hour in range(2)
    ]
    my_backups = [
        backup_into_folder(mine, stick, keep=2, now=start + timedelta(days=1, hours=hour))
        for hour in range(3)
    ]
    mine_id = mine.key_file.profile_id
    mine.close()
    theirs.close()
    assert all(path.exists() for path in their_backups)
    assert backups_in(stick, mine_id) == my_backups[-2:]
    assert sorted(backups_in(stick)) == sorted(their_backups + my_backups[-2:])


def test_a_colleagues_fresh_backup_does_not_make_mine_look_done(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from desktop.ui.backup_dialog import backup_due

    set_language("en")
    mine, _ = new_profile(tmp_path / "mine")
    theirs, _ = new_profile(tmp_path / "theirs")
    stick = tmp_path / "stick"
    stick.mkdir()
    backup_into_folder(theirs, stick, keep=2, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert backup_due(stick, 24, profile_id=mine.key_file.profile_id)
    assert not backup_due(stick, 24, profile_id=theirs.key_file.profile_id)
    mine.close()
    theirs.close()
