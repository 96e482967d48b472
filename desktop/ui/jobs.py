"""The one background-job helper: run a function off the UI thread, get its outcome back on it.

Store and network work never runs on the UI thread; database writes queue on one worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)

# Reads and slow key derivations may run side by side; a few threads are plenty, and each
# Argon2id derivation holds its memory cost while it runs, so keep the pool small.
_READER_THREADS = 3

_pools_lock = threading.Lock()
_readers: ThreadPoolExecutor | None = None
_writer: ThreadPoolExecutor | None = None
# Jobs keep themselves alive here until their outcome is delivered: nobody has to hold them.
_running: set[Job] = set()


def _reader_pool() -> ThreadPoolExecutor:
    global _readers
    with _pools_lock:
        if _readers is None:
            _readers = ThreadPoolExecutor(_READER_THREADS, thread_name_prefix="minga-job")
        return _readers


def _writer_pool() -> ThreadPoolExecutor:
    global _writer
    with _pools_lock:
        if _writer is None:
            # One thread, so writes to the encrypted store happen one at a time, in order.
            _writer = ThreadPoolExecutor(1, thread_name_prefix="minga-write")
        return _writer


def submit_write(function: Callable[[], Any]) -> Future[Any]:
    """Queue ``function`` behind every write already queued; for callers that must wait."""
    return _writer_pool().submit(function)


def drain_writes(timeout: float) -> bool:
    """Wait until every write queued so far has run; False if ``timeout`` seconds passed first."""
    try:
        submit_write(lambda: None).result(timeout=timeout)
    except TimeoutError:
        return False
    return True


#: Called first at shutdown: whatever makes a running job end sooner (a sync waiting out a
#: busy server stops waiting), since shutting down waits for the running jobs.
_before_shutdown: list[Callable[[], None]] = []


def before_shutdown(hurry: Callable[[], None]) -> Callable[[], None]:
    """Call ``hurry`` when the application quits, before its jobs are waited for; returns
    what stops that (when what it hurries is gone)."""
    _before_shutdown.append(hurry)

    def forget() -> None:
        if hurry in _before_shutdown:
            _before_shutdown.remove(hurry)

    return forget


def shutdown_jobs() -> None:
    """Let queued writes finish and stop the worker threads (at application exit)."""
    global _readers, _writer
    for hurry in list(_before_shutdown):
        try:
            hurry()
        except Exception:
            log.exception("hurrying a job at shutdown failed")
    with _pools_lock:
        pools, _readers, _writer = (_writer, _readers), None, None
    for pool in pools:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=False)


class JobState:
    """What a job function may do from its worker thread: report progress, see a cancellation."""

    def __init__(self, job: Job) -> None:
        self._job = job
        self._cancelled = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def report(self, done: int, total: int, note: str = "") -> None:
        """Tell the interface how far the job is; delivered on the UI thread as ``progressed``."""
        self._job._progress_from_worker.emit(done, total, note)


class Job(QObject):
    """One function run on a worker thread, its result or error delivered on the UI thread.

    The function receives a :class:`JobState` and must touch no widget. When ``owner`` (the
    widget that asked) is destroyed before the job ends, the outcome is dropped silently.

    Signals:
        succeeded(object): the function's return value.
        failed(object): the exception it raised.
        progressed(int, int, str): done, total and a note, as reported through ``JobState``.
        finished(): after ``succeeded`` or ``failed``.
    """

    succeeded = Signal(object)
    failed = Signal(object)
    progressed = Signal(int, int, str)
    finished = Signal()

    # Emitted on the worker thread; the Job lives on the UI thread, so Qt queues them there.
    _outcome_from_worker = Signal(bool, object)
    _progress_from_worker = Signal(int, int, str)

    def __init__(
        self,
        owner: QObject | None,
        function: Callable[[JobState], Any],
        *,
        writes: bool = False,
    ) -> None:
        # No Qt parent on purpose: the worker emits on this object, so it must outlive the owner.
        super().__init__(None)
        self._function = function
        self._writes = writes
        self._abandoned = False
        self._started = False
        self._has_failure_handler = False
        self.state = JobState(self)
        self._outcome_from_worker.connect(self._deliver)
        self._progress_from_worker.connect(self._relay_progress)
        if owner is not None:
            owner.destroyed.connect(self._abandon)

    def on_success(self, callback: Callable[[Any], None]) -> Job:
        self.succeeded.connect(callback)
        return self

    def on_failure(self, callback: Callable[[BaseException], None]) -> Job:
        self._has_failure_handler = True
        self.failed.connect(callback)
        return self

    def on_progress(self, callback: Callable[[int, int, str], None]) -> Job:
        self.progressed.connect(callback)
        return self

    def start(self) -> Job:
        if self._started:
            raise RuntimeError("a job runs once")
        self._started = True
        _running.add(self)
        pool = _writer_pool() if self._writes else _reader_pool()
        pool.submit(self._run)
        return self

    def cancel(self) -> None:
        """Ask the function to stop (it checks ``state.cancelled``) and drop its outcome."""
        self.state._cancelled.set()
        self._abandoned = True

    def _run(self) -> None:
        try:
            result = self._function(self.state)
        except BaseException as error:  # every failure must reach the UI thread
            self._outcome_from_worker.emit(False, error)
        else:
            self._outcome_from_worker.emit(True, result)

    @Slot(bool, object)
    def _deliver(self, ok: bool, value: object) -> None:
        _running.discard(self)
        try:
            if self._abandoned:
                return
            if ok:
                self.succeeded.emit(value)
            else:
                if not self._has_failure_handler:
                    log.error("background job failed", exc_info=value)  # type: ignore[arg-type]
                self.failed.emit(value)
            self.finished.emit()
        finally:
            self.deleteLater()

    @Slot(int, int, str)
    def _relay_progress(self, done: int, total: int, note: str) -> None:
        if not self._abandoned:
            self.progressed.emit(done, total, note)

    @Slot()
    def _abandon(self) -> None:
        self._abandoned = True


def run_job(
    owner: QObject | None,
    function: Callable[[JobState], Any],
    *,
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    writes: bool = False,
) -> Job:
    """Start ``function`` on a worker (the write queue if ``writes``); returns its ``Job``."""
    job = Job(owner, function, writes=writes)
    if on_success is not None:
        job.on_success(on_success)
    if on_failure is not None:
        job.on_failure(on_failure)
    if on_progress is not None:
        job.on_progress(on_progress)
    return job.start()
