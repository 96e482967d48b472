"""One truth about sync: the status bar and the Sync page read the same words and tone from the
scheduler's state; "Up to date" only when nothing waits to be sent; a failure is styled as one,
a success as one; once joined, the bare "Online" no longer sits beside "Server unreachable"."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.ui.status_bar import SessionStatusBar
from desktop.ui.sync.scheduler import SyncPhase
from desktop.ui.sync.texts import phase_text, phase_tone


class FakeScheduler(QObject):
    """The state a scheduler exposes, set by hand (no server needed for the words)."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.phase = SyncPhase.UP_TO_DATE
        self.pending = 0
        self.conflicts = 0
        self.last_sync_at: datetime | None = datetime.now(UTC)


def test_up_to_date_only_with_nothing_waiting(app: QApplication) -> None:
    scheduler = FakeScheduler()
    assert (phase_text(scheduler), phase_tone(scheduler)) == ("Up to date", "success")  # type: ignore[arg-type]
    scheduler.pending = 1
    assert phase_text(scheduler) == "1 change waiting to be sent"  # type: ignore[arg-type]
    assert phase_tone(scheduler) == "info"  # type: ignore[arg-type]
    scheduler.phase = SyncPhase.OFFLINE
    assert (phase_text(scheduler), phase_tone(scheduler)) == ("Server unreachable", "warning")  # type: ignore[arg-type]
    scheduler.phase = SyncPhase.FAILED
    assert phase_tone(scheduler) == "error"  # type: ignore[arg-type]


def test_the_status_bar_says_what_the_page_says(app: QApplication, qtbot: QtBot) -> None:
    bar = SessionStatusBar()
    qtbot.addWidget(bar)

    scheduler = FakeScheduler()
    scheduler.pending = 2
    bar.show_sync(scheduler)  # type: ignore[arg-type]
    text = bar.sync_state.text()
    assert text.startswith("2 changes waiting to be sent") and "Up to date" not in text
    assert text.count("waiting to be sent") == 1  # said once, not twice
    assert bar.sync_state.property("tone") == "info"
    assert bar.network.isHidden()  # joined: no bare "Online" beside the server's state

    scheduler.phase = SyncPhase.OFFLINE
    scheduler.changed.emit()
    assert bar.sync_state.text().startswith("Server unreachable")
    assert bar.sync_state.property("tone") == "warning"

    scheduler.phase = SyncPhase.NOT_JOINED
    scheduler.pending = 0
    scheduler.changed.emit()
    assert bar.sync_state.text() == "Not joined to a network"
    assert not bar.network.isHidden()  # not joined: connectivity is all there is to say
