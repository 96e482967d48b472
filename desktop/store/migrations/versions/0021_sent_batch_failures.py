"""A sent batch the server keeps failing (5xx) is set aside instead of blocking every later
sync (ENGINE.md, "A batch that keeps failing"): each kept batch counts its failed answers and
since when they fail; once set aside it is not sent again and its records, still local edits,
go as single mutations.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_sent_batches") as batch:
        batch.add_column(
            sa.Column("failures", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(sa.Column("failing_since", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("set_aside", sa.Boolean(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_sent_batches") as batch:
        batch.drop_column("set_aside")
        batch.drop_column("failing_since")
        batch.drop_column("failures")
