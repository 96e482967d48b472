"""The change-passphrase dialog: the current passphrase, the new one twice, re-wrapped on a worker.

By default only the key wrap changes; the data and the recovery key stay as they are. With
"Also start a new encryption key" the profile is re-keyed (desktop/store/rekey.py): a new master
key, the database re-encrypted, a new recovery key shown once here, the old one retired.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
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
from desktop.store.rekey import DatabaseBusy
from desktop.ui.forms import (
    BusyIndicator,
    MessageLabel,
    PassphraseField,
    PassphraseStrength,
    ShowPassphrases,
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
        # A new master key: after a coerced unlock, or if an old copy of the key file may be
        # in someone's hands, the old passphrase and recovery key must open nothing new.
        self.fresh_keys = QCheckBox(self)
        self.fresh_keys.setObjectName("freshKeysCheck")
        self.fresh_keys_note = paragraph(self)
        # Shown once after a re-key: the new recovery key, to write down.
        self.key_label = QLabel(self)
        self.key_label.setObjectName("newRecoveryKey")
        self.key_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.key_label.setTextFormat(Qt.TextFormat.PlainText)
        self.key_label.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        key_font = QFont("monospace")
        key_font.setStyleHint(QFont.StyleHint.Monospace)
        key_font.setPointSizeF(max(key_font.pointSizeF(), 10) * 1.6)
        self.key_label.setFont(key_font)
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.key_label.hide()
        self.written_down = QCheckBox(self)
        self.written_down.hide()
        self.strength = PassphraseStrength(self)
        self.new.textChanged.connect(self.strength.rate)
        self.show_passphrases = ShowPassphrases([self.current, self.new, self.repeat], self)
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
        form.addRow("", self.strength)
        form.addRow("", self.show_passphrases)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.fresh_keys)
        layout.addWidget(self.fresh_keys_note)
        layout.addWidget(self.key_label)
        layout.addWidget(self.written_down)
        layout.addWidget(self.message)
        layout.addWidget(self.busy)
        layout.addWidget(self.buttons)
        self.retranslate()
        hold_window_size_hints(self, minimum_width=480)

    def submit(self) -> None:
        if self.busy.busy:
            return
        if self.key_label.isVisible():
            # The new recovery key is on screen: close only once it is written down.
            if self.written_down.isChecked():
                self.key_label.clear()
                self.accept()
            else:
                self.message.say(_("Write down the new recovery key first, then tick the box."))
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
        fresh = self.fresh_keys.isChecked()

        def change(_state: JobState) -> str | None:
            if fresh:
                return profile.start_new_keys(old, new)
            profile.change_passphrase(old, new)
            return None

        run_job(self, change, writes=True, on_success=self._changed, on_failure=self._failed)

    def _changed(self, recovery_key: object) -> None:
        self._set_working(False)
        self.changed.emit()
        if not isinstance(recovery_key, str):
            self.accept()
            return
        groups = recovery_key.split("-")
        self.key_label.setText(
            "\n".join("-".join(groups[i : i + 4]) for i in range(0, len(groups), 4))
        )
        for widget in (
            self.current,
            self.new,
            self.repeat,
            self.current_label,
            self.new_label,
            self.repeat_label,
            self.fresh_keys,
            self.fresh_keys_note,
        ):
            widget.hide()
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).hide()
        self.key_label.show()
        self.written_down.show()
        self.retranslate()
        grow_to_fit(self)

    def reject(self) -> None:
        if self.key_label.isVisible() and not self.written_down.isChecked():
            self.message.say(_("Write down the new recovery key first, then tick the box."))
            return
        super().reject()

    def _failed(self, error: BaseException) -> None:
        self._set_working(False)
        if isinstance(error, DatabaseBusy):
            self.message.say(
                _(
                    "Minga is still using your data (a sync or an export). Nothing was changed: "
                    "try again in a moment."
                )
            )
            return
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
        self.strength.retranslate()
        self.show_passphrases.retranslate()
        self.setWindowTitle(_("Change passphrase"))
        if self.key_label.isVisible():
            self.intro.setText(
                _(
                    "Your data is now encrypted with a new key. This is your new recovery key: "
                    "write it on paper now, Minga will not show it again. The old recovery key "
                    "and the old passphrase no longer open anything written from now on."
                )
            )
            self.written_down.setText(
                _("I have written down my new recovery key and put it somewhere safe.")
            )
            self.change_button.setText(_("&Done"))
            return
        self.intro.setText(
            _(
                "Your data stays as it is; only the passphrase that opens it changes. "
                "Your recovery key keeps working."
            )
        )
        self.fresh_keys.setText(_("Also start a new encryption key and a new recovery key"))
        self.fresh_keys_note.setText(
            _(
                "Choose this if someone may have your old passphrase, your old recovery key or "
                "an old copy of your profile: they will open nothing written from now on. Your "
                "data is re-encrypted (this can take a minute) and you get a new recovery key "
                "to write down; the old one stops working."
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
