"""When a chunk's last record let go of it (``chunk.released_at``): collection keeps a chunk a
record named for ``released_chunk_grace_seconds`` after that (30 days by default), so a file
deleted and then brought back by an edit that beat the deletion can still be fetched; chunks no
record ever named keep the shorter ``chunk_grace_seconds`` (PROTOCOL.md §8 "Collection").

Chunks stored before this migration have no such time (NULL): they are collected as before.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chunk") as batch:
        batch.add_column(sa.Column("released_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chunk") as batch:
        batch.drop_column("released_at")
