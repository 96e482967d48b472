"""Travel mode forgets the courier grants too: they name the left-behind spaces' ids inside a
signed blob, where no ``space_id`` column finds them (found by the issue 16 review)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, insert, select

from desktop.store import keys
from desktop.store.keys import KeyFile
from desktop.store.profile import DATABASE_FILE, KEY_FILE
from desktop.store.schema import SyncCourierGrantRow
from desktop.store.travel import _checkpoint, _forget
from tests.helpers.profiles import PASSPHRASE, new_profile
from tests.helpers.sqlcipher_pages import pages_holding

LEFT_SPACE = "spaceleftbehind0123456789abcdef"


def _raw_key(folder: Path) -> bytes:
    master = KeyFile.from_bytes((folder / KEY_FILE).read_bytes()).open_with_passphrase(PASSPHRASE)
    try:
        return keys.sqlcipher_key(master)
    finally:
        keys.wipe(master)


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
        raw_key = _raw_key(folder)
        assert pages_holding(folder / DATABASE_FILE, raw_key, LEFT_SPACE.encode())
        with profile.engine.begin() as connection:
            _forget(connection, [LEFT_SPACE])
            left = connection.scalar(select(func.count()).select_from(SyncCourierGrantRow))
        assert left == 0
        _checkpoint(profile)
        assert pages_holding(folder / DATABASE_FILE, raw_key, LEFT_SPACE.encode()) == []
    finally:
        profile.close()
