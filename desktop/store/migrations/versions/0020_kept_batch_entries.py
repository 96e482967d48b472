"""Which records each kept batch names (issue 19): a pulled page looks only at the kept
batches that name one of its records, instead of every kept batch of the space.

``sync_batch_entries`` holds one row per (record, kept batch naming it in its manifest), written
when the batch is kept and dropped with it; the batches kept before this migration are read
once here (their clear headers) to fill it.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from sync.crypto.batch import read_batch_header

    op.create_table(
        "sync_batch_entries",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "digest", name=op.f("pk_sync_batch_entries")),
        # One b-tree, ordered by record (what a page looks up); a batch's rows are found from
        # its manifest when it goes. Half the pages written per batch kept.
        sqlite_with_rowid=False,
    )
    connection = op.get_bind()
    kept = connection.execute(sa.text("SELECT digest, blob FROM sync_batch_blobs"))
    for digest, blob in kept.all():
        records = {entry.record for entry in read_batch_header(bytes(blob))[0].entries}
        connection.execute(
            sa.text("INSERT INTO sync_batch_entries (digest, record_id) VALUES (:d, :r)"),
            [{"d": digest, "r": record} for record in sorted(records)],
        )


def downgrade() -> None:
    op.drop_table("sync_batch_entries")
