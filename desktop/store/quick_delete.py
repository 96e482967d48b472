"""Quick delete: make a profile unreadable within a fraction of a second, then remove every file.

The key material goes first. ``profile.json`` holds the wraps of the master key (passphrase and
recovery key), ``recovery-shares.json`` the shared recovery set's, and a travel file the sealed
keys of spaces left behind; each is
overwritten in place with random bytes, flushed and fsynced, then unlinked. From that moment the
database and the sealed attachments are noise to anyone, whatever passphrase or recovery key
they hold, so an interrupted deletion of a large attachments folder leaves nothing readable.
Then the folder is moved aside under a hidden name (one rename: the profile's path is free and
the app shows its first-start screen at once) and every file in it is erased, the database
first; a deletion killed halfway is finished by the next one, or by the next start.

Limits (SECURITY.md): flash storage and journaling file systems may keep old blocks of the key
file; an overwrite in place is what software can do.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
from pathlib import Path

from desktop.store.files import fsync_folder, read_json_object, write_atomically

log = logging.getLogger(__name__)

KEY_FILE = "profile.json"
#: Files holding key material, destroyed before anything else: the key file's wraps, the shared
#: recovery set's wrap, the sealed keys of spaces left behind in travel mode.
KEY_MATERIAL = (
    KEY_FILE,
    f".{KEY_FILE}.tmp",
    "recovery-shares.json",
    ".recovery-shares.json.tmp",
    "travel.sealed",
    ".travel.sealed.tmp",
)
#: The rest, in the order that makes the most sense to lose first if interrupted.
DATABASE_FIRST = ("minga.db", "minga.db-wal", "minga.db-shm", "minga.db-journal")
DEVICE_HINTS_FILE = "device.json"
#: Counter of wrong passphrases typed at the unlock screen (for the optional quick delete).
WRONG_PASSPHRASES_KEY = "wrong_passphrases"


def never_a_profile(folder: Path) -> bool:
    """Folders quick delete never empties, whatever they hold: the file system's root, the
    home folder and any folder above it (a typo in a script, ``--profile-dir ~``, must not
    erase a person's files)."""
    try:
        resolved = folder.resolve()
        home = Path.home().resolve()
    except (OSError, RuntimeError):
        return True
    return resolved == Path(resolved.anchor) or resolved == home or resolved in home.parents


def holds_a_profile(folder: Path) -> bool:
    """Whether ``folder`` holds a Minga profile (even one left half-deleted): its key file or
    database, or a deletion moved aside. Another program's ``device.json`` or ``attachments``
    folder is not one; nor is the home folder or the root (``never_a_profile``)."""
    if never_a_profile(folder):
        return False
    with contextlib.suppress(OSError):
        if any(folder.parent.glob(f".{folder.name}.erasing-*")):
            return True
    if not folder.is_dir():
        return False
    names = set(KEY_MATERIAL) | set(DATABASE_FIRST)
    return any((folder / name).exists() for name in names)


def overwrite_and_remove(path: Path) -> bool:
    """Overwrite ``path`` with random bytes in place, fsync it, unlink it. True if it existed."""
    try:
        descriptor = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return False
    try:
        size = os.fstat(descriptor).st_size
        os.write(descriptor, os.urandom(max(size, 1)))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    path.unlink(missing_ok=True)
    return True


def destroy_keys(folder: Path) -> None:
    """Step one, the one that matters: overwrite and remove every file holding key material."""
    for name in KEY_MATERIAL:
        try:
            overwrite_and_remove(folder / name)
        except OSError as error:
            # Still try to unlink it: a name gone is better than a file kept.
            log.warning("key file not overwritten: %s", type(error).__name__)
            with contextlib.suppress(OSError):
                (folder / name).unlink(missing_ok=True)
    fsync_folder(folder)


def move_aside(folder: Path) -> Path:
    """Step two: rename the profile folder to a hidden sibling, so its path is free (and the
    app at its first-start screen) at once, however long erasing the bulk takes. Returns where
    it went (``folder`` itself if it cannot move, e.g. files still open on some platforms)."""
    aside = folder.with_name(f".{folder.name}.erasing-{secrets.token_hex(4)}")
    try:
        os.replace(folder, aside)
    except OSError:
        return folder
    fsync_folder(folder.parent)
    return aside


def erase(tree: Path) -> list[Path]:
    """Step three: every file of a (moved) profile, the database first, then the folder.
    Returns what stayed (a file still open where open files cannot be deleted)."""
    for name in DATABASE_FIRST:
        with contextlib.suppress(OSError):
            (tree / name).unlink(missing_ok=True)
    shutil.rmtree(tree, ignore_errors=True)
    if not tree.exists():
        return []
    return sorted(tree.rglob("*"))


def erase_leftovers(folder: Path) -> list[Path]:
    """Folders an earlier quick delete moved aside and could not finish (killed, power cut):
    sealed noise without keys, erased now."""
    left: list[Path] = []
    with contextlib.suppress(OSError):
        for leftover in folder.parent.glob(f".{folder.name}.erasing-*"):
            left += erase(leftover)
    return left


def remove_files(folder: Path) -> list[Path]:
    """Steps two and three at once: move the profile aside, erase it and any leftovers."""
    left = erase(move_aside(folder))
    return left + erase_leftovers(folder)


def quick_delete(folder: Path) -> list[Path]:
    """Destroy the keys, then every file of the profile in ``folder``; returns what stayed."""
    if never_a_profile(folder):
        raise ValueError("not a profile folder")
    if folder.is_symlink():
        # A profile kept elsewhere (another volume) and linked here: erase the real folder,
        # then the link; moving the link aside would leave the real files in place.
        real = folder.resolve()
        left = quick_delete(real)
        folder.unlink(missing_ok=True)
        return left
    destroy_keys(folder)
    left = remove_files(folder)
    log.info("profile deleted%s", f" ({len(left)} files left)" if left else "")
    return left


# --- quick delete after a number of wrong passphrases (optional, off by default) ------------


def record_wrong_passphrase(folder: Path) -> int:
    """Count one more wrong passphrase in ``device.json``; returns the count so far.

    Kept beside the settings hints, outside the encrypted store (no key exists yet), so
    quitting the app does not reset it. A correct passphrase resets it.
    """
    path = folder / DEVICE_HINTS_FILE
    hints = read_json_object(path)
    previous = hints.get(WRONG_PASSPHRASES_KEY, 0)
    count = (previous if isinstance(previous, int) and previous >= 0 else 0) + 1
    hints[WRONG_PASSPHRASES_KEY] = count
    write_atomically(path, (json.dumps(hints, sort_keys=True) + "\n").encode("utf-8"))
    return count


def reset_wrong_passphrases(folder: Path) -> None:
    path = folder / DEVICE_HINTS_FILE
    hints = read_json_object(path)
    if WRONG_PASSPHRASES_KEY in hints:
        del hints[WRONG_PASSPHRASES_KEY]
        write_atomically(path, (json.dumps(hints, sort_keys=True) + "\n").encode("utf-8"))
