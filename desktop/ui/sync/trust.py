"""A space trusted on first use: the creating administrator's fingerprint, to compare in person or
by phone, with Confirm and "Does not match". Until confirmed the space keeps syncing (refusing a
genuine network by mistake would cut the person off) and this card stays at the top of the page.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.domain.translation import _
from desktop.ui.sync.network import align_fingerprint, fingerprint_label
from desktop.ui.sync.texts import fingerprint_text
from sync.client.state import FirstUse


class TrustCard(QFrame):
    """One space whose administrator's fingerprint nobody compared yet.

    Signals:
        confirmed(str): the space id; the digits matched.
        refused(str): the space id; they did not.
    """

    confirmed = Signal(str)
    refused = Signal(str)

    def __init__(self, first: FirstUse, space_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trustCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.first = first
        self.space_name = space_name
        self.warning = QLabel(self)
        self.warning.setObjectName("trustWarning")
        self.warning.setProperty("role", "error")
        self.warning.setWordWrap(True)
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.fingerprint = fingerprint_label(self)
        self.fingerprint.setObjectName("adminFingerprint")
        self.fingerprint.setText(fingerprint_text(tuple(first.fingerprint.split())))
        self.confirm_button = QPushButton(self)
        self.confirm_button.setObjectName("confirmTrustButton")
        self.confirm_button.clicked.connect(lambda: self.confirmed.emit(self.first.space))
        self.refuse_button = QPushButton(self)
        self.refuse_button.setObjectName("refuseTrustButton")
        self.refuse_button.clicked.connect(lambda: self.refused.emit(self.first.space))
        layout = QVBoxLayout(self)
        layout.addWidget(self.warning)
        layout.addWidget(self.caption)
        layout.addWidget(self.fingerprint)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.refuse_button)
        row.addWidget(self.confirm_button)
        layout.addLayout(row)
        self.retranslate()

    def set_enabled(self, enabled: bool) -> None:
        self.confirm_button.setEnabled(enabled)
        self.refuse_button.setEnabled(enabled)

    def retranslate(self) -> None:
        self.warning.setText(
            _(
                "“{space}” is not confirmed yet. It syncs meanwhile, but if the server handed "
                "you a network of its own making, what you share there goes to it."
            ).format(space=self.space_name)
        )
        self.caption.setText(
            _(
                "Compare this fingerprint with the admin (in person or by phone) before trusting "
                "this network: every digit must match the fingerprint the administrator of "
                "“{space}” sees on their own Sync page."
            ).format(space=self.space_name)
        )
        self.confirm_button.setText(_("The digits match: &confirm"))
        self.refuse_button.setText(_("Does &not match"))
        align_fingerprint(self.fingerprint)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
