"""How a first sync's many changes are cut into batches (sync/client/batches.py, ``split``)."""

from __future__ import annotations

from sync.client.batches import LEAD, MAX_ENTRIES, TAIL, split
from sync.client.state import PendingChange


def _changes(count: int) -> list[PendingChange]:
    return [PendingChange("s", f"{n:032x}", 0, {"name": str(n)}) for n in range(count)]


def test_many_changes_go_short_first_full_between_and_short_last() -> None:
    changes = _changes(10_000)
    parts = split(changes)
    # The link waits for the first seal, and the last answer (the last page, on the member who
    # pulls) is stored after the link is done: both short; the ones between as full as allowed.
    assert [len(p) for p in parts] == [LEAD, MAX_ENTRIES, MAX_ENTRIES, 784]
    assert [c for p in parts for c in p] == changes  # creation order kept, nothing twice


def test_every_part_is_within_the_bounds_whatever_the_count() -> None:
    for count in (LEAD + TAIL + 1, 4_096, 6_000, 12_000, 20_000, 8 * MAX_ENTRIES):
        changes = _changes(count)
        parts = split(changes)
        sizes = [len(p) for p in parts]
        assert sizes[0] == LEAD, (count, sizes)
        assert TAIL // 4 <= sizes[-1] <= TAIL, (count, sizes)
        assert all(0 < size <= MAX_ENTRIES for size in sizes), (count, sizes)
        assert [c for p in parts for c in p] == changes


def test_fewer_changes_go_as_one_batch_as_before() -> None:
    for count in (64, 500, LEAD + TAIL):
        assert [len(p) for p in split(_changes(count))] == [count]
