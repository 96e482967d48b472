"""Encrypted attachments at rest: imported as sealed chunk streams, opened into memory only.

Each file gets a random key kept in the encrypted database (and, when synced, inside the sealed
record), so the sealed file alone is noise and deleting the key erases the file. Import streams
64 KiB at a time, hashing the original as it goes; no step writes plaintext to disk.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from desktop.store.errors import AttachmentDamaged
from desktop.store.files import fsync_folder, open_private, private_folder
from sync.crypto.stream import (
    AttachmentTampered,
    StreamHeader,
    new_file_key,
    open_stream,
    seal_stream,
)

ATTACHMENTS_FOLDER = "attachments"

# Vaults a backup is copying now, and the files deleted meanwhile (removed when it ends).
_held: dict[Path, int] = {}
_deferred: dict[Path, list[Path]] = {}
_held_lock = threading.Lock()


@contextmanager
def deletions_held(folder: Path) -> Iterator[None]:
    """While a backup copies the vault in ``folder``, files this app deletes stay until it ends.

    The backup's database copy names the files that existed at one instant; a file deleted
    right after that instant would be missing from the backup though its record is in it.
    Deferring the unlink for the seconds a backup takes keeps the two consistent.
    """
    key = folder.absolute()
    with _held_lock:
        _held[key] = _held.get(key, 0) + 1
    try:
        yield
    finally:
        with _held_lock:
            _held[key] -= 1
            pending: list[Path] = []
            if not _held[key]:
                del _held[key]
                pending = _deferred.pop(key, [])
        for path in pending:
            path.unlink(missing_ok=True)


@dataclass(frozen=True)
class StoredAttachment:
    """What the database keeps about one sealed file."""

    attachment_id: str
    file_key: bytes
    sha256: str
    size: int
    sealed_size: int


class _HashingReader(io.RawIOBase):
    """Hands the plaintext to the sealer while hashing and counting it."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


class AttachmentVault:
    """The ``attachments/`` folder of one unlocked profile."""

    def __init__(self, profile_folder: Path) -> None:
        self.folder = profile_folder / ATTACHMENTS_FOLDER

    def path_of(self, attachment_id: str) -> Path:
        if not attachment_id.isalnum():
            raise ValueError("attachment ids are alphanumeric")
        return self.folder / f"{attachment_id}.sealed"

    def import_stream(self, source: BinaryIO) -> StoredAttachment:
        """Seal ``source`` into the vault; returns the id, key, SHA-256 and sizes."""
        private_folder(self.folder)
        attachment_id = secrets.token_hex(16)
        key = new_file_key()
        reader = _HashingReader(source)
        final = self.path_of(attachment_id)
        partial = final.with_suffix(".partial")
        written = 0
        try:
            with open_private(partial) as sink:
                for piece in seal_stream(reader, key, StreamHeader.new()):  # type: ignore[arg-type]
                    sink.write(piece)
                    written += len(piece)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(partial, final)
            fsync_folder(self.folder)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return StoredAttachment(attachment_id, key, reader.digest.hexdigest(), reader.size, written)

    def import_file(self, path: Path) -> StoredAttachment:
        with open(path, "rb") as source:
            return self.import_stream(source)

    def iter_plaintext(self, stored: StoredAttachment) -> Iterator[bytes]:
        """The original, chunk by chunk; raises ``AttachmentDamaged`` on any tampering.

        The SHA-256 recorded at import is checked at the end as well: the chunks being
        authentic, a mismatch means the database row and the file do not belong together.
        """
        try:
            sealed = open(self.path_of(stored.attachment_id), "rb")  # noqa: SIM115
        except FileNotFoundError:
            raise AttachmentDamaged("missing", stored.attachment_id) from None
        digest = hashlib.sha256()
        with sealed:
            try:
                for chunk in open_stream(sealed, stored.file_key):
                    digest.update(chunk)
                    yield chunk
            except AttachmentTampered as error:
                raise AttachmentDamaged(error.code, str(error)) from None
        if digest.hexdigest() != stored.sha256:
            raise AttachmentDamaged("altered", "sha256 differs from the one recorded at import")

    def read_bytes(self, stored: StoredAttachment) -> bytes:
        """The whole original in memory (for previews and the PDF viewer), fully verified."""
        return b"".join(self.iter_plaintext(stored))

    def export(self, stored: StoredAttachment, destination: Path) -> None:
        """Write the original where the person chose; a damaged file leaves nothing behind."""
        partial = destination.with_name(destination.name + ".partial")
        try:
            with open(partial, "wb") as sink:
                for chunk in self.iter_plaintext(stored):
                    sink.write(chunk)
            os.replace(partial, destination)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def delete(self, stored: StoredAttachment) -> None:
        self.erase(stored.attachment_id)

    def erase(self, attachment_id: str) -> None:
        """Remove a sealed file (at once, or when a backup copying the vault ends)."""
        path = self.path_of(attachment_id)
        with _held_lock:
            if self.folder.absolute() in _held:
                _deferred.setdefault(self.folder.absolute(), []).append(path)
                return
        path.unlink(missing_ok=True)
