"""Backup, verify and restore of a profile at 100,000 incidents: time and size.

Run with ``make bench PYTEST_ARGS="-k backup"``. It prints figures and asserts nothing about
time. The filled profile (the demo network, ``MINGA_BENCH_INCIDENTS`` incidents, the demo's
material files and 40 evidence files of 1 MiB) is kept in ``$MINGA_BENCH_DIR`` (default
``/tmp/minga-bench``) and reused while the size matches.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from desktop.domain.records import Incident
from desktop.store.backup import restore_backup, verify_backup, write_backup
from desktop.store.demo import DEMO_PASSPHRASE, fill_profile
from desktop.store.evidence import EvidenceStore
from desktop.store.profile import KdfParameters, create_profile, unlock
from desktop.store.spaces import local_spaces

INCIDENTS = int(os.environ.get("MINGA_BENCH_INCIDENTS", "100000"))
EVIDENCE_FILES = 40
FOLDER = Path(os.environ.get("MINGA_BENCH_DIR", "/tmp/minga-bench")) / f"backup-{INCIDENTS}"


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _filled() -> Path:
    profile_folder = FOLDER / "profile"
    marker = FOLDER / "filled.json"
    if marker.exists():
        return profile_folder
    shutil.rmtree(FOLDER, ignore_errors=True)
    profile, _ = create_profile(profile_folder, DEMO_PASSPHRASE, kdf=KdfParameters.fast_for_tests())
    started = time.perf_counter()
    counts = fill_profile(profile, incidents=INCIDENTS, seed=11)
    store = EvidenceStore.of(profile)
    space = local_spaces(store.records).network
    originals = FOLDER / "originals"
    originals.mkdir()
    for index in range(EVIDENCE_FILES):
        incident = store.records.save(Incident(space_id=space.id, title=f"With evidence {index}"))
        path = originals / f"photo-{index}.jpg"
        path.write_bytes(os.urandom(1024 * 1024))
        store.import_file(incident, path, actor="bench")
    shutil.rmtree(originals)
    profile.close()
    marker.write_text(json.dumps({"counts": counts, "seconds": time.perf_counter() - started}))
    return profile_folder


def test_backup_and_restore_at_scale(tmp_path: Path) -> None:
    folder = _filled()
    backup = tmp_path / "bench.mingabackup"
    figures: list[tuple[str, str]] = []
    profile_bytes = _folder_bytes(folder)
    figures.append(("profile folder", f"{profile_bytes / 1e6:.1f} MB"))
    with unlock(folder, DEMO_PASSPHRASE) as profile:
        started = time.perf_counter()
        summary = write_backup(profile, backup)
        backup_seconds = time.perf_counter() - started
    figures.append(("backup file", f"{summary.size / 1e6:.1f} MB ({summary.attachments} files)"))
    figures.append(
        ("backup time", f"{backup_seconds:.1f} s ({summary.size / 1e6 / backup_seconds:.0f} MB/s)")
    )
    started = time.perf_counter()
    verify_backup(backup, DEMO_PASSPHRASE)
    figures.append(("verify time (incl. one Argon2id)", f"{time.perf_counter() - started:.1f} s"))
    started = time.perf_counter()
    restore_backup(backup, tmp_path / "restored", DEMO_PASSPHRASE)
    restore_seconds = time.perf_counter() - started
    figures.append(("restore time (incl. one Argon2id)", f"{restore_seconds:.1f} s"))
    with unlock(tmp_path / "restored", DEMO_PASSPHRASE) as copy, copy.engine.connect() as c:
        from sqlalchemy import text

        incidents = c.scalar(text("SELECT count(*) FROM records WHERE record_type='incident'"))
    figures.append(("incidents restored", f"{incidents:,}"))
    print(f"\n\n| backup, {INCIDENTS:,} incidents | figure |\n| --- | --- |")
    for name, figure in figures:
        print(f"| {name} | {figure} |")
