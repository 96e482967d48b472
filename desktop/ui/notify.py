"""A desktop notification when an urgent alert arrives by sync: "New urgent alert", nothing more.

A notification can show on a locked screen or a shared display, so it carries no title, no
name, no place: the person opens Minga to read the alert. Only alerts that arrived from
another member count (not ones written here), and each one is announced once per unlock.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from desktop.domain.network_records import OPEN_ALERT_STATUSES, AlertUrgency
from desktop.domain.translation import _
from desktop.store.records import RecordQuery, RecordStore
from desktop.ui import APP_NAME
from desktop.ui.jobs import JobState, run_job


def urgent_alerts_from_elsewhere(store: RecordStore) -> set[str]:
    """Open alerts of immediate urgency that came by sync (not waiting to be sent from here)."""
    query = RecordQuery(
        "alert",
        kinds=[AlertUrgency.IMMEDIATE.value],
        statuses=[status.value for status in OPEN_ALERT_STATUSES],
    )
    found: set[str] = set()
    offset = 0
    while rows := store.page(query, offset, 500):
        found.update(row.id for row in rows if not row.dirty)
        offset += len(rows)
    return found


class DesktopNotifier(QObject):
    """Shows a system notification through the tray, where the desktop has one; and asks the
    window manager to draw attention to the window either way.

    Signals:
        notified(str): the text just shown (what a test, or an accessibility tool, can read).
    """

    notified = Signal(str)

    def __init__(self, window: QWidget, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._window = window
        self._tray: QSystemTrayIcon | None = None

    def notify(self, text: str) -> None:
        if QSystemTrayIcon.isSystemTrayAvailable() and QSystemTrayIcon.supportsMessages():
            if self._tray is None:
                self._tray = QSystemTrayIcon(self._window.windowIcon() or QIcon(), self)
            self._tray.show()
            self._tray.showMessage(APP_NAME, text, QSystemTrayIcon.MessageIcon.Warning, 15_000)
        QApplication.alert(self._window)
        self.notified.emit(text)

    def close(self) -> None:
        if self._tray is not None:
            self._tray.hide()
            self._tray.deleteLater()
            self._tray = None


class UrgentAlertWatch(QObject):
    """Compares the urgent alerts after each sync with those known before; new ones that came
    from elsewhere are announced, content-free."""

    def __init__(
        self,
        store: RecordStore,
        synced: object,
        notify: Callable[[str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._notify = notify
        self._known: set[str] | None = None
        self._read(first=True)
        synced.connect(lambda _report: self._read(first=False))  # type: ignore[attr-defined]

    def _read(self, *, first: bool) -> None:
        store = self._store

        def read(_state: JobState) -> set[str]:
            return urgent_alerts_from_elsewhere(store)

        run_job(self, read, on_success=lambda found: self._compare(found, first=first))

    def _compare(self, found: set[str], *, first: bool) -> None:
        known = self._known
        self._known = found if known is None else known | found
        if first or known is None:
            return  # those already here at unlock are not news
        if found - known:
            self._notify(_("New urgent alert"))
