"""The change-passphrase dialog: the current passphrase, the new one twice, re-wrapped on a worker.

Only the key wrap changes; the data and the recovery key stay as they are.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.translation import _
from desktop.store.profile import Profile, WrongPassphrase
from desktop.ui.forms import (
    BusyIndicator,
    MessageLabel,
    PassphraseField,
    failure_message,
    grow_to_fit,
    hold_window_size_hints,
    new_passphrase_problem,
    paragraph,
)
from desktop.ui.jobs import JobState, run_job


class ChangePassphraseDialog(QDialog):
    """Asks for the current passphrase and a new one, then re-wraps the profile's key.

    Signals:
        changed(): the new passphrase is in force.
    """

    changed = Signal()

    def __init__(self, profile: Profile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("changePassphraseDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setModal(True)
        self._profile = profile
        self.intro = paragraph(self)
        self.current = PassphraseField(self)
        self.new = PassphraseField(self)
        self.repeat = PassphraseField(self)
        self.current_label = QLabel(self)
        self.current_label.setBuddy(self.current)
        self.new_label = QLabel(self)
        self.new_label.setBuddy(self.new)
        self.repeat_label = QLabel(self)
        self.repeat_label.setBuddy(self.repeat)
        self.message = MessageLabel(self)
        self.busy = BusyIndicator(self)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.change_button = QPushButton(self)
        self.change_button.setDefault(True)
        self.buttons.addButton(self.change_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow(self.current_label, self.current)
        form.addRow(self.new_label, self.new)
        form.addRow(self.repeat_label, self.repeat)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.busy)
        layout.addWidget(self.buttons)
        self.retranslate()
        hold_window_size_hints(self, minimum_width=480)

    def submit(self) -> None:
        if self.busy.busy:
            return
        if not self.current.text():
            self.message.say(_("Type your current passphrase."))
            self.current.setFocus()
            return
        problem = new_passphrase_problem(self.new.text(), self.repeat.text())
        if problem:
            self.message.say(problem)
            self.new.setFocus()
            return
        old, new = self.current.take(), self.new.take()
        self.repeat.clear()
        self.message.clear_message()
        self._set_working(True)
        profile = self._profile

        def change(_state: JobState) -> None:
            profile.change_passphrase(old, new)

        run_job(self, change, writes=True, on_success=self._changed, on_failure=self._failed)

    def _changed(self, _result: object) -> None:
        self._set_working(False)
        self.changed.emit()
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self._set_working(False)
        self.message.say(failure_message(error))
        (self.current if isinstance(error, WrongPassphrase) else self.new).setFocus()

    def _set_working(self, working: bool) -> None:
        for widget in (self.current, self.new, self.repeat, self.buttons):
            widget.setEnabled(not working)
        if working:
            self.busy.start(self._busy_text())
        else:
            self.busy.stop()

    def _busy_text(self) -> str:
        return _("Changing the passphrase… This takes a few seconds.")

    def retranslate(self) -> None:
        self.setWindowTitle(_("Change passphrase"))
        self.intro.setText(
            _(
                "Your data stays as it is; only the passphrase that opens it changes. "
                "Your recovery key keeps working."
            )
        )
        self.current_label.setText(_("C&urrent passphrase"))
        self.new_label.setText(_("&New passphrase"))
        self.repeat_label.setText(_("Re&peat the new passphrase"))
        self.change_button.setText(_("&Change passphrase"))
        if self.busy.busy:
            self.busy.set_message(self._busy_text())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
            grow_to_fit(self)
        super().changeEvent(event)
