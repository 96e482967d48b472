"""One encrypted file that holds a whole profile: write it while the profile is in use, check it,
restore it onto an empty folder.

Layout: ``MAGIC ‖ u32 header length ‖ header JSON ‖ STREAM``. The header holds the profile's key
file as it was (the master key wrapped under the passphrase and under the recovery key), a fresh
random backup key wrapped under a key derived from the master key, and the STREAM header. So the
backup opens with the passphrase or the recovery key of the moment it was taken, exactly as the
profile did, and no new construction is involved: the wraps are ``keys.py``'s, the body is
``sync/crypto/stream.py``'s STREAM (ChaCha20-Poly1305, 1 MiB chunks, counter and last-chunk flag
in the nonce), so a chunk changed, moved, dropped or cut off fails to open. The wrap's
associated data is the hash of the rest of the header, so the header cannot be edited either.

The body is a tar stream (``manifest.json`` last, with every entry's size and SHA-256):
``minga.db`` (a consistent copy taken with SQLite's online backup API under the same SQLCipher
key, so it is ciphertext too), ``device.json``, the recovery shares' wrap if any, and the sealed
``attachments/``. A restore extracts into a hidden folder beside the target and renames it into
place only when the last chunk verified, so a damaged backup leaves nothing behind.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import secrets
import shutil
import struct
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, ClassVar

import sqlcipher3.dbapi2 as sqlcipher

from desktop.domain.translation import N_, _
from desktop.store import keys
from desktop.store.attachments import ATTACHMENTS_FOLDER, deletions_held
from desktop.store.errors import ProfileDamaged, ProfileError
from desktop.store.files import fsync_folder
from desktop.store.keys import KeyFile
from desktop.store.profile import DATABASE_FILE, KEY_FILE, Profile
from desktop.store.settings import DEVICE_HINTS_FILE
from desktop.store.shared_recovery import SHARES_FILE, ShareSet, combine, read_share_set
from desktop.store.succession import retire_restored_identity
from sync.crypto.stream import (
    AttachmentTampered,
    StreamHeader,
    StreamOpener,
    StreamSealer,
)

MAGIC = b"MINGA-BACKUP\x00\x01"
FORMAT = "minga-backup"
VERSION = 1
SUFFIX = ".mingabackup"
CHUNK_SIZE = 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
MANIFEST = "manifest.json"
#: Files beside the database that a backup carries (the key file travels in the header).
_PROFILE_FILES = (DEVICE_HINTS_FILE, SHARES_FILE)
_WRAP_INFO = b"minga/v1/backup-key-wrap"
_LENGTH = struct.Struct(">I")

Progress = Callable[[int, int], None]


class BackupRefused(ProfileError):
    """A backup that cannot be written, checked or restored; ``reason`` picks the message."""

    code = "backup_refused"
    message = N_("This backup could not be read. Nothing was written.")
    _REASONS: ClassVar[dict[str, str]] = {
        "not_a_backup": N_("{name} is not a Minga backup. Nothing was written."),
        "newer_version": N_(
            "{name} was made by a newer version of Minga. Update Minga to restore it. "
            "Nothing was written."
        ),
        "damaged": N_(
            "{name} is damaged or has been altered, so it cannot be trusted. Nothing was "
            "written; use another backup."
        ),
        "truncated": N_(
            "{name} is incomplete: it was cut short (perhaps while copying). Nothing was "
            "written; use another backup or copy it again."
        ),
        "target_not_empty": N_(
            "The folder {name} is not empty. Restore into a new, empty folder; nothing was written."
        ),
        "target_is_file": N_("{name} is a file, not a folder. Nothing was written."),
        "destination_exists": N_(
            "{name} already exists. Choose another file name; nothing was overwritten."
        ),
        "unreadable": N_("{name} cannot be read: {reason}. Nothing was written."),
        "profile_deleted": N_(
            "The profile was deleted from this computer while {name} was being written, so "
            "the backup was not kept."
        ),
    }

    def __init__(self, reason: str, name: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.name = name

    def user_message(self) -> str:
        text = _(self._REASONS.get(self.reason, self.message))
        return text.format(name=self.name, reason=self.detail)


@dataclass
class BackupSummary:
    """What a backup holds, from its manifest (checked against every entry)."""

    profile_id: str
    created_at: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    size: int = 0

    @property
    def attachments(self) -> int:
        return sum(1 for name in self.files if name.startswith(ATTACHMENTS_FOLDER + "/"))

    @property
    def content_bytes(self) -> int:
        return sum(int(entry["size"]) for entry in self.files.values())


# --- the header -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    key_file: KeyFile
    stream_header: bytes
    wrap: str
    #: Bytes of the STREAM after the header (its own header included): a copy cut short is
    #: told apart from an altered one before anything is decrypted.
    body_bytes: int = 0
    #: The shared-recovery set's wrap (public, like the key file), so k shares open a backup.
    share_set: ShareSet | None = None

    def _fields(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "key_file": json.loads(self.key_file.to_bytes()),
            "stream": base64.b64encode(self.stream_header).decode("ascii"),
            # Fixed width, so the header written first and rewritten at the end are one size.
            "body_bytes": f"{self.body_bytes:016d}",
            "shares": self.share_set.to_json() if self.share_set else None,
        }

    def bound(self) -> bytes:
        """What the wrap's associated data covers: everything in the header but the wrap."""
        data = self._fields()
        return hashlib.sha256(
            json.dumps(data, sort_keys=True, separators=(",", ":")).encode("ascii")
        ).digest()

    def to_bytes(self) -> bytes:
        data = {**self._fields(), "wrap": self.wrap}
        raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode("ascii")
        return MAGIC + _LENGTH.pack(len(raw)) + raw

    @classmethod
    def read(cls, source: BinaryIO, name: str) -> _Header:
        magic = source.read(len(MAGIC))
        if magic and len(magic) < len(MAGIC) and MAGIC.startswith(magic):
            raise BackupRefused("truncated", name, "magic")
        if magic[:-1] != MAGIC[:-1]:
            raise BackupRefused("not_a_backup", name)
        if magic[-1] != MAGIC[-1]:
            raise BackupRefused("newer_version", name)
        length_bytes = source.read(_LENGTH.size)
        if len(length_bytes) != _LENGTH.size:
            raise BackupRefused("truncated", name, "header length")
        (length,) = _LENGTH.unpack(length_bytes)
        if length > MAX_HEADER_BYTES:
            raise BackupRefused("damaged", name, "header too long")
        raw = source.read(length)
        if len(raw) != length:
            raise BackupRefused("truncated", name, "header")
        try:
            data = json.loads(raw.decode("ascii"))
            if data["format"] != FORMAT:
                raise BackupRefused("not_a_backup", name)
            if data["version"] != VERSION:
                raise BackupRefused("newer_version", name)
            key_file = KeyFile.from_bytes(json.dumps(data["key_file"]).encode("ascii"))
            stream_header = base64.b64decode(data["stream"], validate=True)
            wrap = data["wrap"]
            body_bytes = data["body_bytes"]
            share_set = ShareSet.from_json(data["shares"]) if data["shares"] else None
            if not isinstance(wrap, str) or not isinstance(body_bytes, str):
                raise TypeError("wrap")
            StreamHeader.from_bytes(stream_header)
        except BackupRefused:
            raise
        except (ProfileError, AttachmentTampered, ValueError, KeyError, TypeError) as error:
            raise BackupRefused("damaged", name, f"header: {type(error).__name__}") from None
        return cls(key_file, stream_header, wrap, int(body_bytes), share_set)

    def check_length(self, source: BinaryIO, name: str) -> None:
        """Refuse a file whose body is shorter (cut short) or longer than the header says."""
        here = source.tell()
        end = source.seek(0, os.SEEK_END)
        source.seek(here)
        if end - here < self.body_bytes:
            raise BackupRefused("truncated", name, f"{end - here} of {self.body_bytes} bytes")
        if end - here > self.body_bytes:
            raise BackupRefused("damaged", name, "bytes after the end")


def _wrap_key(master_key: bytes | bytearray) -> bytes:
    return keys._derive(master_key, _WRAP_INFO)


# --- writing --------------------------------------------------------------------------------


class _SealingWriter(io.RawIOBase):
    """A write-only file that seals what it is given into STREAM chunks on ``sink``.

    One chunk is always held back, so the last one can be flagged as last when closed.
    """

    def __init__(self, sink: BinaryIO, sealer: StreamSealer) -> None:
        self._sink = sink
        self._sealer = sealer
        self._buffer = bytearray()
        self._index = 0
        self._size = sealer.header.chunk_size
        sink.write(sealer.header_bytes)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        while len(self._buffer) > self._size:
            self._emit(bytes(self._buffer[: self._size]), last=False)
            del self._buffer[: self._size]
        return len(data)

    def _emit(self, plaintext: bytes, last: bool) -> None:
        self._sink.write(self._sealer.seal_chunk(self._index, plaintext, last))
        self._index += 1

    def finish(self) -> None:
        self._emit(bytes(self._buffer), last=True)
        self._buffer.clear()


def _snapshot_database(profile: Profile, target: Path) -> None:
    """A consistent copy of the open database, encrypted under the same key.

    SQLite's online backup API in one step holds one read transaction on the source for the
    whole copy: writers go on (WAL), the copy is the database as of one instant.
    """
    connection = profile.engine.raw_connection()
    try:
        source: Any = connection.dbapi_connection
        copy = sqlcipher.connect(str(target))
        try:
            copy.execute("PRAGMA cipher_log_level = NONE")
            raw_key = profile.sqlcipher_key()
            copy.execute(f"PRAGMA key = \"x'{raw_key.hex()}'\"")
            source.backup(copy)
        finally:
            copy.close()
    finally:
        connection.close()


def _attachment_snapshot(profile: Profile, holding: Path) -> list[tuple[str, Path]]:
    """Hard links to the sealed files as they are now, taken before the database copy.

    A sealed file never changes once renamed into place; it can only be deleted. Linking
    before copying the database means every file the copy names is held, even one deleted
    meanwhile; files created after the links are added from the folder afterwards.
    """
    folder = profile.folder / ATTACHMENTS_FOLDER
    held: list[tuple[str, Path]] = []
    if not folder.is_dir():
        return held
    holding.mkdir()
    for path in sorted(folder.glob("*.sealed")):
        link = holding / path.name
        try:
            os.link(path, link)
        except FileNotFoundError:
            continue
        except OSError:
            try:
                shutil.copyfile(path, link)
            except FileNotFoundError:
                continue
        held.append((path.name, link))
    return held


def write_backup(
    profile: Profile, destination: Path, progress: Progress | None = None
) -> BackupSummary:
    """Write a backup of the open ``profile`` to ``destination`` (which must not exist).

    The profile may be in use meanwhile. The file appears under its name only when complete.
    """
    name = destination.name
    if destination.exists():
        raise BackupRefused("destination_exists", str(destination))
    partial = destination.with_name(f".{destination.name}.partial")
    remove_abandoned_workspaces(profile.folder)
    try:
        with (
            workspace_in_use(profile.folder) as workspace,
            deletions_held(profile.folder / ATTACHMENTS_FOLDER),
        ):
            summary = _write(profile, workspace, partial, progress, name)
        # Quick delete pressed while this backup was being written (its files already open):
        # a finished backup would hold every record for whoever has the passphrase.
        if not (profile.folder / KEY_FILE).is_file():
            raise BackupRefused("profile_deleted", name)
        os.replace(partial, destination)
        fsync_folder(destination.parent)
        if not (profile.folder / KEY_FILE).is_file():
            destination.unlink(missing_ok=True)
            raise BackupRefused("profile_deleted", name)
        summary.size = destination.stat().st_size
        return summary
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


_WORKSPACE_PREFIX = ".backup-"
_LOCK_SUFFIX = ".lock"


@contextmanager
def workspace_in_use(folder: Path) -> Iterator[Path]:
    """A private folder in the profile for one backup's copies, marked as in use while it runs.

    A backup killed mid-way (power, SIGKILL) leaves its workspace behind: a database copy and
    hard links to sealed files, which would keep evidence the person deletes later. The mark
    (a lock file held open, locked on POSIX) dies with the process, so the next backup can tell
    a dead one's leftovers from a running one's (``remove_abandoned_workspaces``).
    """
    workspace = folder / f"{_WORKSPACE_PREFIX}{secrets.token_hex(8)}"
    with _held_while_running(workspace):
        workspace.mkdir(mode=0o700)
        try:
            yield workspace
        finally:
            shutil.rmtree(workspace, ignore_errors=True)


@contextmanager
def _held_while_running(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock file: it exists (and is held) before the folder, and outlives it."""
    lock = folder.with_name(folder.name + _LOCK_SUFFIX)
    handle = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if sys.platform != "win32":
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)
        lock.unlink(missing_ok=True)


def _owner_is_gone(lock: Path) -> bool:
    """Whether the backup that made ``lock`` no longer runs (its lock is free or absent)."""
    if sys.platform == "win32":
        # Windows refuses to delete a file another process holds open.
        try:
            lock.unlink(missing_ok=True)
        except PermissionError:
            return False
        return True
    import fcntl

    try:
        handle = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(handle)
    return True


def remove_abandoned_workspaces(folder: Path, prefix: str = _WORKSPACE_PREFIX) -> None:
    """Remove what backups (or restores, by ``prefix``) killed mid-way left in ``folder``;
    never a running one's."""
    for workspace in folder.glob(f"{prefix}*"):
        if not workspace.is_dir():
            continue
        lock = workspace.with_name(workspace.name + _LOCK_SUFFIX)
        if _owner_is_gone(lock):
            shutil.rmtree(workspace, ignore_errors=True)
            lock.unlink(missing_ok=True)
    for lock in folder.glob(f"{prefix}*{_LOCK_SUFFIX}"):
        if not lock.with_name(lock.name.removesuffix(_LOCK_SUFFIX)).exists() and _owner_is_gone(
            lock
        ):
            lock.unlink(missing_ok=True)


def _write(
    profile: Profile, workspace: Path, partial: Path, progress: Progress | None, name: str
) -> BackupSummary:
    """Deletions held: links to the sealed files, the database copy, the files created
    since, then the file itself. The hard links keep files deleted by another process (the
    command line beside the app) until the copy is made."""
    held = {
        file_name: path
        for file_name, path in _attachment_snapshot(profile, workspace / "attachments")
    }
    snapshot = workspace / DATABASE_FILE
    _snapshot_database(profile, snapshot)
    folder = profile.folder / ATTACHMENTS_FOLDER
    if folder.is_dir():
        for path in sorted(folder.glob("*.sealed")):
            held.setdefault(path.name, path)
    entries: list[tuple[str, Path]] = [(DATABASE_FILE, snapshot)]
    for file_name in _PROFILE_FILES:
        if (profile.folder / file_name).is_file():
            entries.append((file_name, profile.folder / file_name))
    entries += [(f"{ATTACHMENTS_FOLDER}/{n}", p) for n, p in sorted(held.items())]
    total = sum(_size(path) for _, path in entries)
    return _write_file(profile, partial, entries, total, progress, name)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _write_file(
    profile: Profile,
    partial: Path,
    entries: list[tuple[str, Path]],
    total: int,
    progress: Progress | None,
    name: str,
) -> BackupSummary:
    backup_key = bytearray(secrets.token_bytes(keys.KEY_BYTES))
    try:
        sealer = StreamSealer(bytes(backup_key), StreamHeader.new(CHUNK_SIZE))
        key_file = profile.key_file
        share_set = read_share_set(profile.folder)
        wrap_key = profile.subkey(_WRAP_INFO)
        # A placeholder of the final header's size; rewritten once the body's length is known.
        placeholder = _Header(
            key_file, sealer.header_bytes, keys._seal(wrap_key, backup_key, b""), 0, share_set
        )
        summary = BackupSummary(
            profile_id=key_file.profile_id,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        done = 0
        # Owner-only: the file carries the passphrase-wrapped key (a leftover partial too).
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        if sys.platform != "win32":
            os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as sink:
            sink.write(placeholder.to_bytes())
            body_start = sink.tell()
            writer = _SealingWriter(sink, sealer)
            with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as archive:
                for entry_name, path in entries:
                    try:
                        source = open(path, "rb")  # noqa: SIM115
                    except FileNotFoundError:
                        continue  # an attachment deleted after the database copy named it not
                    with source:
                        size = os.fstat(source.fileno()).st_size
                        hashing = _HashingReader(source, progress, done, total)
                        info = tarfile.TarInfo(entry_name)
                        info.size = size
                        info.mode = 0o600
                        archive.addfile(info, hashing)
                        done += size
                    summary.files[entry_name] = {"size": size, "sha256": hashing.hexdigest()}
                manifest = json.dumps(
                    {
                        "format": "minga-backup-manifest",
                        "profile_id": summary.profile_id,
                        "created_at": summary.created_at,
                        "files": summary.files,
                    },
                    sort_keys=True,
                ).encode("utf-8")
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(manifest)
                info.mode = 0o600
                archive.addfile(info, io.BytesIO(manifest))
            writer.finish()
            body_bytes = sink.tell() - body_start
            unwrapped = _Header(key_file, sealer.header_bytes, "", body_bytes, share_set)
            wrap = keys._seal(wrap_key, backup_key, unwrapped.bound())
            final = _Header(key_file, sealer.header_bytes, wrap, body_bytes, share_set).to_bytes()
            if len(final) != body_start:
                raise AssertionError("backup header changed size")
            sink.seek(0)
            sink.write(final)
            sink.flush()
            os.fsync(sink.fileno())
        if progress is not None:
            progress(total, total)
        return summary
    finally:
        keys.wipe(backup_key)


class _HashingReader(io.RawIOBase):
    def __init__(self, source: BinaryIO, progress: Progress | None, done: int, total: int) -> None:
        self._source = source
        self._digest = hashlib.sha256()
        self._progress = progress
        self._done = done
        self._total = total
        self._last = 0.0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self._digest.update(data)
        self._done += len(data)
        now = time.monotonic()
        if self._progress is not None and now - self._last > 0.1:
            self._last = now
            self._progress(self._done, self._total)
        return data

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


# --- reading --------------------------------------------------------------------------------


class _OpeningReader(io.RawIOBase):
    """The plaintext of the STREAM as a readable file; every chunk authenticated before use."""

    def __init__(
        self, source: BinaryIO, key: bytes, name: str, progress: Progress | None, total: int
    ) -> None:
        self._source = source
        self._name = name
        self._progress = progress
        self._total = total
        header_bytes = source.read(len(StreamHeader.new().to_bytes()))
        try:
            self._opener = StreamOpener(key, header_bytes)
        except AttachmentTampered:
            raise BackupRefused("damaged", name, "stream header") from None
        self._sealed_size = self._opener.header.sealed_chunk_size
        self._current = source.read(self._sealed_size)
        self._index = 0
        self._pending = memoryview(b"")  # the rest of the current chunk, without copying it
        self._done = False
        self._last_report = 0.0

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bytes:
        if self._done:
            return b""
        following = self._source.read(self._sealed_size) if len(self._current) else b""
        last = not following
        try:
            plaintext = self._opener.open_chunk(self._index, self._current, last)
        except AttachmentTampered as error:
            reason = "truncated" if error.code == "truncated" else "damaged"
            raise BackupRefused(reason, self._name, f"chunk {self._index}") from None
        self._current, self._index, self._done = following, self._index + 1, last
        now = time.monotonic()
        if self._progress is not None and now - self._last_report > 0.1:
            self._last_report = now
            self._progress(min(self._source.tell(), self._total), self._total)
        return plaintext

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._done:
            self._pending = memoryview(self._next_chunk())
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def drain(self) -> int:
        """Read to the authenticated end; returns how many plaintext bytes were left over."""
        extra = len(self._pending)
        self._pending = memoryview(b"")
        while not self._done:
            extra += len(self._next_chunk())
        return extra


@dataclass
class _Opened:
    header: _Header
    master_key: bytearray
    backup_key: bytearray

    def wipe(self) -> None:
        keys.wipe(self.master_key)
        keys.wipe(self.backup_key)


def _open_header(
    source: BinaryIO,
    name: str,
    passphrase: str | None,
    recovery_key: str | None,
    shares: list[str] | None = None,
) -> _Opened:
    header = _Header.read(source, name)
    header.check_length(source, name)
    try:
        if shares is not None:
            master = combine(shares, header.share_set)
        elif recovery_key is not None:
            master = header.key_file.open_with_recovery_key(recovery_key)
        else:
            master = header.key_file.open_with_passphrase(passphrase or "")
    except ProfileDamaged:
        # The key file inside the header is read lazily (a wrap that is not base64 any more
        # after a flipped byte): that is a damaged backup, named as such, not a damaged profile.
        raise BackupRefused("damaged", name, "key file") from None
    try:
        opened = keys._open(_wrap_key(master), header.wrap, header.bound()) if header.wrap else None
    except ProfileDamaged:
        opened = None  # the backup key's wrap is not even base64 any more: altered
    if opened is None:
        keys.wipe(master)
        # The key file opened, so the passphrase is right: the header was altered.
        raise BackupRefused("damaged", name, "backup key wrap")
    return _Opened(header, master, opened)


_ALLOWED_TOP = {DATABASE_FILE, MANIFEST, *_PROFILE_FILES}


def _check_member_name(member: tarfile.TarInfo, name: str) -> None:
    if not member.isfile():
        raise BackupRefused("damaged", name, "entry is not a file")
    if member.name in _ALLOWED_TOP:
        return
    folder, _sep, file_name = member.name.partition("/")
    stem, _dot, suffix = file_name.partition(".")
    if folder == ATTACHMENTS_FOLDER and stem.isalnum() and stem.isascii() and suffix == "sealed":
        return
    raise BackupRefused("damaged", name, "unexpected entry")


def _read_body(
    source: BinaryIO,
    opened: _Opened,
    name: str,
    total: int,
    progress: Progress | None,
    sink_folder: Path | None,
) -> BackupSummary:
    """Read every entry (into ``sink_folder`` if given), check them against the manifest."""
    reader = _OpeningReader(source, bytes(opened.backup_key), name, progress, total)
    seen: dict[str, dict[str, Any]] = {}
    manifest: dict[str, Any] | None = None
    try:
        with tarfile.open(fileobj=reader, mode="r|") as archive:
            for member in archive:
                _check_member_name(member, name)
                if member.name in seen or manifest is not None:
                    raise BackupRefused("damaged", name, "entry repeated or after the manifest")
                extracted = archive.extractfile(member)
                if extracted is None:
                    raise BackupRefused("damaged", name, "entry unreadable")
                if member.name == MANIFEST:
                    # Authenticated like every byte here, so read whole (one line per file).
                    manifest = json.loads(extracted.read())
                    continue
                seen[member.name] = _copy_entry(extracted, member.name, sink_folder)
    except tarfile.TarError as error:
        raise BackupRefused("damaged", name, f"archive: {type(error).__name__}") from None
    except (ValueError, UnicodeDecodeError) as error:
        if isinstance(error, BackupRefused):
            raise
        raise BackupRefused("damaged", name, f"manifest: {type(error).__name__}") from None
    if reader.drain() > 1024 * 20:
        raise BackupRefused("damaged", name, "data after the archive")
    if source.read(1):
        raise BackupRefused("damaged", name, "bytes after the last chunk")
    if manifest is None or not isinstance(manifest.get("files"), dict):
        raise BackupRefused("truncated", name, "no manifest")
    if manifest["files"] != seen or manifest.get("profile_id") != opened.header.key_file.profile_id:
        raise BackupRefused("damaged", name, "entries differ from the manifest")
    if DATABASE_FILE not in seen:
        raise BackupRefused("damaged", name, "no database")
    return BackupSummary(
        profile_id=str(manifest["profile_id"]),
        created_at=str(manifest.get("created_at", "")),
        files=seen,
        size=total,
    )


def _copy_entry(extracted: IO[bytes], member: str, sink_folder: Path | None) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    sink: BinaryIO | None = None
    if sink_folder is not None:
        path = sink_folder / member
        path.parent.mkdir(mode=0o700, exist_ok=True)
        sink = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
    try:
        while True:
            piece = extracted.read(CHUNK_SIZE)
            if not piece:
                break
            digest.update(piece)
            size += len(piece)
            if sink is not None:
                sink.write(piece)
        if sink is not None:
            sink.flush()
            os.fsync(sink.fileno())
    finally:
        if sink is not None:
            sink.close()
    return {"size": size, "sha256": digest.hexdigest()}


def _open_source(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as error:
        raise BackupRefused("unreadable", str(path), str(error.strerror or error)) from None


def verify_backup(
    path: Path,
    passphrase: str | None = None,
    *,
    recovery_key: str | None = None,
    shares: list[str] | None = None,
    progress: Progress | None = None,
) -> BackupSummary:
    """Open and check every byte of the backup at ``path``; writes nothing."""
    with _open_source(path) as source:
        total = os.fstat(source.fileno()).st_size
        opened = _open_header(source, path.name, passphrase, recovery_key, shares)
        try:
            return _read_body(source, opened, path.name, total, progress, None)
        finally:
            opened.wipe()


def _refuse_target(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise BackupRefused("target_is_file", str(target))
    if target.is_dir() and any(target.iterdir()):
        raise BackupRefused("target_not_empty", str(target))


def restore_backup(
    path: Path,
    target: Path,
    passphrase: str | None = None,
    *,
    recovery_key: str | None = None,
    shares: list[str] | None = None,
    new_passphrase: str | None = None,
    progress: Progress | None = None,
    after: Callable[[Profile], None] | None = None,
) -> BackupSummary:
    """Restore the backup at ``path`` as the profile in ``target`` (absent or an empty folder).

    Everything is written into a hidden folder beside ``target`` and renamed into place only
    once every chunk verified and the entries match the manifest. With ``recovery_key`` or k
    ``shares`` the restored profile gets ``new_passphrase``. ``after`` runs on the restored
    profile, still in the hidden folder (see ``desktop.store.succession``: a restored device
    must not be a copy of the old one).
    """
    from desktop.store.profile import check_passphrase_strength

    target = target.expanduser().absolute()
    _refuse_target(target)
    recovering = recovery_key is not None or shares is not None
    if recovering:
        check_passphrase_strength(new_passphrase or "")
    created_parents: list[Path] = []
    parent = target.parent
    while not parent.exists():
        created_parents.append(parent)
        parent = parent.parent
    for folder in reversed(created_parents):
        folder.mkdir(mode=0o700)
    # A restore killed mid-way leaves its hidden folder beside the target (never at it): the
    # next restore there removes it, so no stray copy outlives a later quick delete.
    restoring = f".{target.name}.restoring-"
    remove_abandoned_workspaces(target.parent, restoring)
    staging = target.parent / f"{restoring}{secrets.token_hex(6)}"
    try:
        with _held_while_running(staging), _open_source(path) as source:
            total = os.fstat(source.fileno()).st_size
            opened = _open_header(source, path.name, passphrase, recovery_key, shares)
            try:
                staging.mkdir(mode=0o700)
                summary = _read_body(source, opened, path.name, total, progress, staging)
                key_file = opened.header.key_file
                if recovering and new_passphrase is not None:
                    key_file = key_file.rewrapped(opened.master_key, new_passphrase)
                profile = Profile(staging, key_file, bytearray(opened.master_key))
                try:
                    # Always: a restored profile must never sync as its old device.
                    retire_restored_identity(profile.engine)
                    if after is not None:
                        after(profile)
                finally:
                    profile.close()
                _write_key_file(staging / KEY_FILE, key_file.to_bytes())
            finally:
                opened.wipe()
            # Still marked as running: another restore must not take it for abandoned.
            _refuse_target(target)
            if target.is_dir():
                target.rmdir()
            os.rename(staging, target)
            fsync_folder(target.parent)
        return summary
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created_parents:
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _write_key_file(path: Path, data: bytes) -> None:
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


# --- scheduled backups ----------------------------------------------------------------------


def backup_name(moment: datetime) -> str:
    return f"minga-{moment.strftime('%Y%m%d-%H%M%S')}{SUFFIX}"


def backups_in(folder: Path, profile_id: str | None = None) -> list[Path]:
    """The backups a scheduled run wrote into ``folder``, oldest first; with ``profile_id``
    only that profile's (a stick shared by colleagues holds theirs too)."""
    found = sorted(p for p in folder.glob(f"minga-*{SUFFIX}") if p.is_file())
    if profile_id is None:
        return found
    return [path for path in found if _profile_of(path) == profile_id]


def _profile_of(path: Path) -> str | None:
    """The profile id in a backup's header (public, like the key file), None if unreadable."""
    try:
        with open(path, "rb") as source:
            return _Header.read(source, path.name).key_file.profile_id
    except (OSError, BackupRefused):
        return None


def backup_into_folder(
    profile: Profile,
    folder: Path,
    keep: int,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> Path:
    """A new backup in ``folder``, then only the newest ``keep`` of ours are kept there."""
    moment = now or datetime.now(UTC)
    destination = folder / backup_name(moment)
    write_backup(profile, destination, progress)
    # Only this profile's: another person's backups on the same stick are never pruned.
    for old in backups_in(folder, profile.key_file.profile_id)[: -max(1, keep)]:
        old.unlink(missing_ok=True)
    return destination


def iter_backups(folder: Path) -> Iterator[Path]:
    yield from reversed(backups_in(folder))
