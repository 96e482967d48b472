"""The local store at 100,000 incidents: opening the list, searching, filtering, memory.

Run with ``make bench`` (or ``make bench PYTEST_ARGS="-k store"``). It prints figures and
asserts nothing about time. The filled profile is kept in ``$MINGA_BENCH_DIR`` (default
``/tmp/minga-bench``) and reused while the seed and size match; set ``MINGA_BENCH_INCIDENTS``
to try another size.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from desktop.store.demo import DEMO_PASSPHRASE, fill_profile
from desktop.store.profile import KdfParameters, Profile, create_profile, unlock
from desktop.store.records import RecordQuery, RecordStore

INCIDENTS = int(os.environ.get("MINGA_BENCH_INCIDENTS", "100000"))
SEED = 11
FOLDER = Path(os.environ.get("MINGA_BENCH_DIR", "/tmp/minga-bench")) / f"store-{INCIDENTS}-{SEED}"
RUNS = 40


def _profile() -> tuple[Profile, float]:
    """The benchmark profile, filled on first use; returns it and the unlock time."""
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
    started = time.perf_counter()
    profile = unlock(FOLDER / "profile", DEMO_PASSPHRASE)
    return profile, time.perf_counter() - started


def _times(action: Callable[[], object], runs: int = RUNS) -> list[float]:
    action()  # warm: the first run reads pages from disk; later ones are what a person feels
    result = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        result.append((time.perf_counter() - started) * 1000)
    return result


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _resident_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_store_at_scale() -> None:
    profile, unlock_seconds = _profile()
    store = RecordStore(profile.engine)
    rows: list[tuple[str, str]] = []
    try:
        everything = RecordQuery("incident", order_by="date_from", descending=True)
        started = time.perf_counter()
        total = store.count(everything)
        first_page = store.page(everything, 0, 200)
        open_ms = (time.perf_counter() - started) * 1000
        assert total == INCIDENTS and len(first_page) == 200
        rows.append(
            ("unlock (KDF at the floor) + migrations check", f"{unlock_seconds * 1000:.0f} ms")
        )
        rows.append(("open the list: count + first 200 rows, cold", f"{open_ms:.1f} ms"))

        searches = {
            "common word (es) “desalojo”": "desalojo",
            "common word (ar) “إخلاء”": "إخلاء",
            "common word, no accents “expulsion”": "expulsion",
            "rare word “Chiadzwa”": "Chiadzwa",
            "rare word (ar) “مسافر يطا”": "مسافر يطا",
            "two words “water cut”": "water cut",
        }
        for name, words in searches.items():
            query = RecordQuery("incident", text=words, order_by="date_from", descending=True)
            timings = _times(lambda q=query: (store.count(q), store.page(q, 0, 200)))
            hits = store.count(query)
            rows.append(
                (
                    f"search {name} ({hits:,} hits), count + first page",
                    f"p50 {_p(timings, 50):.1f} ms · p95 {_p(timings, 95):.1f} ms",
                )
            )

        filters = {
            "status documented": RecordQuery("incident", statuses=["documented"]),
            "country = co": RecordQuery("incident", countries=["co"]),
            "right = drinking water": RecordQuery("incident", codes={"rights": ["drinking_water"]}),
            "2019–2020": RecordQuery(
                "incident", date_from=date(2019, 1, 1), date_to=date(2020, 12, 31)
            ),
            "country + right + period + text": RecordQuery(
                "incident",
                countries=["bo"],
                codes={"rights": ["drinking_water"]},
                date_from=date(2018, 1, 1),
                date_to=date(2025, 12, 31),
                text="agua",
            ),
        }
        for name, query in filters.items():
            ordered = RecordQuery(**{**query.__dict__, "order_by": "date_from", "descending": True})
            timings = _times(lambda q=ordered: (store.count(q), store.page(q, 0, 200)), runs=15)
            rows.append(
                (
                    f"filter {name} ({store.count(ordered):,} rows), count + first page",
                    f"p50 {_p(timings, 50):.1f} ms · p95 {_p(timings, 95):.1f} ms",
                )
            )
        scroll = _times(lambda: store.page(everything, 50_000, 200), runs=15)
        rows.append(("scroll: rows 50,000–50,200", f"p50 {_p(scroll, 50):.1f} ms"))
        rows.append(("resident memory of this process", f"{_resident_mb():.0f} MB"))
        size = sum(f.stat().st_size for f in (FOLDER / "profile").rglob("*") if f.is_file())
        rows.append(("profile size on disk", f"{size / 1e6:.0f} MB"))
    finally:
        profile.close()
    print(f"\n\n| local store, {INCIDENTS:,} incidents | figure |\n| --- | --- |")
    for name, figure in rows:
        print(f"| {name} | {figure} |")


def test_incidents_screen_at_scale(qtbot: object) -> None:
    """The real Incidents page, offscreen: time from unlock to the first rows on screen."""
    from desktop.ui.incidents.page import IncidentsPage

    started = time.perf_counter()
    profile, unlock_seconds = _profile()
    rows: list[tuple[str, str]] = []
    try:
        page = IncidentsPage(profile)
        qtbot.addWidget(page)  # type: ignore[attr-defined]
        page.show()
        qtbot.waitUntil(lambda: page.model.loaded >= 200, timeout=30_000)  # type: ignore[attr-defined]
        opened = time.perf_counter() - started
        rows.append(
            (
                "unlock (KDF at the floor) + Incidents page showing its first 200 rows",
                f"{opened * 1000:.0f} ms (unlock {unlock_seconds * 1000:.0f} ms)",
            )
        )
        timings = []
        for words in ("desalojo", "إخلاء", "Chiadzwa", "water cut", "agua"):
            mark = time.perf_counter()
            page.model.set_query(
                RecordQuery("incident", text=words, order_by="date_from", descending=True)
            )
            qtbot.waitUntil(lambda: page.model.loaded > 0, timeout=30_000)  # type: ignore[attr-defined]
            timings.append((time.perf_counter() - mark) * 1000)
        rows.append(
            (
                "search typed into the page until rows show (5 words)",
                " · ".join(f"{t:.0f} ms" for t in timings),
            )
        )
        rows.append(
            (
                "resident memory of the app (Qt, page, 100,000-row profile)",
                f"{_resident_mb():.0f} MB",
            )
        )
        page.tear_down()
    finally:
        profile.close()
    print(f"\n\n| Incidents screen, {INCIDENTS:,} incidents | figure |\n| --- | --- |")
    for name, figure in rows:
        print(f"| {name} | {figure} |")
