"""Listing a damaged profile of 10,000 incidents: time and statements, this code against an
older records.py (issue 12, review r12). Prints figures; asserts nothing about time.

``MINGA_BENCH_BEFORE_RECORDS``: a records.py of an earlier revision (``git show
<rev>:desktop/store/records.py``) whose ``salvage`` is measured on the same damaged profile,
stopped after ``MINGA_BENCH_BEFORE_CAP`` seconds (default 120)."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import sys
import time
from pathlib import Path

import pytest

from desktop.store.profile import unlock
from desktop.store.records import RecordQuery, RecordStore
from tests.helpers.profiles import PASSPHRASE
from tests.store import test_damaged_salvage_bounded as damaged

INCIDENTS = 10_000


def _measure(folder: Path, records_path: str | None, answer: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store_class = RecordStore
    if records_path:
        spec = importlib.util.spec_from_file_location("records_before", records_path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["records_before"] = module  # its dataclasses look themselves up there
        spec.loader.exec_module(module)
        store_class = module.RecordStore
    profile = unlock(folder, PASSPHRASE)
    try:
        with damaged._statements(profile.engine) as seen:
            started = time.perf_counter()
            salvage = store_class(profile.engine).salvage(RecordQuery("incident"))
            took = time.perf_counter() - started
        answer.put((took, len(seen), len(salvage.rows), salvage.unreadable))
    finally:
        profile.close()


def _run(folder: Path, records_path: str | None, cap: float) -> str:
    answer: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    worker = multiprocessing.Process(target=_measure, args=(folder, records_path, answer))
    worker.start()
    worker.join(cap)
    if worker.is_alive():
        worker.terminate()
        worker.join()
        return f"still running after {cap:.0f} s (stopped)"
    took, statements, rows, unreadable = answer.get(timeout=5)
    return f"{took:.2f} s, {statements} statements, {rows} listed, {unreadable} unreadable"


@pytest.mark.parametrize("where", ["table leaves", "table interior", "indexes"])
def test_bench_salvage(tmp_path_factory: pytest.TempPathFactory, where: str) -> None:
    damaged.TOTAL = INCIDENTS
    pristine = getattr(test_bench_salvage, "_pristine", None)
    if pristine is None:
        pristine = damaged.pristine.__wrapped__(tmp_path_factory)  # type: ignore[attr-defined]
        test_bench_salvage._pristine = pristine  # type: ignore[attr-defined]
    folder, lost = damaged._damaged_copy(pristine, tmp_path_factory.mktemp(where[:5]) / "p", where)
    print(f"\n{INCIDENTS} incidents, damage in {where} ({len(lost)} rows on damaged pages)")
    print("  now:   ", _run(folder, None, 600))
    before = os.environ.get("MINGA_BENCH_BEFORE_RECORDS")
    if before:
        cap = float(os.environ.get("MINGA_BENCH_BEFORE_CAP", "120"))
        print("  before:", _run(folder, before, cap))
