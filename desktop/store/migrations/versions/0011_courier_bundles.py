"""Courier bundles: records' sealed blobs, carried mutations, peers' cursors, bundles seen.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_record_blobs",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=32), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_sync_record_blobs")),
    )
    op.create_index(
        op.f("ix_sync_record_blobs_space_id"), "sync_record_blobs", ["space_id"], unique=False
    )
    op.create_table(
        "sync_blob_floors",
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("floor", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("space_id", name=op.f("pk_sync_blob_floors")),
    )
    # Records pulled before this migration have no blob here: bundles vouch only above it.
    op.execute("INSERT INTO sync_blob_floors (space_id, floor) SELECT space_id, cursor FROM sync_cursors")
    op.create_table(
        "sync_carried",
        sa.Column("author", sa.String(length=32), nullable=False),
        sa.Column("mutation_id", sa.String(length=64), nullable=False),
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("base_revision", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=True),
        sa.Column("chunks", sa.Text(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("relayed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("author", "mutation_id", name=op.f("pk_sync_carried")),
    )
    op.create_table(
        "sync_bundle_peers",
        sa.Column("device", sa.String(length=32), nullable=False),
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("device", "space_id", name=op.f("pk_sync_bundle_peers")),
    )
    op.create_table(
        "sync_bundles_seen",
        sa.Column("bundle_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("bundle_id", name=op.f("pk_sync_bundles_seen")),
    )


def downgrade() -> None:
    op.drop_table("sync_bundles_seen")
    op.drop_table("sync_bundle_peers")
    op.drop_table("sync_carried")
    op.drop_table("sync_blob_floors")
    op.drop_index(op.f("ix_sync_record_blobs_space_id"), table_name="sync_record_blobs")
    op.drop_table("sync_record_blobs")
