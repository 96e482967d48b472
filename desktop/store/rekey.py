"""Re-keying a profile: a new master key, the database re-encrypted under it, a new recovery key.

Changing only the passphrase re-wraps the master key (``KeyFile.rewrapped``): after a coerced
unlock, or with an old copy of ``profile.json``, the old passphrase or the old recovery key would
still open every later copy of the database. A re-key replaces the master key itself:

1. a new master key and recovery secret, and a key file wrapping them (the new passphrase, the
   new recovery key) written **beside** the current one as ``profile.json.next``;
2. the database re-encrypted under the new SQLCipher key (``PRAGMA rekey``, in rollback-journal
   mode since SQLCipher 4 cannot re-key a WAL database: the WAL is checkpointed first, and the
   switch fails — nothing changed — while another connection holds the database);
3. ``profile.json.next`` moved over ``profile.json``.

A crash between 1 and 3 leaves both key files; ``settle_interrupted`` (run by every unlock)
keeps whichever one opens the database. Attachment files are sealed under per-file keys that
live in the database, so re-encrypting the database re-wraps them under the new master key. The
old recovery key is retired: it wraps the old master key, which opens nothing written from now
on; so is a shared-recovery set (its file is removed; the person issues a new one). Copies
made before (an old database with its old ``profile.json``) stay readable to whoever holds the
old passphrase or recovery key: a re-key protects what comes after it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import sqlcipher3.dbapi2 as sqlcipher

from desktop.store import keys
from desktop.store.errors import ProfileDamaged
from desktop.store.files import write_atomically
from desktop.store.keys import KdfParameters, KeyFile

NEXT_KEY_FILE = "profile.json.next"
#: desktop/store/shared_recovery.SHARES_FILE (not imported: that module imports the profile).
SHARES_FILE = "recovery-shares.json"


class DatabaseBusy(Exception):
    """Another connection holds the database (a sync, an export): nothing was changed; the
    re-key can be tried again once it is done."""


@dataclass
class NewKeys:
    """What a re-key installs: the key file, the master key, the recovery key to show once."""

    key_file: KeyFile
    master_key: bytearray
    recovery_key: str


def prepare(current: KeyFile, passphrase: str) -> NewKeys:
    """A new master key and recovery secret wrapped in a key file of the same profile id, with
    the same KDF cost under a fresh salt."""
    master = keys.new_master_key()
    secret = keys.new_recovery_secret()
    kdf = KdfParameters(
        current.kdf.memory_kib, current.kdf.iterations, current.kdf.lanes, os.urandom(16)
    )
    key_file = KeyFile.create(master, passphrase, secret, kdf, profile_id=current.profile_id)
    return NewKeys(key_file, master, keys.format_recovery_key(secret))


def write_next(folder: Path, fresh: NewKeys) -> None:
    write_atomically(folder / NEXT_KEY_FILE, fresh.key_file.to_bytes())


def reencrypt(database: Path, old_key: bytes, new_key: bytes) -> None:
    """Re-encrypt ``database`` from ``old_key`` to ``new_key`` (raw SQLCipher keys).

    Raises:
        DatabaseBusy: another connection is open; nothing was changed.
    """
    connection = sqlcipher.connect(str(database), check_same_thread=False, timeout=5)
    try:
        connection.isolation_level = None
        connection.execute("PRAGMA cipher_log_level = NONE")
        connection.execute(f"PRAGMA key = \"x'{old_key.hex()}'\"")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        mode = connection.execute("PRAGMA journal_mode = DELETE").fetchone()
        if mode is None or str(mode[0]).lower() != "delete":
            raise DatabaseBusy("the database is in use")
        try:
            connection.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")
            # Read everything back under the new key before anyone trusts it.
            check = connection.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise ProfileDamaged("re-encrypted database fails its check")
        finally:
            connection.execute("PRAGMA journal_mode = WAL").fetchone()
    except sqlcipher.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise DatabaseBusy(str(error)) from None
        raise
    finally:
        connection.close()


def opens(database: Path, raw_key: bytes) -> bool:
    """Whether ``raw_key`` opens ``database`` (its first page decrypts and reads)."""
    connection = sqlcipher.connect(str(database), check_same_thread=False, timeout=30)
    try:
        connection.execute("PRAGMA cipher_log_level = NONE")
        connection.execute(f"PRAGMA key = \"x'{raw_key.hex()}'\"")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher.DatabaseError:
        return False
    finally:
        connection.close()
    return True


def key_files(folder: Path, current: KeyFile) -> list[KeyFile]:
    """The key files an unlock tries, newest first: a re-key cut short between writing
    ``profile.json.next`` and moving it over ``profile.json`` leaves both."""
    path = folder / NEXT_KEY_FILE
    if not path.exists():
        return [current]
    try:
        return [KeyFile.from_bytes(path.read_bytes()), current]
    except ProfileDamaged:
        return [current]  # cut short while being written: the re-key had not begun


def settle(folder: Path, database: Path, key_file: KeyFile, master_key: bytearray) -> bool:
    """Whether ``key_file`` (opened with the person's secret) is the one the database is
    under; if so and it is the next one, it becomes ``profile.json``. The other is dropped."""
    path = folder / NEXT_KEY_FILE
    if not opens(database, keys.sqlcipher_key(master_key)):
        return False
    if path.exists():
        if key_file.to_bytes() == path.read_bytes():
            write_atomically(folder / "profile.json", key_file.to_bytes())
        path.unlink()
    return True
