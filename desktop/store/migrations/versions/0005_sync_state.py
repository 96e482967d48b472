"""Sync state: device keys and server, pins, membership statements, key wraps, cursors,
the sealed outbox and conflicts kept for a person.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("server_url", sa.Text(), nullable=False),
        sa.Column("device_keys", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_device")),
    )
    op.create_table(
        "sync_pins",
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("sign_key", sa.LargeBinary(), nullable=False),
        sa.Column("box_key", sa.LargeBinary(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_sync_pins")),
    )
    op.create_table(
        "sync_statements",
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("space_id", "version", name=op.f("pk_sync_statements")),
    )
    op.create_table(
        "sync_wraps",
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=32), nullable=False),
        sa.Column("wrap", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("space_id", "epoch", name=op.f("pk_sync_wraps")),
    )
    op.create_table(
        "sync_cursors",
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("space_id", name=op.f("pk_sync_cursors")),
    )
    op.create_table(
        "sync_outbox",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("mutation_id", sa.String(length=64), nullable=False),
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("base_revision", sa.Integer(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_sync_outbox")),
        sa.UniqueConstraint("mutation_id", name=op.f("uq_sync_outbox_mutation_id")),
    )
    op.create_table(
        "sync_conflicts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("base", sa.Text(), nullable=False),
        sa.Column("mine", sa.Text(), nullable=False),
        sa.Column("theirs", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_conflicts")),
    )
    op.create_index(
        op.f("ix_sync_conflicts_record_id"), "sync_conflicts", ["record_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sync_conflicts_record_id"), table_name="sync_conflicts")
    op.drop_table("sync_conflicts")
    op.drop_table("sync_outbox")
    op.drop_table("sync_cursors")
    op.drop_table("sync_wraps")
    op.drop_table("sync_statements")
    op.drop_table("sync_pins")
    op.drop_table("sync_device")
