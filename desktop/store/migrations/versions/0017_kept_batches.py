"""Sealed batches kept for courier bundles (issue 19): a version that came in a first-sync batch
has no envelope of its own, so the batch it came in is kept, still sealed, while it carries a
version held here.

``sync_batch_blobs`` holds each such batch as received (keyed by the SHA-256 of its bytes);
a ``sync_record_blobs`` row then points at it (``batch``, ``batch_index``) with an empty
``blob``. Versions pulled before this migration keep no batch: they stay uncarriable.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sync_batch_blobs",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("space_id", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=32), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_sync_batch_blobs")),
    )
    op.create_index(
        op.f("ix_sync_batch_blobs_space_id"), "sync_batch_blobs", ["space_id"], unique=False
    )
    with op.batch_alter_table("sync_record_blobs") as batch:
        batch.add_column(sa.Column("batch", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("batch_index", sa.Integer(), nullable=True))
        batch.create_index(op.f("ix_sync_record_blobs_batch"), ["batch"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_record_blobs") as batch:
        batch.drop_index(op.f("ix_sync_record_blobs_batch"))
        batch.drop_column("batch_index")
        batch.drop_column("batch")
    op.drop_index(op.f("ix_sync_batch_blobs_space_id"), table_name="sync_batch_blobs")
    op.drop_table("sync_batch_blobs")
