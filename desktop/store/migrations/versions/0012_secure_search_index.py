"""The search index forgets for good: contentless with FTS5 secure-delete, words kept per row.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

Before, rows were deleted by tombstone (``contentless_delete``): a deleted incident's words
stayed in ``search_index_data`` until segments merged. Now ``search_keys.body`` holds each row's
indexed words, and forgetting a row hands them to FTS5's 'delete' command, which with
``secure-delete`` removes them from the segment pages. The old index is dropped (its pages are
zeroed: the profile runs with ``secure_delete`` on) and every record indexed again.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported: a migration must keep meaning what it meant when written.
CREATE = (
    "CREATE VIRTUAL TABLE search_index USING fts5("
    "body, content = '', "
    "tokenize = 'unicode61 remove_diacritics 2', "
    "prefix = '2 3 4')"
)
SECURE = "INSERT INTO search_index (search_index, rank) VALUES ('secure-delete', 1)"


def upgrade() -> None:
    op.execute("DROP TABLE search_index")
    op.execute(CREATE)
    op.execute(SECURE)
    op.execute("DELETE FROM search_keys")
    op.execute("ALTER TABLE search_keys ADD COLUMN body TEXT NOT NULL DEFAULT ''")
    # PDF texts of materials are extracted again when next needed (their words lived only in
    # the old index).
    op.execute("DELETE FROM material_texts")
    # The records' words come from their content through today's folding; a migration that
    # indexed with a frozen copy of it would disagree with the searches that follow.
    from desktop.store.records import RecordStore

    RecordStore.reindex_all(op.get_bind())


OLD = (
    "CREATE VIRTUAL TABLE search_index USING fts5("
    "body, content = '', contentless_delete = 1, "
    "tokenize = 'unicode61 remove_diacritics 2', "
    "prefix = '2 3 4')"
)


def downgrade() -> None:
    # The old layout, empty: the older code reindexes nothing by itself, so searches find
    # nothing until records are saved again; lists and records are untouched.
    op.execute("DROP TABLE search_index")
    op.execute(OLD)
    op.execute("DELETE FROM search_keys")
    op.execute("ALTER TABLE search_keys DROP COLUMN body")
    op.execute("DELETE FROM material_texts")
