"""The background-job helper: work off the UI thread, outcomes on it, writes one at a time.

These tests use real threads and real Qt signal delivery; nothing is faked.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.ui.jobs import Job, JobState, drain_writes, run_job


def test_job_runs_on_a_worker_and_delivers_on_the_ui_thread(qapp: QApplication, qtbot: QtBot):
    ui_thread = threading.get_ident()
    seen: dict[str, int] = {}

    def work(_state: JobState) -> int:
        seen["work"] = threading.get_ident()
        return 42

    def done(value: int) -> None:
        seen["done"] = threading.get_ident()
        seen["value"] = value

    job = Job(None, work).on_success(done)
    with qtbot.waitSignal(job.finished, timeout=5_000):
        job.start()
    assert seen["work"] != ui_thread
    assert seen["done"] == ui_thread
    assert seen["value"] == 42


def test_a_failure_comes_back_as_a_signal_with_the_error(qapp: QApplication, qtbot: QtBot):
    failures: list[BaseException] = []
    successes: list[object] = []

    def work(_state: JobState) -> None:
        raise ValueError("the disk is full")

    job = Job(None, work).on_success(successes.append).on_failure(failures.append)
    with qtbot.waitSignal(job.finished, timeout=5_000):
        job.start()
    assert successes == []
    assert len(failures) == 1 and isinstance(failures[0], ValueError)
    assert str(failures[0]) == "the disk is full"


def test_progress_arrives_on_the_ui_thread_in_order(qapp: QApplication, qtbot: QtBot):
    ui_thread = threading.get_ident()
    reports: list[tuple[int, int, str, bool]] = []

    def work(state: JobState) -> None:
        for done in range(1, 4):
            state.report(done, 3, f"step {done}")

    def progressed(done: int, total: int, note: str) -> None:
        reports.append((done, total, note, threading.get_ident() == ui_thread))

    job = Job(None, work).on_progress(progressed)
    with qtbot.waitSignal(job.finished, timeout=5_000):
        job.start()
    assert reports == [(1, 3, "step 1", True), (2, 3, "step 2", True), (3, 3, "step 3", True)]


def test_writes_run_one_at_a_time_in_the_order_queued(qapp: QApplication, qtbot: QtBot):
    log: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def write(number: int):  # type: ignore[no-untyped-def]
        def work(_state: JobState) -> None:
            with lock:
                log.append(("start", number, threading.current_thread().name))
            time.sleep(0.02)
            with lock:
                log.append(("end", number, threading.current_thread().name))

        return work

    jobs = [run_job(None, write(n), writes=True) for n in range(5)]
    qtbot.waitUntil(lambda: len(log) == 10, timeout=5_000)
    assert drain_writes(5.0)
    # Each write ends before the next starts, in queue order, all on the one writer thread.
    assert [(kind, n) for kind, n, _name in log] == [
        (kind, n) for n in range(5) for kind in ("start", "end")
    ]
    assert len({name for _kind, _n, name in log}) == 1
    assert len(jobs) == 5


def test_the_ui_thread_keeps_running_while_a_job_works(qapp: QApplication, qtbot: QtBot):
    # The job waits for an event that only a UI-thread timer sets: if the job blocked the
    # UI thread, the timer could not fire and the job would time out.
    released = threading.Event()
    results: list[bool] = []
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(released.set)

    def work(_state: JobState) -> bool:
        return released.wait(timeout=3)

    job = Job(None, work).on_success(results.append)
    with qtbot.waitSignal(job.finished, timeout=5_000):
        job.start()
        timer.start(50)
    assert results == [True]


def test_an_outcome_for_a_destroyed_owner_is_dropped(qapp: QApplication, qtbot: QtBot):
    owner = QObject()
    gone: list[bool] = []
    owner.destroyed.connect(lambda: gone.append(True))
    go = threading.Event()
    ran = threading.Event()
    delivered: list[object] = []

    def work(_state: JobState) -> str:
        go.wait(timeout=3)
        ran.set()
        return "late"

    run_job(owner, work, on_success=delivered.append, on_failure=delivered.append)
    owner.deleteLater()
    qtbot.waitUntil(lambda: gone == [True], timeout=2_000)
    go.set()
    assert ran.wait(timeout=3)
    qtbot.wait(100)  # time for a queued delivery, were there one
    assert delivered == []
