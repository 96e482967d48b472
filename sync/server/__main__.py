"""The `minga-server` command: init, serve, invite, status, backup, restore, revoke, collect.
Each reads settings from the config file and MINGA_SERVER_* variables; flags override both."""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import ColumnElement, Table, func, insert, select, text

from sync.protocol import Role, check_device_id, check_id, chunk_hash
from sync.server import auth, batches, chunks, schema, spaces
from sync.server.chunk_stores import (
    ChunkLost,
    ChunkStore,
    ChunkStoreError,
    FolderChunkStore,
    open_chunk_store,
)
from sync.server.config import ConfigError, Settings, default_config_text, load_settings
from sync.server.db import Database, current_revision, head_revision, redacted_url, upgrade
from sync.server.logs import EscapingFormatter
from sync.server.private import PRIVATE_UMASK, open_private, private_folder, secure_files

log = logging.getLogger("minga.server")


class CommandError(Exception):
    """A failure the operator can fix; printed without a traceback, exit status 2."""


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        config_file=args.config,
        data_dir=args.data_dir,
        database_url=getattr(args, "database_url", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
    )


def _open(settings: Settings) -> Database:
    db = Database(settings.resolved_database_url)
    try:
        revision = current_revision(db)
    except Exception as exc:
        raise CommandError(f"cannot open {redacted_url(db.url)}: {type(exc).__name__}") from None
    if revision != head_revision():
        db.dispose()
        raise CommandError(
            f"database schema is at {revision or 'nothing'}, expected {head_revision()}: "
            "run `minga-server init` first"
        )
    return db


def cmd_init(args: argparse.Namespace) -> int:
    settings = _settings(args)
    private_folder(settings.data_dir)
    if args.config is None and not settings.config_file.exists():
        with open_private(settings.config_file) as config:
            config.write(default_config_text(settings).encode("utf-8"))
        print(f"wrote {settings.config_file}")
    db = Database(settings.resolved_database_url)
    try:
        upgrade(db)
        secure_files(settings, db)
    finally:
        db.dispose()
    store = _store(settings, create=True)
    print(f"database {redacted_url(settings.resolved_database_url)} at schema {head_revision()}")
    print(f"chunks in {store.describe()}")
    return 0


def _store(settings: Settings, create: bool = False) -> ChunkStore:
    """The configured chunk store, checked to answer (and created by `init`)."""
    store = open_chunk_store(settings)
    try:
        store.ensure(create=create)
    except ChunkStoreError as exc:
        raise CommandError(str(exc)) from None
    return store


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sync.server.app import create_app
    from sync.server.connections import protocol_with

    settings = _settings(args)
    _open(settings).dispose()
    _store(settings)
    app = create_app(settings, housekeeping=True)
    # No Server or Date headers: every byte of an empty poll is paid for on a 2G link.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        server_header=False,
        date_header=False,
        log_config=None,
        # Deadlines and limits hold whether nginx is in front or the server serves TLS itself:
        # uvicorn's h11 parser with our clocks on top (sync/server/connections.py), a cap on
        # connections served at once, kept-alive connections closed when idle, headers bounded.
        http=protocol_with(
            settings.header_timeout,
            settings.body_idle_timeout,
            settings.request_timeout,
            settings.max_connections_per_address,
            settings.trusted_proxies,
        ),
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keep_alive_timeout,
        h11_max_incomplete_event_size=16 * 1024,
        # Forwarded addresses are believed only from settings.trusted_proxies (create_app);
        # uvicorn's own default would believe X-Forwarded-For from any loopback peer.
        proxy_headers=False,
        # TLS terminated here when no reverse proxy does it (a self-signed certificate that
        # clients pin, as sync_certificate_pin expects).
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    )
    return 0


def _grant(value: str) -> auth.Grant:
    space, _, role = value.partition(":")
    try:
        return auth.Grant(check_id(space, "space"), Role(role or "editor"))
    except Exception:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not SPACE:ROLE (admin, editor, reader)"
        ) from None


def cmd_invite(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = _open(settings)
    now = int(time.time())
    try:
        with db.write() as conn:
            grants = list(args.join)
            for grant in grants:
                exists = conn.execute(
                    select(schema.space.c.id).where(schema.space.c.id == grant.space)
                ).first()
                if exists is None:
                    raise CommandError(f"space {grant.space} does not exist")
            if args.new_space:
                space_id = spaces.create_space_for_operator(conn, now, settings.space_quota_bytes)
                grants.append(auth.Grant(space_id, Role.ADMIN))
                print(f"space {space_id} created; the invited device will be its admin")
            code = auth.create_invite(conn, grants, args.ttl or settings.invite_ttl, now)
    finally:
        db.dispose()
    joined = ", ".join(f"{g.space} as {g.role.value}" for g in grants) or "no spaces"
    print(f"invite (one use, joins {joined}):")
    print(code)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = Database(settings.resolved_database_url)
    try:
        revision = current_revision(db)
        print(f"database  {redacted_url(db.url)}")
        print(f"schema    {revision or 'none'} (newest {head_revision()})")
        if revision != head_revision():
            print("status    needs `minga-server init`")
            return 1
        now = int(time.time())
        with db.read() as conn:

            def count(table: Table, *where: ColumnElement[bool]) -> int:
                return int(
                    conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
                )

            chunk_bytes = conn.execute(
                select(func.coalesce(func.sum(schema.chunk.c.size), 0))
            ).scalar_one()
            print(
                f"devices   {count(schema.device, schema.device.c.revoked_at.is_(None))} active, "
                f"{count(schema.device, schema.device.c.revoked_at.is_not(None))} revoked"
            )
            print(f"spaces    {count(schema.space)}")
            print(f"records   {count(schema.record)}")
            print(f"chunks    {count(schema.chunk)} ({chunk_bytes} bytes)")
            open_invites = count(
                schema.invite, schema.invite.c.used_at.is_(None), schema.invite.c.expires_at > now
            )
            live_tokens = count(
                schema.token, schema.token.c.revoked.is_(False), schema.token.c.expires_at > now
            )
            print(f"invites   {open_invites} open")
            print(f"tokens    {live_tokens} live")
        print("status    ok")
        return 0
    except Exception as exc:
        raise CommandError(f"cannot read {redacted_url(db.url)}: {type(exc).__name__}") from None
    finally:
        db.dispose()


def cmd_backup(args: argparse.Namespace) -> int:
    """Write a consistent copy into a folder that is itself a valid SQLite data dir, with the
    chunks its database names copied out of whichever store this server uses."""
    settings = _settings(args)
    dest: Path = args.destination
    if dest.exists() and any(dest.iterdir()):
        raise CommandError(f"{dest} exists and is not empty")
    store = _store(settings)
    dest.mkdir(parents=True, exist_ok=True)
    target = Settings(data_dir=dest)
    db = _open(settings)
    try:
        if db.is_sqlite:
            source = sqlite3.connect(db.engine.url.database or "")
            copy = sqlite3.connect(target.resolved_database_url.removeprefix("sqlite:///"))
            try:
                source.backup(copy)  # SQLite's online backup: a consistent page-level copy
            finally:
                copy.close()
                source.close()
        else:
            _copy_rows(db, target)
    finally:
        db.dispose()
    if args.without_chunks:
        print(f"backup in {dest}: database only (chunks stay in {store.describe()})")
        return 0
    copied, lost = _copy_chunks(Database(target.resolved_database_url), store, _backup_store(dest))
    print(f"backup in {dest}: database and {copied} chunks from {store.describe()}")
    if lost:
        # Collected between the database snapshot and the copy, or lost from the store.
        print(f"warning: {lost} chunks named by the database were not in the store")
    print(f"restore or inspect with: minga-server --data-dir {dest} status")
    return 0


def _backup_store(folder: Path) -> FolderChunkStore:
    store = FolderChunkStore(Settings(data_dir=folder).resolved_chunk_dir)
    store.ensure()
    return store


def _copy_rows(db: Database, target: Settings) -> None:
    copy = Database(target.resolved_database_url)
    try:
        upgrade(copy)
        with db.engine.connect() as source:
            # One REPEATABLE READ snapshot: every table as of the same instant.
            source = source.execution_options(isolation_level="REPEATABLE READ")
            with source.begin(), copy.write() as sink:
                for table in schema.metadata.sorted_tables:
                    batch: list[dict[str, object]] = []
                    for row in source.execute(select(table)).mappings():
                        batch.append(dict(row))
                        if len(batch) >= 1000:
                            sink.execute(insert(table), batch)
                            batch = []
                    if batch:
                        sink.execute(insert(table), batch)
                sink.execute(text("SELECT 1"))
    finally:
        copy.dispose()


def _copy_chunks(db: Database, source: ChunkStore, dest: ChunkStore) -> tuple[int, int]:
    """Copy every chunk `db` has a row for from `source` into `dest`, re-hashing each one.

    Returns (copied, lost). A chunk whose bytes do not hash to its address is refused: a
    backup or restore never carries damaged bytes forward as if they were good.
    """
    copied = lost = 0
    try:
        with db.read() as conn:
            rows = conn.execute(
                select(schema.chunk.c.space_id, schema.chunk.c.hash, schema.chunk.c.size)
            ).all()
    finally:
        db.dispose()
    for row in rows:
        if dest.exists(row.space_id, row.hash):
            copied += 1
            continue
        try:
            data = source.read(row.space_id, row.hash, 0, row.size)
        except ChunkLost:
            lost += 1
            continue
        except ChunkStoreError as exc:
            raise CommandError(str(exc)) from None
        if chunk_hash(data) != row.hash:
            raise CommandError(
                f"chunk {row.hash} of space {row.space_id} in {source.describe()} is damaged: "
                "its bytes do not hash to its address"
            )
        staged = dest.stage(data, row.hash)
        try:
            dest.commit(staged, row.space_id, row.hash)
        finally:
            dest.discard(staged)
        copied += 1
    return copied, lost


def cmd_restore(args: argparse.Namespace) -> int:
    """Load a `backup` folder into this server's database, which must hold no rows yet."""
    settings = _settings(args)
    backup_settings = Settings(data_dir=args.backup)
    backup_file = Path(backup_settings.resolved_database_url.removeprefix("sqlite:///"))
    if not backup_file.is_file():
        raise CommandError(f"{args.backup} is not a backup folder: {backup_file.name} is missing")
    # A backup from an older version is a data folder too: `init` on it brings it to head.
    source = _open(backup_settings)
    target = Database(settings.resolved_database_url)
    try:
        upgrade(target)
        with target.engine.connect() as connection:
            filled = [
                table.name
                for table in schema.metadata.sorted_tables
                if connection.execute(select(func.count()).select_from(table)).scalar_one()
            ]
        if filled:
            # Merging two servers' rows would mix their devices and counters: refuse.
            raise CommandError(
                f"{redacted_url(target.url)} already holds data ({', '.join(filled)}): "
                "restore only into an empty database"
            )
        rows = 0
        with source.engine.connect() as reader, target.write() as sink:
            for table in schema.metadata.sorted_tables:
                batch: list[dict[str, object]] = []
                for row in reader.execute(select(table)).mappings():
                    batch.append(dict(row))
                    if len(batch) >= 1000:
                        sink.execute(insert(table), batch)
                        rows += len(batch)
                        batch = []
                if batch:
                    sink.execute(insert(table), batch)
                    rows += len(batch)
    finally:
        source.dispose()
        target.dispose()
    store = _store(settings, create=True)
    copied, lost = _copy_chunks(
        Database(backup_settings.resolved_database_url),
        FolderChunkStore(backup_settings.resolved_chunk_dir),
        store,
    )
    print(
        f"restored {rows} rows into {redacted_url(target.url)} "
        f"and {copied} chunks into {store.describe()}"
    )
    if lost:
        print(f"warning: {lost} chunks are in neither the backup nor {store.describe()}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = _open(settings)
    try:
        device = check_device_id(args.device)
        if not auth.revoke_device(db, device, int(time.time())):
            raise CommandError(f"device {device} is not enrolled")
    finally:
        db.dispose()
    print(f"device {device} revoked; its tokens no longer work")
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = _open(settings)
    try:
        now = int(time.time())
        removed = chunks.collect_chunks(
            db,
            _store(settings),
            now,
            settings.chunk_grace_seconds,
            sweep_orphans=True,
            released_grace=settings.released_chunk_grace_seconds,
        )
        chunks.purge_expired(db, now)
        answers = batches.prune_batch_answers(db, now, settings.batch_answer_ttl)
    finally:
        db.dispose()
    print(f"removed {removed} unreferenced chunks and {answers} old batch answers")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minga-server", description="The Minga sync server.")
    parser.add_argument("--data-dir", type=Path, help="folder for the database, chunks and config")
    parser.add_argument(
        "--config", type=Path, help="TOML config file (default DATA_DIR/server.toml)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init", help="create the data folder and migrate the database")
    init.add_argument("--database-url", help="SQLAlchemy URL; default a SQLite file in DATA_DIR")
    init.set_defaults(run=cmd_init)

    serve = commands.add_parser("serve", help="serve the API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--database-url")
    serve.add_argument("--ssl-certfile", help="PEM certificate: serve HTTPS instead of HTTP")
    serve.add_argument("--ssl-keyfile", help="PEM private key of --ssl-certfile")
    serve.set_defaults(run=cmd_serve)

    invite = commands.add_parser("invite", help="print a one-time enrollment code for a new device")
    invite.add_argument(
        "--join",
        type=_grant,
        action="append",
        default=[],
        metavar="SPACE:ROLE",
        help="a space the device joins and its role (repeatable)",
    )
    invite.add_argument(
        "--new-space", action="store_true", help="create a new space the device will administer"
    )
    invite.add_argument("--ttl", type=int, help="seconds the code stays valid")
    invite.add_argument("--database-url")
    invite.set_defaults(run=cmd_invite)

    status = commands.add_parser("status", help="schema version and counts")
    status.add_argument("--database-url")
    status.set_defaults(run=cmd_status)

    backup = commands.add_parser("backup", help="copy database and chunks into a new folder")
    backup.add_argument("destination", type=Path)
    backup.add_argument(
        "--without-chunks",
        action="store_true",
        help="database only, when the chunk store is backed up by its own means",
    )
    backup.add_argument("--database-url")
    backup.set_defaults(run=cmd_backup)

    restore = commands.add_parser(
        "restore", help="load a backup folder into this server's empty database"
    )
    restore.add_argument("backup", type=Path)
    restore.add_argument("--database-url")
    restore.set_defaults(run=cmd_restore)

    revoke = commands.add_parser("revoke", help="revoke a device and all its tokens")
    revoke.add_argument("device")
    revoke.add_argument("--database-url")
    revoke.set_defaults(run=cmd_revoke)

    collect = commands.add_parser(
        "collect", help="remove unreferenced chunks, spent tokens and old batch answers"
    )
    collect.add_argument("--database-url")
    collect.set_defaults(run=cmd_collect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Everything this process creates is its owner's only, whatever umask it was started
    # with: the database, SQLite's WAL and journal, chunks, backups, the config file.
    os.umask(PRIVATE_UMASK)
    args = build_parser().parse_args(argv)
    try:
        settings_for_logging = _settings(args)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logging.basicConfig(level=settings_for_logging.log_level.upper(), handlers=[handler])
        status: int = args.run(args)
        return status
    except (CommandError, ConfigError) as exc:
        print(f"minga-server: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
