"""Each stored batch's format version (PROTOCOL.md §13 "Batch versions"): a reader that opens
only older versions is held before a newer one instead of refusing it and moving past it.

Existing rows take the version their own header names (the byte after the magic): version 1,
or version 2 for batches stored by a server that already read it. Servers store only versions
they parse (1 and 2 here), so the byte is one of those.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE batch SET version = get_byte(blob, 4)")
    else:
        # SQLite: the byte as two hex digits, read as a number (exact for versions below 10).
        op.execute("UPDATE batch SET version = CAST(hex(substr(blob, 5, 1)) AS INTEGER)")


def downgrade() -> None:
    with op.batch_alter_table("batch") as batch:
        batch.drop_column("version")
