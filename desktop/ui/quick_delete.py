"""The one confirmation of a quick delete, and how many unsent changes it would lose.

Shown from the toolbar, the shortcut the person set, or the unlock screen (no passphrase
needed). "Cancel" is the default button, so an Enter pressed in haste deletes nothing; one
click on "Delete everything" does.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine, func, select

from desktop.domain.translation import _, ngettext
from desktop.store.schema import RecordRow, SyncDeviceRow
from desktop.ui.forms import heading, hold_window_size_hints, paragraph


def unsent_changes(engine: Engine) -> int | None:
    """Saved changes the server has not acknowledged, or None when this computer has no server
    (then everything in the profile exists here only)."""
    with engine.connect() as connection:
        if connection.scalar(select(SyncDeviceRow.id)) is None:
            return None
        count = connection.scalar(
            select(func.count()).select_from(RecordRow).where(RecordRow.dirty.is_(True))
        )
    return int(count or 0)


class QuickDeleteDialog(QDialog):
    """Delete everything of this profile on this computer? One question, one answer.

    ``unsent``: what ``unsent_changes`` said, or ``-1`` when the profile is locked (not known).

    Signals:
        confirmed(): the person chose "Delete everything".
    """

    confirmed = Signal()
    UNKNOWN = -1

    def __init__(self, unsent: int | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("quickDeleteDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setModal(True)
        self.unsent = unsent
        self.title = heading(self)
        self.explanation = paragraph(self)
        self.loss = paragraph(self)
        self.loss.setObjectName("quickDeleteLoss")
        self.loss.setProperty("role", "error")
        self.buttons = QDialogButtonBox(self)
        self.delete_button = QPushButton(self)
        self.delete_button.setObjectName("confirmQuickDelete")
        self.delete_button.setAutoDefault(False)
        self.cancel_button = QPushButton(self)
        self.cancel_button.setObjectName("cancelQuickDelete")
        self.cancel_button.setDefault(True)
        self.buttons.addButton(self.delete_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.delete_button.clicked.connect(self._confirm)
        self.cancel_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.explanation)
        layout.addWidget(self.loss)
        layout.addSpacing(8)
        layout.addWidget(self.buttons)
        self.retranslate()
        hold_window_size_hints(self, 520)
        self.cancel_button.setFocus()

    def _confirm(self) -> None:
        self.accept()
        self.confirmed.emit()

    def loss_text(self) -> str:
        if self.unsent is None:
            return _(
                "This computer is not connected to a server: everything in this profile exists "
                "only here and will be lost."
            )
        if self.unsent == self.UNKNOWN:
            return _(
                "Changes that have not reached the server yet will be lost. Minga cannot tell "
                "how many while the profile is locked."
            )
        if self.unsent == 0:
            return _("Every change you saved has reached the server.")
        return ngettext(
            "{count} change has not reached the server and will be lost.",
            "{count} changes have not reached the server and will be lost.",
            self.unsent,
        ).format(count=self.unsent)

    def retranslate(self) -> None:
        self.setWindowTitle(_("Quick delete — Minga"))
        self.title.setText(_("Delete everything of Minga on this computer?"))
        self.explanation.setText(
            _(
                "Minga destroys this profile's keys at once, then every record, file and "
                "setting of it on this computer. Neither the passphrase nor the recovery key "
                "will open anything again. Afterwards Minga starts as on a new computer."
            )
        )
        self.loss.setText(self.loss_text())
        self.delete_button.setText(_("Delete everything"))
        self.cancel_button.setText(_("Cancel"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
