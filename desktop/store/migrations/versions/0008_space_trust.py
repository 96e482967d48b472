"""Spaces trusted on first use, until the person compares the creating admin's fingerprint.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_space_trust",
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("admin_device", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("space_id", name=op.f("pk_sync_space_trust")),
    )


def downgrade() -> None:
    op.drop_table("sync_space_trust")
