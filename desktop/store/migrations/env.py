"""Alembic environment for the encrypted profile: runs on the already-keyed connection.

There is no URL to connect with (the key lives only in memory), so the store passes its open
SQLCipher connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from desktop.store.schema import StoreBase

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Profile migrations run from desktop.store.migrate on an unlocked profile, "
        "not from the alembic command line."
    )
context.configure(
    connection=connection,
    target_metadata=StoreBase.metadata,
    render_as_batch=True,  # SQLite alters tables by copy; batch mode does that for us
)
with context.begin_transaction():
    context.run_migrations()
