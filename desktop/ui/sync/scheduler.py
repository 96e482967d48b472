"""When sync runs: at unlock, after local changes (debounced), on reconnection, and periodically,
backing off with jitter while the server cannot be reached. One sync at a time, on a worker."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from desktop.ui.jobs import Job, JobState, run_job
from desktop.ui.sync.link import SyncLink
from sync.client.engine import NotEnrolled, SyncReport
from sync.client.transport import CertificateMismatch, Offline


class SyncPhase(Enum):
    NOT_JOINED = "not_joined"
    IDLE = "idle"
    SYNCING = "syncing"
    UP_TO_DATE = "up_to_date"
    OFFLINE = "offline"
    FAILED = "failed"
    #: The certificate is not the pinned one: never retried on its own, only after a change.
    BLOCKED = "blocked"


class SyncScheduler(QObject):
    """Runs ``sync_once`` on one worker at the right moments, never two at once.

    Times are in milliseconds so tests can run the whole policy in a fraction of a second.

    Signals:
        changed(): the phase, counts or last report changed; views read the attributes.
        synced(object): a sync finished with this ``SyncReport``.
        sync_failed(object): a sync stopped with this exception.
    """

    changed = Signal()
    synced = Signal(object)
    sync_failed = Signal(object)

    #: After the last local change, wait this long so a burst of saves makes one sync.
    DEBOUNCE_MS = 5_000
    #: How often the count of changes waiting to be sent is read (one indexed COUNT).
    DIRTY_POLL_MS = 3_000
    #: The longest wait between attempts while the server cannot be reached.
    MAX_BACKOFF_MS = 15 * 60_000
    #: The first wait after a failure; doubled for each failure in a row.
    FIRST_BACKOFF_MS = 30_000

    def __init__(
        self,
        link: SyncLink,
        interval_ms: int,
        parent: QObject | None = None,
        *,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(parent)
        self.link = link
        self.interval_ms = interval_ms
        self._jitter = jitter
        self.phase = SyncPhase.IDLE
        self.last_report: SyncReport | None = None
        self.last_error: BaseException | None = None
        self.last_sync_at: datetime | None = None
        self.pending = 0
        self.conflicts = 0
        self.failures = 0
        self.syncs_started = 0
        self._job: Job | None = None
        self._count_job: Job | None = None
        self._again = False  # a request arrived while a sync ran: run once more after it
        self._running = False
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.timeout.connect(self.sync_now)
        self._next = QTimer(self)
        self._next.setSingleShot(True)
        self._next.timeout.connect(self.sync_now)
        self._poll = QTimer(self)
        self._poll.timeout.connect(self._read_counts)

    # --- control ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    @property
    def busy(self) -> bool:
        return self._job is not None

    @property
    def next_delay_ms(self) -> int:
        """When the periodic timer fires next (0 when stopped), for the page and for tests."""
        return self._next.interval() if self._next.isActive() else 0

    def start(self) -> None:
        """At unlock: sync now, then keep watching for changes."""
        self._running = True
        self._poll.start(self.DIRTY_POLL_MS)
        self.sync_now()

    def stop(self) -> None:
        """At lock: no timer fires again, and a sync in flight reports to nobody."""
        self._running = False
        for timer in (self._debounce, self._next, self._poll):
            timer.stop()
        for job in (self._job, self._count_job):
            if job is not None:
                job.cancel()
        self._job = self._count_job = None
        self._again = False

    def note_local_change(self) -> None:
        """Something was saved here: sync once saving has paused for ``DEBOUNCE_MS``."""
        if self._running and self.phase is not SyncPhase.NOT_JOINED:
            self._debounce.start(self.DEBOUNCE_MS)

    def network_changed(self, reachable: bool) -> None:
        """A connection appeared: do not wait for the backoff to run out."""
        if reachable and self._running and self.phase in (SyncPhase.OFFLINE, SyncPhase.FAILED):
            self.sync_now()

    def joined(self) -> None:
        """The profile just enrolled: the first sync discovers its spaces."""
        self.phase = SyncPhase.IDLE
        self.sync_now()

    def settings_changed(self, interval_ms: int) -> None:
        self.interval_ms = interval_ms
        if self.phase is SyncPhase.BLOCKED:
            self.phase = SyncPhase.IDLE
        if self._running and not self.busy:
            self._plan_next()

    def sync_now(self) -> None:
        if not self._running:
            return
        self._debounce.stop()
        if self._job is not None:
            self._again = True
            return
        self._next.stop()
        self.phase = SyncPhase.SYNCING
        self.syncs_started += 1
        self.changed.emit()
        link = self.link

        def sync(_state: JobState) -> tuple[SyncReport, int, int]:
            report = link.sync()  # with pinned materials' files and their text
            return (report, *link.counts())

        self._job = run_job(self, sync, on_success=self._succeeded, on_failure=self._failed)

    # --- outcomes ---------------------------------------------------------------------------

    def _succeeded(self, outcome: Any) -> None:
        report, pending, conflicts = outcome
        self._job = None
        self.failures = 0
        self.last_report = report
        self.last_error = None
        self.last_sync_at = datetime.now(UTC)
        self.pending, self.conflicts = pending, conflicts
        self.phase = SyncPhase.UP_TO_DATE
        self.synced.emit(report)
        self._after()

    def _failed(self, error: BaseException) -> None:
        self._job = None
        self.last_error = error
        if isinstance(error, NotEnrolled):
            self.phase = SyncPhase.NOT_JOINED
        elif isinstance(error, CertificateMismatch):
            self.phase = SyncPhase.BLOCKED
        else:
            self.failures += 1
            self.phase = SyncPhase.OFFLINE if isinstance(error, Offline) else SyncPhase.FAILED
        self.sync_failed.emit(error)
        self._after()

    def _after(self) -> None:
        self.changed.emit()
        if not self._running:
            return
        if self._again:
            self._again = False
            self.sync_now()
            return
        self._plan_next()

    def _plan_next(self) -> None:
        if self.phase in (SyncPhase.NOT_JOINED, SyncPhase.BLOCKED):
            self._next.stop()
            return
        self._next.start(self.delay_ms())

    def delay_ms(self) -> int:
        """The wait before the next periodic sync: the interval, or after failures in a row an
        exponential backoff capped at ``MAX_BACKOFF_MS``, with up to 20% jitter either way so
        many devices that lost the same server do not all come back in the same second."""
        if self.failures == 0:
            base = self.interval_ms
        else:
            base = min(self.FIRST_BACKOFF_MS * 2 ** (self.failures - 1), self.MAX_BACKOFF_MS)
        spread = 0.8 + 0.4 * self._jitter()
        return max(1, min(int(base * spread), self.MAX_BACKOFF_MS if self.failures else 2**31 - 1))

    def _read_counts(self) -> None:
        if self._count_job is not None or self.phase is SyncPhase.NOT_JOINED:
            return
        link = self.link

        def count(_state: JobState) -> tuple[int, int]:
            return link.counts()

        self._count_job = run_job(
            self, count, on_success=self._counted, on_failure=self._not_counted
        )

    def _counted(self, counts: Any) -> None:
        self._count_job = None
        pending, conflicts = counts
        if (pending, conflicts) == (self.pending, self.conflicts):
            return
        grew = pending > self.pending
        self.pending, self.conflicts = pending, conflicts
        self.changed.emit()
        if grew and not self.busy:
            self.note_local_change()

    def _not_counted(self, _error: BaseException) -> None:
        self._count_job = None  # the store closed under it at lock; the next poll tries again
