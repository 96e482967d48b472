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
