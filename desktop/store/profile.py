"""A person's encrypted profile on this device: create, unlock, change passphrase, lock.

A profile folder holds ``profile.json`` (KDF parameters and the two wraps of the master key),
``minga.db`` (SQLCipher, with its ``-wal``/``-shm``), ``device.json`` (non-secret hints) and
``attachments/`` (sealed files). Nothing in it is readable without the passphrase or the
recovery key.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlcipher3.dbapi2 as sqlcipher
from platformdirs import user_data_path
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from desktop.store import keys, rekey
from desktop.store.attachments import ATTACHMENTS_FOLDER, AttachmentVault
from desktop.store.errors import (
    PASSPHRASE_MIN_LENGTH,
    MistypedRecoveryKey,
    ProfileDamaged,
    ProfileError,
    ProfileExists,
    ProfileLocked,
    ProfileNotFound,
    WeakKdfParameters,
    WeakPassphrase,
    WrongPassphrase,
    WrongRecoveryKey,
)
from desktop.store.files import make_private, open_private, private_folder, write_atomically
from desktop.store.keys import KdfParameters, KeyFile, calibrate_kdf
from desktop.store.migrate import upgrade_to_head
from desktop.store.settings import SettingsStore, read_device_hints

__all__ = [
    "PASSPHRASE_MIN_LENGTH",
    "KdfParameters",
    "MistypedRecoveryKey",
    "Profile",
    "ProfileDamaged",
    "ProfileError",
    "ProfileExists",
    "ProfileLocked",
    "ProfileNotFound",
    "WeakKdfParameters",
    "WeakPassphrase",
    "WrongPassphrase",
    "WrongRecoveryKey",
    "calibrate_kdf",
    "create_profile",
    "default_profile_dir",
    "profile_exists",
    "read_device_hints",
    "unlock",
    "unlock_with_recovery_key",
]

log = logging.getLogger(__name__)

KEY_FILE = "profile.json"
DATABASE_FILE = "minga.db"
PROFILE_DIR_ENV = "MINGA_PROFILE_DIR"


def default_profile_dir() -> Path:
    """``$MINGA_PROFILE_DIR`` if set, else the platform's per-user data folder."""
    override = os.environ.get(PROFILE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return user_data_path("Minga", appauthor=False) / "profile"


def profile_exists(folder: Path) -> bool:
    return (folder / KEY_FILE).is_file()


def check_passphrase_strength(passphrase: str) -> None:
    if len(passphrase.strip()) < PASSPHRASE_MIN_LENGTH:
        raise WeakPassphrase()


#: Prepared statements each connection keeps (the driver's default is 128). A cached statement
#: holds slots of SQLite's lookaside (its column names, its last bound values), and with the
#: lookaside full every cursor, register and bound value of every row went to the heap, where
#: memory security turns each allocation and each free into a system call (bulk.py). With 8,
#: pulling 10,000 records made 118,000 heap allocations instead of 933,000 and took 4.6 s of
#: CPU instead of 11 s; list queries prepared again cost no measurable CPU (README, "Sync CPU").
CACHED_STATEMENTS = 8


def _open_engine(database: Path, raw_key: bytes, current: list[bytes] | None = None) -> Engine:
    """A SQLAlchemy engine whose every connection is keyed before SQLAlchemy sees it.

    ``current`` holds the key (a one-item list): a re-key swaps it, so the same engine (which
    stores and the sync state hold) opens its next connections under the new key."""
    holder = current if current is not None else [raw_key]

    def connect() -> Any:
        key_pragma = f"PRAGMA key = \"x'{holder[0].hex()}'\""
        # The database exists as 0600 before SQLite opens it, and SQLite gives its WAL and
        # shared-memory files the database's own mode: all three are the person's only, whatever
        # the umask. Files an older version made are brought to 0600 too.
        if not database.exists():
            open_private(database).close()
        make_private(database, Path(f"{database}-wal"), Path(f"{database}-shm"))
        # Writers are serialized on one worker; the timeout covers a reader's brief overlap.
        connection = sqlcipher.connect(
            str(database),
            check_same_thread=False,
            timeout=30,
            cached_statements=CACHED_STATEMENTS,
        )
        try:
            # SQLCipher would print decryption failures on stderr; we report them ourselves.
            connection.execute("PRAGMA cipher_log_level = NONE")
            connection.execute(key_pragma)
            # Kept on: SQLite's heap allocations are locked out of swap and wiped when freed.
            # Two system calls each, which is why CACHED_STATEMENTS is small (README, "Sync CPU").
            connection.execute("PRAGMA cipher_memory_security = ON")
            # The first real read proves the key; before it SQLCipher has checked nothing.
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            connection.execute("PRAGMA journal_mode = WAL").fetchone()
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA secure_delete = ON")
            connection.execute("PRAGMA temp_store = MEMORY")
            # 32 MiB of decrypted pages per connection (SQLite's default is 2 MiB): without it
            # every list query re-reads and re-decrypts the same index pages.
            connection.execute("PRAGMA cache_size = -32768")
            connection.execute("PRAGMA foreign_keys = ON")
        except sqlcipher.DatabaseError:
            connection.close()
            raise
        return connection

    engine = create_engine(
        "sqlite://",
        module=sqlcipher,
        creator=connect,
        poolclass=QueuePool,
        pool_size=4,
        max_overflow=4,
        # An error names its statement, never its parameters: they are a record's words, and
        # unexpected failures are logged (stderr: a desktop session's journal) outside the
        # encrypted profile.
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _let_sqlalchemy_own_transactions(dbapi_connection: Any, _record: Any) -> None:
        # The driver's implicit BEGIN (only before DML) would leave DDL and reads outside the
        # transaction SQLAlchemy thinks it has; turn it off and begin explicitly instead.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


def _empty_the_wal(engine: Engine) -> None:
    """Copy the WAL into the database and truncate it to nothing (issue 16: deleted means gone).

    The WAL holds earlier versions of changed pages, deleted text included, until a checkpoint;
    at every lock they are folded into the database, whose freed space ``secure_delete`` has
    zeroed. Best effort: a reader still open elsewhere (a sync being cancelled) can keep it
    from completing, and then the last connection's close checkpoints and removes the file.
    """
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    except (sqlcipher.DatabaseError, DBAPIError) as error:
        log.warning("WAL not emptied at lock: %s", type(error).__name__)


def _secure_existing(folder: Path) -> None:
    """What an older version (or a lax umask) left readable by others becomes 0600 / 0700: the
    profile folder, its files, the attachments folder and every sealed file in it."""
    if os.name != "posix" or not folder.is_dir():
        return
    private_folder(folder)
    make_private(*(path for path in folder.iterdir() if path.is_file()))
    vault = folder / ATTACHMENTS_FOLDER
    if vault.is_dir():
        private_folder(vault)
        make_private(*vault.iterdir())


#: A sealed file no key row names is erased at unlock once it is this old (seconds): left by a
#: process killed while a backup deferred its erasure (``deletions_held``), or between a file's
#: bytes and its key row. Younger ones may be another process's import or download under way.
UNKEYED_AGE = 3600


def _erase_unkeyed(vault: Path, engine: Engine) -> None:
    """Erase the vault's sealed (and half-written) files no key row names, an hour old."""
    if not vault.is_dir():
        return
    with engine.connect() as connection:
        keyed = set(connection.execute(text("SELECT attachment_id FROM attachment_keys")).scalars())
    before = time.time() - UNKEYED_AGE
    for path in vault.iterdir():
        if path.suffix not in (".sealed", ".partial") or path.stem in keyed:
            continue
        try:
            if path.stat().st_mtime < before:
                path.unlink()
        except OSError as error:  # never a reason not to open the profile
            log.warning("unkeyed attachment not erased: %s", type(error).__name__)


class Profile:
    """An unlocked profile. ``close()`` locks it: the engine is disposed, keys are wiped."""

    def __init__(self, folder: Path, key_file: KeyFile, master_key: bytearray) -> None:
        self.folder = folder
        self._key_file = key_file
        self._master_key: bytearray | None = master_key
        self._lock = threading.Lock()
        self._database_key = [keys.sqlcipher_key(master_key)]
        _secure_existing(folder)
        try:
            self._engine: Engine | None = _open_engine(
                folder / DATABASE_FILE, self._database_key[0], self._database_key
            )
            upgrade_to_head(self._engine)
        except (sqlcipher.DatabaseError, DBAPIError) as error:
            self.close()
            # The wrap opened, so the key is right: the database is not this profile's.
            raise ProfileDamaged(f"database does not open: {type(error).__name__}") from None
        self.settings = SettingsStore(self._engine, folder)
        _erase_unkeyed(folder / ATTACHMENTS_FOLDER, self._engine)

    @property
    def profile_id(self) -> str:
        return self._key_file.profile_id

    @property
    def key_file(self) -> KeyFile:
        """The key file as it is now (wraps only, nothing secret): backups carry it."""
        return self._key_file

    def subkey(self, purpose: bytes) -> bytes:
        """A key derived from the master key for ``purpose``; the master key never leaves."""
        with self._lock:
            if self._master_key is None:
                raise ProfileLocked()
            return keys._derive(self._master_key, purpose)

    def wrap_master_key(self, kek: bytes, aad: bytes) -> str:
        """The master key sealed under ``kek`` (another way in: backups, shared recovery)."""
        with self._lock:
            if self._master_key is None:
                raise ProfileLocked()
            return keys._seal(kek, self._master_key, aad)

    def sqlcipher_key(self) -> bytes:
        """The database key, for a copy of the database under the same key (backups)."""
        return self.subkey(keys._SQLCIPHER_INFO)

    @property
    def closed(self) -> bool:
        return self._engine is None

    @property
    def engine(self) -> Engine:
        engine = self._engine
        if engine is None:
            raise ProfileLocked()
        return engine

    @property
    def attachments(self) -> AttachmentVault:
        if self._engine is None:
            raise ProfileLocked()
        return AttachmentVault(self.folder)

    def change_passphrase(self, old: str, new: str) -> None:
        """Re-wrap the master key under ``new``; the database is not touched."""
        check_passphrase_strength(new)
        with self._lock:
            if self._master_key is None:
                raise ProfileLocked()
            current = KeyFile.from_bytes((self.folder / KEY_FILE).read_bytes())
            proof = current.open_with_passphrase(old)  # raises WrongPassphrase
            keys.wipe(proof)
            updated = current.rewrapped(self._master_key, new)
            write_atomically(self.folder / KEY_FILE, updated.to_bytes())
            self._key_file = updated
        log.info("passphrase changed for profile %s", self.profile_id)

    def start_new_keys(self, old: str, new: str) -> str:
        """Re-key (desktop/store/rekey.py): a new master key, the database re-encrypted under
        it, ``new`` as the passphrase; returns the new recovery key (the old one is retired).

        Raises:
            WrongPassphrase: ``old`` is not the current passphrase (nothing changed).
            DatabaseBusy: another connection holds the database (nothing changed).
        """
        check_passphrase_strength(new)
        with self._lock:
            engine, master = self._engine, self._master_key
            if engine is None or master is None:
                raise ProfileLocked()
            current = KeyFile.from_bytes((self.folder / KEY_FILE).read_bytes())
            keys.wipe(current.open_with_passphrase(old))  # raises WrongPassphrase
            fresh = rekey.prepare(current, new)
            rekey.write_next(self.folder, fresh)
            new_key = keys.sqlcipher_key(fresh.master_key)
            engine.dispose()  # idle connections hold the old key
            try:
                rekey.reencrypt(self.folder / DATABASE_FILE, self._database_key[0], new_key)
            except BaseException:
                if not rekey.opens(self.folder / DATABASE_FILE, new_key):
                    (self.folder / rekey.NEXT_KEY_FILE).unlink(missing_ok=True)
                    raise
                # Re-encrypted before the error (the switch back to WAL, the check): the new key
                # file is now the only one that opens the database, so it is installed, never
                # deleted. journal_mode is set again by every connection the engine opens.
                log.warning("re-key of profile %s: error after re-encrypting", self.profile_id)
            self._database_key[0] = new_key
            engine.dispose()
            write_atomically(self.folder / KEY_FILE, fresh.key_file.to_bytes())
            (self.folder / rekey.NEXT_KEY_FILE).unlink(missing_ok=True)
            # Shared recovery wraps the old master key: those shares now open nothing new, so
            # the set is retired here (the person issues a new one).
            (self.folder / rekey.SHARES_FILE).unlink(missing_ok=True)
            keys.wipe(master)
            self._master_key, self._key_file = fresh.master_key, fresh.key_file
        log.info("profile %s re-keyed", self.profile_id)
        return fresh.recovery_key

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                _empty_the_wal(self._engine)
                self._engine.dispose()
                self._engine = None
            if self._master_key is not None:
                keys.wipe(self._master_key)
                self._master_key = None

    def __enter__(self) -> Profile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def create_profile(
    folder: Path,
    passphrase: str,
    *,
    kdf: KdfParameters | None = None,
    language: str = "en",
) -> tuple[Profile, str]:
    """Create a profile in ``folder``; returns it unlocked and the recovery key to show once.

    The key file is written last, atomically: a creation cut short leaves no key file, so no
    half-made profile ever asks for a passphrase.
    """
    check_passphrase_strength(passphrase)
    if profile_exists(folder):
        raise ProfileExists(str(folder))
    private_folder(folder)
    # Leftovers of a creation that died before its key file: unreadable by anyone, ever.
    for leftover in folder.glob(DATABASE_FILE + "*"):
        leftover.unlink()
    parameters = kdf or calibrate_kdf()
    parameters.check()
    master_key = keys.new_master_key()
    recovery_secret = keys.new_recovery_secret()
    key_file = KeyFile.create(master_key, passphrase, recovery_secret, parameters)
    profile = Profile(folder, key_file, bytearray(master_key))
    try:
        profile.settings.set("language", language)
        write_atomically(folder / KEY_FILE, key_file.to_bytes())
    except BaseException:
        profile.close()
        raise
    finally:
        keys.wipe(master_key)
    log.info("profile %s created", key_file.profile_id)
    return profile, keys.format_recovery_key(recovery_secret)


def _read_key_file(folder: Path) -> KeyFile:
    try:
        raw = (folder / KEY_FILE).read_bytes()
    except FileNotFoundError:
        raise ProfileNotFound(str(folder)) from None
    return KeyFile.from_bytes(raw)


def _require_database(folder: Path) -> None:
    if not (folder / DATABASE_FILE).is_file():
        raise ProfileDamaged("database file missing")


def _opened(folder: Path, open_wrap: Callable[[KeyFile], bytearray]) -> tuple[KeyFile, bytearray]:
    """The key file and master key the person's secret opens; after a re-key cut short, the
    one the database is really under (desktop/store/rekey.py)."""
    candidates = rekey.key_files(folder, _read_key_file(folder))
    refusal: Exception | None = None
    for key_file in candidates:
        try:
            master_key = open_wrap(key_file)
        except (WrongPassphrase, WrongRecoveryKey) as error:
            refusal = error
            continue
        if len(candidates) == 1:
            return key_file, master_key
        _require_database(folder)
        if rekey.settle(folder, folder / DATABASE_FILE, key_file, master_key):
            return key_file, master_key
        keys.wipe(master_key)
    assert refusal is not None
    raise refusal


def unlock(folder: Path, passphrase: str) -> Profile:
    """Open the profile in ``folder``. A wrong passphrase raises and touches no file."""
    key_file, master_key = _opened(folder, lambda kf: kf.open_with_passphrase(passphrase))
    _require_database(folder)
    profile = Profile(folder, key_file, master_key)
    log.info("profile %s unlocked", key_file.profile_id)
    return profile


def unlock_with_recovery_key(folder: Path, recovery_key: str, new_passphrase: str) -> Profile:
    """Open the profile with its recovery key and make ``new_passphrase`` its passphrase."""
    check_passphrase_strength(new_passphrase)
    key_file, master_key = _opened(folder, lambda kf: kf.open_with_recovery_key(recovery_key))
    return unlock_with_master_key(folder, key_file, master_key, new_passphrase)


def unlock_with_master_key(
    folder: Path, key_file: KeyFile, master_key: bytearray, new_passphrase: str
) -> Profile:
    """Open the profile with a master key recovered another way (the recovery key, shares)
    and make ``new_passphrase`` its passphrase."""
    check_passphrase_strength(new_passphrase)
    _require_database(folder)
    profile = Profile(folder, key_file, master_key)
    try:
        updated = key_file.rewrapped(master_key, new_passphrase)
        write_atomically(folder / KEY_FILE, updated.to_bytes())
        profile._key_file = updated
    except BaseException:
        profile.close()
        raise
    log.info("profile %s unlocked with its recovery key; passphrase replaced", key_file.profile_id)
    return profile
