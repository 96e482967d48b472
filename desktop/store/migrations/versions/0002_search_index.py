"""The full-text search index (FTS5, inside the encrypted database) and its rowid map.

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


# FTS5 can only find a row fast by its rowid; this maps each record to its row in the index.
CREATE_KEYS = (
    "CREATE TABLE search_keys ("
    "record_id VARCHAR(64) NOT NULL CONSTRAINT pk_search_keys PRIMARY KEY, "
    "fts_rowid INTEGER NOT NULL CONSTRAINT uq_search_keys_fts_rowid UNIQUE)"
)


def upgrade() -> None:
    op.execute(CREATE)
    op.execute(CREATE_KEYS)


def downgrade() -> None:
    op.execute("DROP TABLE search_keys")
    op.execute("DROP TABLE search_index")
