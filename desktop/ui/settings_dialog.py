"""The settings dialog, built from the one declared schema (``desktop.domain.settings``).

A setting added to the schema appears here with no other change; values go to the profile.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.settings import SHOWN_SETTINGS, Setting, SettingError
from desktop.domain.translation import NATIVE_NAMES, _
from desktop.store.profile import Profile
from desktop.ui.bidi import keep_left_to_right
from desktop.ui.forms import (
    BusyIndicator,
    MessageLabel,
    failure_message,
    grow_to_fit,
    hold_window_size_hints,
)
from desktop.ui.jobs import JobState, run_job

#: How a choice is named on screen, per setting; a choice not listed shows as it is stored.
CHOICE_NAMES: dict[str, dict[str, str]] = {"language": NATIVE_NAMES}


def editor_for(setting: Setting, parent: QWidget) -> QWidget:
    """The widget that edits a setting of this kind."""
    if setting.kind == "choice":
        combo = QComboBox(parent)
        names = CHOICE_NAMES.get(setting.key, {})
        for choice in setting.choices:
            combo.addItem(names.get(choice, choice), choice)
        return combo
    if setting.kind == "int":
        spin = QSpinBox(parent)
        spin.setRange(
            setting.minimum if setting.minimum is not None else -(2**31),
            setting.maximum if setting.maximum is not None else 2**31 - 1,
        )
        return spin
    if setting.kind == "bool":
        return QCheckBox(parent)
    return QLineEdit(parent)


def show_value(widget: QWidget, value: Any) -> None:
    if isinstance(widget, QComboBox):
        widget.setCurrentIndex(max(0, widget.findData(value)))
    elif isinstance(widget, QSpinBox):
        widget.setValue(int(value))
    elif isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    elif isinstance(widget, QLineEdit):
        widget.setText(str(value))


def read_value(widget: QWidget) -> Any:
    if isinstance(widget, QComboBox):
        return widget.currentData(Qt.ItemDataRole.UserRole)
    if isinstance(widget, QSpinBox):
        return widget.value()
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, QLineEdit):
        return widget.text()
    raise TypeError(type(widget).__name__)


class SettingsDialog(QDialog):
    """Every declared setting, grouped by section; Save stores the changed ones in the profile.

    Signals:
        saved(dict): the settings that changed, by key, once stored in the encrypted profile.
    """

    saved = Signal(dict)

    def __init__(self, profile: Profile, values: dict[str, Any], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setModal(True)
        self._profile = profile
        self._values = dict(values)
        self.editors: dict[str, QWidget] = {}
        self._labels: dict[str, tuple[QLabel, QLabel]] = {}
        self._groups: dict[str, QGroupBox] = {}

        layout = QVBoxLayout(self)
        for setting in SHOWN_SETTINGS:
            group = self._groups.get(setting.section)
            if group is None:
                group = QGroupBox(self)
                QFormLayout(group).setFieldGrowthPolicy(
                    QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow
                )
                self._groups[setting.section] = group
                layout.addWidget(group)
            form = group.layout()
            assert isinstance(form, QFormLayout)
            editor = editor_for(setting, group)
            editor.setObjectName(f"setting_{setting.key}")
            if isinstance(editor, QLineEdit) and setting.pattern:
                keep_left_to_right(editor)  # socks5h://…, a fingerprint: codes, never mirrored
            show_value(editor, self._values.get(setting.key, setting.default))
            label = QLabel(group)
            label.setBuddy(editor)
            help_text = QLabel(group)
            help_text.setProperty("role", "hint")
            help_text.setWordWrap(True)
            form.addRow(label, editor)
            form.addRow(help_text)
            self.editors[setting.key] = editor
            self._labels[setting.key] = (label, help_text)

        self.message = MessageLabel(self)
        self.busy = BusyIndicator(self)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.message)
        layout.addWidget(self.busy)
        layout.addWidget(self.buttons)
        self.retranslate()
        hold_window_size_hints(self, minimum_width=480)

    def changes(self) -> dict[str, Any]:
        """The settings whose edited value differs from the stored one."""
        return {
            key: read_value(editor)
            for key, editor in self.editors.items()
            if read_value(editor) != self._values.get(key)
        }

    def save(self) -> None:
        if self.busy.busy:
            return
        changes = self.changes()
        by_key = {s.key: s for s in SHOWN_SETTINGS}
        try:
            # Checked here first, so a bad value never reaches the store half-way.
            changes = {key: by_key[key].coerce(value) for key, value in changes.items()}
        except SettingError as error:
            self.message.say(str(error))
            return
        if not changes:
            self.accept()
            return
        self.message.clear_message()
        self._set_working(True)
        profile = self._profile

        def store(_state: JobState) -> tuple[dict[str, Any], BaseException | None]:
            stored: dict[str, Any] = {}
            for key, value in changes.items():
                try:
                    profile.settings.set(key, value)
                except Exception as error:  # what was stored stays stored, and is reported
                    return stored, error
                stored[key] = value
            return stored, None

        run_job(self, store, writes=True, on_success=self._stored, on_failure=self._failed)

    def _stored(self, outcome: Any) -> None:
        stored, error = outcome
        self._set_working(False)
        self._values.update(stored)
        if stored:
            self.saved.emit(stored)
        if error is None:
            self.accept()
        else:
            self.message.say(
                str(error) if isinstance(error, SettingError) else failure_message(error)
            )

    def _failed(self, error: BaseException) -> None:
        self._set_working(False)
        self.message.say(failure_message(error))

    def _set_working(self, working: bool) -> None:
        for editor in self.editors.values():
            editor.setEnabled(not working)
        self.buttons.setEnabled(not working)
        if working:
            self.busy.start(_("Saving…"))
        else:
            self.busy.stop()

    def retranslate(self) -> None:
        self.setWindowTitle(_("Settings"))
        for section, group in self._groups.items():
            group.setTitle(_(section))
        for setting in SHOWN_SETTINGS:
            label, help_text = self._labels[setting.key]
            label.setText(_(setting.label))
            help_text.setText(_(setting.description))
            self.editors[setting.key].setToolTip(_(setting.description))
        # Save and Cancel are Qt's standard buttons: qtbase's own catalogue names them.

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
            grow_to_fit(self)
        super().changeEvent(event)
