"""Minga's main window: the gate (create or unlock) while locked, the workspace while unlocked.

It owns the session: the lock action and shortcut, auto-lock, and the dialogs that need a profile.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QMainWindow,
    QScrollArea,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.translation import _, current_language, set_language
from desktop.store.profile import KdfParameters, profile_exists
from desktop.ui import APP_NAME
from desktop.ui.change_passphrase import ChangePassphraseDialog
from desktop.ui.create_profile import CreateProfileScreen
from desktop.ui.jobs import JobState, run_job
from desktop.ui.language import LanguageSelector
from desktop.ui.session import OpenedProfile, Session
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.status_bar import Connectivity, SessionStatusBar
from desktop.ui.unlock import UnlockScreen
from desktop.ui.workspace import Workspace

if TYPE_CHECKING:
    from desktop.ui.sync.scheduler import SyncScheduler

#: The lock shortcut: one keystroke, the same on every screen of the unlocked window.
LOCK_SHORTCUT = QKeySequence("Ctrl+L")


class GateScreen(QWidget):
    """What a locked window shows: create a profile on first run, else unlock it.

    The language selector sits above both, so a person can switch before reading a word.

    Signals:
        opened(object): an :class:`OpenedProfile`, created or unlocked.
        language_chosen(str): the person picked a language here.
    """

    opened = Signal(object)
    language_chosen = Signal(str)

    def __init__(
        self, folder: Path, *, kdf: KdfParameters | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("gate")
        self.brand = QLabel(APP_NAME, self)
        self.brand.setObjectName("brand")
        self.language_label = QLabel(self)
        self.language = LanguageSelector(self)
        self.language_label.setBuddy(self.language)
        self.language.language_chosen.connect(self.language_chosen)

        self.create_screen: CreateProfileScreen | None = None
        self.unlock_screen: UnlockScreen | None = None
        if profile_exists(folder):
            self.unlock_screen = UnlockScreen(folder, self)
            self.unlock_screen.unlocked.connect(self.opened)
            screen: QWidget = self.unlock_screen
        else:
            self.create_screen = CreateProfileScreen(folder, kdf=kdf, parent=self)
            self.create_screen.created.connect(self.opened)
            screen = self.create_screen
        screen.setObjectName("gateCard")
        screen.setMaximumWidth(620)

        top = QHBoxLayout()
        top.setContentsMargins(24, 16, 24, 0)
        top.addWidget(self.brand)
        top.addStretch(1)
        top.addWidget(self.language_label)
        top.addWidget(self.language)
        # The card scrolls rather than being cut off in a small window or a long translation.
        page = QWidget()
        page.setObjectName("gatePage")
        middle = QHBoxLayout(page)
        middle.setContentsMargins(24, 24, 24, 16)
        middle.addStretch(1)
        middle.addWidget(screen, 4)
        middle.addStretch(1)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.scroll, 1)
        self.retranslate()

    def focus_first_field(self) -> None:
        if self.unlock_screen is not None:
            self.unlock_screen.passphrase.setFocus()
        elif self.create_screen is not None:
            self.create_screen.passphrase.setFocus()

    def retranslate(self) -> None:
        self.language_label.setText(_("&Language:"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class MainWindow(QMainWindow):
    """The one window: gate or workspace, a toolbar with lock and settings, the status bar.

    Signals:
        locked(): the profile was closed and every view cleared.
        unlocked(): a profile is open and the workspace shown.
    """

    locked = Signal()
    unlocked = Signal()

    def __init__(self, folder: Path, *, kdf: KdfParameters | None = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.folder = folder
        self._kdf = kdf  # tests pass the floor parameters; a real profile calibrates its own
        self.session = Session(self)
        self.session.locked.connect(self._show_locked)
        self.gate: GateScreen | None = None
        self.workspace: Workspace | None = None
        self.sync: SyncScheduler | None = None
        # Chosen on the gate before unlocking; wins over the profile's stored language.
        self._language_chosen_at_gate: str | None = None

        self.screens = QStackedWidget(self)
        self.setCentralWidget(self.screens)
        self.status = SessionStatusBar(self)
        self.setStatusBar(self.status)

        self.lock_action = QAction(self)
        self.lock_action.setObjectName("lockAction")
        self.lock_action.setShortcut(LOCK_SHORTCUT)
        # Active wherever focus is in the window, dialogs of this window included.
        self.lock_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.lock_action.triggered.connect(self.lock)
        self.settings_action = QAction(self)
        self.settings_action.setObjectName("settingsAction")
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.triggered.connect(self.open_settings)
        self.passphrase_action = QAction(self)
        self.passphrase_action.setObjectName("changePassphraseAction")
        self.passphrase_action.triggered.connect(self.open_change_passphrase)
        self.quit_action = QAction(self)
        self.quit_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        self.quit_action.triggered.connect(self.close)
        # Shortcuts work only for actions in a visible widget: the window itself always is.
        for action in (self.lock_action, self.settings_action, self.quit_action):
            self.addAction(action)

        self.toolbar = QToolBar(self)
        self.toolbar.setObjectName("mainToolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.addAction(self.lock_action)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.settings_action)
        self.toolbar.addAction(self.passphrase_action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)

        # Content scrolls instead of pushing the window's minimum up (see hold_window_size_hints).
        main_layout = self.layout()
        if main_layout is not None:
            main_layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.setMinimumSize(720, 520)
        self.resize(1024, 680)
        self._show_gate()
        self.retranslate()

    # -- locked ---------------------------------------------------------------------------

    @property
    def is_unlocked(self) -> bool:
        return self.session.is_unlocked

    def lock(self) -> None:
        """Lock now: close the store, forget the keys, clear every view, show the gate."""
        self.session.lock()

    def _show_locked(self) -> None:
        self._stop_sync()
        self._close_dialogs()
        if self.workspace is not None:
            self.workspace.tear_down()
            self.screens.removeWidget(self.workspace)
            self.workspace.deleteLater()
            self.workspace = None
        self.status.show_locked()
        self._show_gate()
        self.retranslate()
        self.locked.emit()

    def _show_gate(self) -> None:
        if self.gate is not None:
            self.screens.removeWidget(self.gate)
            self.gate.deleteLater()
        self._language_chosen_at_gate = None
        self.gate = GateScreen(self.folder, kdf=self._kdf, parent=self.screens)
        self.gate.opened.connect(self._opened)
        self.gate.language_chosen.connect(self._gate_language_chosen)
        self.screens.addWidget(self.gate)
        self.screens.setCurrentWidget(self.gate)
        self.toolbar.hide()
        for action in (self.lock_action, self.settings_action, self.passphrase_action):
            action.setEnabled(False)
        self.gate.focus_first_field()

    def _gate_language_chosen(self, code: str) -> None:
        self._language_chosen_at_gate = code
        set_language(code)

    def _close_dialogs(self) -> None:
        for dialog in self.findChildren(QDialog):
            dialog.reject()  # they delete themselves on close: nothing of the profile stays

    # -- unlocked ---------------------------------------------------------------------------

    def _opened(self, opened: OpenedProfile) -> None:
        chosen = self._language_chosen_at_gate
        stored = opened.settings.get("language")
        self.session.start(opened)
        if chosen is not None and chosen != stored:
            self.session.settings["language"] = chosen
            self._store_setting("language", chosen)
        elif isinstance(stored, str) and stored != current_language():
            set_language(stored)
        if self.gate is not None:
            self.screens.removeWidget(self.gate)
            self.gate.deleteLater()
            self.gate = None
        self.workspace = Workspace(opened.profile, self.screens)
        self.workspace.section_changed.connect(lambda _key: self.retranslate())
        self.screens.addWidget(self.workspace)
        self.screens.setCurrentWidget(self.workspace)
        self.toolbar.show()
        for action in (self.lock_action, self.settings_action, self.passphrase_action):
            action.setEnabled(True)
        self._show_unlocked_status()
        self._start_sync(opened)
        self.retranslate()
        self.workspace.navigation.setFocus()
        self.unlocked.emit()

    def _start_sync(self, opened: OpenedProfile) -> None:
        """One scheduler per unlocked profile; the Sync page and the status bar follow it."""
        from desktop.ui.sync.link import SyncLink  # the sync package loads at unlock
        from desktop.ui.sync.page import SyncPage
        from desktop.ui.sync.scheduler import SyncScheduler

        link = SyncLink(opened.profile, self.session.settings)
        self.sync = SyncScheduler(link, self._sync_interval_ms(), self)
        if self.workspace is not None:
            page = self.workspace.page("sync")
            if isinstance(page, SyncPage):
                page.attach(self.sync, self.session.clipboard.copy)
            groups = self.workspace.pages_by_key.get("working_groups")
            if groups is not None and hasattr(groups, "attach"):
                groups.attach(self.sync)  # downloads of materials go through the same link
        self.status.show_sync(self.sync)
        self.status.network.changed.connect(self._connectivity_changed)
        self.sync.start()

    def _sync_interval_ms(self) -> int:
        return int(self.session.settings.get("sync_interval_minutes", 5)) * 60_000

    def _connectivity_changed(self, connectivity: Connectivity) -> None:
        if self.sync is not None:
            self.sync.network_changed(connectivity in (Connectivity.ONLINE, Connectivity.LOCAL))

    def _stop_sync(self) -> None:
        scheduler, self.sync = self.sync, None
        if scheduler is None:
            return
        scheduler.stop()
        self.status.network.changed.disconnect(self._connectivity_changed)
        self.status.show_sync(None)
        link = scheduler.link
        # Closing waits for a sync in flight to let go of the engine: never on this thread.
        run_job(None, lambda _state: link.close())
        scheduler.deleteLater()

    def _show_unlocked_status(self) -> None:
        if self.session.unlocked_at is not None:
            self.status.show_unlocked(
                self.session.unlocked_at, int(self.session.settings["auto_lock_minutes"])
            )

    def _store_setting(self, key: str, value: Any) -> None:
        profile = self.session.profile
        if profile is None:
            return

        def store(_state: JobState) -> None:
            profile.settings.set(key, value)

        run_job(self, store, writes=True, on_failure=self._setting_not_stored)

    def _setting_not_stored(self, error: BaseException) -> None:
        self.status.showMessage(_("A setting could not be saved: {reason}").format(reason=error))

    def open_settings(self) -> None:
        profile = self.session.profile
        if profile is None:
            return
        dialog = SettingsDialog(profile, self.session.settings, self)
        dialog.saved.connect(self._settings_saved)
        self._open_dialog(dialog)

    def _settings_saved(self, changes: dict[str, Any]) -> None:
        self.session.remember(changes)
        if "language" in changes:
            set_language(str(changes["language"]))
        self._show_unlocked_status()
        scheduler = self.sync
        if scheduler is not None and any(key.startswith("sync_") for key in changes):
            link, settings = scheduler.link, dict(self.session.settings)
            # A new proxy or pin takes effect from the next request; the lock waits for a
            # sync in flight, so it is taken on a worker.
            run_job(
                scheduler,
                lambda _state: link.configure(settings),
                on_success=lambda _none: scheduler.settings_changed(self._sync_interval_ms()),
            )

    def open_change_passphrase(self) -> None:
        profile = self.session.profile
        if profile is None:
            return
        dialog = ChangePassphraseDialog(profile, self)
        dialog.changed.connect(
            lambda: self.status.showMessage(
                _("Your passphrase was changed. Your recovery key still works."), 10_000
            )
        )
        self._open_dialog(dialog)

    def _open_dialog(self, dialog: QDialog) -> None:
        # A modal dialog blocks the window's shortcuts; the lock must work from inside it too.
        dialog.addAction(self.lock_action)
        dialog.open()

    # -- language and closing -------------------------------------------------------------

    def retranslate(self) -> None:
        if self.workspace is not None:
            self.setWindowTitle(
                _("{section} — Minga").format(section=_(self.workspace.current_section.label))
            )
        else:
            self.setWindowTitle(_("Minga — locked"))
        self.lock_action.setText(_("&Lock"))
        self.lock_action.setToolTip(
            _("Lock Minga now ({shortcut})").format(
                shortcut=LOCK_SHORTCUT.toString(QKeySequence.SequenceFormat.NativeText)
            )
        )
        self.settings_action.setText(_("&Settings…"))
        self.passphrase_action.setText(_("Change &passphrase…"))
        self.quit_action.setText(_("&Quit"))
        self.toolbar.setWindowTitle(_("Main toolbar"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.lock()
        super().closeEvent(event)
