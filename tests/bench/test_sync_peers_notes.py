"""The peers benchmark's generated notes state figures of the run they describe."""

from __future__ import annotations

from tests.bench.bench_sync_peers import Leg, Result, _cut_floor_note


def test_the_cut_floor_note_is_computed_from_the_run() -> None:
    # A run whose satellite file row has another floor than the one measured on 3707a40.
    row = Result("Minga", "satellite", "attachment, 2 cuts", [Leg(network=9.0)], floor=30.0, k=4)
    [note] = _cut_floor_note([row])
    assert "(satellite: 30.0 + 3.6 = 33.6 s)" in note, note
    assert "satellite Minga 1.07×" in note, note  # 36.0 / 33.6
    assert "44.3" not in note
