"""Alembic environment: runs migrations on the connection the server hands over.
There is no alembic.ini; sync.server.db builds the configuration in code."""

from __future__ import annotations

from alembic import context

from sync.server.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through sync.server.db.upgrade, which passes a connection")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
