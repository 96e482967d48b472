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
# Contentless: the index keeps no second copy of the text, and answers rowids only.
CREATE = (
    "CREATE VIRTUAL TABLE search_index USING fts5("
    "body, content = '', contentless_delete = 1, "
    "tokenize = 'unicode61 remove_diacritics 2', "
    # Prefix indexes: results appear while typing ("wat" → "water") without scanning every
    # term that begins with the prefix.
    "prefix = '2 3 4')"
)
# Which record each row of the index is: the FTS rowid is this table's rowid.
CREATE_KEYS = (
    "CREATE TABLE search_keys ("
    "fts_rowid INTEGER NOT NULL CONSTRAINT pk_search_keys PRIMARY KEY, "
    "record_id VARCHAR(64) NOT NULL CONSTRAINT uq_search_keys_record_id UNIQUE, "
    "record_type VARCHAR(32) NOT NULL)"
)


def upgrade() -> None:
    op.execute(CREATE)
    op.execute(CREATE_KEYS)


def downgrade() -> None:
    op.execute("DROP TABLE search_keys")
    op.execute("DROP TABLE search_index")
