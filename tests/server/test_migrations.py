"""The server's Alembic migrations on SQLite and PostgreSQL: they build what schema.py declares,
and a database made by an older release upgrades in place without losing its spaces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

from sync.server import schema
from sync.server.db import Database, alembic_config, current_revision, head_revision, upgrade
from tests.server import postgres


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'm.sqlite3'}")
        yield db
        db.dispose()
        return
    url = postgres.create_database("minga_migrate")
    db = Database(url)
    try:
        yield db
    finally:
        db.dispose()
        postgres.drop_database(url)


def _migrate(db: Database, target: str, down: bool = False) -> None:
    with db.engine.begin() as conn:
        run = command.downgrade if down else command.upgrade
        run(alembic_config(conn), target)


def test_a_0001_database_upgrades_keeps_its_spaces_and_matches_the_schema(
    empty_db: Database,
) -> None:
    _migrate(empty_db, "0001")
    with empty_db.write() as conn:
        conn.execute(
            text(
                "INSERT INTO space (id, created_at, last_seq, epoch, quota_bytes, chunk_bytes)"
                " VALUES ('old-space', 1, 7, 2, 1000, 0)"
            )
        )
    upgrade(empty_db)
    assert current_revision(empty_db) == head_revision() == "0009"
    with empty_db.read() as conn:
        row = conn.execute(
            select(schema.space.c.last_seq, schema.space.c.epoch, schema.space.c.statement_version)
        ).one()
        assert tuple(row) == (7, 2, 0)  # the old space has no statements yet
        differences = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert differences == []
    # Down and up again: the migration is reversible and repeatable.
    _migrate(empty_db, "0001", down=True)
    upgrade(empty_db)
    assert current_revision(empty_db) == "0009"


def test_0007_gives_the_answers_kept_before_it_the_whole_retention(empty_db: Database) -> None:
    """Answers kept before 0007 have no time: they count from the migration, so a re-send
    soon after the upgrade is still answered from them."""
    import time

    _migrate(empty_db, "0006")
    with empty_db.write() as conn:
        conn.execute(
            text(
                "INSERT INTO space (id, created_at, last_seq, epoch, quota_bytes, chunk_bytes)"
                " VALUES ('s', 1, 7, 1, 1000, 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO batch_push (space_id, batch_id, device_id, digest, answer, "
                "seq_before, seq_after) VALUES ('s', :b, :d, :h, '{}', 0, 7)"
            ),
            {"b": "ab" * 16, "d": "cd" * 16, "h": b"\0" * 32},
        )
    before = int(time.time())
    upgrade(empty_db)
    with empty_db.read() as conn:
        answered = conn.execute(select(schema.batch_push.c.answered_at)).scalar_one()
    assert before <= answered <= int(time.time())


def test_0008_gives_each_stored_batch_the_version_its_header_names(empty_db: Database) -> None:
    """Batches stored before 0008 get their version from their own header (byte 4): a
    version-2 batch a server stored before the column holds back readers of version 1."""
    _migrate(empty_db, "0007")
    with empty_db.write() as conn:
        conn.execute(
            text(
                "INSERT INTO space (id, created_at, last_seq, epoch, quota_bytes, chunk_bytes)"
                " VALUES ('s', 1, 7, 1, 1000, 0)"
            )
        )
        for version in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO batch (space_id, batch_id, author_id, epoch, entries, dropped,"
                    " blob, size) VALUES ('s', :b, :d, 1, 1, 0, :blob, 6)"
                ),
                {"b": f"{version:02x}" * 16, "d": "cd" * 16, "blob": b"MNGP" + bytes([version, 0])},
            )
    upgrade(empty_db)
    with empty_db.read() as conn:
        found = conn.execute(select(schema.batch.c.batch_id, schema.batch.c.version)).all()
    assert sorted(found) == [("01" * 16, 1), ("02" * 16, 2)]
