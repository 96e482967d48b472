"""Batches (PROTOCOL.md §13): many records sealed together; a record's current version may
live in a batch entry instead of its own blob.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch",
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("dropped", sa.Integer(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["space_id"], ["space.id"], name=op.f("fk_batch_space_id_space")),
        sa.PrimaryKeyConstraint("space_id", "batch_id", name=op.f("pk_batch")),
    )
    with op.batch_alter_table("record") as table:
        table.add_column(sa.Column("batch_id", sa.String(length=32), nullable=True))
        table.add_column(sa.Column("batch_index", sa.Integer(), nullable=True))
        table.create_index("ix_record_space_id_batch_id", ["space_id", "batch_id"])


def downgrade() -> None:
    with op.batch_alter_table("record") as table:
        table.drop_index("ix_record_space_id_batch_id")
        table.drop_column("batch_index")
        table.drop_column("batch_id")
    op.drop_table("batch")
