"""The open profile of a window and the one way to lock it: idle watch, clipboard, key wipe.

Locking first lets views queue what they must keep (editors' drafts), waits for queued writes,
then closes the engine and forgets the keys; the window then clears every view.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QClipboard, QGuiApplication

from desktop.domain.settings import defaults
from desktop.store.profile import Profile
from desktop.ui.jobs import drain_writes

log = logging.getLogger(__name__)

#: How long a lock waits for queued writes to land before closing the store regardless.
LOCK_WRITE_GRACE_SECONDS = 5.0


@dataclass
class OpenedProfile:
    """A profile just unlocked or created, with its settings already read on the worker."""

    profile: Profile
    settings: dict[str, Any] = field(default_factory=defaults)


def open_profile(profile: Profile) -> OpenedProfile:
    """Read what the window needs from a freshly opened profile (runs on a worker thread)."""
    try:
        settings = profile.settings.all()
    except BaseException:
        profile.close()
        raise
    return OpenedProfile(profile, settings)


class IdleWatch(QObject):
    """Notices when nobody has touched keyboard, mouse or screen for a number of minutes.

    Signals:
        idle(): the idle time ran out.
    """

    idle = Signal()

    _ACTIVITY = frozenset(
        {
            QEvent.Type.KeyPress,
            QEvent.Type.MouseButtonPress,
            QEvent.Type.MouseMove,
            QEvent.Type.Wheel,
            QEvent.Type.TouchBegin,
            QEvent.Type.TouchUpdate,
            QEvent.Type.TabletPress,
            QEvent.Type.InputMethod,
        }
    )

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._ran_out)
        self.minutes = 0
        self._watching = False

    @property
    def active(self) -> bool:
        return self.timer.isActive()

    def start(self, minutes: int) -> None:
        """Watch for ``minutes`` of idleness, starting now."""
        self.set_minutes(minutes)
        if not self._watching:
            application = QGuiApplication.instance()
            if application is not None:
                application.installEventFilter(self)
            self._watching = True
        self.timer.start()

    def set_minutes(self, minutes: int) -> None:
        self.minutes = minutes
        self.timer.setInterval(minutes * 60_000)
        if self.timer.isActive():
            self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        if self._watching:
            application = QGuiApplication.instance()
            if application is not None:
                application.removeEventFilter(self)
            self._watching = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in self._ACTIVITY and self.timer.isActive():
            self.timer.start()
        return False

    def _ran_out(self) -> None:
        self.stop()
        self.idle.emit()


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class ClipboardGuard(QObject):
    """Copies text for Minga and, at lock, takes back what Minga put on the clipboard.

    Only a digest of the copied text is kept, so the guard holds no record content itself. A
    person's own clipboard (text copied from another program) is never cleared.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._copied: set[bytes] = set()

    def copy(self, text: str) -> None:
        clipboard = QGuiApplication.clipboard()
        clipboard.setText(text, QClipboard.Mode.Clipboard)
        self._copied.add(_digest(text))

    def holds_our_text(self) -> bool:
        clipboard = QGuiApplication.clipboard()
        if clipboard.ownsClipboard():
            return True  # copied from one of Minga's own fields (Ctrl+C), not only via copy()
        # Only hash the clipboard when Minga copied something: a person's own text stays unread.
        return bool(self._copied) and _digest(clipboard.text()) in self._copied

    def clear_if_ours(self) -> bool:
        """Empty the clipboard if it holds what Minga copied; True if something was cleared."""
        clipboard = QGuiApplication.clipboard()
        cleared = False
        if self.holds_our_text():
            clipboard.clear(QClipboard.Mode.Clipboard)
            cleared = True
        # On X11, merely selecting text in Minga publishes it as the primary selection.
        if clipboard.supportsSelection() and clipboard.ownsSelection():
            clipboard.clear(QClipboard.Mode.Selection)
            cleared = True
        self._copied.clear()
        return cleared


class Session(QObject):
    """The profile this window has open, the idle watch that locks it, and the clipboard guard.

    Signals:
        started(object): an :class:`OpenedProfile` is now the window's profile.
        locking(object): the :class:`Profile` is about to close; a write queued now (a draft)
            still lands in it.
        locked(): the profile was closed and its keys forgotten; views must clear themselves.
    """

    started = Signal(object)
    locking = Signal(object)
    locked = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.idle_watch = IdleWatch(self)
        self.clipboard = ClipboardGuard(self)
        self.idle_watch.idle.connect(self.lock)
        self._profile: Profile | None = None
        self.settings: dict[str, Any] = defaults()
        self.unlocked_at: datetime | None = None

    @property
    def profile(self) -> Profile | None:
        return self._profile

    @property
    def is_unlocked(self) -> bool:
        return self._profile is not None

    def start(self, opened: OpenedProfile) -> None:
        if self._profile is not None and self._profile is not opened.profile:
            self.lock()
        self._profile = opened.profile
        self.settings = dict(opened.settings)
        self.unlocked_at = datetime.now()
        self.idle_watch.start(int(self.settings["auto_lock_minutes"]))
        self.started.emit(opened)

    def remember(self, changes: dict[str, Any]) -> None:
        """Record settings just saved into the profile; the idle watch follows its own."""
        self.settings.update(changes)
        if "auto_lock_minutes" in changes and self.idle_watch.active:
            self.idle_watch.set_minutes(int(changes["auto_lock_minutes"]))

    def lock(self, *, keep: bool = True) -> None:
        """Close the store, forget the keys, take back the clipboard, then tell the views.

        ``keep=False`` is for a quick delete, whose keys are already destroyed: no drafts are
        kept and queued writes are not waited for (they could land in nothing readable).
        """
        profile, self._profile = self._profile, None
        if profile is None:
            return
        self.idle_watch.stop()
        self.clipboard.clear_if_ours()
        if keep:
            # Editors queue their drafts now, on the write worker, so the wait below covers them.
            self.locking.emit(profile)
            # A write already queued (a setting, a record) lands first, so locking loses
            # nothing; bounded, so a stuck write cannot keep the keys in memory.
            if not drain_writes(LOCK_WRITE_GRACE_SECONDS):
                log.warning("locking with writes still queued")
        profile.close()
        self.settings = defaults()
        self.unlocked_at = None
        self.locked.emit()
