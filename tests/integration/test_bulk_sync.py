"""Bulk sync through a real server: a push answer and a pulled page each one transaction, the
next page downloading while one is stored, and a failure while storing losing nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, text

from desktop.domain.records import Organization
from sync import protocol
from sync.client import batches
from sync.client.batches import MIN_BATCH
from sync.client.state import Settlement
from sync.client.transport import Transport
from sync.protocol import SyncRequest, SyncResponse
from tests.domain.conftest import TODAY
from tests.integration.conftest import Device, Server, network_of


class Disk(Exception):
    """A write the database refused (full disk, I/O error)."""


def _commits(device: Device) -> list[int]:
    counts = [0]

    def on_commit(_connection: Any) -> None:
        counts[0] += 1

    event.listen(device.profile.engine, "commit", on_commit)
    return counts


def _count(device: Device, space: str) -> int:
    with device.profile.engine.connect() as connection:
        query = text("SELECT count(*) FROM records WHERE space_id = :s AND deleted = 0")
        return int(connection.execute(query, {"s": space}).scalar_one())


def _cursor(device: Device, space: str) -> int:
    with device.profile.engine.connect() as connection:
        query = text("SELECT cursor FROM sync_cursors WHERE space_id = :s")
        return int(connection.execute(query, {"s": space}).scalar() or 0)


def _write(device: Device, space: str, count: int) -> None:
    device.records.save_all(
        [Organization(space_id=space, name=f"Organization {n}") for n in range(count)],
        today=TODAY,
    )


def _write_singly(device: Device, space: str, count: int) -> None:
    """``count`` records pushed as single mutations (fewer than a batch at a time), so they
    come down in pages of the reader's size rather than as one batch."""
    for start in range(0, count, MIN_BATCH - 1):
        _write(device, space, min(MIN_BATCH - 1, count - start))
        device.sync()


@pytest.mark.parametrize("count", [MIN_BATCH - 1, 150], ids=["mutations", "a batch"])
def test_a_push_answer_is_one_transaction_not_one_per_record(
    server: Server, make_device: Any, count: int
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    _write(admin, space, count)
    commits = _commits(admin)
    report = admin.sync()
    assert report.pushed >= count
    # Sealed entries stored, the answer, the echoed page: a handful, whatever the count.
    assert commits[0] <= 10, commits
    member.sync()
    assert _count(member, space) == _count(admin, space)


def test_the_next_page_downloads_while_one_is_stored(
    server: Server, make_device: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    space, (admin, _member) = network_of(server, make_device, 2)
    _write_singly(admin, space, 120)
    reader = make_device("reader", 4096)  # small pages: several of them
    reader.engine.enroll(admin.engine.invite(space))
    admin.engine.admit(space, admin.engine.pending_members(space))
    transport = reader.engine.transport
    real_sync, real_apply = Transport.sync, reader.state.apply_page
    started: list[str] = []  # what happened, in order: "request" (sent) or "stored" (a page)

    def sync(
        self: Transport,
        request: SyncRequest,
        token: str,
        on_more: Callable[[dict[str, int]], None] | None = None,
    ) -> SyncResponse:
        if self.traffic is transport.traffic:  # the reader's, on any of its connections
            started.append("request")
        return real_sync(self, request, token, on_more)

    def apply_page(space_id: str, cursor: int, settlements: list[Settlement]) -> None:
        # The worker thread may not have run yet on a busy machine: give it a moment (the
        # last page waits it out, having nothing after it).
        deadline = time.monotonic() + 3
        while started.count("request") <= started.count("stored") + 1:
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        real_apply(space_id, cursor, settlements)
        started.append("stored")

    monkeypatch.setattr(Transport, "sync", sync)
    reader.state.apply_page = apply_page  # type: ignore[method-assign]
    reader.sync()
    assert _count(reader, space) == _count(admin, space)
    pages = started.count("stored")
    assert pages >= 3
    # When the n-th page was stored, the request for the page after it was already out: at
    # least n + 1 requests (without fetching ahead: n; asked ahead from the headers, the one
    # after may be out too). The last page had nothing after it.
    ahead = [started[:i].count("request") - started[:i].count("stored") for i, what in
             enumerate(started) if what == "stored"]  # fmt: skip
    assert all(n >= 2 for n in ahead[:-1]) and ahead[-1] == 1, started
    assert started.count("request") == pages  # no page asked for twice or for nothing


def test_the_next_page_is_asked_for_before_this_one_has_come_down(
    server: Server, make_device: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer's header names the next cursors (PROTOCOL.md §7, pages ahead): the next page
    is asked for, on another connection, while this page's body is still on its way."""
    space, (admin, _member) = network_of(server, make_device, 2)
    _write_singly(admin, space, 120)
    reader = make_device("reader", 4096)
    reader.engine.enroll(admin.engine.invite(space))
    admin.engine.admit(space, admin.engine.pending_members(space))
    reader.sync()  # login, discovery and the pages so far
    _write_singly(admin, space, 120)
    main = reader.engine.transport
    asked_ahead = threading.Event()
    before_body: list[bool] = []  # per page read on the engine's own connection
    real_send, real_exchange = Transport._send_once, Transport._exchange

    def send_once(self: Transport, method: str, path: str, *args: Any) -> Any:
        if path == "/v1/sync" and self is not main and self.traffic is main.traffic:
            asked_ahead.set()  # a page asked for on another of the reader's connections
        return real_send(self, method, path, *args)

    def exchange(self: Transport, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        told = kwargs.get("on_headers")
        if self is not main or path != "/v1/sync" or told is None:
            return real_exchange(self, method, path, *args, **kwargs)

        def on_headers(headers: Any) -> None:
            told(headers)
            if headers.get("minga-more"):
                # This page's body is not read until the next page was asked for (or, if it
                # never is, until the wait ends: the assertion below then fails).
                before_body.append(asked_ahead.wait(20))

        return real_exchange(self, method, path, *args, **{**kwargs, "on_headers": on_headers})

    monkeypatch.setattr(Transport, "_send_once", send_once)
    monkeypatch.setattr(Transport, "_exchange", exchange)
    report = reader.sync()
    assert _count(reader, space) == _count(admin, space)
    assert report.pulled >= 120
    assert before_body == [True]


def test_a_failure_while_storing_a_page_keeps_the_cursor_and_loses_nothing(
    server: Server, make_device: Any
) -> None:
    space, (admin, _member) = network_of(server, make_device, 2)
    _write_singly(admin, space, 120)
    reader = make_device("reader", 4096)
    reader.engine.enroll(admin.engine.invite(space))
    admin.engine.admit(space, admin.engine.pending_members(space))
    pages = [0]

    def refuse(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        # The third page's records are written, then storing their bases fails.
        if sql.lstrip().startswith("INSERT INTO sync_cursors"):
            pages[0] += 1
        if pages[0] == 2 and sql.lstrip().startswith("INSERT INTO record_bases"):
            raise Disk(sql)

    event.listen(reader.profile.engine, "before_cursor_execute", refuse)
    threads = threading.active_count()
    with pytest.raises(Disk):
        reader.engine.sync_once(discover=True)
    event.remove(reader.profile.engine, "before_cursor_execute", refuse)
    assert threading.active_count() == threads  # the page fetched ahead was waited for
    kept, cursor = _count(reader, space), _cursor(reader, space)
    assert 0 < kept < _count(admin, space)
    reader.engine.sync_once()
    assert _count(reader, space) == _count(admin, space)
    assert _cursor(reader, space) > cursor
    assert reader.snapshot() == admin.snapshot()


def test_the_next_batch_is_sealed_and_an_answer_stored_while_a_batch_goes_up(
    server: Server, make_device: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches, so a few hundred records make several (a first sync's are 4096).
    monkeypatch.setattr(batches, "MAX_ENTRIES", MIN_BATCH)
    space, (admin, member) = network_of(server, make_device, 2)
    _write(admin, space, 3 * MIN_BATCH)
    count = len(batches.split(admin.state.pending_changes([space], 10 * MIN_BATCH)))
    assert count >= 3
    progress = threading.Condition()
    sealed: list[int] = []  # entries of each batch sealed, in order
    pushed: list[int] = []  # push requests started, in order
    # Per request and per stored answer: whether what should overlap it happened meanwhile.
    sealed_meanwhile: list[bool] = []
    pushed_meanwhile: list[bool] = []
    real_seal = batches.seal_batch

    def seal_batch(entries: list[Any], **kwargs: Any) -> bytes:
        blob = real_seal(entries, **kwargs)
        with progress:
            sealed.append(len(entries))
            progress.notify_all()
        return blob

    monkeypatch.setattr(batches, "seal_batch", seal_batch)
    transport, state = admin.engine.transport, admin.state
    real_push, real_store = transport.push_batch, state.apply_accepted_all

    def push_batch(space_id: str, batch: bytes, cursor: int | None, token: str) -> Any:
        with progress:
            pushed.append(len(pushed))
            progress.notify_all()
            # While this batch is on its way, the next one is sealed (not after its answer).
            n = len(pushed)
            if n < count:
                sealed_meanwhile.append(progress.wait_for(lambda: len(sealed) > n, timeout=10))
        return real_push(space_id, batch, cursor, token)

    def apply_accepted_all(accepted: list[Any]) -> None:
        with progress:
            # An answer is stored while the next batch goes up (not before it is sent).
            n = len(pushed)
            if n < count:
                pushed_meanwhile.append(progress.wait_for(lambda: len(pushed) > n, timeout=10))
        real_store(accepted)

    monkeypatch.setattr(transport, "push_batch", push_batch)
    monkeypatch.setattr(state, "apply_accepted_all", apply_accepted_all)
    threads = threading.active_count()
    report = admin.sync()
    assert len(sealed) == len(pushed) == count
    assert sealed_meanwhile == [True] * (count - 1), sealed_meanwhile
    assert pushed_meanwhile == [True] * (count - 1), pushed_meanwhile
    assert threading.active_count() == threads  # the workers were waited for
    assert report.pushed >= 3 * MIN_BATCH
    assert state.sent_batches() == []  # every answer stored, no batch kept
    assert not state.pending_changes([space], 1)
    member.sync()
    assert _count(member, space) == _count(admin, space)
    assert member.snapshot() == admin.snapshot()


def test_a_header_naming_other_cursors_than_its_body_skips_nothing(
    server: Server, make_device: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header is a hint: a page asked for from cursors the body does not confirm (a proxy
    or server that says one thing in the header, another in the body) is never used; the pull
    goes on from the body's cursors and no record is skipped."""
    space, (admin, _member) = network_of(server, make_device, 2)
    _write_singly(admin, space, 120)
    reader = make_device("reader", 4096)
    reader.engine.enroll(admin.engine.invite(space))
    admin.engine.admit(space, admin.engine.pending_members(space))
    real_parse = protocol.parse_more_header
    lied: list[dict[str, int]] = []

    def parse(value: str | None) -> dict[str, int] | None:
        cursors = real_parse(value)
        if cursors:
            # Past a few records the body's cursor does not: they would be skipped if used.
            cursors = {s: cursor + 3 for s, cursor in cursors.items()}
            lied.append(cursors)
        return cursors

    monkeypatch.setattr(protocol, "parse_more_header", parse)
    reader.sync()
    assert lied  # the lie was told
    assert _count(reader, space) == _count(admin, space)
    assert reader.snapshot() == admin.snapshot()
