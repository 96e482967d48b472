"""A profile's files are the person's only (0600, folders 0700) whatever the umask: the
database, its WAL and shared memory, the key file, settings, attachments/ and each sealed file.
Issue 12: 'files others can read'."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.store.profile import unlock
from tests.helpers.profiles import PASSPHRASE, new_profile

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes")


@pytest.fixture
def lax_umask() -> Iterator[None]:
    """The common desktop umask: without care, files come out 0644 and folders 0755."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def modes(folder: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = stat.S_IMODE(path.stat().st_mode)
    return found


def others_can_read(folder: Path) -> dict[str, str]:
    return {
        name: oct(mode)
        for name, mode in modes(folder).items()
        if mode & 0o077 or (mode & 0o700) not in (0o600, 0o700)
    }


def test_every_profile_file_is_private_under_a_lax_umask(tmp_path: Path, lax_umask: None) -> None:
    folder = tmp_path / "profile"
    profile, _ = new_profile(folder)
    original = tmp_path / "statement.txt"
    original.write_text("what the witness said")
    profile.attachments.import_file(original)
    profile.close()
    names = set(modes(folder))
    assert {"minga.db", "attachments"} <= names
    assert any(name.startswith("attachments/") for name in names)
    assert others_can_read(folder) == {}
    # The WAL and shared memory exist while the profile is open: private as well.
    profile = unlock(folder, PASSPHRASE)
    try:
        profile.attachments.import_file(original)
        assert any(name.endswith("-wal") for name in modes(folder))
        assert others_can_read(folder) == {}
    finally:
        profile.close()


def test_files_an_older_version_left_readable_are_made_private(
    tmp_path: Path, lax_umask: None
) -> None:
    folder = tmp_path / "profile"
    profile, _ = new_profile(folder)
    original = tmp_path / "photo.jpg"
    original.write_bytes(os.urandom(3000))
    profile.attachments.import_file(original)
    profile.close()
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    assert others_can_read(folder)
    unlock(folder, PASSPHRASE).close()
    assert others_can_read(folder) == {}
