"""Spaces the server no longer lets this device use (removed from them) are remembered, so their
unsent edits stay on this computer instead of being sealed and sent, and refused, on every
sync (sync/ENGINE.md, "A space left or removed").

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_lost_spaces",
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("space_id", name=op.f("pk_sync_lost_spaces")),
    )


def downgrade() -> None:
    op.drop_table("sync_lost_spaces")
