"""Where chunk bytes live: a local folder or an S3-compatible bucket, behind one interface.
The database row is the source of truth; a store only holds bytes whose hash was verified."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sync.protocol import ProtocolError, check_chunk_hash, check_id
from sync.server.private import open_private, private_folder

if TYPE_CHECKING:
    from sync.server.config import Settings

# Staged files older than this are leftovers of a process that died mid-upload.
_STALE_STAGING_SECONDS = 3600


def _chunk_name(space_id: str, digest: str) -> bool:
    """True when a listed name is one of ours: a valid space id and a SHA-256 in hex. Anything
    else (another application's object in a shared bucket, a stray file) is never touched."""
    try:
        check_id(space_id, "space")
        check_chunk_hash(digest)
    except ProtocolError:
        return False
    return True


class ChunkStoreError(Exception):
    """The store cannot be reached or refused an operation; the message names the store."""


class ChunkLost(ChunkStoreError):
    """A chunk the database says is stored is not in the store (restored without its files?)."""


@dataclass(frozen=True)
class StoredChunk:
    """One chunk as the store lists it: for backups, and for sweeping orphans after a crash."""

    space_id: str
    digest: str
    modified: float


class Staged:
    """Verified bytes on their way into a store (a temporary file, or memory for S3)."""

    def __init__(self, data: bytes, path: Path | None = None) -> None:
        self.data = data
        self.path = path


class ChunkStore(Protocol):
    """What the chunk service needs from a store. Every method may raise ChunkStoreError.

    `stage` runs outside the database transaction (slow work: fsync, nothing shared yet);
    `commit` runs inside it, under the space lock, so a chunk's bytes are in place before its
    row commits and collection cannot remove them in between.
    """

    def describe(self) -> str: ...

    def ensure(self, create: bool = False) -> None: ...

    def stage(self, data: bytes, digest: str) -> Staged: ...

    def commit(self, staged: Staged, space_id: str, digest: str) -> None: ...

    def discard(self, staged: Staged) -> None: ...

    def read(self, space_id: str, digest: str, start: int, length: int) -> bytes: ...

    def exists(self, space_id: str, digest: str) -> bool: ...

    def remove(self, space_id: str, digest: str) -> None: ...

    def listing(self) -> Iterator[StoredChunk]: ...

    def sweep_staging(self, now: float) -> int: ...


class FolderChunkStore:
    """Files at <root>/<space>/<hash[:2]>/<hash>, written to <root>/.tmp, fsynced, renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / ".tmp"

    def describe(self) -> str:
        return f"folder {self.root}"

    def ensure(self, create: bool = False) -> None:
        try:
            # The owner's only, whatever the umask (issue 12): folders 0700, chunks 0600.
            private_folder(self.root)
            private_folder(self.tmp)
        except OSError as exc:
            raise ChunkStoreError(f"cannot create {self.tmp}: {exc.strerror}") from None

    def path_for(self, space_id: str, digest: str) -> Path:
        return self.root / space_id / digest[:2] / digest

    def stage(self, data: bytes, digest: str) -> Staged:
        self.ensure()
        staged = self.tmp / secrets.token_hex(16)
        with open_private(staged) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return Staged(data, staged)

    def commit(self, staged: Staged, space_id: str, digest: str) -> None:
        assert staged.path is not None
        target = self.path_for(space_id, digest)
        private_folder(target.parent.parent)
        private_folder(target.parent)
        # Same name, same content: replacing a file left by a racing PUT changes nothing.
        os.replace(staged.path, target)

    def discard(self, staged: Staged) -> None:
        if staged.path is not None:
            staged.path.unlink(missing_ok=True)

    def read(self, space_id: str, digest: str, start: int, length: int) -> bytes:
        try:
            with open(self.path_for(space_id, digest), "rb") as handle:
                handle.seek(start)
                return handle.read(length)
        except FileNotFoundError:
            raise ChunkLost(f"chunk {digest} of space {space_id} is not in {self.root}") from None

    def exists(self, space_id: str, digest: str) -> bool:
        return self.path_for(space_id, digest).is_file()

    def remove(self, space_id: str, digest: str) -> None:
        self.path_for(space_id, digest).unlink(missing_ok=True)

    def listing(self) -> Iterator[StoredChunk]:
        if not self.root.is_dir():
            return
        for space_dir in sorted(self.root.iterdir()):
            if space_dir.name == ".tmp" or not space_dir.is_dir():
                continue
            for path in sorted(space_dir.glob("??/*")):
                if path.is_file() and _chunk_name(space_dir.name, path.name):
                    yield StoredChunk(space_dir.name, path.name, path.stat().st_mtime)

    def sweep_staging(self, now: float) -> int:
        removed = 0
        if not self.tmp.is_dir():
            return 0
        for path in self.tmp.iterdir():
            try:
                if path.stat().st_mtime < now - _STALE_STAGING_SECONDS:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


class S3ChunkStore:
    """Objects at <prefix><space>/<hash> in one bucket of any S3-compatible store.

    Nothing is staged outside the request: a chunk is at most `max_chunk_bytes` (1 MiB), so
    its verified bytes go up in one PutObject, which an S3 store applies whole or not at all.
    The PUT carries the SHA-256 we computed, so the store also refuses bytes damaged on the way.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str = "",
        region: str = "",
        access_key_id: str = "",
        secret_access_key: str = "",
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        config = Config(
            # Path-style addressing works on every S3-compatible server (SeaweedFS, MinIO,
            # Garage, Ceph) reached by address; AWS itself still accepts it.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"max_attempts": 4, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            # One client is shared by every worker thread of a process.
            max_pool_connections=64,
        )
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            # Empty: boto3's own chain (AWS_* variables, ~/.aws, an instance role).
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=config,
        )
        from botocore.exceptions import BotoCoreError, ClientError

        self._errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError)

    def describe(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3 bucket {self.bucket}{where}" + (f" prefix {self.prefix}" if self.prefix else "")

    def key_for(self, space_id: str, digest: str) -> str:
        return f"{self.prefix}{space_id}/{digest}"

    def _fail(self, action: str, exc: Exception) -> ChunkStoreError:
        # The message names the operation and the store's error code, never credentials.
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        return ChunkStoreError(f"{self.describe()}: {action} failed ({code})")

    def _missing(self, exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return str(code) in {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}

    def ensure(self, create: bool = False) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            if create:
                self._probe()
            return
        except self._errors as exc:
            if not (create and self._missing(exc)):
                raise self._fail("reaching the bucket", exc) from None
        try:
            self.client.create_bucket(Bucket=self.bucket)
        except self._errors as exc:
            raise self._fail("creating the bucket", exc) from None
        self._probe()

    def _probe(self) -> None:
        """Write and delete one object the way chunks are written (with a SHA-256 checksum), so
        `init` fails now, by name, on a store or a key that cannot take them."""
        probe = b"minga"
        digest = hashlib.sha256(probe).hexdigest()
        try:
            self.commit(Staged(probe), ".probe", digest)
            self.remove(".probe", digest)
        except ChunkStoreError as exc:
            raise ChunkStoreError(f"{exc}; the store must accept SHA-256 checksums") from None

    def stage(self, data: bytes, digest: str) -> Staged:
        return Staged(data)

    def commit(self, staged: Staged, space_id: str, digest: str) -> None:
        try:
            checksum = base64.b64encode(binascii.unhexlify(digest)).decode("ascii")
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key_for(space_id, digest),
                Body=staged.data,
                ChecksumSHA256=checksum,
                ContentType="application/octet-stream",
            )
        except self._errors as exc:
            raise self._fail("storing a chunk", exc) from None

    def discard(self, staged: Staged) -> None:
        staged.data = b""

    def read(self, space_id: str, digest: str, start: int, length: int) -> bytes:
        try:
            answer = self.client.get_object(
                Bucket=self.bucket,
                Key=self.key_for(space_id, digest),
                Range=f"bytes={start}-{start + length - 1}",
            )
            data: bytes = answer["Body"].read()
            return data
        except self._errors as exc:
            if self._missing(exc):
                lost = f"chunk {digest} of space {space_id} is not in the bucket"
                raise ChunkLost(lost) from None
            raise self._fail("reading a chunk", exc) from None

    def exists(self, space_id: str, digest: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key_for(space_id, digest))
            return True
        except self._errors as exc:
            if self._missing(exc):
                return False
            raise self._fail("looking up a chunk", exc) from None

    def remove(self, space_id: str, digest: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key_for(space_id, digest))
        except self._errors as exc:
            if not self._missing(exc):
                raise self._fail("removing a chunk", exc) from None

    def listing(self) -> Iterator[StoredChunk]:
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    space_id, _, digest = str(item["Key"])[len(self.prefix) :].partition("/")
                    if _chunk_name(space_id, digest):
                        yield StoredChunk(space_id, digest, item["LastModified"].timestamp())
        except self._errors as exc:
            raise self._fail("listing chunks", exc) from None

    def sweep_staging(self, now: float) -> int:
        return 0  # nothing is ever staged in the bucket


def open_chunk_store(settings: Settings) -> ChunkStore:
    """The store `server.toml` chooses: `chunk_store = "folder"` (default) or `"s3"`."""
    if settings.chunk_store == "s3":
        return S3ChunkStore(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    return FolderChunkStore(settings.resolved_chunk_dir)
