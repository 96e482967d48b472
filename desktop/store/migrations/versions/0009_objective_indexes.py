"""Covering indexes for the objectives counts: codes to their records, acts to their incidents.

``record_codes`` is a rowid table, so its ``(field, code)`` index found a code's rows but had
to fetch each row for its ``record_id``; ``(record_type, deleted, label)`` on the records found
an act type's acts but had to fetch each for its ``parent_id``. With the id in the index, the
objectives counts read only index pages.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_record_codes_field_code_record", "record_codes", ["field", "code", "record_id"]
    )
    op.create_index(
        "ix_records_type_label_parent", "records", ["record_type", "deleted", "label", "parent_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_records_type_label_parent", table_name="records")
    op.drop_index("ix_record_codes_field_code_record", table_name="record_codes")
