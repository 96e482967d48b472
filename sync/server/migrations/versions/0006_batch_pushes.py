"""Batch pushes remembered by batch id (PROTOCOL.md §13): a batch re-sent after its answer was
lost is answered as the first time, never applied or stored twice.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_push",
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("seq_before", sa.BigInteger(), nullable=False),
        sa.Column("seq_after", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["space_id"], ["space.id"], name=op.f("fk_batch_push_space_id_space")
        ),
        sa.PrimaryKeyConstraint("space_id", "batch_id", name=op.f("pk_batch_push")),
    )


def downgrade() -> None:
    op.drop_table("batch_push")
