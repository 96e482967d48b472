"""Travel mode forgets the courier grants too: they name the left-behind spaces' ids inside a
signed blob, where no ``space_id`` column finds them (found by the issue 16 review)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, insert, select

from desktop.store.profile import DATABASE_FILE
from desktop.store.schema import SyncCourierGrantRow
from desktop.store.travel import _checkpoint, _forget
from tests.helpers.profiles import new_profile, raw_key
from tests.helpers.sqlcipher_pages import pages_holding

LEFT_SPACE = "spaceleftbehind0123456789abcdef"


def test_leaving_a_space_leaves_no_grant_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    profile, _recovery_key = new_profile(folder)
    try:
        with profile.engine.begin() as connection:
            connection.execute(
                insert(SyncCourierGrantRow).values(
                    device="offlinedevice0000",
                    grant=b"grant for spaces: " + LEFT_SPACE.encode(),
                    signature=b"s" * 64,
                )
            )
        _checkpoint(profile)
        key = raw_key(folder)
        assert pages_holding(folder / DATABASE_FILE, key, LEFT_SPACE.encode())
        with profile.engine.begin() as connection:
            _forget(connection, [LEFT_SPACE])
            left = connection.scalar(select(func.count()).select_from(SyncCourierGrantRow))
        assert left == 0
        _checkpoint(profile)
        assert pages_holding(folder / DATABASE_FILE, key, LEFT_SPACE.encode()) == []
    finally:
        profile.close()
