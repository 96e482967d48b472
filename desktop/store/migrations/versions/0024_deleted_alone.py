"""Children a person deleted by themselves, not with their incident: an edit that beats the
incident's deletion brings back what that deletion took, never these (sync/ENGINE.md, "Edit
beats delete").

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deleted_alone",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_deleted_alone")),
    )


def downgrade() -> None:
    op.drop_table("deleted_alone")
