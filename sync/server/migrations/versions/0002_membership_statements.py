"""Membership statements: opaque signed blobs per space and version, and the latest version.
The version sits on the space counter row so every sync page reports it without a query.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "membership_statement",
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["space_id"], ["space.id"], name=op.f("fk_membership_statement_space_id_space")
        ),
        sa.PrimaryKeyConstraint("space_id", "version", name=op.f("pk_membership_statement")),
    )
    # Existing spaces have no statements yet: 0, which a server default fills in place
    # (ADD COLUMN, no table rewrite on SQLite).
    with op.batch_alter_table("space", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("statement_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("space", schema=None) as batch_op:
        batch_op.drop_column("statement_version")
    op.drop_table("membership_statement")
