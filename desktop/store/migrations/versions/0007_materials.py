"""Materials on this device: what it keeps offline (pins) and which files' text is indexed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "material_pins",
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("target_id", name=op.f("pk_material_pins")),
    )
    op.create_table(
        "material_texts",
        sa.Column("file_id", sa.String(length=64), nullable=False),
        sa.Column("material_id", sa.String(length=64), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("file_id", name=op.f("pk_material_texts")),
    )
    op.create_index(
        op.f("ix_material_texts_material_id"), "material_texts", ["material_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_material_texts_material_id"), table_name="material_texts")
    op.drop_table("material_texts")
    op.drop_table("material_pins")
