"""The unlock screen: the passphrase, or the recovery key with a new passphrase when it is lost.

Key derivation runs on a worker, so the window keeps answering while Argon2id works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.translation import _
from desktop.store.profile import (
    WrongPassphrase,
    read_device_hints,
    unlock,
    unlock_with_recovery_key,
)
from desktop.store.quick_delete import record_wrong_passphrase, reset_wrong_passphrases
from desktop.ui.forms import (
    BusyIndicator,
    MessageLabel,
    PassphraseField,
    failure_message,
    heading,
    lay_out_passphrase_page,
    new_passphrase_problem,
    paragraph,
)
from desktop.ui.jobs import JobState, run_job
from desktop.ui.session import OpenedProfile, open_profile
from desktop.ui.shared_recovery import SharesUnlockPage


class UnlockScreen(QWidget):
    """Unlock with the passphrase; or, through "forgot passphrase?", with the recovery key.

    Signals:
        unlocked(object): an :class:`OpenedProfile`, the profile open with its settings read.
        quick_delete_requested(): the person asked to delete the profile (no passphrase).
        too_many_wrong_passphrases(): the number the person set was reached: delete now.
    """

    unlocked = Signal(object)
    quick_delete_requested = Signal()
    too_many_wrong_passphrases = Signal()

    def __init__(self, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        self.pages = QStackedWidget(self)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.pages)

        # The passphrase page.
        self.unlock_page = QWidget(self.pages)
        self.title = heading(self.unlock_page)
        self.intro = paragraph(self.unlock_page)
        self.passphrase_label = QLabel(self.unlock_page)
        self.passphrase = PassphraseField(self.unlock_page)
        self.passphrase_label.setBuddy(self.passphrase)
        self.message = MessageLabel(self.unlock_page)
        self.busy = BusyIndicator(self.unlock_page)
        self.unlock_button = QPushButton(self.unlock_page)
        self.unlock_button.setDefault(True)
        self.forgot_button = QPushButton(self.unlock_page)
        self.forgot_button.setFlat(True)
        self.forgot_button.setProperty("role", "link")
        self.unlock_button.clicked.connect(self.submit)
        self.passphrase.returnPressed.connect(self.submit)
        self.forgot_button.clicked.connect(self.show_recovery)
        # No passphrase needed: the moment someone demands it is when the profile is locked.
        self.quick_delete_button = QPushButton(self.unlock_page)
        self.quick_delete_button.setObjectName("unlockQuickDelete")
        self.quick_delete_button.setFlat(True)
        self.quick_delete_button.setProperty("role", "link")
        self.quick_delete_button.clicked.connect(self.quick_delete_requested)

        lay_out_passphrase_page(
            self.unlock_page,
            title=self.title,
            intro=self.intro,
            rows=[(self.passphrase_label, self.passphrase)],
            message=self.message,
            busy=self.busy,
            button=self.unlock_button,
            footer=self.forgot_button,
        )
        footer = self.unlock_page.layout()
        if footer is not None:
            footer.addWidget(self.quick_delete_button)
        self.pages.addWidget(self.unlock_page)

        # The recovery page.
        self.recovery_page = QWidget(self.pages)
        self.recovery_title = heading(self.recovery_page)
        self.recovery_intro = paragraph(self.recovery_page)
        self.recovery_key_label = QLabel(self.recovery_page)
        self.recovery_key = QLineEdit(self.recovery_page)
        self.recovery_key.setObjectName("recoveryKeyField")
        self.recovery_key_label.setBuddy(self.recovery_key)
        self.new_passphrase_label = QLabel(self.recovery_page)
        self.new_passphrase = PassphraseField(self.recovery_page)
        self.new_passphrase_label.setBuddy(self.new_passphrase)
        self.repeat_label = QLabel(self.recovery_page)
        self.repeat = PassphraseField(self.recovery_page)
        self.repeat_label.setBuddy(self.repeat)
        self.recovery_message = MessageLabel(self.recovery_page)
        self.recovery_busy = BusyIndicator(self.recovery_page)
        self.recover_button = QPushButton(self.recovery_page)
        self.back_button = QPushButton(self.recovery_page)
        self.back_button.setFlat(True)
        self.back_button.setProperty("role", "link")
        self.recover_button.clicked.connect(self.submit_recovery)
        self.repeat.returnPressed.connect(self.submit_recovery)
        self.back_button.clicked.connect(self.show_unlock)

        lay_out_passphrase_page(
            self.recovery_page,
            title=self.recovery_title,
            intro=self.recovery_intro,
            rows=[
                (self.recovery_key_label, self.recovery_key),
                (self.new_passphrase_label, self.new_passphrase),
                (self.repeat_label, self.repeat),
            ],
            message=self.recovery_message,
            busy=self.recovery_busy,
            button=self.recover_button,
            footer=self.back_button,
        )
        self.pages.addWidget(self.recovery_page)

        # Shares from trusted people, for someone without a recovery key (issue 17).
        self.shares_button = QPushButton(self.recovery_page)
        self.shares_button.setFlat(True)
        self.shares_button.setProperty("role", "link")
        self.shares_button.clicked.connect(self.show_shares)
        recovery_layout = self.recovery_page.layout()
        if isinstance(recovery_layout, QVBoxLayout):
            recovery_layout.insertWidget(recovery_layout.count() - 1, self.shares_button)
        self.shares_page = SharesUnlockPage(folder, self.pages)
        self.shares_page.unlocked.connect(self.unlocked)
        self.shares_page.back.connect(self.show_unlock)
        self.pages.addWidget(self.shares_page)

        self.retranslate()

    @property
    def working(self) -> bool:
        return self.busy.busy or self.recovery_busy.busy or self.shares_page.busy.busy

    def show_recovery(self) -> None:
        self.message.clear_message()
        self.pages.setCurrentWidget(self.recovery_page)
        self.recovery_key.setFocus()

    def show_shares(self) -> None:
        self.recovery_message.clear_message()
        self.pages.setCurrentWidget(self.shares_page)
        self.shares_page.shares.setFocus()

    def show_unlock(self) -> None:
        self.recovery_key.clear()
        self.new_passphrase.clear()
        self.repeat.clear()
        self.recovery_message.clear_message()
        self.pages.setCurrentWidget(self.unlock_page)
        self.passphrase.setFocus()

    # -- the passphrase -------------------------------------------------------------------------

    def submit(self) -> None:
        if self.working:
            return
        passphrase = self.passphrase.take()
        if not passphrase:
            self.message.say(_("Type your passphrase to unlock."))
            return
        self.message.clear_message()
        self._set_working(True)
        folder = self.folder

        def open_with_passphrase(_state: JobState) -> OpenedProfile:
            opened = open_profile(unlock(folder, passphrase))
            reset_wrong_passphrases(folder)
            return opened

        run_job(self, open_with_passphrase, on_success=self._opened, on_failure=self._unlock_failed)

    def _unlock_failed(self, error: BaseException) -> None:
        self._set_working(False)
        if isinstance(error, WrongPassphrase) and self._wrong_passphrase_limit_reached():
            self.too_many_wrong_passphrases.emit()
            return
        self.message.say(failure_message(error))
        self.passphrase.setFocus()
        if not isinstance(error, WrongPassphrase):
            self.passphrase.selectAll()

    def _wrong_passphrase_limit_reached(self) -> bool:
        """Count this wrong passphrase; True when the person's limit (a setting, 0 = never)
        is reached. Nothing is said about the count: a searcher learns nothing of the limit."""
        limit = read_device_hints(self.folder).get("quick_delete_after_wrong_passphrases", 0)
        if not limit:
            return False  # off: a wrong passphrase touches no file
        try:
            count = record_wrong_passphrase(self.folder)
        except OSError:
            return False
        return count >= int(limit)

    # -- the recovery key -------------------------------------------------------------------------

    def submit_recovery(self) -> None:
        if self.working:
            return
        recovery_key = self.recovery_key.text().strip()
        if not recovery_key:
            self.recovery_message.say(_("Type the recovery key you wrote down or printed."))
            self.recovery_key.setFocus()
            return
        problem = new_passphrase_problem(self.new_passphrase.text(), self.repeat.text())
        if problem:
            self.recovery_message.say(problem)
            self.new_passphrase.setFocus()
            return
        new_passphrase = self.new_passphrase.take()
        self.repeat.clear()
        self.recovery_message.clear_message()
        self._set_working(True)
        folder = self.folder

        def open_with_recovery_key(_state: JobState) -> OpenedProfile:
            return open_profile(unlock_with_recovery_key(folder, recovery_key, new_passphrase))

        # A new key wrap is written: it queues with the other writes.
        run_job(
            self,
            open_with_recovery_key,
            writes=True,
            on_success=self._opened,
            on_failure=self._recovery_failed,
        )

    def _recovery_failed(self, error: BaseException) -> None:
        self._set_working(False)
        self.recovery_message.say(failure_message(error))
        self.recovery_key.setFocus()

    # -- both ---------------------------------------------------------------------------------

    def _set_working(self, working: bool) -> None:
        for widget in (
            self.passphrase,
            self.unlock_button,
            self.quick_delete_button,
            self.forgot_button,
            self.recovery_key,
            self.new_passphrase,
            self.repeat,
            self.recover_button,
            self.back_button,
        ):
            widget.setEnabled(not working)
        on_recovery = self.pages.currentWidget() is self.recovery_page
        busy = self.recovery_busy if on_recovery else self.busy
        if working:
            busy.start(self._busy_text())
        else:
            self.busy.stop()
            self.recovery_busy.stop()

    def _busy_text(self) -> str:
        return _("Unlocking… Checking a passphrase takes a moment, on purpose.")

    def _opened(self, opened: Any) -> None:
        self._set_working(False)
        self.recovery_key.clear()
        self.unlocked.emit(opened)

    def retranslate(self) -> None:
        self.title.setText(_("Unlock Minga"))
        self.intro.setText(_("Type your passphrase to open your encrypted profile."))
        self.passphrase_label.setText(_("&Passphrase"))
        self.unlock_button.setText(_("&Unlock"))
        self.forgot_button.setText(_("Forgot your passphrase? Use your recovery key"))
        self.recovery_title.setText(_("Use your recovery key"))
        self.recovery_intro.setText(
            _(
                "Type the recovery key you wrote down or printed when you created this "
                "profile, then choose a new passphrase. Your old passphrase stops working."
            )
        )
        self.recovery_key_label.setText(_("&Recovery key"))
        self.recovery_key.setPlaceholderText("XXXXX-XXXXX-XXXXX-…")
        self.new_passphrase_label.setText(_("&New passphrase"))
        self.repeat_label.setText(_("Re&peat the new passphrase"))
        self.recover_button.setText(_("Unlock and &set the new passphrase"))
        self.back_button.setText(_("Back to the passphrase"))
        self.quick_delete_button.setText(_("Quick delete: erase this profile from this computer…"))
        self.shares_button.setText(_("No recovery key? Use shares from trusted people"))
        for busy in (self.busy, self.recovery_busy):
            if busy.busy:
                busy.set_message(self._busy_text())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
