"""``minga backup``, ``minga backup --verify`` and ``minga restore`` as a script runs them.

The passphrase comes from ``--passphrase-file`` or ``MINGA_PASSPHRASE``; every refusal exits
non-zero with one line on standard error naming the reason, and writes nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from desktop.domain.records import Incident
from desktop.domain.translation import set_language
from desktop.store.profile import unlock
from desktop.store.records import RecordStore
from desktop.store.spaces import local_spaces
from tests.helpers.profiles import PASSPHRASE, new_profile


def minga(*arguments: str, passphrase: str | None = PASSPHRASE) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "MINGA_PASSPHRASE"}
    if passphrase is not None:
        environment["MINGA_PASSPHRASE"] = passphrase
    return subprocess.run(
        [sys.executable, "-m", "desktop", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


@pytest.fixture
def profile_dir(tmp_path: Path) -> Path:
    set_language("en")
    folder = tmp_path / "profile"
    profile, _ = new_profile(folder)
    store = RecordStore(profile.engine)
    store.save(Incident(space_id=local_spaces(store).network.id, title="Arrest at the market"))
    profile.close()
    return folder


def test_backup_verify_restore_from_the_command_line(profile_dir: Path, tmp_path: Path) -> None:
    backup = tmp_path / "out" / "p.mingabackup"
    backup.parent.mkdir()
    done = minga("backup", "--profile-dir", str(profile_dir), "--to", str(backup))
    assert done.returncode == 0, done.stderr
    assert "Backup written" in done.stdout and backup.is_file()

    checked = minga("backup", "--verify", str(backup))
    assert checked.returncode == 0, checked.stderr
    assert "intact" in checked.stdout

    secret = tmp_path / "secret.txt"
    secret.write_text(PASSPHRASE + "\n")
    restored = tmp_path / "new" / "profile"
    done = minga(
        "restore",
        str(backup),
        "--profile-dir",
        str(restored),
        "--passphrase-file",
        str(secret),
        passphrase=None,
    )
    assert done.returncode == 0, done.stderr
    with unlock(restored, PASSPHRASE) as copy, copy.engine.connect() as connection:
        titles = list(
            connection.scalars(
                text(
                    "SELECT json_extract(c.content, '$.title') FROM records r "
                    "JOIN record_contents c ON c.id = r.id WHERE r.record_type = 'incident'"
                )
            )
        )
    assert titles == ["Arrest at the market"]


def test_refusals_exit_non_zero_with_one_line(profile_dir: Path, tmp_path: Path) -> None:
    backup = tmp_path / "p.mingabackup"
    assert minga("backup", "--profile-dir", str(profile_dir), "--to", str(backup)).returncode == 0

    wrong = minga("backup", "--verify", str(backup), passphrase="not the passphrase")
    assert wrong.returncode == 2
    assert wrong.stderr.count("\n") == 1 and "passphrase is not right" in wrong.stderr

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    refused = minga("restore", str(backup), "--profile-dir", str(occupied))
    assert refused.returncode == 2 and "not empty" in refused.stderr
    assert refused.stderr.count("\n") == 1

    cut = tmp_path / "cut.mingabackup"
    cut.write_bytes(backup.read_bytes()[:-100])
    refused = minga("restore", str(cut), "--profile-dir", str(tmp_path / "fresh"))
    assert refused.returncode == 2 and "cut.mingabackup is incomplete" in refused.stderr
    assert not (tmp_path / "fresh").exists()

    again = minga("backup", "--profile-dir", str(profile_dir), "--to", str(backup))
    assert again.returncode == 2 and "already exists" in again.stderr

    nothing = minga("backup", "--verify", str(backup), passphrase=None)
    assert nothing.returncode == 2 and "MINGA_PASSPHRASE" in nothing.stderr

    unknown = minga("backup", "--frobnicate")
    assert unknown.returncode == 2 and "usage: minga backup" in unknown.stderr
    assert not list(tmp_path.glob(".*"))


def test_restore_with_the_recovery_key_file_sets_the_new_passphrase(tmp_path: Path) -> None:
    set_language("en")
    profile, recovery_key = new_profile(tmp_path / "profile")
    profile.close()
    backup = tmp_path / "p.mingabackup"
    assert (
        minga("backup", "--profile-dir", str(tmp_path / "profile"), "--to", str(backup)).returncode
        == 0
    )
    key_file = tmp_path / "key.txt"
    key_file.write_text(recovery_key.lower() + "\n")
    done = minga(
        "restore",
        str(backup),
        "--profile-dir",
        str(tmp_path / "restored"),
        "--recovery-key-file",
        str(key_file),
        passphrase="a new passphrase after all",
    )
    assert done.returncode == 0, done.stderr
    unlock(tmp_path / "restored", "a new passphrase after all").close()
    short = minga(
        "restore",
        str(backup),
        "--profile-dir",
        str(tmp_path / "again"),
        "--recovery-key-file",
        str(key_file),
        passphrase="short",
    )
    assert short.returncode == 2 and "at least" in short.stderr
    assert not (tmp_path / "again").exists()
