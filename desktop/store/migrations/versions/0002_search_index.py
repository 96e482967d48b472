"""The full-text search index (FTS5, inside the encrypted database).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported: a migration must keep meaning what it meant when written.
CREATE = (
    "CREATE VIRTUAL TABLE search_index USING fts5("
    "record_id UNINDEXED, record_type UNINDEXED, body, "
    "tokenize = 'unicode61 remove_diacritics 2')"
)


def upgrade() -> None:
    op.execute(CREATE)


def downgrade() -> None:
    op.execute("DROP TABLE search_index")
