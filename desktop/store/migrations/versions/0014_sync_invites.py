"""Invites this device made (the role chosen, the statement they commit to) and the commitment
an invite brought this device when it joined.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_invites",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_sync_invites")),
    )
    op.create_table(
        "sync_invite_anchors",
        sa.Column("anchor", sa.LargeBinary(), nullable=False),
        sa.Column("space_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("anchor", name=op.f("pk_sync_invite_anchors")),
    )


def downgrade() -> None:
    op.drop_table("sync_invite_anchors")
    op.drop_table("sync_invites")
