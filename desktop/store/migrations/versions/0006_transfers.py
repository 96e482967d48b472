"""Attachment transfers: which sealed chunks the server is known to hold, and the chunks (whole
or half received) of files being downloaded, so a cut transfer resumes where it stopped.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_chunks_held",
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("space_id", "address", name=op.f("pk_sync_chunks_held")),
    )
    op.create_table(
        "sync_chunks_received",
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("space_id", "address", name=op.f("pk_sync_chunks_received")),
    )


def downgrade() -> None:
    op.drop_table("sync_chunks_received")
    op.drop_table("sync_chunks_held")
