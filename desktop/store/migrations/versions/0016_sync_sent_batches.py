"""Sealed batches kept until the server answers them (PROTOCOL.md §13): after a lost answer the
same bytes go again and the server answers them as the first time.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_sent_batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_sent_batches")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_sync_sent_batches_batch_id")),
    )


def downgrade() -> None:
    op.drop_table("sync_sent_batches")
