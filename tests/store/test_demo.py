"""The demo network: valid records in four languages, linked together, the same for a seed."""

from __future__ import annotations

import random
from pathlib import Path

from desktop.domain.records import Act, Incident
from desktop.store.demo import (
    DEMO_TODAY,
    build_network,
    fill_profile,
    generate_incidents,
    load_seeds,
)
from desktop.store.records import RecordQuery, RecordStore
from tests.helpers.profiles import new_profile


def test_demo_fills_a_profile_that_lists_and_searches(tmp_path: Path) -> None:
    profile, _ = new_profile(tmp_path / "p")
    try:
        counts = fill_profile(profile, incidents=120, seed=3)
        store = RecordStore(profile.engine)
        assert counts["Incident"] == 120 == store.count(RecordQuery("incident"))
        assert counts["Organization"] >= 24
        assert store.count(RecordQuery("incident", text="desalojo")) > 0
        assert store.count(RecordQuery("incident", text="اخلاء")) > 0
        assert store.count(RecordQuery("incident", text="expulsion")) > 0
        assert store.count(RecordQuery("incident", text="eviction")) > 0
    finally:
        profile.close()


def test_same_seed_same_network() -> None:
    seeds = load_seeds()

    def titles(seed: int) -> list[str]:
        rng = random.Random(seed)
        demo, _ = build_network(seeds, rng)
        return [
            r.title for r in generate_incidents(seeds, demo, rng, 50) if isinstance(r, Incident)
        ]

    assert titles(5) == titles(5)
    assert titles(5) != titles(6)


def test_every_generated_record_is_valid() -> None:
    seeds = load_seeds()
    rng = random.Random(1)
    demo, records = build_network(seeds, rng)
    records += list(generate_incidents(seeds, demo, rng, 200))
    problems = {r.id: r.validate(today=DEMO_TODAY) for r in records}
    assert {k: v for k, v in problems.items() if v} == {}
    assert any(isinstance(r, Act) for r in records)
