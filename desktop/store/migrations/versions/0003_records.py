"""Records of every type: thin list rows, their contents, codes and sync bases.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("dirty", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("date_from", sa.String(length=10), nullable=True),
        sa.Column("date_to", sa.String(length=10), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_records_space_id", "records", ["space_id"])
    op.create_index("ix_records_parent_id", "records", ["parent_id"])
    op.create_index("ix_records_type_label", "records", ["record_type", "deleted", "label"])
    op.create_index("ix_records_type_status", "records", ["record_type", "deleted", "status"])
    op.create_index("ix_records_type_country", "records", ["record_type", "deleted", "country"])
    op.create_index(
        "ix_records_type_date", "records", ["record_type", "deleted", "date_from", "date_to"]
    )
    op.create_index(
        "ix_records_type_updated", "records", ["record_type", "deleted", "updated_at"]
    )
    op.create_index(
        "ix_records_dirty", "records", ["dirty"], sqlite_where=sa.text("dirty = 1")
    )
    op.create_table(
        "record_contents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["id"], ["records.id"], name=op.f("fk_record_contents_id_records"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_contents")),
    )
    op.create_table(
        "record_codes",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_record_codes_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "field", "code", name=op.f("pk_record_codes")),
    )
    op.create_index("ix_record_codes_field_code", "record_codes", ["field", "code"])
    op.create_table(
        "record_bases",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["id"], ["records.id"], name=op.f("fk_record_bases_id_records"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_bases")),
    )


def downgrade() -> None:
    op.drop_table("record_bases")
    op.drop_table("record_codes")
    op.drop_table("record_contents")
    op.drop_table("records")
