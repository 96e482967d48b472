"""A conflict settled by keeping the value the field held is remembered until it is sent.

``sync_choices``: such a choice writes nothing new into the record, so without a row of its
own a different value arriving from a device that settled the same question apart would pass
it by as "unchanged here" and win unseen (sync/ENGINE.md, "Conflicts").

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_choices",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "field", name=op.f("pk_sync_choices")),
    )


def downgrade() -> None:
    op.drop_table("sync_choices")
