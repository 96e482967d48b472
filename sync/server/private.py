"""Files and folders the server writes are its owner's only (0600 / 0700), whatever the umask:
the data folder, the database and its WAL, server.toml, the chunk store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from sync.server.config import Settings
    from sync.server.db import Database

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
#: Set once at start by `minga-server`: whatever the process creates afterwards (SQLite's
#: journal and WAL, a backup's files, a log) is private too.
PRIVATE_UMASK = 0o077


def private_folder(path: Path) -> Path:
    """Create `path` (and its missing parents) as 0700; an existing one is made 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
    if os.name == "posix":
        os.chmod(path, PRIVATE_FOLDER)
    return path


def open_private(path: Path) -> BinaryIO:
    """Open `path` for writing (created or truncated) as 0600, never readable by others even
    for an instant."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags, PRIVATE_FILE)
    if os.name == "posix":
        os.fchmod(descriptor, PRIVATE_FILE)
    return os.fdopen(descriptor, "wb")


def make_private(*paths: Path) -> None:
    """Bring existing files (a database made by an older version, its WAL) to 0600."""
    if os.name != "posix":
        return
    for path in paths:
        if path.is_file():
            os.chmod(path, PRIVATE_FILE)


def secure_files(settings: Settings, db: Database) -> None:
    """Bring what an older version (or another umask) left to 0600/0700: the data folder, the
    SQLite database with its WAL and shared memory, server.toml. New files are made private."""
    if settings.data_dir.is_dir():
        private_folder(settings.data_dir)
    make_private(settings.config_file)
    if db.is_sqlite and db.engine.url.database:
        database = Path(db.engine.url.database)
        make_private(database, Path(f"{database}-wal"), Path(f"{database}-shm"))
