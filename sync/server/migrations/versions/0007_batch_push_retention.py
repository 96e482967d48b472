"""Batch push answers are pruned (PROTOCOL.md §13): each row says when it was answered, so
rows older than ``batch_answer_ttl`` go, and a device keeps at most
``batch_answers_per_device`` per space (the newest).

Rows answered before this migration count from the migration's time: they get the whole
period, as if answered then.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch_push") as batch:
        batch.add_column(
            sa.Column("answered_at", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute(sa.text("UPDATE batch_push SET answered_at = :now").bindparams(now=int(time.time())))
    op.create_index(
        op.f("ix_batch_push_space_id_device_id_answered_at"),
        "batch_push",
        ["space_id", "device_id", "answered_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_batch_push_answered_at"), "batch_push", ["answered_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_batch_push_answered_at"), table_name="batch_push")
    op.drop_index(op.f("ix_batch_push_space_id_device_id_answered_at"), table_name="batch_push")
    with op.batch_alter_table("batch_push") as batch:
        batch.drop_column("answered_at")
