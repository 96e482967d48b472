"""What a conflict needs to be decided with everything in view, records of a newer format kept.

``sync_conflicts`` gains ``arose`` (the value the record held for the field when the conflict
was kept) and ``details`` (who and when for each side, and the values of earlier conflicts on
the same field not chosen yet). ``sync_sealed_records`` holds records this version cannot open;
``record_extras`` the fields of a newer format this version does not know, carried unchanged.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_conflicts") as batch:
        batch.add_column(sa.Column("arose", sa.Text(), nullable=True))
        batch.add_column(sa.Column("details", sa.Text(), nullable=True))
    op.create_table(
        "sync_sealed_records",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_sync_sealed_records")),
    )
    op.create_table(
        "record_extras",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_record_extras")),
    )


def downgrade() -> None:
    op.drop_table("record_extras")
    op.drop_table("sync_sealed_records")
    with op.batch_alter_table("sync_conflicts") as batch:
        batch.drop_column("details")
        batch.drop_column("arose")
