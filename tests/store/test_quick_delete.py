"""Quick delete from the command line and in the store: keys first, then every file; a kill in
the middle still leaves nothing readable (issue 16)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop.store.profile import (
    DATABASE_FILE,
    KEY_FILE,
    ProfileNotFound,
    unlock,
    unlock_with_recovery_key,
)
from desktop.store.quick_delete import quick_delete, record_wrong_passphrase
from tests.helpers.profiles import PASSPHRASE, new_profile

ROOT = Path(__file__).resolve().parents[2]


def _profile_with_files(folder: Path, files: int = 20, size: int = 64 * 1024) -> str:
    profile, recovery = new_profile(folder)
    try:
        for n in range(files):
            profile.attachments.import_stream(_Bytes(os.urandom(size) + n.to_bytes(4, "big")))
    finally:
        profile.close()
    return recovery


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._at + size
        piece = self._data[self._at : end]
        self._at += len(piece)
        return piece


def _nothing_opens(folder: Path, recovery: str) -> None:
    with pytest.raises(ProfileNotFound):
        unlock(folder, PASSPHRASE)
    with pytest.raises(ProfileNotFound):
        unlock_with_recovery_key(folder, recovery, "a new passphrase long enough")


def _minga(*arguments: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "desktop", *arguments],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )


def test_store_quick_delete_leaves_no_file(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    recovery = _profile_with_files(folder)
    record_wrong_passphrase(folder)
    assert quick_delete(folder) == []
    assert not folder.exists()
    assert list(tmp_path.iterdir()) == []  # nothing moved aside either
    _nothing_opens(folder, recovery)


def test_command_line_quick_delete(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    recovery = _profile_with_files(folder, files=3)
    done = _minga("quick-delete", "--profile-dir", str(folder), "--yes")
    assert done.returncode == 0, done.stderr
    assert "deleted" in done.stdout
    assert not folder.exists()
    _nothing_opens(folder, recovery)


def test_command_line_refuses_without_yes_when_nobody_can_answer(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    _profile_with_files(folder, files=1)
    refused = _minga("quick-delete", "--profile-dir", str(folder), stdin="")
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    assert (folder / KEY_FILE).exists()
    unlock(folder, PASSPHRASE).close()


def test_command_line_says_when_there_is_no_profile(tmp_path: Path) -> None:
    refused = _minga("quick-delete", "--profile-dir", str(tmp_path / "nothing"), "--yes")
    assert refused.returncode == 2
    assert "no Minga profile" in refused.stderr


def test_killed_in_the_middle_leaves_nothing_readable(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    recovery = _profile_with_files(folder, files=2)
    # Many more sealed files (noise, as sealed files are without their keys), so deleting the
    # attachments folder is still going on when the key file is gone.
    vault = folder / "attachments"
    for n in range(20_000):
        (vault / f"{n:032x}.sealed").write_bytes(os.urandom(256))
    key_file = folder / KEY_FILE
    process = subprocess.Popen(
        [sys.executable, "-m", "desktop", "quick-delete", "--profile-dir", str(folder), "--yes"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while key_file.exists() and time.monotonic() < deadline:
            time.sleep(0.0005)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    moved = list(folder.parent.glob(f".{folder.name}.erasing-*"))
    left = [p for tree in [folder, *moved] if tree.exists() for p in tree.rglob("*")]
    # The kill landed mid-delete (files were left) and yet nothing opens.
    assert left, "the deletion finished before the kill; the test proved nothing"
    assert not key_file.exists()
    _nothing_opens(folder, recovery)
    # The key file was overwritten, not merely renamed away: no copy of it anywhere left.
    assert not any(path.name.endswith(".tmp") for path in left)
    # Deleting again finishes the job, the moved-aside folder included.
    assert quick_delete(folder) == []
    assert not folder.exists()
    assert list(folder.parent.glob(f".{folder.name}.erasing-*")) == []


def test_a_database_without_its_key_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    recovery = _profile_with_files(folder, files=1)
    from desktop.store.quick_delete import destroy_keys

    destroy_keys(folder)
    assert (folder / DATABASE_FILE).exists()
    _nothing_opens(folder, recovery)


def test_command_line_refuses_home_root_and_a_folder_without_a_key_file(tmp_path: Path) -> None:
    """A typo in a script (``--profile-dir ~``) must never empty a home folder: a stray
    ``device.json`` or ``attachments`` folder of another program is not a Minga profile."""
    home = tmp_path / "home"
    (home / "attachments").mkdir(parents=True)
    (home / "device.json").write_text("{}")
    (home / "letter.txt").write_text("mine")
    for target in (home, Path("/"), Path.home()):
        refused = subprocess.run(
            [
                sys.executable,
                "-m",
                "desktop",
                "quick-delete",
                "--profile-dir",
                str(target),
                "--yes",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(home)},
        )
        assert refused.returncode == 2, (target, refused.stdout, refused.stderr)
    assert (home / "letter.txt").read_text() == "mine"
    assert (home / "device.json").exists() and (home / "attachments").is_dir()


def test_a_profile_reached_through_a_symlink_is_deleted_and_nothing_beside_it(
    tmp_path: Path,
) -> None:
    real = tmp_path / "volume" / "minga"
    recovery = _profile_with_files(real, files=2)
    (tmp_path / "volume" / "unrelated.txt").write_text("keep me")
    link = tmp_path / "profile"
    link.symlink_to(real, target_is_directory=True)
    assert quick_delete(link) == []
    assert not real.exists() and not link.exists() and not link.is_symlink()
    assert [p.name for p in (tmp_path / "volume").iterdir()] == ["unrelated.txt"]
    _nothing_opens(real, recovery)


def test_a_backup_running_when_the_profile_is_quick_deleted_is_not_kept(tmp_path: Path) -> None:
    """A backup still being written when quick delete runs (its files already open) must not
    finish at its destination: it would hold every record, opened by the passphrase."""
    from desktop.store.backup import BackupRefused, write_backup

    folder = tmp_path / "profile"
    _profile_with_files(folder, files=2)
    profile = unlock(folder, PASSPHRASE)
    destination = tmp_path / "usb" / "minga.backup"
    destination.parent.mkdir()

    def progress(done: int, total: int, *_note: object) -> None:
        if done == total and (folder / KEY_FILE).exists():
            quick_delete(folder)  # the button, pressed while the last bytes are written

    try:
        with pytest.raises(BackupRefused):
            write_backup(profile, destination, progress)
    finally:
        profile.close()
    assert list(destination.parent.iterdir()) == []
