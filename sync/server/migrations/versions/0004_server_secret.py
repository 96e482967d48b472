"""A secret shared by every server process over the database: challenges are sealed with it
instead of stored, so a stranger's challenge requests write nothing and lock nobody out.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_secret",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.LargeBinary(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_secret")),
    )
    # Challenges issued before the upgrade were stored; none of them can be answered now.
    op.execute(sa.text("DELETE FROM challenge"))


def downgrade() -> None:
    op.drop_table("server_secret")
