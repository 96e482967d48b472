"""The server's database: engine setup for SQLite and PostgreSQL, transactions, migrations.
Writers serialize per space on the space row (PostgreSQL) or take the single write lock (SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"


def normalize_url(url: str) -> URL:
    """Accept plain `postgresql://` URLs (as operators write them) and use psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def redacted_url(url: str) -> str:
    return normalize_url(url).render_as_string(hide_password=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself: pysqlite's implicit transactions
        # would start too late to take the write lock before the first read.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an accepted mutation survives a power cut (no edit is ever lost).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes SQLite's single write lock at once, so a writer never has to upgrade a
        # read snapshot (which fails with SQLITE_BUSY instead of waiting).
        if connection.get_execution_options().get("minga_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def make_engine(url: str, pool_size: int = 10) -> Engine:
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size,
            # No pre-ping: it would add a round trip to every request. A connection broken by a
            # database restart fails one request, and SQLAlchemy then discards the whole pool.
            pool_recycle=1800,
            # READ COMMITTED: a writer that waited on the space row lock then sees the last
            # committed counter, which is what makes seq order equal commit order.
            isolation_level="READ COMMITTED",
            connect_args={"connect_timeout": 10},
        )
    raise ValueError(f"unsupported database backend: {parsed.get_backend_name()}")


class Database:
    """One engine plus the two kinds of transaction the server runs: reads and writes."""

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._writer = self.engine.execution_options(minga_write=True)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._writer.begin() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(db: Database) -> None:
    """Bring the schema to the newest migration (what `minga-server init` runs)."""
    with db.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
