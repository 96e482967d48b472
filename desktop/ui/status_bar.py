"""The window's status bar: locked or unlocked, online or offline, and when it locks itself.

Connectivity comes from QNetworkInformation when a backend loads, else from the interfaces.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtNetwork import QNetworkInformation, QNetworkInterface
from PySide6.QtWidgets import QLabel, QStatusBar, QStyle, QWidget

from desktop.domain.translation import _, format_clock, format_number, ngettext

if TYPE_CHECKING:
    from desktop.ui.sync.scheduler import SyncScheduler


class Connectivity(Enum):
    ONLINE = "online"
    LOCAL = "local"  # a network, but no sign of the internet (captive wifi, a LAN only)
    OFFLINE = "offline"
    UNKNOWN = "unknown"


_FROM_REACHABILITY = {
    QNetworkInformation.Reachability.Online: Connectivity.ONLINE,
    QNetworkInformation.Reachability.Site: Connectivity.LOCAL,
    QNetworkInformation.Reachability.Local: Connectivity.LOCAL,
    QNetworkInformation.Reachability.Disconnected: Connectivity.OFFLINE,
}


def _interfaces_connectivity() -> Connectivity:
    """The fallback when the OS offers no reachability: is any real interface up and running?"""
    wanted = QNetworkInterface.InterfaceFlag.IsUp | QNetworkInterface.InterfaceFlag.IsRunning
    for interface in QNetworkInterface.allInterfaces():
        flags = interface.flags()
        if flags & QNetworkInterface.InterfaceFlag.IsLoopBack:
            continue
        if (flags & wanted) == wanted and interface.addressEntries():
            # An address and a link say nothing about the internet: call it local, not online.
            return Connectivity.LOCAL
    return Connectivity.OFFLINE


class NetworkWatch(QLabel):
    """Shows whether this computer can reach a network, and keeps the answer current.

    Signals:
        changed(object): the :class:`Connectivity` changed.
    """

    changed = Signal(object)

    #: How often the interface fallback looks again; cheap, and only when no backend loaded.
    POLL_MILLISECONDS = 30_000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("networkState")
        self.connectivity = Connectivity.UNKNOWN
        self._information: QNetworkInformation | None = None
        if QNetworkInformation.loadDefaultBackend():
            information = QNetworkInformation.instance()
            if information is not None and information.supports(
                QNetworkInformation.Feature.Reachability
            ):
                self._information = information
                information.reachabilityChanged.connect(self._reachability_changed)
        self._poll = QTimer(self)
        self._poll.setInterval(self.POLL_MILLISECONDS)
        self._poll.timeout.connect(self.refresh)
        if self._information is None:
            self._poll.start()
        self.refresh()

    @property
    def backend(self) -> str:
        return self._information.backendName() if self._information is not None else ""

    def refresh(self) -> None:
        found = Connectivity.UNKNOWN
        if self._information is not None:
            found = _FROM_REACHABILITY.get(self._information.reachability(), Connectivity.UNKNOWN)
        if found is Connectivity.UNKNOWN:
            found = _interfaces_connectivity()
        self._show(found)

    def _reachability_changed(self, _reachability: QNetworkInformation.Reachability) -> None:
        self.refresh()

    def _show(self, connectivity: Connectivity) -> None:
        changed = connectivity is not self.connectivity
        self.connectivity = connectivity
        self.retranslate()
        if changed:
            self.changed.emit(connectivity)

    def retranslate(self) -> None:
        text, tip = {
            Connectivity.ONLINE: (
                _("Online"),
                _("This computer can reach the internet. Minga still works the same offline."),
            ),
            Connectivity.LOCAL: (
                _("Local network only"),
                _(
                    "This computer is on a network but may not reach the internet. "
                    "Everything keeps working offline."
                ),
            ),
            Connectivity.OFFLINE: (
                _("Offline"),
                _("No network. Everything keeps working; changes wait here until you sync."),
            ),
            Connectivity.UNKNOWN: (
                _("Connection unknown"),
                _("Minga cannot tell whether this computer is online."),
            ),
        }[self.connectivity]
        self.setText(text)
        self.setToolTip(tip)
        self.setProperty("connectivity", self.connectivity.value)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class SessionStatusBar(QStatusBar):
    """Locked or unlocked (and since when), the auto-lock delay, sync state and connectivity."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lock_state = QLabel(self)
        self.lock_state.setObjectName("lockState")
        self.auto_lock = QLabel(self)
        self.auto_lock.setObjectName("autoLock")
        self.network = NetworkWatch(self)
        self.sync_state = QLabel(self)
        self.sync_state.setObjectName("syncStatus")
        self.sync_state.hide()
        self._sync: SyncScheduler | None = None
        self.addWidget(self.lock_state)
        self.addPermanentWidget(self.auto_lock)
        self.addPermanentWidget(self.sync_state)
        self.addPermanentWidget(self.network)
        self._unlocked_at: datetime | None = None
        self._auto_lock_minutes = 0
        self.retranslate()

    def show_unlocked(self, since: datetime, auto_lock_minutes: int) -> None:
        self._unlocked_at = since
        self._auto_lock_minutes = auto_lock_minutes
        self.retranslate()

    def show_locked(self) -> None:
        self._unlocked_at = None
        self.clearMessage()
        self.show_sync(None)
        self.retranslate()

    def show_sync(self, scheduler: SyncScheduler | None) -> None:
        """Follow this scheduler's state (``None`` at lock: the label goes)."""
        if self._sync is not None:
            self._sync.changed.disconnect(self._show_sync_state)
        self._sync = scheduler
        if scheduler is not None:
            scheduler.changed.connect(self._show_sync_state)
        self._show_sync_state()

    def _show_sync_state(self) -> None:
        scheduler = self._sync
        self.sync_state.setVisible(scheduler is not None)
        if scheduler is None:
            self.network.show()
            self._fit_width()
            return
        # Imported here: the sync package loads at unlock, not at start.
        from desktop.ui.sync.scheduler import SyncPhase
        from desktop.ui.sync.texts import phase_tone, state_line

        self.sync_state.setText(state_line(scheduler))
        self.sync_state.setProperty("tone", phase_tone(scheduler))
        self.sync_state.style().unpolish(self.sync_state)
        self.sync_state.style().polish(self.sync_state)
        # Joined, the sync state says whether the server is reachable: "Online" beside
        # "Server unreachable" read as a contradiction, so the bare connectivity steps aside.
        self.network.setVisible(scheduler.phase is SyncPhase.NOT_JOINED)
        self._fit_width()

    def _fit_width(self) -> None:
        """The auto-lock delay only where the window has room for every text of the bar: at
        its minimum width in Spanish they needed 754 px in 720, and the bar, given its minimum,
        ran past the window's edge and cut the sync state there (250 px in 240). Stepped
        aside, the delay is the lock state's tooltip."""
        if self._unlocked_at is None:
            return  # locked: no delay is shown
        window = self.window()
        room = window.width() if window is not self else self.width()
        self.auto_lock.setVisible(self._needed_width() <= room)
        self.lock_state.setToolTip("" if self.auto_lock.isVisible() else self.auto_lock.text())

    def _needed_width(self) -> int:
        """The bar's width with the delay shown, from its labels' own sizes: the layout's are
        cached until its next pass (a nested layout is not invalidated by a new text)."""
        labels = [self.lock_state, self.auto_lock]
        labels += [label for label in (self.sync_state, self.network) if not label.isHidden()]
        spacing = self.style().pixelMetric(QStyle.PixelMetric.PM_LayoutHorizontalSpacing)
        grip = 0
        if self.isSizeGripEnabled():
            grip = self.style().pixelMetric(QStyle.PixelMetric.PM_SizeGripSize)
        # A gap before, between and after the labels, as the status bar lays them out, and the
        # 2 px it keeps at its start.
        texts = sum(label.sizeHint().width() for label in labels)
        return texts + spacing * (len(labels) + 1) + grip + 2

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_width()

    def retranslate(self) -> None:
        if self._unlocked_at is None:
            self.lock_state.setText(_("Locked"))
            self.lock_state.setProperty("locked", True)
            self.auto_lock.hide()
        else:
            self.lock_state.setText(
                _("Unlocked since {time}").format(time=format_clock(self._unlocked_at))
            )
            self.lock_state.setProperty("locked", False)
            minutes = self._auto_lock_minutes
            self.auto_lock.setText(
                ngettext(
                    "Locks after {count} idle minute",
                    "Locks after {count} idle minutes",
                    minutes,
                ).format(count=format_number(minutes))
            )
        self._show_sync_state()  # and whether the delay fits beside the rest
        # The style sheet colours by these properties; re-polish so a change shows at once.
        self.lock_state.style().unpolish(self.lock_state)
        self.lock_state.style().polish(self.lock_state)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
