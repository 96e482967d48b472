"""What courier bundles need from the local store, beside ``SyncState``: sealed blobs of the
records held, other devices' mutations carried for relaying, and what peers said they hold."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sync.client.state import Content, OutboxEntry, Settlement, SyncState
from sync.protocol import Mutation


@dataclass(frozen=True)
class StoredBlob:
    """A record's newest server version as held here, sealed and signed by its author."""

    space: str
    record: str
    revision: int
    seq: int
    author: str
    deleted: bool
    blob: bytes


@dataclass(frozen=True)
class StoredBatch:
    """A sealed batch kept as received, signed by ``author``, with the runs of its entries that
    carry versions held here: (first index, first seq, count), as a server delivers it."""

    space: str
    author: str
    blob: bytes
    live: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class CarriedMutation:
    """A sealed mutation of ``author`` (another device) carried towards the server."""

    author: str
    mutation: Mutation

    @property
    def key(self) -> tuple[str, str]:
        return self.author, self.mutation.id


@runtime_checkable
class CarryState(SyncState, Protocol):
    """The store side of bundles and of relaying carried mutations (each call one transaction)."""

    def record_blobs(self, space: str, after_seq: int) -> Iterator[StoredBlob]:
        """Blobs of ``space`` with seq > ``after_seq``, oldest first (streamed)."""

    def count_record_blobs(self, space: str, after_seq: int) -> int: ...

    def record_batches(self, space: str, after_seq: int) -> Iterator[StoredBatch]:
        """Kept batches carrying a version of ``space`` with seq > ``after_seq`` (streamed)."""

    def count_record_batches(self, space: str, after_seq: int) -> int: ...

    def carry_in_batch(
        self, space: str, author: str, blob: bytes, entries: Sequence[tuple[str, int, int]]
    ) -> None:
        """Point the versions held at (record, revision) at entry ``index`` of ``blob``, a
        batch this device sealed again (a compaction or a snapshot)."""

    def held_revisions(self, space: str, records: Sequence[str]) -> dict[str, int]:
        """The newest server revision of each of ``records`` whose sealed version is kept
        here (a tombstone of a record never held included)."""

    def prune_spoiled(self, spaces: Sequence[str]) -> None:
        """Drop the kept batches of ``spaces`` holding content deleted here since (a deletion
        not yet accepted by the server included): a bundle must not hand it on."""

    def count_uncarriable(self, space: str) -> int:
        """Records of ``space`` whose held server version has neither a sealed blob of its own
        here nor a kept batch carrying it (pulled before batches were kept, a batch dropped as
        spoiled, an older server's courier download): a bundle cannot hand them on."""

    def first_uncarried_seq(self, space: str) -> int | None:
        """The lowest seq of a held version of ``space`` whose batch was dropped as spoiled
        (``None``: none): a bundle vouches for completeness only below it."""

    def blob_floor(self, space: str) -> int:
        """The seq at or below which records may lack a stored blob (0: none lacking)."""

    def carried(self, *, pending_only: bool = True) -> list[CarriedMutation]: ...

    def known_carried(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of (author, mutation id) were carried here before (relayed or not)."""

    def add_carried(self, mutations: Sequence[CarriedMutation]) -> None: ...

    def mark_relayed(self, keys: Sequence[tuple[str, str]]) -> None: ...

    def take_returned(
        self, entry: OutboxEntry, mutation: Mutation, base: Content | None, revision: int
    ) -> None:
        """This device's own unsent change, back in a bundle: the record takes it as its
        version, and the mutation is kept for the server's answer (PROTOCOL.md §12.3)."""

    def returned(self) -> list[Mutation]:
        """Own changes taken from bundles that the server has not answered yet."""

    def confirm_returned(self, confirmed: Sequence[tuple[Mutation, int, int]]) -> None:
        """The server took these (mutation, revision, seq)."""

    def reopen_returned(self, mutation_ids: Sequence[str]) -> None:
        """The server did not take these: their records go back to the revision and base the
        change started from, dirty, to be merged and sent again."""

    def apply_carried(self, settlement: Settlement) -> None:
        """Merge a carried edit into the local record as a local change: the record keeps its
        revision and base and is saved dirty, so it is sealed and sent like a person's edit."""

    def peer_cursors(self, device: str) -> dict[str, int]: ...

    def save_peer_cursors(self, device: str, cursors: Mapping[str, int]) -> None: ...

    def bundle_seen(self, bundle_id: str) -> bool: ...

    def mark_bundle_seen(self, bundle_id: str) -> None: ...

    def courier_grant(self, device: str) -> tuple[bytes, bytes] | None:
        """The grant and signature ``device`` last sent in a bundle, if any."""

    def save_courier_grant(self, device: str, grant: bytes, signature: bytes) -> None: ...
