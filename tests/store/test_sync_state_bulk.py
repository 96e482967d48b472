"""A page (and a push answer) stored in bulk: one transaction, a bounded number of statements,
every record settled as alone, and nothing kept when any part of it fails."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from desktop.domain.records import Organization, edit, new_id, to_dict
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState, sealed_content
from sync.client.engine import settle
from sync.client.state import Accepted, OutboxEntry, RemoteRecord, Settlement
from tests.domain.conftest import TODAY
from tests.helpers.profiles import new_profile


class Disk(Exception):
    """A write the database refused halfway through a page (full disk, I/O error)."""


def _remote(record: Organization, revision: int, *, deleted: bool = False) -> RemoteRecord:
    content = None if deleted else sealed_content(json.dumps(to_dict(record)))
    blob = b"sealed-" + record.id.encode() + bytes([revision])
    return RemoteRecord(record.space_id, record.id, revision, "a-peer", content, blob, revision)


@contextmanager
def counted(engine: Engine) -> Iterator[dict[str, int]]:
    """Commits and statements (an executemany counts once) on ``engine`` meanwhile."""
    counts = {"commits": 0, "statements": 0}

    def on_commit(_connection: Any) -> None:
        counts["commits"] += 1

    def on_statement(*_args: Any) -> None:
        counts["statements"] += 1

    event.listen(engine, "commit", on_commit)
    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        yield counts
    finally:
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "before_cursor_execute", on_statement)


@contextmanager
def failing(engine: Engine, statement: str) -> Iterator[None]:
    """The database refuses the first statement that starts with ``statement``."""

    def refuse(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if sql.lstrip().startswith(statement):
            raise Disk(sql)

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


def _held(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        return {
            "records": connection.execute(
                text("SELECT id, revision, dirty, deleted FROM records ORDER BY id")
            ).all(),
            "contents": connection.execute(
                text("SELECT id, content FROM record_contents ORDER BY id")
            ).all(),
            "bases": connection.execute(text("SELECT * FROM record_bases ORDER BY id")).all(),
            "blobs": connection.execute(
                text("SELECT record_id, revision FROM sync_record_blobs ORDER BY record_id")
            ).all(),
            "conflicts": connection.execute(
                text("SELECT record_id, kind, field FROM sync_conflicts ORDER BY id")
            ).all(),
            "cursors": connection.execute(text("SELECT * FROM sync_cursors")).all(),
            "outbox": connection.execute(
                text("SELECT record_id FROM sync_outbox ORDER BY record_id")
            ).all(),
        }


class Network:
    """One profile holding four organizations at revision 1, as a first page left them."""

    def __init__(self, folder: Path) -> None:
        self.profile, _ = new_profile(folder)
        self.state = ProfileSyncState(self.profile.engine)
        self.store = RecordStore(self.profile.engine)
        self.space = new_id()
        make = partial_org(self.space)
        self.taken, self.merged, self.clashing, self.deleted = (
            make("Taken"),
            make("Merged"),
            make("Clashing"),
            make("Deleted"),
        )
        self.arriving = make("Arriving")
        first = [self.taken, self.merged, self.clashing, self.deleted]
        self.state.apply_page(
            self.space, 1, [Settlement(_remote(r, 1), _remote(r, 1).content, False) for r in first]
        )
        # Edits here, not pushed yet: one to another field than the peer's, one to the same.
        self.save(self.merged, acronym="MRG")
        self.save(self.clashing, description="ours")

    def save(self, record: Organization, **changes: Any) -> None:
        self.store.save(edit(self.store.require(record.id), **changes), today=TODAY)

    def page(self) -> list[Settlement]:
        """Revision 2 of every one (a deletion for ``deleted``), settled as the engine does."""
        theirs = {
            self.taken.id: (replace(self.taken, description="theirs"), False),
            self.merged.id: (replace(self.merged, description="theirs"), False),
            self.clashing.id: (replace(self.clashing, description="theirs"), False),
            self.deleted.id: (self.deleted, True),
            self.arriving.id: (self.arriving, False),
        }
        held = self.state.local_records(self.space, list(theirs))
        settled = []
        for record_id, (record, deleted) in theirs.items():
            local = held.get(record_id)
            remote = _remote(record, 1 if record_id == self.arriving.id else 2, deleted=deleted)
            rules = local.rules if local is not None else self.state.rules_for(remote.content or {})
            settled.append(settle(local, remote, rules))
        return settled

    def close(self) -> None:
        self.profile.close()


def partial_org(space: str) -> Callable[[str], Organization]:
    def make(name: str) -> Organization:
        return Organization(space_id=space, name=name, description="first")

    return make


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Network]:
    held = Network(tmp_path / "p")
    try:
        yield held
    finally:
        held.close()


def test_a_mixed_page_is_one_transaction_and_each_record_settles_as_alone(
    network: Network,
) -> None:
    engine = network.profile.engine
    page = network.page()
    with counted(engine) as counts:
        network.state.apply_page(network.space, 9, page)
    assert counts["commits"] == 1

    taken = network.store.require(network.taken.id)
    assert (taken.description, taken.revision, taken.dirty) == ("theirs", 2, False)
    merged = network.store.require(network.merged.id)
    assert isinstance(merged, Organization)
    assert (merged.description, merged.acronym) == ("theirs", "MRG")
    assert (merged.revision, merged.dirty) == (2, True)  # ours goes out on top of theirs
    clashing = network.store.require(network.clashing.id)
    assert isinstance(clashing, Organization)
    # An open conflict leaves theirs in the record and ours in the conflict, for a person.
    assert (clashing.description, clashing.revision) == ("theirs", 2)
    [conflict] = network.state.conflicts()
    assert (conflict.record, conflict.mine, conflict.theirs) == (
        network.clashing.id,
        "ours",
        "theirs",
    )
    arriving = network.store.require(network.arriving.id)
    assert (arriving.revision, arriving.dirty) == (1, False)
    assert network.store.get(network.deleted.id) is None

    held = _held(engine)
    assert [tuple(c) for c in held["conflicts"]] == [(network.clashing.id, "field", "description")]
    bases = {row.id: (row.revision, json.loads(row.content)) for row in held["bases"]}
    # Each base is the server's version at its revision; a deletion keeps what it took, at
    # its older revision (so no merge takes it for a base).
    assert bases[network.taken.id][0] == bases[network.merged.id][0] == 2
    assert bases[network.merged.id][1]["acronym"] == ""
    assert bases[network.arriving.id][0] == 1
    assert bases[network.deleted.id] == (1, _remote(network.deleted, 1).content)
    assert {row.record_id: row.revision for row in held["blobs"]} == {
        network.taken.id: 2,
        network.merged.id: 2,
        network.clashing.id: 2,
        network.deleted.id: 2,
        network.arriving.id: 1,
    }
    assert [tuple(c) for c in held["cursors"]] == [(network.space, 9)]


def test_a_page_costs_a_bounded_number_of_statements(tmp_path: Path) -> None:
    profile, _ = new_profile(tmp_path / "p")
    try:
        state = ProfileSyncState(profile.engine)
        space = new_id()
        costs = []
        for size in (20, 200):
            records = [Organization(space_id=space, name=f"Org {n}") for n in range(size)]
            held = state.local_records(space, [r.id for r in records])
            page = [settle(held.get(r.id), _remote(r, 1), state.rules_for({})) for r in records]
            with counted(profile.engine) as counts:
                state.apply_page(space, size, page)
            costs.append(counts["statements"])
        # Ten times the records, the same statements (one executemany each), not ten per record.
        assert costs[1] == costs[0] < 40, costs
    finally:
        profile.close()


@contextmanager
def executed(engine: Engine) -> Iterator[list[tuple[str, int, int]]]:
    """Each statement run on ``engine`` meanwhile: its first words, the rows it ran for (an
    executemany's parameter sets) and how many values each row bound."""
    runs: list[tuple[str, int, int]] = []

    def on_statement(_c: Any, _k: Any, sql: str, parameters: Any, _x: Any, many: bool) -> None:
        rows = list(parameters) if many else [parameters]
        width = max((len(row) for row in rows if row), default=0)
        runs.append((" ".join(sql.split()[:4]), len(rows), width))

    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        yield runs
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)


def test_a_page_binds_a_rows_values_at_most_and_deletes_once(tmp_path: Path) -> None:
    """SQLCipher's memory security makes every heap allocation two system calls (bulk.py): a
    cached statement keeps its bound values in SQLite's lookaside, so one binding hundreds
    of ids left every later row's cursors and values to the heap, and a delete run once per
    record opens its cursors once per record."""
    profile, _ = new_profile(tmp_path / "p")
    try:
        state = ProfileSyncState(profile.engine)
        space = new_id()
        records = [Organization(space_id=space, name=f"Org {n}") for n in range(200)]
        with executed(profile.engine) as runs:
            held = state.local_records(space, [r.id for r in records])
            page = [settle(held.get(r.id), _remote(r, 1), state.rules_for({})) for r in records]
            state.apply_page(space, 200, page)
        assert max(width for _sql, _rows, width in runs) <= 16, runs  # a records row: 15
        per_record = sorted({sql for sql, rows, _width in runs if rows >= len(records)})
        # Only rows are written one by one (an executemany); reads and deletes run once.
        assert all(sql.startswith("INSERT INTO") for sql in per_record), per_record
        assert len(state.local_records(space, [r.id for r in records])) == len(records)
    finally:
        profile.close()


def test_a_failure_in_the_middle_of_a_page_keeps_nothing_of_it(network: Network) -> None:
    engine = network.profile.engine
    entry = OutboxEntry("m-1", network.space, network.taken.id, 1, b"sealed", None)
    network.state.add_outbox([entry])
    before = _held(engine)
    page = network.page()
    # The records are written, then storing their bases fails.
    with failing(engine, "INSERT INTO record_bases"), pytest.raises(Disk):
        network.state.apply_page(network.space, 9, page)
    assert _held(engine) == before  # no record, base, blob, conflict, cursor; the outbox kept

    network.state.apply_page(network.space, 9, network.page())
    after = _held(engine)
    assert [tuple(c) for c in after["cursors"]] == [(network.space, 9)]
    assert after["outbox"] == []


def test_an_answer_is_one_transaction_and_a_failure_keeps_every_entry(
    tmp_path: Path,
) -> None:
    profile, _ = new_profile(tmp_path / "p")
    try:
        state = ProfileSyncState(profile.engine)
        store = RecordStore(profile.engine)
        space = new_id()
        records = [Organization(space_id=space, name=f"Org {n}") for n in range(30)]
        store.save_all(records, today=TODAY)
        entries = [
            OutboxEntry(
                f"m-{n}",
                space,
                r.id,
                0,
                b"sealed",
                sealed_content(json.dumps(to_dict(r))),
            )
            for n, r in enumerate(records)
        ]
        state.add_outbox(entries)
        answer = [Accepted(entry, 1, n + 1) for n, entry in enumerate(entries)]
        before = _held(profile.engine)
        with failing(profile.engine, "UPDATE record_contents"), pytest.raises(Disk):
            state.apply_accepted_all(answer)
        assert _held(profile.engine) == before  # every entry still there, to be re-sent

        with counted(profile.engine) as counts:
            state.apply_accepted_all(answer)
        assert counts["commits"] == 1
        assert state.outbox() == []
        for record in records:
            held = store.require(record.id)
            assert (held.revision, held.dirty) == (1, False)
        assert len(_held(profile.engine)["blobs"]) == 0  # no device keys: no own blobs kept
    finally:
        profile.close()


def test_edits_saved_while_a_page_merges_survive_in_bulk(network: Network) -> None:
    page = network.page()  # read and settled against what was held then...
    # ...a person edits one of them meanwhile (the peer changed another field of it).
    network.save(network.taken, acronym="TKN")
    network.state.apply_page(network.space, 9, page)

    taken = network.store.require(network.taken.id)
    assert isinstance(taken, Organization)
    assert (taken.acronym, taken.description) == ("TKN", "theirs")  # both kept
    assert taken.revision == 2 and taken.dirty
    merged = network.store.require(network.merged.id)
    assert isinstance(merged, Organization) and merged.acronym == "MRG"
