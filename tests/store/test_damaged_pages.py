"""A damaged profile (issue 12): a few damaged pages of minga.db must not break whole lists.
The list and search show every record still readable, say how many are not, and each readable
record opens (so it can be exported); the person gets a clear, translated message."""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from desktop.domain.records import Incident, new_id
from desktop.domain.translation import set_language
from desktop.store.errors import ProfileDamaged
from desktop.store.profile import DATABASE_FILE, unlock
from desktop.store.readable_export import export_readable
from desktop.store.records import DamagedRows, RecordQuery, RecordStore, is_damage
from tests.helpers.profiles import PASSPHRASE, new_profile, raw_key
from tests.helpers.sqlcipher_pages import btree_pages

PAGE = 4096
TOTAL = 1500


def _damage(database: Path, page: int) -> None:
    with open(database, "r+b") as handle:
        handle.seek(page * PAGE + 512)
        handle.write(b"\xa5" * 1024)


def _table_scan_fails(folder: Path) -> bool:
    """Whether the profile still opens but reading the records table meets the damage."""
    try:
        profile = unlock(folder, PASSPHRASE)
    except ProfileDamaged:
        return False  # a page the whole profile needs (schema, migrations): not this test's
    try:
        with profile.engine.connect() as connection:
            # Every column: a covering index would answer a narrower query, NOT INDEXED or not.
            connection.exec_driver_sql("SELECT * FROM records NOT INDEXED").fetchall()
        return False
    except Exception as error:
        return is_damage(error)
    finally:
        profile.close()


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A profile of TOTAL incidents, two pages of whose records table are damaged."""
    folder = tmp_path_factory.mktemp("damaged") / "profile"
    profile, _ = new_profile(folder)
    space = new_id()
    titles = {}
    store = RecordStore(profile.engine)
    incidents = [
        Incident(space_id=space, title=f"Desalojo {n:04d} en la vereda")  # type: ignore[call-arg]
        for n in range(TOTAL)
    ]
    store.save_all(incidents)
    titles = {i.id: i.title for i in incidents}
    with profile.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    profile.close()
    database = folder / DATABASE_FILE
    pristine = database.read_bytes()
    chosen: list[int] = []
    candidates = _table_leaves(folder)
    random.Random(12).shuffle(candidates)
    # Find pages of the records table itself (the file is encrypted: try one at a time).
    for page in candidates[:400]:
        _damage(database, page)
        if _table_scan_fails(folder):
            chosen.append(page)
        database.write_bytes(pristine)
        for leftover in folder.glob(DATABASE_FILE + "-*"):
            leftover.unlink()
        if len(chosen) == 2:
            break
    assert len(chosen) == 2, "no page of the records table found to damage"
    for page in chosen:
        _damage(database, page)
    for leftover in folder.glob(DATABASE_FILE + "-*"):
        leftover.unlink()
    shutil.copy(database, database.with_suffix(".damaged-copy"))
    return folder, titles


def _table_leaves(folder: Path) -> list[int]:
    """The records table's leaf pages, 0-based as ``_damage`` counts them, in file order.

    Only leaves are damaged here: a damaged interior page loses its whole subtree (a third of
    the table, say), which tests/store/test_damaged_salvage_bounded.py covers with its own
    count. Picking any page that breaks a scan made this file's floors (80 % readable) hold or
    not by where random ids happened to put an interior page."""
    database = folder / DATABASE_FILE
    profile = unlock(folder, PASSPHRASE)
    try:
        with profile.engine.connect() as connection:
            root = connection.exec_driver_sql(
                "SELECT rootpage FROM sqlite_master WHERE name = 'records'"
            ).scalar_one()
    finally:
        profile.close()
    for leftover in folder.glob(DATABASE_FILE + "-*"):
        leftover.unlink()
    _interior, leaves = btree_pages(database, raw_key(folder), int(root))
    return sorted(number - 1 for number in leaves)


def test_the_list_shows_what_is_readable_and_counts_what_is_not(
    damaged: tuple[Path, dict[str, str]],
) -> None:
    folder, titles = damaged
    profile = unlock(folder, PASSPHRASE)
    try:
        store = RecordStore(profile.engine)
        query = RecordQuery("incident", order_by="label")
        # The damage is real: the list's own query fails as it did ("malformed").
        with pytest.raises(DBAPIError) as raw:
            for offset in range(0, TOTAL, 200):
                store._page(query, offset, 200)
        assert is_damage(raw.value)
        total = store.count(query)
        rows = [row for offset in range(0, total + 200, 200) for row in store.page(query, offset)]
        unreadable = store.unreadable(query)
        # Every readable record is listed, in order; what is not readable is counted.
        assert len(rows) + unreadable == TOTAL
        assert len(rows) >= TOTAL * 0.8
        assert len({r.id for r in rows}) == len(rows)
        assert [r.label for r in rows] == sorted(r.label for r in rows)
        assert all(titles[r.id] == r.label for r in rows)
        # Each listed record opens whole, so it can be read, edited and exported.
        opened = 0
        for row in rows:
            try:
                opened += store.get(row.id) is not None
            except DBAPIError as error:
                assert is_damage(error)
        assert opened >= len(rows) * 0.8
        # Search goes on too (by title while the profile is damaged).
        found = store.page(RecordQuery("incident", text="0042"))
        assert [r.label for r in found] in ([titles_of(titles, "0042")], [])
    finally:
        profile.close()


def titles_of(titles: dict[str, str], fragment: str) -> str:
    return next(t for t in titles.values() if fragment in t)


def test_the_message_is_clear_and_translated() -> None:
    english = DamagedRows().user_message()
    assert "damaged" in english and "backup" in english
    for language in ("es", "fr", "ar"):
        set_language(language)
        try:
            assert DamagedRows().user_message() != english
        finally:
            set_language("en")


def test_what_can_be_read_is_exported_and_the_rest_counted(
    damaged: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    folder, titles = _records_lost(damaged[0], tmp_path / "profile"), damaged[1]
    profile = unlock(folder, PASSPHRASE)
    try:
        target = tmp_path / "out" / "readable.json"
        target.parent.mkdir()
        result = export_readable(profile.engine, target)
    finally:
        profile.close()
    records = json.loads(target.read_text(encoding="utf-8"))["records"]
    # Every record in the file is one of the profile's, once, with its title and content.
    assert len({r["id"] for r in records}) == len(records)
    assert all(titles[r["id"]] == r["label"] for r in records)
    whole = [r for r in records if r["content"] is not None]
    assert len(whole) == result.written
    assert all(r["content"]["title"] == titles[r["id"]] for r in whole)
    assert all(r["record_type"] == "incident" for r in records)
    # The damage cost some records, and they are counted, not silently dropped.
    assert result.lost > 0
    assert result.written + result.lost == TOTAL
    assert result.written >= TOTAL * 0.8
    # Owner-only, and no temporary file left beside it.
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["readable.json"]


def _records_lost(damaged: Path, folder: Path) -> Path:
    """A copy of the damaged profile with one more leaf of the records table damaged, checked
    to leave records the store counts as unreadable (lost for good, not silently dropped)."""
    shutil.copytree(damaged, folder)
    database = folder / DATABASE_FILE
    before = database.read_bytes()
    candidates = _table_leaves(folder)
    random.Random(21).shuffle(candidates)
    for page in candidates[:300]:
        _damage(database, page)
        try:
            profile = unlock(folder, PASSPHRASE)
        except ProfileDamaged:
            profile = None
        if profile is not None:
            try:
                store = RecordStore(profile.engine)
                if store.unreadable(RecordQuery("incident")) or (
                    store.salvage(RecordQuery("incident")).unreadable
                ):
                    return folder
            except DBAPIError:
                pass
            finally:
                profile.close()
        database.write_bytes(before)
        for leftover in folder.glob(DATABASE_FILE + "-*"):
            leftover.unlink()
    raise AssertionError("no page of the records table found whose rows are lost")
