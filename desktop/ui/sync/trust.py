"""A space trusted on first use: the creating administrator's fingerprint, to compare in person or
by phone (typed, every group), with Confirm and "Does not match". Until confirmed the space keeps
pulling (refusing a genuine network by mistake would cut the person off) but nothing written in it
is sent, and this card stays at the top of the page. A space where a fork of the membership was
seen gets a ``ForkCard`` instead.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.domain.translation import _
from desktop.ui.sync.network import TypedDigits, align_fingerprint, fingerprint_label
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
        # Confirming releases what the person wrote there: the digits are typed, not glanced at.
        self.typed = TypedDigits(first.fingerprint, self)
        self.confirm_button = QPushButton(self)
        self.confirm_button.setObjectName("confirmTrustButton")
        self.confirm_button.setEnabled(False)
        self.typed.matched.connect(self.confirm_button.setEnabled)
        self.confirm_button.clicked.connect(self._confirm)
        self.refuse_button = QPushButton(self)
        self.refuse_button.setObjectName("refuseTrustButton")
        self.refuse_button.clicked.connect(lambda: self.refused.emit(self.first.space))
        layout = QVBoxLayout(self)
        layout.addWidget(self.warning)
        layout.addWidget(self.caption)
        layout.addWidget(self.fingerprint)
        layout.addWidget(self.typed)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.refuse_button)
        row.addWidget(self.confirm_button)
        layout.addLayout(row)
        self.retranslate()

    def _confirm(self) -> None:
        if self.typed.matches:
            self.confirmed.emit(self.first.space)

    def set_enabled(self, enabled: bool) -> None:
        self.confirm_button.setEnabled(enabled and self.typed.matches)
        self.refuse_button.setEnabled(enabled)
        self.typed.setEnabled(enabled)

    def retranslate(self) -> None:
        self.warning.setText(
            _(
                "“{space}” is not confirmed yet. You receive what others share there, but what "
                "you write in it is kept on this computer until you confirm the network: if the "
                "server handed you a network of its own making, it gets nothing from you."
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
        self.typed.retranslate()
        align_fingerprint(self.fingerprint)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class ForkCard(QFrame):
    """A space where two versions of its membership were met: someone (perhaps a removed
    administrator working with the server) shows members different histories. Nothing written
    there is sent; the person compares the space's safety number with the others.

    Signals:
        refused(str): the space id; the person forgets this copy of the network here.
        kept(str): the space id; the safety number typed matched an admin's: keep it.
    """

    refused = Signal(str)
    kept = Signal(str)

    def __init__(
        self, space: str, space_name: str, safety: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("forkCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.space = space
        self.space_name = space_name
        self.warning = QLabel(self)
        self.warning.setObjectName("forkWarning")
        self.warning.setProperty("role", "error")
        self.warning.setWordWrap(True)
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.safety = fingerprint_label(self)
        self.safety.setObjectName("safetyNumber")
        self.safety.setText(fingerprint_text(tuple(safety.split())))
        self.refuse_button = QPushButton(self)
        self.refuse_button.setObjectName("forgetForkButton")
        self.refuse_button.clicked.connect(lambda: self.refused.emit(self.space))
        # Keeping this copy releases what the person writes: the admin's digits are typed.
        self.typed = TypedDigits(safety, self)
        self.keep_button = QPushButton(self)
        self.keep_button.setObjectName("keepForkButton")
        self.keep_button.setEnabled(False)
        self.typed.matched.connect(self.keep_button.setEnabled)
        self.keep_button.clicked.connect(self._keep)
        layout = QVBoxLayout(self)
        layout.addWidget(self.warning)
        layout.addWidget(self.caption)
        layout.addWidget(self.safety)
        layout.addWidget(self.typed)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.refuse_button)
        row.addWidget(self.keep_button)
        layout.addLayout(row)
        self.retranslate()

    def _keep(self) -> None:
        if self.typed.matches:
            self.kept.emit(self.space)

    def set_enabled(self, enabled: bool) -> None:
        self.refuse_button.setEnabled(enabled)
        self.keep_button.setEnabled(enabled and self.typed.matches)
        self.typed.setEnabled(enabled)

    def retranslate(self) -> None:
        self.warning.setText(
            _(
                "Two different versions of who belongs to “{space}” reached this computer. "
                "Someone, perhaps a removed administrator working with the server, is showing "
                "members different networks. Nothing you write there is sent any more."
            ).format(space=self.space_name)
        )
        self.caption.setText(
            _(
                "Compare this safety number with an administrator of “{space}” (in person or by "
                "phone). If it differs, forget this copy of the network here and ask the "
                "administrator for a new invite."
            ).format(space=self.space_name)
        )
        self.refuse_button.setText(_("&Forget this copy of the network"))
        self.keep_button.setText(_("The numbers match: &keep this network"))
        self.typed.retranslate()
        align_fingerprint(self.safety)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
