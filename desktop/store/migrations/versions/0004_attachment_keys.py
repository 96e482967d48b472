"""The per-file keys of sealed attachments (evidence files), so they can be reopened.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachment_keys",
        sa.Column("attachment_id", sa.String(length=64), nullable=False),
        sa.Column("file_key", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sealed_size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("attachment_id", name=op.f("pk_attachment_keys")),
    )


def downgrade() -> None:
    op.drop_table("attachment_keys")
