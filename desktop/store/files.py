"""Crash-safe small files beside the database: write to a temporary name, fsync, rename.

A key file half-written by a power cut would lock a person out of everything, so every write
of one goes through ``write_atomically``.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, BinaryIO

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def private_folder(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700; an existing one is made 0700. Whatever the
    umask, nobody but the person's own account can list a profile's files."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
    if os.name == "posix":
        os.chmod(path, PRIVATE_FOLDER)
    return path


def open_private(path: Path) -> BinaryIO:
    """Open `path` for writing (created or truncated) as 0600 from its first instant.

    Never through a symbolic link (refused): a link planted at the name in a shared folder
    would otherwise receive what is written, a readable export's records in plain text."""
    flags = (
        os.O_WRONLY
        | os.O_CREAT
        | os.O_TRUNC
        | getattr(os, "O_BINARY", 0)
        | getattr(os, "O_NOFOLLOW", 0)
    )
    descriptor = os.open(path, flags, PRIVATE_FILE)
    if os.name == "posix":
        os.fchmod(descriptor, PRIVATE_FILE)
    return os.fdopen(descriptor, "wb")


def make_private(*paths: Path) -> None:
    """Bring existing files (made by an older version or under another umask) to 0600."""
    if os.name != "posix":
        return
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            if path.is_file():
                os.chmod(path, PRIVATE_FILE)


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open_private(temporary) as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make a rename durable; some platforms cannot open folders, which is harmless there."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, or ``{}`` if it is missing or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
