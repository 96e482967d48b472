"""A device with a connection as a courier: it hands in the mutations it carries for devices
that have none (``POST /v1/courier/push``) and downloads for such a device what its signed grant
allows (``POST /v1/courier/pull``), to write into a bundle. PROTOCOL.md §12."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, TypeVar

from sync.client.carry import CarryState
from sync.client.transport import ProtocolViolation, Transport
from sync.crypto.batch import VERSION as BATCH_VERSION
from sync.crypto.envelope import read_header
from sync.crypto.keys import DeviceKeys
from sync.protocol import (
    GRANT_CONTEXT,
    LIMITS,
    BatchDelivery,
    Change,
    CourierDownload,
    CourierGrant,
    CourierPull,
    CourierPush,
    Mutation,
    MutationResult,
    MutationStatus,
)

#: How long a grant in a bundle stays usable: a courier may take a week or two to get online.
GRANT_SECONDS = 14 * 86400
#: Pages per download, a bound against a server that always says ``more``.
MAX_PAGES = 10_000
_T = TypeVar("_T")


class Authorized(Protocol):
    """``SyncEngine.authorized``: runs a request with a token, logging in as needed."""

    def __call__(self, call: Callable[[str], _T]) -> _T: ...


def make_grant(
    keys: DeviceKeys,
    *,
    cursors: Mapping[str, int],
    statements: Mapping[str, int],
    epochs: Mapping[str, int],
    courier: str = "",
    now: float | None = None,
) -> tuple[bytes, bytes]:
    """A grant for any courier (or ``courier``) to download what this device may read after
    what it holds, valid ``GRANT_SECONDS``; and its signature."""
    grant = CourierGrant(
        device=keys.device_id,
        expires=int(now if now is not None else time.time()) + GRANT_SECONDS,
        pull=dict(cursors),
        statements=dict(statements),
        epochs=dict(epochs),
        courier=courier,
    ).to_bytes()
    return grant, keys.sign(GRANT_CONTEXT + grant)


def _push(transport: Transport, message: CourierPush, token: str) -> list[MutationResult]:
    return transport.courier_push(message, token)


def _pull(transport: Transport, message: CourierPull, token: str) -> CourierDownload:
    return transport.courier_pull(message, token)


def push_own(
    mutations: Sequence[Mutation], transport: Transport, authorized: Authorized
) -> list[tuple[Mutation, MutationResult]]:
    """This device's own sealed mutations, handed in as the server applies a courier's: as
    their author's push (the device that sealed them, read from the signed header: a device
    restored from a backup hands in its predecessor's), by the same compare-and-swap and
    idempotency by (author, mutation id)."""
    answered: list[tuple[Mutation, MutationResult]] = []
    for start in range(0, len(mutations), LIMITS.max_mutations):
        batch = list(mutations[start : start + LIMITS.max_mutations])
        message = CourierPush(tuple((_author(m), m) for m in batch))
        results = authorized(partial(_push, transport, message))
        answered.extend(zip(batch, results, strict=True))
    return answered


def _author(mutation: Mutation) -> str:
    assert mutation.blob is not None
    return read_header(mutation.blob)[0].author


@dataclass
class RelayReport:
    accepted: int = 0
    conflicts: int = 0
    #: (space, record, code) of each carried mutation the server refused.
    rejected: list[tuple[str, str, str]] = field(default_factory=list)


def relay_carried(state: CarryState, transport: Transport, authorized: Authorized) -> RelayReport:
    """Hand in every carried mutation not yet relayed; each answer is final for a courier
    (a conflict or a refusal goes back to its author as the record's newer state)."""
    report = RelayReport()
    pending = state.carried(pending_only=True)
    for start in range(0, len(pending), LIMITS.max_mutations):
        batch = pending[start : start + LIMITS.max_mutations]
        message = CourierPush(tuple((c.author, c.mutation) for c in batch))
        results = authorized(partial(_push, transport, message))
        for carried, result in zip(batch, results, strict=True):
            if result.status is MutationStatus.ACCEPTED:
                report.accepted += 1
            elif result.status is MutationStatus.CONFLICT:
                report.conflicts += 1
            else:
                report.rejected.append(
                    (
                        carried.mutation.space,
                        carried.mutation.record,
                        str(result.code or "rejected"),
                    )
                )
        state.mark_relayed([c.key for c in batch])
    return report


@dataclass
class Download:
    """What the server gave a courier for ``device``: per space the changes, the cursor the
    download started from and the one it reached; the device's new statements and wraps."""

    device: str
    changes: dict[str, list[Change]] = field(default_factory=dict)
    started: dict[str, int] = field(default_factory=dict)
    reached: dict[str, int] = field(default_factory=dict)
    statements: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)
    wraps: dict[str, list[tuple[int, str, bytes]]] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    #: Sealed batches holding versions the device lacks (a server that delivers them), per
    #: space: a bundle hands them on whole for the device to verify.
    batches: dict[str, list[BatchDelivery]] = field(default_factory=dict)


def download_for(
    grant: bytes,
    signature: bytes,
    transport: Transport,
    authorized: Authorized,
    page_bytes: int | None = None,
) -> Download:
    """Page through everything the grant allows (the server checks it)."""
    parsed = CourierGrant.from_bytes(grant)
    result = Download(parsed.device, started=dict(parsed.pull), reached=dict(parsed.pull))
    after: dict[str, int] = {}
    for _ in range(MAX_PAGES):
        message = CourierPull(
            grant, signature, after, page_bytes, batches=True, batch_version=BATCH_VERSION
        )
        answer = authorized(partial(_pull, transport, message))
        if answer.device != parsed.device:
            raise ProtocolViolation("courier download for another device")
        for space, statements in answer.statements.items():
            result.statements.setdefault(space, []).extend(
                (s.version, s.statement) for s in statements
            )
        for space, wraps in answer.wraps.items():
            result.wraps.setdefault(space, []).extend(wraps)
        more: dict[str, int] = {}
        for space, page in answer.spaces.items():
            if space not in parsed.pull:
                continue
            if page.error is not None:
                result.lost.append(space)
                continue
            result.changes.setdefault(space, []).extend(page.changes)
            result.batches.setdefault(space, []).extend(page.batches)
            result.reached[space] = max(result.reached.get(space, 0), page.cursor)
            if page.more:
                more[space] = page.cursor
        if not more:
            break
        after = {**after, **more}
        # Spaces done stay at their reached cursor: asking again returns nothing new.
        for space in parsed.pull:
            after.setdefault(space, result.reached.get(space, 0))
    return result
