"""The first-start path for a backup: restore it here, or move to a new computer (restore, then
sync as a new device). The restore itself is ``desktop.store.backup``'s: onto an empty folder
only, nothing written unless every byte verified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.translation import _
from desktop.store.backup import SUFFIX, BackupSummary, restore_backup
from desktop.store.profile import Profile
from desktop.store.succession import Predecessor, predecessor
from desktop.ui.backup_dialog import describe_backup
from desktop.ui.bidi import left_to_right
from desktop.ui.forms import (
    MessageLabel,
    PassphraseField,
    failure_message,
    heading,
    new_passphrase_problem,
    paragraph,
)
from desktop.ui.jobs import JobState, run_job
from desktop.ui.shared_recovery import SharesField

PASSPHRASE, RECOVERY_KEY, SHARES = "passphrase", "recovery_key", "shares"


class RestoreScreen(QWidget):
    """Choose a backup, open it, restore it into this computer's (empty) profile folder.

    Signals:
        restored(): the profile is in place; the gate shows the unlock screen next.
        back(): the person wants to create a new profile instead.
    """

    restored = Signal()
    back = Signal()

    def __init__(self, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("restoreScreen")
        self.folder = folder
        self.backup: Path | None = None
        self.predecessor: Predecessor | None = None
        self._working = False
        self.pages = QStackedWidget(self)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.pages)

        self.form = QWidget(self.pages)
        self.title = heading(self.form)
        self.intro = paragraph(self.form)
        self.steps = paragraph(self.form)
        self.file_label = QLabel(self.form)
        self.file = QLineEdit(self.form)
        self.file.setReadOnly(True)
        self.file_button = QPushButton(self.form)
        self.file_button.clicked.connect(self.choose_file)
        self.file_label.setBuddy(self.file_button)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file, 1)
        file_row.addWidget(self.file_button)
        self.method_label = QLabel(self.form)
        self.method = QComboBox(self.form)
        self.method_label.setBuddy(self.method)
        self.method.currentIndexChanged.connect(self._show_method)
        self.passphrase_label = QLabel(self.form)
        self.passphrase = PassphraseField(self.form)
        self.passphrase_label.setBuddy(self.passphrase)
        self.recovery_label = QLabel(self.form)
        self.recovery_key = QLineEdit(self.form)
        self.recovery_key.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        self.recovery_label.setBuddy(self.recovery_key)
        self.shares_label = QLabel(self.form)
        self.shares = SharesField(self.form)
        self.shares_label.setBuddy(self.shares)
        self.new_label = QLabel(self.form)
        self.new_passphrase = PassphraseField(self.form)
        self.new_label.setBuddy(self.new_passphrase)
        self.repeat_label = QLabel(self.form)
        self.repeat = PassphraseField(self.form)
        self.repeat_label.setBuddy(self.repeat)
        self.fields = QFormLayout()
        self.fields.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.fields.addRow(self.file_label, file_row)
        self.fields.addRow(self.method_label, self.method)
        self.fields.addRow(self.passphrase_label, self.passphrase)
        self.fields.addRow(self.recovery_label, self.recovery_key)
        self.fields.addRow(self.shares_label, self.shares)
        self.fields.addRow(self.new_label, self.new_passphrase)
        self.fields.addRow(self.repeat_label, self.repeat)
        self.progress = QProgressBar(self.form)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.message = MessageLabel(self.form)
        self.restore_button = QPushButton(self.form)
        self.restore_button.setDefault(True)
        self.restore_button.clicked.connect(self.submit)
        self.back_button = QPushButton(self.form)
        self.back_button.setFlat(True)
        self.back_button.setProperty("role", "link")
        self.back_button.clicked.connect(self.back)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.restore_button)
        layout = QVBoxLayout(self.form)
        layout.addWidget(self.title)
        layout.addWidget(self.intro)
        layout.addWidget(self.steps)
        layout.addSpacing(8)
        layout.addLayout(self.fields)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        layout.addSpacing(16)
        layout.addWidget(self.back_button)
        layout.addStretch(1)
        self.pages.addWidget(self.form)

        self.done = QWidget(self.pages)
        self.done_title = heading(self.done)
        self.done_text = paragraph(self.done)
        self.next_text = paragraph(self.done)
        self.continue_button = QPushButton(self.done)
        self.continue_button.clicked.connect(self.restored)
        done_buttons = QHBoxLayout()
        done_buttons.addStretch(1)
        done_buttons.addWidget(self.continue_button)
        done_layout = QVBoxLayout(self.done)
        done_layout.addWidget(self.done_title)
        done_layout.addWidget(self.done_text)
        done_layout.addWidget(self.next_text)
        done_layout.addLayout(done_buttons)
        done_layout.addStretch(1)
        self.pages.addWidget(self.done)

        self.retranslate()
        self._show_method()

    @property
    def working(self) -> bool:
        return self._working

    def method_code(self) -> str:
        return str(self.method.currentData() or PASSPHRASE)

    def _show_method(self, *_args: object) -> None:
        code = self.method_code()
        for label, field, shown in (
            (self.passphrase_label, self.passphrase, code == PASSPHRASE),
            (self.recovery_label, self.recovery_key, code == RECOVERY_KEY),
            (self.shares_label, self.shares, code == SHARES),
            (self.new_label, self.new_passphrase, code != PASSPHRASE),
            (self.repeat_label, self.repeat, code != PASSPHRASE),
        ):
            label.setVisible(shown)
            field.setVisible(shown)

    def choose_file(self) -> None:
        chosen, _filter = QFileDialog.getOpenFileName(
            self,
            _("Choose the backup"),
            str(Path.home()),
            _("Minga backups (*{suffix});;All files (*)").format(suffix=SUFFIX),
        )
        if chosen:
            self.set_backup(Path(chosen))

    def set_backup(self, path: Path) -> None:
        self.backup = path
        self.file.setText(str(path))
        self.message.clear_message()

    def submit(self) -> None:
        if self._working:
            return
        if self.backup is None:
            self.message.say(_("Choose the backup file first."))
            return
        code = self.method_code()
        passphrase = recovery_key = new_passphrase = None
        shares = None
        try:
            if code == SHARES:
                shares = self.shares.shares()
        except Exception as error:
            self.message.say(failure_message(error))
            return
        if code == PASSPHRASE:
            passphrase = self.passphrase.take()
            if not passphrase:
                self.message.say(_("Type the passphrase the profile had when it was backed up."))
                return
        else:
            if code == RECOVERY_KEY:
                recovery_key = self.recovery_key.text().strip()
                if not recovery_key:
                    self.message.say(_("Type the recovery key you wrote down or printed."))
                    return
            problem = new_passphrase_problem(self.new_passphrase.text(), self.repeat.text())
            if problem:
                self.message.say(problem)
                return
            new_passphrase = self.new_passphrase.take()
            self.repeat.clear()
        self.message.clear_message()
        self._set_working(True)
        backup, folder = self.backup, self.folder
        found: list[Predecessor] = []

        def note_predecessor(profile: Profile) -> None:
            old = predecessor(profile.engine)
            if old is not None:
                found.append(old)

        def restore(state: JobState) -> tuple[BackupSummary, Predecessor | None]:
            summary = restore_backup(
                backup,
                folder,
                passphrase,
                recovery_key=recovery_key,
                shares=shares,
                new_passphrase=new_passphrase,
                progress=lambda done, total: state.report(done, total),
                after=note_predecessor,
            )
            return summary, (found[0] if found else None)

        run_job(
            self,
            restore,
            writes=True,
            on_success=self._restored,
            on_failure=self._failed,
            on_progress=lambda done, total, _note: self.progress.setValue(
                int(1000 * done / total) if total else 0
            ),
        )

    def _set_working(self, working: bool) -> None:
        self._working = working
        self.progress.setVisible(working)
        self.progress.setValue(0)
        for widget in (self.file_button, self.method, self.restore_button, self.back_button):
            widget.setEnabled(not working)

    def _restored(self, outcome: Any) -> None:
        summary, predecessor = outcome
        self._set_working(False)
        self.predecessor = predecessor
        self.done_text.setText(
            _("Your profile is back on this computer. {details}").format(
                details=describe_backup(summary)
            )
        )
        self.pages.setCurrentWidget(self.done)
        self.retranslate()

    def _failed(self, error: BaseException) -> None:
        self._set_working(False)
        if isinstance(error, OSError):
            self.message.say(
                _(
                    "Minga cannot write the profile into {folder}: {reason}. "
                    "Nothing was left there."
                ).format(folder=left_to_right(str(self.folder)), reason=error.strerror or error)
            )
            return
        self.message.say(failure_message(error))

    def retranslate(self) -> None:
        self.title.setText(_("Restore a backup or move to a new computer"))
        self.intro.setText(
            _(
                "A Minga backup holds your whole profile, including what had not reached the "
                "server yet. It is restored onto this computer only if every part of it is "
                "intact."
            )
        )
        self.steps.setText(
            "\n".join(
                (
                    _("Moving to a new computer:"),
                    _("1. On the old one, open Backups and recovery, and back up to a USB stick."),
                    _("2. Here, choose that file and type its passphrase."),
                    _("3. Then, in Sync, join your network again as a new device."),
                )
            )
        )
        self.file_label.setText(_("&Backup file:"))
        self.file_button.setText(_("&Choose…"))
        self.method_label.setText(_("&Open it with:"))
        current = self.method_code()
        self.method.blockSignals(True)
        self.method.clear()
        self.method.addItem(_("its passphrase"), PASSPHRASE)
        self.method.addItem(_("the recovery key"), RECOVERY_KEY)
        self.method.addItem(_("shares from trusted people"), SHARES)
        self.method.setCurrentIndex(max(0, self.method.findData(current)))
        self.method.blockSignals(False)
        self.passphrase_label.setText(_("&Passphrase:"))
        self.recovery_label.setText(_("&Recovery key:"))
        self.recovery_key.setPlaceholderText("XXXXX-XXXXX-XXXXX-…")
        self.shares_label.setText(_("S&hares:"))
        self.new_label.setText(_("&New passphrase:"))
        self.repeat_label.setText(_("Re&peat it:"))
        self.restore_button.setText(_("&Restore"))
        self.back_button.setText(_("Create a new profile instead"))
        self.done_title.setText(_("Restored"))
        if self.predecessor is not None:
            self.next_text.setText(
                _(
                    "This computer is a new device in your network: the old one can no longer "
                    "sync from here. After unlocking, open Sync and enroll with a new invitation "
                    "from your admin, and ask the admin to remove the old device (fingerprint "
                    "{fingerprint}). What had not been sent is sent then, once."
                ).format(fingerprint=self.predecessor.fingerprint)
            )
        else:
            self.next_text.setText(_("Unlock it with the passphrase of the backup."))
        self.continue_button.setText(_("&Continue to unlock"))
        # A form caches its label column's width; longer labels in another language need it
        # measured again, or they are cut off.
        self.fields.invalidate()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
