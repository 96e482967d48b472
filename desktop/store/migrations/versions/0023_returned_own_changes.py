"""This device's own unsent changes that came back in a bundle: taken here as the record's
version, yet kept until the server's own answer confirms them (sync/ENGINE.md, "A bundle never
confirms this device's own change").

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_returned",
        sa.Column("mutation_id", sa.String(length=64), nullable=False),
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("base_revision", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=True),
        sa.Column("chunks", sa.Text(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("base_content", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("mutation_id", name=op.f("pk_sync_returned")),
    )


def downgrade() -> None:
    op.drop_table("sync_returned")
