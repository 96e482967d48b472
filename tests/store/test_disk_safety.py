"""What a seized or crashed laptop leaves on disk: no plaintext, and every committed row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from desktop.store.profile import unlock
from tests.helpers.profiles import PASSPHRASE, files_containing, new_profile

ROOT = Path(__file__).resolve().parents[2]


def _worker(*args: str, tmpdir: Path | None = None) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if tmpdir is not None:
        env["TMPDIR"] = env["SQLITE_TMPDIR"] = str(tmpdir)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.store_worker", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(process: subprocess.Popen[str], line: str) -> None:
    assert process.stdout is not None
    for _ in range(100_000):
        got = process.stdout.readline()
        if not got:
            raise AssertionError(
                f"worker ended early: {process.stderr.read() if process.stderr else ''}"
            )
        if got.strip() == line:
            return
    raise AssertionError(f"never saw {line!r}")


def _kill(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def test_canary_reaches_no_file_in_plaintext(tmp_path: Path) -> None:
    canary = "CANARY-7f3a-Desalojo-forzoso-إخلاء"
    folder, tmpdir = tmp_path / "profile", tmp_path / "tmp"
    tmpdir.mkdir()
    new_profile(folder)[0].close()
    worker = _worker("write-canary", str(folder), canary, tmpdir=tmpdir)
    try:
        _wait_for(worker, "written")
        # While open: the WAL and shared-memory files exist and hold fresh pages.
        assert (folder / "minga.db-wal").exists()
        assert files_containing([folder, tmpdir], canary) == []
        assert canary not in (tmp_path / "minga.log").read_text(encoding="utf-8")
        assert worker.stdin is not None
        worker.stdin.write("close\n")
        worker.stdin.flush()
        _wait_for(worker, "closed")
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            _kill(worker)
    assert files_containing([folder, tmpdir], canary) == []
    log = (tmp_path / "minga.log").read_text(encoding="utf-8")
    assert "sorted 2000 rows" in log and canary not in log
    # The scan itself can find the canary: the same rows, unlocked, do contain it.
    profile = unlock(folder, PASSPHRASE)
    with profile.engine.connect() as connection:
        found = connection.execute(
            text("SELECT count(*) FROM notes WHERE body LIKE :c"), {"c": f"%{canary}%"}
        ).scalar_one()
    profile.close()
    assert found > 0
    plain = tmp_path / "plain.txt"
    plain.write_text(canary, encoding="utf-16-le")
    assert files_containing([tmp_path], canary) == [str(plain)]


@pytest.mark.parametrize("run", range(3))
def test_kill_during_commits_keeps_every_acknowledged_row(tmp_path: Path, run: int) -> None:
    folder = tmp_path / "profile"
    new_profile(folder)[0].close()
    worker = _worker("commit-forever", str(folder))
    acknowledged = -1
    assert worker.stdout is not None
    try:
        target = 40 + 37 * run  # a different moment each run
        while acknowledged < target:
            line = worker.stdout.readline()
            assert line, worker.stderr.read() if worker.stderr else ""
            acknowledged = int(line.split()[1])
    finally:
        _kill(worker)
    # The worker went on committing until the signal landed; its last acks are still in the pipe.
    for line in worker.stdout.read().splitlines():
        if line.startswith("committed "):
            acknowledged = int(line.split()[1])
    profile = unlock(folder, PASSPHRASE)
    with profile.engine.connect() as connection:
        assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        numbers = [r[0] for r in connection.execute(text("SELECT n FROM ledger ORDER BY n"))]
    profile.close()
    # Every acknowledged commit is there, in order with no gap; at most one more (committed,
    # but killed before it could say so).
    assert numbers == list(range(len(numbers)))
    assert acknowledged + 1 <= len(numbers) <= acknowledged + 2


def test_kill_inside_a_write_transaction_loses_only_that_transaction(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    new_profile(folder)[0].close()
    worker = _worker("hold-open-transaction", str(folder), "500")
    try:
        _wait_for(worker, "in transaction")
    finally:
        _kill(worker)
    profile = unlock(folder, PASSPHRASE)
    with profile.engine.connect() as connection:
        assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        rows = connection.execute(text("SELECT body, count(*) FROM ledger GROUP BY body")).all()
    profile.close()
    assert rows == [("kept", 500)]
