"""A damaged profile is listed in a bounded number of statements (issue 12, review r12).

Listing a profile whose records table had damaged pages read it one stretch of ids at a time,
each stretch a full table scan: thousands of scans, minutes for 1,200 records. Here pages of a
profile of a few thousand incidents are damaged where it hurts (the records table's own leaves,
an interior page, the indexes, the search tables) and the list, search and the readable export
must give every readable row, count exactly the rows on damaged pages, and use a bounded
number of statements (counted, not timed)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from desktop.domain.records import Incident, new_id
from desktop.store.profile import DATABASE_FILE, unlock
from desktop.store.readable_export import export_readable
from desktop.store.records import RecordQuery, RecordStore
from tests.helpers.profiles import PASSPHRASE, new_profile, raw_key
from tests.helpers.sqlcipher_pages import PAGE_SIZE, btree_pages, page_content, separators

TOTAL = 3000
#: The old salvage read 64×64 stretches, each a table scan; this is far below that. Each row
#: on a damaged page costs nothing more: a damaged stretch is skipped in a few lookups.
MOST_STATEMENTS = 300
PER_LOST_ROW = 0


def _damage(database: Path, number: int) -> None:
    """Overwrite part of page ``number`` (1-based): its HMAC no longer matches."""
    with open(database, "r+b") as handle:
        handle.seek((number - 1) * PAGE_SIZE + 512)
        handle.write(b"\xa5" * 1024)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], dict[str, int]]:
    """A profile of TOTAL incidents: its folder, the ids, and each b-tree's root page."""
    folder = tmp_path_factory.mktemp("salvage") / "profile"
    profile, _ = new_profile(folder)
    space = new_id()
    incidents = [
        Incident(space_id=space, title=f"Desalojo {n:05d} en la vereda")  # type: ignore[call-arg]
        for n in range(TOTAL)
    ]
    RecordStore(profile.engine).save_all(incidents)
    with profile.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        roots = {
            str(name): int(root)
            for name, root in connection.exec_driver_sql(
                "SELECT name, rootpage FROM sqlite_master WHERE rootpage > 0"
            )
        }
    profile.close()
    for leftover in folder.glob(DATABASE_FILE + "-*"):
        leftover.unlink()
    return folder, [i.id for i in incidents], roots


def _damaged_copy(
    pristine: tuple[Path, list[str], dict[str, int]], target: Path, where: str
) -> tuple[Path, set[str]]:
    """A copy of the profile damaged at ``where``; and the ids whose rows are lost with it."""
    source, ids, roots = pristine
    shutil.copytree(source, target)
    database = target / DATABASE_FILE
    key = raw_key(target)
    interior, leaves = btree_pages(database, key, roots["records"])
    ordered = sorted(leaves)
    chosen: list[int]
    if where == "table leaves":
        chosen = [ordered[3], ordered[len(ordered) // 2], ordered[-2]]
    elif where == "table interior":
        chosen = [sorted(interior - {roots["records"]})[0]] if len(interior) > 1 else []
        assert chosen, "the records table has no interior page below its root"
    elif where == "indexes":
        chosen = [
            sorted(btree_pages(database, key, roots[index])[1])[1]
            for index in ("ix_records_type_label", "ix_records_type_updated")
        ]
    elif where == "search tables":
        chosen = sorted(btree_pages(database, key, roots["search_index_data"])[1])[:2]
    else:
        raise AssertionError(where)
    lost: set[str] = set()
    if where.startswith("table"):
        below: set[int] = set()
        for number in chosen:
            # Every page under a damaged one is out of reach with it.
            under_interior, under_leaves = btree_pages(database, key, number)
            below |= under_interior | under_leaves
        contents = [page_content(database, key, number) for number in below]
        # In a b-tree keyed by id, the key that separates a damaged page from its right
        # neighbour sits in the parent (or higher, when the damaged page is the right-most child
        # of its own parent), and is found only through the damaged page left of it.
        contents += separators(database, key, interior - below, set(chosen))
        lost = {i for i in ids if any(i.encode() in content for content in contents)}
        assert lost, "the damaged pages hold no record"
    for number in chosen:
        _damage(database, number)
    return target, lost


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


WHERE = ["table leaves", "table interior", "indexes", "search tables"]


@pytest.mark.parametrize("where", WHERE)
def test_a_damaged_profile_is_listed_in_a_bounded_number_of_statements(
    pristine: tuple[Path, list[str], dict[str, int]], tmp_path: Path, where: str
) -> None:
    folder, lost = _damaged_copy(pristine, tmp_path / "profile", where)
    ids = pristine[1]
    profile = unlock(folder, PASSPHRASE)
    try:
        store = RecordStore(profile.engine)
        query = RecordQuery("incident", order_by="label")
        with _statements(profile.engine) as seen:
            total = store.count(query)
            rows = [
                row for offset in range(0, total + 200, 200) for row in store.page(query, offset)
            ]
            unreadable = store.unreadable(query)
        # Every readable row is listed once, in order; the rows on damaged pages are counted.
        assert {row.id for row in rows} == set(ids) - lost
        assert len(rows) == len(ids) - len(lost)
        assert unreadable == len(lost)
        assert [r.label for r in rows] == sorted(r.label for r in rows)
        assert len(seen) <= MOST_STATEMENTS + PER_LOST_ROW * len(lost), f"{len(seen)} statements"
        assert not [s for s in seen if "NOT INDEXED" in s]
        # Search on the damaged profile takes the same path.
        store_for_search = RecordStore(profile.engine)
        searched = RecordQuery("incident", text="01234")
        with _statements(profile.engine) as seen:
            found = store_for_search.page(searched)
        wanted = {ids[1234]} - lost
        assert {row.id for row in found} == wanted
        assert len(seen) <= MOST_STATEMENTS + PER_LOST_ROW * len(lost), f"search: {len(seen)}"
    finally:
        profile.close()


@pytest.mark.parametrize("where", ["table leaves", "indexes"])
def test_the_readable_export_reads_the_table_in_a_bounded_number_of_scans(
    pristine: tuple[Path, list[str], dict[str, int]], tmp_path: Path, where: str
) -> None:
    folder, lost = _damaged_copy(pristine, tmp_path / "profile", where)
    profile = unlock(folder, PASSPHRASE)
    try:
        target = tmp_path / "readable.json"
        with _statements(profile.engine) as seen:
            result = export_readable(profile.engine, target)
    finally:
        profile.close()
    assert result.lost == len(lost)
    assert result.written == TOTAL - len(lost)
    # One content lookup per record is expected; reads of the records table itself are few.
    table_reads = [s for s in seen if "FROM records" in s and "record_contents" not in s]
    assert len(table_reads) <= MOST_STATEMENTS + PER_LOST_ROW * len(lost), f"{len(table_reads)}"
