"""Minga's main window: the gate (create or unlock) while locked, the workspace while unlocked.

It owns the session: the lock action and shortcut, auto-lock, and the dialogs that need a profile.
At lock it keeps each open editor's unsaved fields as a draft in the profile; after unlock it
offers to reopen them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QMainWindow,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.records import Evidence, Incident
from desktop.domain.settings import setting
from desktop.domain.translation import _, current_language, ngettext, set_language
from desktop.store.drafts import Draft, DraftStore
from desktop.store.profile import KdfParameters, Profile, profile_exists, read_device_hints
from desktop.store.quick_delete import destroy_keys, erase, erase_leftovers, move_aside
from desktop.store.records import RecordStore
from desktop.store.succession import HandOver, Predecessor, hand_over, predecessor
from desktop.store.sync_state import ProfileSyncState, space_access
from desktop.ui import APP_NAME
from desktop.ui.access import read_only_reason
from desktop.ui.backup_dialog import BackupDialog, BackupScheduler
from desktop.ui.bidi import left_to_right
from desktop.ui.change_passphrase import ChangePassphraseDialog
from desktop.ui.create_profile import CreateProfileScreen
from desktop.ui.forms import hold_window_size_hints
from desktop.ui.help import AboutDialog, GuideDialog
from desktop.ui.jobs import JobState, before_shutdown, run_job
from desktop.ui.language import LanguageSelector
from desktop.ui.notify import DesktopNotifier, UrgentAlertWatch
from desktop.ui.quick_delete import QuickDeleteDialog, unsent_changes
from desktop.ui.restore import RestoreScreen
from desktop.ui.session import OpenedProfile, Session
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.shared_recovery import HeldSharesDialog, ShareRecoveryDialog
from desktop.ui.status_bar import Connectivity, SessionStatusBar
from desktop.ui.sync_messages import sync_error_message
from desktop.ui.unlock import UnlockScreen
from desktop.ui.workspace import Workspace

if TYPE_CHECKING:
    from desktop.ui.incidents.bundle import IncidentBundle
    from desktop.ui.sync.scheduler import SyncScheduler
    from desktop.ui.travel import TravelDialog

log = logging.getLogger(__name__)

#: The lock shortcut: one keystroke, the same on every screen of the unlocked window.
LOCK_SHORTCUT = QKeySequence("Ctrl+L")
#: Editors of directory records, by ``Draft.editor``.
DIRECTORY_EDITORS = ("organization", "person", "working_group")


def describe_draft(draft: Draft) -> str:
    """What was being edited, for the offer to reopen it (the name is what was typed)."""
    name = draft.label
    if draft.editor == "incident":
        return _("the incident “{name}”").format(name=name) if name else _("a new incident")
    if draft.editor == "organization":
        return _("the organization “{name}”").format(name=name) if name else _("a new organization")
    if draft.editor == "person":
        return (
            _("the person or group “{name}”").format(name=name)
            if name
            else _("a new person or group")
        )
    return _("the working group “{name}”").format(name=name) if name else _("a new working group")


class DraftOffer(QDialog):
    """ "You were editing … when Minga locked. Reopen it?": Reopen or Discard.

    Closing it otherwise (Esc) keeps the draft for the next unlock: nothing typed is lost by
    a dismissed question.

    Signals:
        reopen(object): reopen this :class:`Draft`.
        discard(object): delete this :class:`Draft`.
    """

    reopen = Signal(object)
    discard = Signal(object)

    def __init__(self, draft: Draft, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("draftOffer")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.draft = draft
        self.question = QLabel(self)
        self.question.setWordWrap(True)
        self.question.setTextFormat(Qt.TextFormat.PlainText)  # the name is what someone typed
        self.buttons = QDialogButtonBox(self)
        self.reopen_button = QPushButton(self)
        self.reopen_button.setObjectName("reopenDraft")
        self.reopen_button.setDefault(True)
        self.discard_button = QPushButton(self)
        self.discard_button.setObjectName("discardDraft")
        self.buttons.addButton(self.reopen_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.discard_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.reopen_button.clicked.connect(self._reopen)
        self.discard_button.clicked.connect(self._discard)
        layout = QVBoxLayout(self)
        layout.addWidget(self.question)
        layout.addWidget(self.buttons)
        self.retranslate()
        hold_window_size_hints(self, 460)

    def _reopen(self) -> None:
        self.reopen.emit(self.draft)
        self.accept()

    def _discard(self) -> None:
        self.discard.emit(self.draft)
        self.accept()

    def retranslate(self) -> None:
        self.setWindowTitle(_("Unsaved changes — Minga"))
        self.question.setText(
            _("You were editing {what} when Minga locked. Reopen it?").format(
                what=describe_draft(self.draft)
            )
        )
        self.reopen_button.setText(_("Reopen"))
        self.discard_button.setText(_("Discard"))
        self.discard_button.setToolTip(_("Delete what was typed and not saved"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


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

        self.folder = folder
        self.create_screen: CreateProfileScreen | None = None
        self.unlock_screen: UnlockScreen | None = None
        self.restore_screen: RestoreScreen | None = None
        # Create, restore and unlock share one card; a restore turns it into the unlock screen.
        screen = self.cards = QStackedWidget(self)
        if profile_exists(folder):
            self._add_unlock_screen()
        else:
            self.create_screen = CreateProfileScreen(folder, kdf=kdf, parent=self)
            self.create_screen.created.connect(self.opened)
            self.create_screen.restore_requested.connect(self.show_restore)
            self.cards.addWidget(self.create_screen)
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

    def _add_unlock_screen(self) -> None:
        self.unlock_screen = UnlockScreen(self.folder, self)
        self.unlock_screen.unlocked.connect(self.opened)
        self.cards.addWidget(self.unlock_screen)
        self.cards.setCurrentWidget(self.unlock_screen)

    def show_restore(self) -> None:
        """The first-start path for a backup or a move to a new computer."""
        if self.restore_screen is None:
            self.restore_screen = RestoreScreen(self.folder, self)
            self.restore_screen.restored.connect(self._restored)
            self.restore_screen.back.connect(self._back_to_create)
            self.cards.addWidget(self.restore_screen)
        self.cards.setCurrentWidget(self.restore_screen)

    def _back_to_create(self) -> None:
        if self.create_screen is not None:
            self.cards.setCurrentWidget(self.create_screen)

    def _restored(self) -> None:
        if self.unlock_screen is None:
            self._add_unlock_screen()
        if self.create_screen is not None:
            # A profile exists now: creating one here would be refused anyway.
            self.cards.removeWidget(self.create_screen)
            self.create_screen.deleteLater()
            self.create_screen = None
        self.focus_first_field()

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

    def __init__(
        self, folder: Path, *, kdf: KdfParameters | None = None, language: str | None = None
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.folder = folder
        self._kdf = kdf  # tests pass the floor parameters; a real profile calibrates its own
        self.session = Session(self)
        self.session.locking.connect(self._keep_drafts)
        self.session.locked.connect(self._show_locked)
        self.gate: GateScreen | None = None
        self.workspace: Workspace | None = None
        self.sync: SyncScheduler | None = None
        self._forget_sync_at_quit: Callable[[], None] = lambda: None
        # Chosen on the gate before unlocking; wins over the profile's stored language.
        self._language_chosen_at_gate: str | None = None
        # ``--language``: wins over the stored language for this run, and is never stored; the
        # person choosing a language (gate, settings) ends it.
        self._language_for_run = language
        #: Drafts found at unlock and not yet offered; the offer on screen, if any.
        self._drafts_to_offer: list[Draft] = []
        #: The section shown when the profile was last locked in this run.
        self._section_at_lock: str | None = None
        # A resize is stored once it settles, not at every step of a drag.
        self._size_timer = QTimer(self)
        self._size_timer.setSingleShot(True)
        self._size_timer.setInterval(800)
        self._size_timer.timeout.connect(self._remember_size)
        self.draft_offer: DraftOffer | None = None

        self.notifier = DesktopNotifier(self, self)
        self.urgent_watch: UrgentAlertWatch | None = None
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
        self.travel_action = QAction(self)
        self.travel_action.setObjectName("travelAction")
        self.travel_action.triggered.connect(self.open_travel)
        self.travel_dialog: TravelDialog | None = None
        self.quick_delete_action = QAction(self)
        self.quick_delete_action.setObjectName("quickDeleteAction")
        # Wherever focus is, locked or not: the shortcut is read from the device hints.
        self.quick_delete_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.quick_delete_action.triggered.connect(self.ask_quick_delete)
        self.quick_delete_dialog: QuickDeleteDialog | None = None
        self.backup_action = QAction(self)
        self.backup_action.setObjectName("backupAction")
        self.backup_action.triggered.connect(self.open_backups)
        self.backups: BackupScheduler | None = None
        self.hand_over_question: QDialog | None = None
        self.quit_action = QAction(self)
        self.quit_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        self.quit_action.triggered.connect(self.close)
        # Help is at hand locked or not, from anywhere in the window: F1.
        self.guide_action = QAction(self)
        self.guide_action.setObjectName("guideAction")
        self.guide_action.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))
        self.guide_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.guide_action.triggered.connect(self.open_guide)
        self.about_action = QAction(self)
        self.about_action.setObjectName("aboutAction")
        self.about_action.triggered.connect(self.open_about)
        # Shortcuts work only for actions in a visible widget: the window itself always is.
        for action in (
            self.lock_action,
            self.settings_action,
            self.quit_action,
            self.quick_delete_action,
            self.guide_action,
        ):
            self.addAction(action)
        # Dialogs opened by pages (the incident editor, directory forms) are modal and block
        # the window's shortcuts: each gets the lock action as it is shown (eventFilter).
        application = QApplication.instance()
        if application is not None:
            application.installEventFilter(self)

        self.toolbar = QToolBar(self)
        self.toolbar.setObjectName("mainToolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.addAction(self.lock_action)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.settings_action)
        self.toolbar.addAction(self.passphrase_action)
        self.toolbar.addAction(self.backup_action)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.travel_action)
        self.toolbar.addAction(self.quick_delete_action)
        self.help_menu = QMenu(self)
        self.help_menu.addAction(self.guide_action)
        self.help_menu.addAction(self.about_action)
        self.help_button = QToolButton(self.toolbar)
        self.help_button.setObjectName("helpButton")
        self.help_button.setMenu(self.help_menu)
        self.help_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.help_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        spacer = QWidget(self.toolbar)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(spacer)
        self.toolbar.addWidget(self.help_button)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)

        # Content scrolls instead of pushing the window's minimum up (see hold_window_size_hints).
        main_layout = self.layout()
        if main_layout is not None:
            main_layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.setMinimumSize(720, 520)
        self.resize(1024, 680)
        self._show_gate()
        self.retranslate()
        # A quick delete killed halfway left sealed noise beside the profile: finish it.
        run_job(None, lambda _state: erase_leftovers(folder))

    # -- locked ---------------------------------------------------------------------------

    @property
    def is_unlocked(self) -> bool:
        return self.session.is_unlocked

    def lock(self) -> None:
        """Lock now: close the store, forget the keys, clear every view, show the gate."""
        self.session.lock()

    def _show_locked(self) -> None:
        self._stop_sync()
        if self.backups is not None:
            self.backups.stop()
            self.backups.deleteLater()
            self.backups = None
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
        if self.gate.unlock_screen is not None:
            self.gate.unlock_screen.quick_delete_requested.connect(self.ask_quick_delete)
            self.gate.unlock_screen.too_many_wrong_passphrases.connect(self.quick_delete)
        self._set_quick_delete_shortcut()
        self.gate.language_chosen.connect(self._gate_language_chosen)
        self.screens.addWidget(self.gate)
        self.screens.setCurrentWidget(self.gate)
        self.toolbar.hide()
        for action in (
            self.lock_action,
            self.settings_action,
            self.passphrase_action,
            self.travel_action,
        ):
            action.setEnabled(False)
        self.gate.focus_first_field()

    # -- quick delete -------------------------------------------------------------------------

    def _set_quick_delete_shortcut(self) -> None:
        """The person's shortcut (a device hint, so it works locked too); none without a profile."""
        if not profile_exists(self.folder):
            self.quick_delete_action.setShortcut(QKeySequence())
            self.quick_delete_action.setEnabled(False)
            return
        hints = read_device_hints(self.folder)
        chosen = hints.get("quick_delete_shortcut", setting("quick_delete_shortcut").default)
        self.quick_delete_action.setShortcut(QKeySequence(str(chosen)))
        self.quick_delete_action.setEnabled(True)

    def ask_quick_delete(self) -> None:
        """The one confirmation; when unlocked it says how many changes would be lost."""
        if not profile_exists(self.folder) or self.quick_delete_dialog is not None:
            return
        profile = self.session.profile
        unsent: int | None = QuickDeleteDialog.UNKNOWN
        if profile is not None:
            try:
                unsent = unsent_changes(profile.engine)
            except Exception as error:  # the question must still be asked
                log.warning("unsent changes not counted: %s", type(error).__name__)
        dialog = QuickDeleteDialog(unsent, self)
        dialog.confirmed.connect(self.quick_delete)
        # A bound method, not a lambda holding the window: the dialog deletes itself on close.
        dialog.finished.connect(self._quick_delete_closed)
        self.quick_delete_dialog = dialog
        dialog.open()

    def _quick_delete_closed(self, _result: int) -> None:
        self.quick_delete_dialog = None

    def quick_delete(self) -> None:
        """Destroy the keys now, close the profile, remove every file, show the first start."""
        # A profile linked here from elsewhere: erase the real folder (moving the link aside
        # would leave every file in place), then the link.
        folder = self.folder.resolve() if self.folder.is_symlink() else self.folder
        destroy_keys(folder)  # from here on nothing of the profile can be read
        self.session.lock(keep=False)  # the views clear themselves and the gate is shown
        aside = move_aside(folder)
        if folder != self.folder:
            self.folder.unlink(missing_ok=True)
        if aside == folder:
            erase(aside)  # it could not move: erase in place before the first-start screen
        else:
            # Sealed noise without keys: erased on a worker, the window answers meanwhile.
            run_job(None, lambda _state: erase(aside))
        self._show_gate()
        self.retranslate()
        self.status.showMessage(_("Minga deleted the profile from this computer."), 15_000)

    def _gate_language_chosen(self, code: str) -> None:
        self._language_chosen_at_gate = code
        self._language_for_run = None
        set_language(code)

    def _remember_section(self, key: str) -> None:
        self._section_at_lock = key
        self._store_setting("last_section", key)

    def _remember_size(self) -> None:
        if self.is_unlocked and not (self.isMaximized() or self.isFullScreen()):
            self._store_setting("window_size", f"{self.width()}x{self.height()}")

    def _restore_size(self, stored: object) -> None:
        if not isinstance(stored, str) or "x" not in stored:
            return
        width, _sep, height = stored.partition("x")
        if not (width.isdigit() and height.isdigit()):
            return
        size = QSize(int(width), int(height)).expandedTo(self.minimumSize())
        screen = self.screen()
        if screen is not None:
            size = size.boundedTo(screen.availableGeometry().size())
        self.resize(size)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.is_unlocked:
            self._size_timer.start()

    def _keep_drafts(self, profile: Profile) -> None:
        """Queue every open editor's unsaved fields as drafts, before the lock closes the store.

        Runs from ``Session.lock`` before it waits for queued writes, so the drafts land while
        the engine is still open. Never raises: a lock must happen whatever a draft does.
        """
        self._drafts_to_offer = []
        try:
            drafts: list[Draft] = []
            for dialog in self.findChildren(QDialog):
                keep = getattr(dialog, "draft", None)
                # A closed editor waiting for deletion is not open: what it held was saved or
                # discarded on purpose.
                if dialog.isVisible() and callable(keep):
                    draft = keep()
                    if isinstance(draft, Draft):
                        drafts.append(draft)
            if not drafts:
                return
            engine = profile.engine
            run_job(
                None,
                lambda _state: DraftStore(engine).save_all(drafts),
                writes=True,
                # Only the kind of failure: a draft's text never reaches the log.
                on_failure=lambda error: log.warning("drafts not kept: %s", type(error).__name__),
            )
        except Exception as error:
            log.warning("drafts not kept: %s", type(error).__name__)

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
        elif self._language_for_run is not None:
            if self._language_for_run != current_language():
                set_language(self._language_for_run)
        elif isinstance(stored, str) and stored != current_language():
            set_language(stored)
        if self.gate is not None:
            self.screens.removeWidget(self.gate)
            self.gate.deleteLater()
            self.gate = None
        self.workspace = Workspace(opened.profile, self.screens)
        # Back where the person was: the section shown at the last lock, the window's size.
        section = self._section_at_lock or opened.settings.get("last_section")
        if isinstance(section, str) and section in self.workspace.pages_by_key:
            self.workspace.show_section(section)
        self._restore_size(opened.settings.get("window_size"))
        self.workspace.section_changed.connect(lambda _key: self.retranslate())
        self.workspace.section_changed.connect(self._remember_section)
        self.screens.addWidget(self.workspace)
        self.screens.setCurrentWidget(self.workspace)
        self.toolbar.show()
        for action in (
            self.lock_action,
            self.settings_action,
            self.passphrase_action,
            self.travel_action,
        ):
            action.setEnabled(True)
        self._show_unlocked_status()
        self._start_sync(opened)
        self.backups = BackupScheduler(opened.profile, self.session.settings, self)
        self.backups.written.connect(
            lambda path: self.status.showMessage(
                _("Automatic backup written: {path}").format(path=left_to_right(str(path))), 10_000
            )
        )
        self.backups.failed.connect(
            lambda reason: self.status.showMessage(
                _("The automatic backup failed: {reason}").format(reason=reason), 15_000
            )
        )
        self.retranslate()
        self.workspace.navigation.setFocus()
        self._find_drafts(opened.profile)
        self._continue_after_restore(opened.profile)
        self.unlocked.emit()

    def _continue_after_restore(self, profile: Profile) -> None:
        """A profile restored from an enrolled one, not enrolled again yet: the move's last step
        is on the Sync page (enroll as a new device), so go there and say why."""
        engine = profile.engine

        def still_to_enroll(_state: JobState) -> Predecessor | None:
            old = predecessor(engine)
            enrolled = ProfileSyncState(engine).device_keys() is not None
            # An admin's spaces are offered even once enrolled by hand: the old device is
            # still their admin until the hand-over removes it.
            return None if old is None or (enrolled and not old.administered) else old

        def show(old: Predecessor | None) -> None:
            if old is None or self.workspace is None:
                return
            self.workspace.show_section("sync")
            if old.administered:
                self._offer_hand_over(profile, old)
                return
            self.status.showMessage(
                _(
                    "Restored from a backup: enroll this computer with a new invitation, and ask "
                    "your admin to remove the old device ({fingerprint})."
                ).format(fingerprint=old.fingerprint),
                60_000,
            )

        run_job(self, still_to_enroll, on_success=show)

    def _offer_hand_over(self, profile: Profile, old: Predecessor) -> None:
        """The old device administered spaces: this computer can take them over itself."""
        box = QDialog(self)
        box.setObjectName("handOverQuestion")
        box.setWindowTitle(_("Restored from a backup"))
        text = QLabel(box)
        text.setWordWrap(True)
        text.setText(
            ngettext(
                "The old device administered {count} space. Take it over from this computer "
                "now? The old device (fingerprint {fingerprint}) is removed from it.",
                "The old device administered {count} spaces. Take them over from this computer "
                "now? The old device (fingerprint {fingerprint}) is removed from them.",
                len(old.administered),
            ).format(count=len(old.administered), fingerprint=old.fingerprint)
        )
        buttons = QDialogButtonBox(box)
        take = buttons.addButton(_("&Take over"), QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(_("&Later"), QDialogButtonBox.ButtonRole.RejectRole)
        take.setDefault(True)
        buttons.accepted.connect(box.accept)
        buttons.rejected.connect(box.reject)
        layout = QVBoxLayout(box)
        layout.addWidget(text)
        layout.addWidget(buttons)
        hold_window_size_hints(box, 480)
        box.accepted.connect(lambda: self.take_over_spaces(profile, old))
        self.hand_over_question = box
        self.hand_over_text = text
        self._open_dialog(box)

    def take_over_spaces(self, profile: Profile, old: Predecessor) -> None:
        """Hand the old device's spaces to this computer's new device, on the sync worker."""
        scheduler = self.sync
        if scheduler is None:
            return
        link = scheduler.link
        engine = profile.engine

        def run(_state: JobState) -> HandOver:
            return link.run(
                lambda sync: hand_over(engine, sync.transport, sync), server_url=old.server_url
            )

        def done(result: HandOver) -> None:
            self.status.showMessage(
                ngettext(
                    "This computer now administers {count} space; the old device was removed.",
                    "This computer now administers {count} spaces; the old device was removed.",
                    len(result.spaces),
                ).format(count=len(result.spaces)),
                30_000,
            )
            scheduler.sync_now()

        def failed(error: BaseException) -> None:
            self.status.showMessage(
                _("Taking over the spaces failed; try again from the next unlock: {reason}").format(
                    reason=sync_error_message(error)
                ),
                30_000,
            )

        self.status.showMessage(_("Taking over the old device's spaces…"), 30_000)
        run_job(self, run, on_success=done, on_failure=failed)

    # -- drafts kept at the last lock ---------------------------------------------------------

    def _find_drafts(self, profile: Profile) -> None:
        engine = profile.engine
        run_job(
            self,
            lambda _state: DraftStore(engine).all(),
            on_success=self._drafts_found,
            on_failure=self._draft_failed,
        )

    def _drafts_found(self, drafts: list[Draft]) -> None:
        if self.session.profile is None:
            return
        self._drafts_to_offer = list(drafts)
        self._offer_next_draft()

    def _offer_next_draft(self) -> None:
        self.draft_offer = None
        if not self._drafts_to_offer or self.session.profile is None:
            return
        offer = DraftOffer(self._drafts_to_offer.pop(0), self)
        offer.reopen.connect(self.reopen_draft)
        offer.discard.connect(self.discard_draft)
        # One question at a time; the next comes when this one closes however it closes.
        offer.finished.connect(lambda _result: self._after_offer(offer))
        self.draft_offer = offer
        self._open_dialog(offer)

    def _after_offer(self, offer: DraftOffer) -> None:
        if self.draft_offer is offer and offer.result() == QDialog.DialogCode.Rejected:
            self._offer_next_draft()  # dismissed: the draft stays for the next unlock

    def discard_draft(self, draft: Draft) -> None:
        profile = self.session.profile
        if profile is not None:
            engine = profile.engine
            run_job(
                self,
                lambda _state: DraftStore(engine).discard(draft.id),
                writes=True,
                on_failure=self._draft_failed,
            )
        self._offer_next_draft()

    def reopen_draft(self, draft: Draft) -> None:
        """Open the editor ``draft`` came from with its fields as they were at the lock.

        The draft stays stored until that editor saves or discards: a lock before then keeps
        it again, under the same id.
        """
        profile, workspace = self.session.profile, self.workspace
        if profile is None or workspace is None:
            return
        engine = profile.engine
        if draft.editor == "incident":
            from desktop.ui.incidents.bundle import IncidentBundle, load_bundle, with_access

            def load_incident(_state: JobState) -> IncidentBundle:
                store, incident_id = RecordStore(engine), draft.record_id or ""
                if not draft.is_new:
                    return with_access(load_bundle(store, incident_id), engine)
                # Never saved: the same id, so evidence imported before the lock stays its own.
                evidence = [
                    e for e in store.children(incident_id, "evidence") if isinstance(e, Evidence)
                ]
                incident = Incident(id=incident_id, space_id=draft.space_id, title="")
                return with_access(IncidentBundle(incident, evidence=evidence, is_new=True), engine)

            run_job(
                self,
                load_incident,
                on_success=lambda bundle: self._show_incident_draft(draft, bundle),
                on_failure=self._draft_failed,
            )
        elif draft.editor in DIRECTORY_EDITORS:
            record_id = draft.record_id

            def load_record(_state: JobState) -> tuple[object, str | None]:
                # The role may have changed since the lock: a reader's save would be refused.
                reason = read_only_reason(space_access(engine, draft.space_id))
                if record_id is None:
                    return None, reason
                record = RecordStore(engine).get(record_id)
                if record is None:
                    raise LookupError(_("the record is no longer on this computer"))
                return record, reason

            run_job(
                self,
                load_record,
                on_success=lambda loaded: self._show_directory_draft(draft, *loaded),
                on_failure=self._draft_failed,
            )
        self._offer_next_draft()

    def _show_incident_draft(self, draft: Draft, bundle: IncidentBundle) -> None:
        workspace = self.workspace
        if workspace is None or self.session.profile is None:
            return
        from desktop.ui.incidents.editor import IncidentEditor
        from desktop.ui.incidents.page import IncidentsPage

        page = workspace.page("incidents")
        if not isinstance(page, IncidentsPage):
            return
        workspace.show_section("incidents")
        # The page's own path, so its list follows the save like any editor it opened.
        page.show_editor(bundle)
        if isinstance(page.editor, IncidentEditor):
            page.editor.restore_draft(draft)

    def _show_directory_draft(self, draft: Draft, record: object, reason: str | None) -> None:
        from desktop.domain.records import Record
        from desktop.ui.directory.forms import FORMS
        from desktop.ui.directory.page import DirectoryPage

        workspace, profile = self.workspace, self.session.profile
        if workspace is None or profile is None:
            return
        page = workspace.page("directory")
        if not isinstance(page, DirectoryPage):
            return
        workspace.show_section("directory")
        directory_list = page.show_list(draft.editor)
        existing = record if isinstance(record, Record) else None
        form = FORMS[draft.editor](profile, draft.space_id, existing, directory_list)
        directory_list.show_form(form)
        form.restore_draft(draft)
        if reason is not None:
            form.set_read_only(reason)

    def _draft_failed(self, error: BaseException) -> None:
        if self.session.profile is not None:
            self.status.showMessage(
                _("A draft could not be reopened: {reason}").format(reason=error), 10_000
            )

    def _start_sync(self, opened: OpenedProfile) -> None:
        """One scheduler per unlocked profile; the Sync page and the status bar follow it."""
        from desktop.ui.sync.link import SyncLink  # the sync package loads at unlock
        from desktop.ui.sync.scheduler import SyncScheduler

        link = SyncLink(opened.profile, self.session.settings)
        self.sync = SyncScheduler(link, self._sync_interval_ms(), self)
        # Quitting waits for the jobs before it locks: a sync waiting out a busy server stops.
        self._forget_sync_at_quit = before_shutdown(link.abandon)
        self._attach_sync_pages()
        self.status.show_sync(self.sync)
        self.status.network.changed.connect(self._connectivity_changed)
        # "New urgent alert" when one arrives by sync; nothing of it on the notification.
        self.urgent_watch = UrgentAlertWatch(
            RecordStore(opened.profile.engine), self.sync.synced, self.notifier.notify, self.sync
        )
        self.sync.start()

    def _attach_sync_pages(self) -> None:
        from desktop.ui.sync.page import SyncPage

        if self.workspace is None or self.sync is None:
            return
        page = self.workspace.page("sync")
        if isinstance(page, SyncPage):
            page.attach(self.sync, self.session.clipboard.copy)
        groups = self.workspace.pages_by_key.get("working_groups")
        if groups is not None and hasattr(groups, "attach"):
            groups.attach(self.sync)  # downloads of materials go through the same link

    # -- travel mode ----------------------------------------------------------------------------

    def open_travel(self) -> None:
        """Leave spaces behind, or return to them (the dialog knows which)."""
        if self.sync is None or self.session.profile is None or self.travel_dialog is not None:
            return
        from desktop.ui.travel import TravelDialog  # with the sync package, at first use

        dialog = TravelDialog(self.sync.link, self)
        dialog.left.connect(self._left_behind)
        dialog.returned.connect(self._returned_from_travel)
        dialog.finished.connect(self._travel_closed)
        self.travel_dialog = dialog
        self._open_dialog(dialog)

    def _travel_closed(self, _result: int) -> None:
        self.travel_dialog = None

    def _left_behind(self, names: list[str]) -> None:
        # Every view is rebuilt: none may still show a record of the spaces left behind.
        self._refresh_workspace()
        # Not named on screen: whoever looks over the shoulder at a border learns nothing.
        del names
        self.status.showMessage(
            _("The chosen spaces were left behind. Keep the return key apart."), 15_000
        )

    def _returned_from_travel(self, names: list[str]) -> None:
        self.status.showMessage(
            _("Coming back through sync: {names}.").format(names=", ".join(names)), 15_000
        )
        if self.sync is not None:
            self.sync.sync_now()

    def _refresh_workspace(self) -> None:
        """A new workspace and sync scheduler over the same open profile (after travel mode
        erased spaces: no page may keep showing their records)."""
        profile, old = self.session.profile, self.workspace
        if profile is None or old is None:
            return
        section = old.current_section.key
        self._stop_sync()  # its pages' connections go with it
        old.tear_down()
        self.screens.removeWidget(old)
        old.deleteLater()
        self.workspace = Workspace(profile, self.screens)
        self.workspace.section_changed.connect(lambda _key: self.retranslate())
        self.screens.addWidget(self.workspace)
        self.screens.setCurrentWidget(self.workspace)
        self.workspace.show_section(section)
        self._start_sync(OpenedProfile(profile, dict(self.session.settings)))
        self.retranslate()

    def _sync_interval_ms(self) -> int:
        return int(self.session.settings.get("sync_interval_minutes", 5)) * 60_000

    def _connectivity_changed(self, connectivity: Connectivity) -> None:
        if self.sync is not None:
            self.sync.network_changed(connectivity in (Connectivity.ONLINE, Connectivity.LOCAL))

    def _stop_sync(self) -> None:
        self.urgent_watch = None  # a child of the scheduler: it goes with it
        self.notifier.close()
        scheduler, self.sync = self.sync, None
        if scheduler is None:
            return
        scheduler.stop()
        self.status.network.changed.disconnect(self._connectivity_changed)
        self.status.show_sync(None)
        link = scheduler.link
        link.abandon()  # a sync waiting out a busy server lets go now, not in minutes
        self._forget_sync_at_quit()
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
            self._language_for_run = None
            set_language(str(changes["language"]))
        self._show_unlocked_status()
        if any(key.startswith("quick_delete") for key in changes):
            self._set_quick_delete_shortcut()
            self.retranslate()
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

    def open_backups(self) -> None:
        profile = self.session.profile
        if profile is None:
            return
        dialog = BackupDialog(profile, self.session.settings, self)
        dialog.settings_changed.connect(self.session.remember)
        dialog.share_requested.connect(
            lambda: self._open_dialog(ShareRecoveryDialog(profile, self))
        )
        dialog.held_requested.connect(lambda: self._open_dialog(HeldSharesDialog(profile, self)))
        self._open_dialog(dialog)

    def open_guide(self) -> GuideDialog:
        """The guide, in the interface's language; one at a time."""
        shown = self.findChild(GuideDialog)
        if shown is not None and shown.isVisible():
            shown.activateWindow()
            return shown
        dialog = GuideDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()  # not modal: the guide stays open beside the work it explains
        return dialog

    def open_about(self) -> AboutDialog:
        dialog = AboutDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._open_dialog(dialog)
        return dialog

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

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        shown = event.type() == QEvent.Type.Show
        if shown and isinstance(watched, QDialog) and self._owns(watched):
            watched.addAction(self.lock_action)  # adding it twice changes nothing
        return super().eventFilter(watched, event)

    def _owns(self, dialog: QDialog) -> bool:
        parent = dialog.parent()
        while parent is not None:
            if parent is self:
                return True
            parent = parent.parent()
        return False

    def _open_dialog(self, dialog: QDialog) -> None:
        # A modal dialog blocks the window's shortcuts; the lock must work from inside it too.
        dialog.addAction(self.lock_action)
        dialog.open()

    # -- language and closing -------------------------------------------------------------

    def retranslate(self) -> None:
        self.travel_action.setText(_("&Travel mode…"))
        self.travel_action.setToolTip(
            _("Leave spaces behind before a journey, or return to them with the return key")
        )
        self.quick_delete_action.setText(_("&Quick delete…"))
        self.quick_delete_action.setToolTip(
            _("Delete this profile from this computer at once, keys first ({shortcut})").format(
                shortcut=self.quick_delete_action.shortcut().toString(
                    QKeySequence.SequenceFormat.NativeText
                )
            )
        )
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
        self.backup_action.setText(_("&Backups and recovery…"))
        self.quit_action.setText(_("&Quit"))
        self.help_button.setText(_("&Help"))
        self.guide_action.setText(_("&Guide"))
        self.guide_action.setToolTip(_("A short guide to Minga (F1)"))
        self.about_action.setText(_("&About Minga"))
        self.toolbar.setWindowTitle(_("Main toolbar"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.lock()
        super().closeEvent(event)
