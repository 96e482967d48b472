"""Quick delete at 100,000 incidents with a few hundred MB of attachments (issue 16).

Run with ``make bench PYTEST_ARGS="-k quick_delete"``. Prints how long until the keys are
destroyed (the profile unreadable) and until every file is gone; asserts nothing about time.
A filled profile is kept in ``$MINGA_BENCH_DIR`` (default ``/tmp/minga-bench``) as a template
and copied for each run, since each run destroys its copy.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import time
from pathlib import Path

from desktop.store.demo import DEMO_PASSPHRASE, fill_profile
from desktop.store.profile import KdfParameters, ProfileNotFound, create_profile, unlock
from desktop.store.quick_delete import destroy_keys, erase, move_aside

INCIDENTS = int(os.environ.get("MINGA_BENCH_INCIDENTS", "100000"))
ATTACHMENT_MB = int(os.environ.get("MINGA_BENCH_ATTACHMENT_MB", "400"))
SEED = 11
ROOT = Path(os.environ.get("MINGA_BENCH_DIR", "/tmp/minga-bench"))
TEMPLATE = ROOT / f"quick-delete-{INCIDENTS}-{ATTACHMENT_MB}mb-{SEED}"
RUNS = 3


def _template() -> Path:
    marker = TEMPLATE / "filled.json"
    folder = TEMPLATE / "profile"
    if marker.exists():
        return folder
    shutil.rmtree(TEMPLATE, ignore_errors=True)
    profile, _ = create_profile(folder, DEMO_PASSPHRASE, kdf=KdfParameters.fast_for_tests())
    started = time.perf_counter()
    try:
        counts = fill_profile(profile, incidents=INCIDENTS, seed=SEED)
        # Sealed attachments as an import makes them: 1 MB photos and documents, then many
        # small files (a folder of many entries is what takes a file system longest to empty).
        for _ in range(ATTACHMENT_MB):
            profile.attachments.import_stream(io.BytesIO(os.urandom(1024 * 1024)))
        for n in range(2_000):
            profile.attachments.import_stream(io.BytesIO(os.urandom(2048) + n.to_bytes(4, "big")))
    finally:
        profile.close()
    marker.write_text(json.dumps({"counts": counts, "seconds": time.perf_counter() - started}))
    return folder


def _size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def test_quick_delete_at_100000_incidents(tmp_path: Path) -> None:
    template = _template()
    files, size = _size(template)
    keys_ms, gone_ms, all_ms = [], [], []
    for run in range(RUNS):
        folder = tmp_path / f"run{run}"
        shutil.copytree(template, folder)
        os.sync()  # the copy on disk, not only in the page cache, as on a real laptop
        started = time.perf_counter()
        destroy_keys(folder)
        keys_done = time.perf_counter()
        aside = move_aside(folder)
        moved = time.perf_counter()
        left = erase(aside)
        finished = time.perf_counter()
        assert left == []
        try:
            unlock(folder, DEMO_PASSPHRASE)
        except ProfileNotFound:
            pass
        else:  # pragma: no cover - would be a defect
            raise AssertionError("the profile still opened")
        keys_ms.append((keys_done - started) * 1000)
        gone_ms.append((moved - started) * 1000)
        all_ms.append((finished - started) * 1000)
    print(
        f"\nquick delete, {INCIDENTS:,} incidents, {files:,} files, {size / 1e6:,.0f} MB: "
        f"keys destroyed in {statistics.median(keys_ms):.1f} ms (median of {RUNS}), "
        f"profile folder gone (first-start screen) in {statistics.median(gone_ms):.1f} ms, "
        f"every byte erased in {statistics.median(all_ms):.0f} ms "
        f"(runs: {', '.join(f'{t:.0f}' for t in all_ms)} ms)"
    )
