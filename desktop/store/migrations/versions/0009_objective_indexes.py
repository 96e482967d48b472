"""Covering indexes for the objectives counts: incidents' places and kinds, records' children.

Counting all six objectives reads every live incident's country, kind and dates, and each
incident's acts by type. Both were fetched from the records' rows: the whole table (titles
and all) passed through the page cache and its decryption on every count. In these indexes
the counts read a few MB of index pages instead.

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
    # Dates first: a period is a range of this index, and a country is a range of
    # ix_records_type_country (few rows to look up).
    op.create_index(
        "ix_records_type_dates_place",
        "records",
        ["record_type", "deleted", "date_from", "date_to", "country", "kind"],
    )
    op.create_index(
        "ix_records_parent_type_label", "records", ["parent_id", "record_type", "deleted", "label"]
    )


def downgrade() -> None:
    op.drop_index("ix_records_parent_type_label", table_name="records")
    op.drop_index("ix_records_type_dates_place", table_name="records")
