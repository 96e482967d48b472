"""The shared objectives' counts at 100,000 incidents: all six at once, then under each filter.

Run with ``.venv/bin/pytest tests/bench/bench_objectives.py -s -o python_files='bench_*.py'``
(or ``make bench PYTEST_ARGS="-k objectives"``). It prints figures and asserts nothing about
time. It reuses the profile ``bench_store`` fills (``$MINGA_BENCH_DIR``, default
``/tmp/minga-bench``; ``MINGA_BENCH_INCIDENTS`` for another size) and fills it on first use.
``MINGA_BENCH_RUNS`` sets the repeats per figure (default 3; each is one full count).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from desktop.store.demo import DEMO_PASSPHRASE, fill_profile
from desktop.store.objectives import ObjectiveFilter, count_objectives
from desktop.store.profile import KdfParameters, Profile, create_profile, unlock
from desktop.store.schema import RecordContent, RecordRow

INCIDENTS = int(os.environ.get("MINGA_BENCH_INCIDENTS", "100000"))
SEED = 11
# The same folder and seed as bench_store, so one filled profile serves both.
FOLDER = Path(os.environ.get("MINGA_BENCH_DIR", "/tmp/minga-bench")) / f"store-{INCIDENTS}-{SEED}"
RUNS = int(os.environ.get("MINGA_BENCH_RUNS", "3"))


def _profile() -> Profile:
    marker = FOLDER / "filled.json"
    if not marker.exists():
        shutil.rmtree(FOLDER, ignore_errors=True)
        profile, _ = create_profile(
            FOLDER / "profile", DEMO_PASSPHRASE, kdf=KdfParameters.fast_for_tests()
        )
        started = time.perf_counter()
        counts = fill_profile(profile, incidents=INCIDENTS, seed=SEED)
        seconds = time.perf_counter() - started
        profile.close()
        marker.write_text(json.dumps({"counts": counts, "fill_seconds": seconds}))
        print(f"\nfilled {INCIDENTS:,} incidents in {seconds:.1f} s: {counts}")
    return unlock(FOLDER / "profile", DEMO_PASSPHRASE)


def _busiest_place(profile: Profile) -> tuple[str, str]:
    """The country with the most incidents, and a region recorded there (if any is)."""
    with profile.engine.connect() as connection:
        country = connection.execute(
            select(RecordRow.country)
            .where(RecordRow.record_type == "incident", RecordRow.deleted.is_(False))
            .group_by(RecordRow.country)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
        region = connection.execute(
            select(func.json_extract(RecordContent.content, "$.region"))
            .join(RecordRow, RecordRow.id == RecordContent.id)
            .where(RecordRow.record_type == "incident", RecordRow.country == country)
            .where(func.json_extract(RecordContent.content, "$.region") != "")
            .limit(1)
        ).scalar()
    # The demo records no regions: an unknown one still makes the query read the country's
    # contents, which is the cost being measured.
    return str(country), str(region or f"{country}_bench")


def _seconds(profile: Profile, where: ObjectiveFilter) -> tuple[list[float], int]:
    """Timings of ``RUNS`` counts after a warm one, and how many incidents count at all."""
    reports = count_objectives(profile.engine, where)  # warm: pages read from disk once
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        count_objectives(profile.engine, where)
        timings.append(time.perf_counter() - started)
    return timings, sum(report.incidents for report in reports)


def test_objectives_at_scale() -> None:
    profile = _profile()
    rows: list[tuple[str, str]] = []
    try:
        country, region = _busiest_place(profile)
        filters = {
            "all six objectives, no filter": ObjectiveFilter(),
            f"country = {country}": ObjectiveFilter(country=country),
            "period 2019–2020": ObjectiveFilter(date(2019, 1, 1), date(2020, 12, 31)),
            f"region = {region} (in {country})": ObjectiveFilter(country=country, region=region),
        }
        for name, where in filters.items():
            timings, counted = _seconds(profile, where)
            rows.append(
                (
                    f"{name} ({counted:,} incident-objective pairs)",
                    f"p50 {statistics.median(timings) * 1000:.0f} ms · "
                    f"max {max(timings) * 1000:.0f} ms ({RUNS} runs)",
                )
            )
    finally:
        profile.close()
    print(f"\n\n| objectives counts, {INCIDENTS:,} incidents | figure |\n| --- | --- |")
    for name, figure in rows:
        print(f"| {name} | {figure} |")
