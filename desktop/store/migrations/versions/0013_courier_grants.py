"""Courier grants: an offline device's signed permission to download for it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_courier_grants",
        sa.Column("device", sa.String(length=32), nullable=False),
        sa.Column("grant", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("device", name=op.f("pk_sync_courier_grants")),
    )


def downgrade() -> None:
    op.drop_table("sync_courier_grants")
