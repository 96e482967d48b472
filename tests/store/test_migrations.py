"""Alembic migrations and the SQLAlchemy models describe the same database."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from desktop.store.migrate import current_revision, head_revision, upgrade_to_head
from desktop.store.schema import StoreBase
from tests.helpers.profiles import new_profile

HAND_MADE = ("search_index", "search_keys")


def test_new_profile_is_at_head_and_matches_the_models(tmp_path: Path) -> None:
    profile, _ = new_profile(tmp_path / "p")
    try:
        assert current_revision(profile.engine) == head_revision()
        upgrade_to_head(profile.engine)  # a second run changes nothing
        with profile.engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    # The FTS5 table, its shadow tables and its rowid map are made by hand.
                    "include_name": lambda name, kind, _parent: (
                        not (kind == "table" and name and name.startswith(HAND_MADE))
                    ),
                },
            )
            differences = compare_metadata(context, StoreBase.metadata)
        assert differences == []
    finally:
        profile.close()


def test_0018_raises_the_blob_floor_where_a_batch_version_has_no_copy(tmp_path: Path) -> None:
    """A version pulled in a batch before 0017 kept batches has no sealed copy and no seq here:
    bundles must vouch for completeness only above the cursor of its space."""
    from alembic import command
    from sqlalchemy import text

    from desktop.store.migrate import _config
    from desktop.store.records import RecordStore
    from tests.integration.conftest import organization

    profile, _ = new_profile(tmp_path / "p")
    try:
        config = _config()
        with profile.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0017")
        batched, single = organization("a" * 32, "Batched"), organization("b" * 32, "Single")
        RecordStore(profile.engine).save_all([batched, single])
        with profile.engine.begin() as connection:
            connection.execute(text("UPDATE records SET revision = 1"))
            connection.execute(
                text("INSERT INTO sync_cursors (space_id, cursor) VALUES (:a, 40), (:b, 50)"),
                {"a": "a" * 32, "b": "b" * 32},
            )
            connection.execute(
                text(
                    "INSERT INTO sync_record_blobs (record_id, space_id, revision, seq, author, "
                    "blob) VALUES (:r, :s, 1, 50, 'x', x'01')"
                ),
                {"r": single.id, "s": "b" * 32},
            )
        upgrade_to_head(profile.engine)
        with profile.engine.connect() as connection:
            rows = connection.execute(text("SELECT space_id, floor FROM sync_blob_floors"))
            floors = {str(space): int(floor) for space, floor in rows}
        assert floors == {"a" * 32: 40}
    finally:
        profile.close()


def test_0020_names_the_records_of_the_batches_kept_before_it(tmp_path: Path) -> None:
    """A batch kept before 0020 is found from its records afterwards (read from its header)."""
    import secrets

    from alembic import command
    from sqlalchemy import text

    from desktop.store.migrate import _config
    from sync.crypto.batch import SealedEntry, seal_batch
    from sync.crypto.keys import DeviceKeys

    records = sorted(secrets.token_hex(16) for _ in range(3))
    blob = seal_batch(
        [SealedEntry(r, 0, {"name": "Org"}) for r in records],
        space="s" * 32,
        epoch=0,
        space_key=secrets.token_bytes(32),
        signer=DeviceKeys.generate(),
        statement=(1, b"\0" * 32),
    )
    profile, _ = new_profile(tmp_path / "p")
    try:
        config = _config()
        with profile.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0019")
            connection.execute(
                text(
                    "INSERT INTO sync_batch_blobs (digest, space_id, author, blob) "
                    "VALUES ('d', :s, 'a', :b)"
                ),
                {"s": "s" * 32, "b": blob},
            )
        upgrade_to_head(profile.engine)
        with profile.engine.connect() as connection:
            named = connection.execute(
                text("SELECT record_id, digest FROM sync_batch_entries ORDER BY record_id")
            ).all()
        assert [tuple(row) for row in named] == [(r, "d") for r in records]
    finally:
        profile.close()


def test_a_profile_killed_during_0020_opens_as_before_and_upgrades_again(
    tmp_path: Path,
) -> None:
    """The process dies once 0020 created and filled ``sync_batch_entries``, before it is
    marked done: nothing of the run stays (one transaction, DDL included), and the next unlock
    runs 0020 and 0021 again rather than meeting a table that already exists."""
    import os
    import secrets

    from alembic import command
    from sqlalchemy import event, inspect, text

    from desktop.store.migrate import _config
    from desktop.store.profile import unlock
    from sync.crypto.batch import SealedEntry, seal_batch
    from sync.crypto.keys import DeviceKeys
    from tests.helpers.profiles import PASSPHRASE

    records = sorted(secrets.token_hex(16) for _ in range(3))
    blob = seal_batch(
        [SealedEntry(r, 0, {"name": "Org"}) for r in records],
        space="s" * 32,
        epoch=0,
        space_key=secrets.token_bytes(32),
        signer=DeviceKeys.generate(),
        statement=(1, b"\0" * 32),
    )
    folder = tmp_path / "p"
    profile, _ = new_profile(folder)
    config = _config()
    with profile.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0019")
        connection.execute(
            text(
                "INSERT INTO sync_batch_blobs (digest, space_id, author, blob) "
                "VALUES ('d', :s, 'a', :b)"
            ),
            {"s": "s" * 32, "b": blob},
        )
    profile.close()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child dies mid-migration
        try:
            from desktop.store import profile as profile_module

            real = profile_module._open_engine

            def dying(*args: object, **kwargs: object) -> object:
                engine = real(*args, **kwargs)  # type: ignore[arg-type]

                def die(
                    _c: object, _cur: object, statement: str, params: object, *_: object
                ) -> None:
                    # 0020 made and filled its table, and is about to be marked done.
                    if "alembic_version" in statement and "0020" in f"{statement}{params}":
                        os._exit(9)

                event.listen(engine, "before_cursor_execute", die)
                return engine

            profile_module._open_engine = dying  # type: ignore[assignment]
            unlock(folder, PASSPHRASE)
        finally:
            os._exit(3)  # never reached the statement: the test fails below
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 9
    profile = unlock(folder, PASSPHRASE)
    try:
        assert current_revision(profile.engine) == head_revision()
        with profile.engine.connect() as connection:
            assert "failing_since" in {
                c["name"] for c in inspect(connection).get_columns("sync_sent_batches")
            }
            named = connection.execute(
                text("SELECT record_id, digest FROM sync_batch_entries ORDER BY record_id")
            ).all()
        assert [tuple(row) for row in named] == [(r, "d") for r in records]
    finally:
        profile.close()
