"""Versions pulled in a batch before batches were kept (0017) have no sealed copy here, and no
row saying at which seq they came: a bundle cannot say the recipient now holds everything up
to its cursor. Like 0011 for blobs, the space's floor rises to its cursor, so a bundle vouches
for completeness only above it (PROTOCOL.md §12.1).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "INSERT INTO sync_blob_floors (space_id, floor) "
        "SELECT c.space_id, c.cursor FROM sync_cursors c WHERE EXISTS ("
        "SELECT 1 FROM records r WHERE r.space_id = c.space_id AND r.revision > 0 AND NOT EXISTS "
        "(SELECT 1 FROM sync_record_blobs b WHERE b.record_id = r.id "
        "AND b.revision >= r.revision)) "
        "ON CONFLICT (space_id) DO UPDATE SET floor = max(sync_blob_floors.floor, excluded.floor)"
    )


def downgrade() -> None:
    pass  # a lower floor would vouch for versions this profile cannot hand on
