"""The first-run screen: choose a passphrase, create the encrypted profile, see the recovery key.

The recovery key is shown once, with a write-down-or-print step confirmed before going on.
"""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.translation import (
    _,
    current_language,
    format_day,
    format_number,
    ngettext,
)
from desktop.store.profile import (
    PASSPHRASE_MIN_LENGTH,
    KdfParameters,
    create_profile,
)
from desktop.ui.forms import (
    BusyIndicator,
    MessageLabel,
    PassphraseField,
    PassphraseStrength,
    ShowPassphrases,
    failure_message,
    heading,
    lay_out_passphrase_page,
    new_passphrase_problem,
    paragraph,
)
from desktop.ui.jobs import JobState, run_job
from desktop.ui.session import OpenedProfile, open_profile


class CreateProfileScreen(QWidget):
    """Choose a passphrase, create the profile on a worker, then show the recovery key once.

    Signals:
        created(object): the new profile, open (an ``OpenedProfile``), once the person
            confirmed that the recovery key is written down or printed.
    """

    created = Signal(object)
    #: The person has a backup to restore (or is moving from another computer).
    restore_requested = Signal()

    def __init__(
        self, folder: Path, *, kdf: KdfParameters | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.folder = folder
        self._kdf = kdf
        self._opened: OpenedProfile | None = None

        self.pages = QStackedWidget(self)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.pages)

        # Page 1: the passphrase.
        self.form_page = QWidget(self.pages)
        self.title = heading(self.form_page)
        self.intro = paragraph(self.form_page)
        self.passphrase = PassphraseField(self.form_page)
        self.repeat = PassphraseField(self.form_page)
        self.passphrase_label = QLabel(self.form_page)
        self.passphrase_label.setBuddy(self.passphrase)
        self.repeat_label = QLabel(self.form_page)
        self.repeat_label.setBuddy(self.repeat)
        self.length_hint = paragraph(self.form_page)
        self.length_hint.setProperty("role", "hint")
        self.strength = PassphraseStrength(self.form_page)
        self.passphrase.textChanged.connect(self.strength.rate)
        self.show_passphrases = ShowPassphrases([self.passphrase, self.repeat], self.form_page)
        self.message = MessageLabel(self.form_page)
        self.busy = BusyIndicator(self.form_page)
        self.create_button = QPushButton(self.form_page)
        self.create_button.setDefault(True)
        self.create_button.clicked.connect(self.submit)
        self.repeat.returnPressed.connect(self.submit)
        self.passphrase.returnPressed.connect(self.repeat.setFocus)
        self.restore_button = QPushButton(self.form_page)
        self.restore_button.setObjectName("restoreLink")
        self.restore_button.setFlat(True)
        self.restore_button.setProperty("role", "link")
        self.restore_button.clicked.connect(self.restore_requested)

        lay_out_passphrase_page(
            self.form_page,
            title=self.title,
            intro=self.intro,
            rows=[(self.passphrase_label, self.passphrase), (self.repeat_label, self.repeat)],
            below_rows=[self.strength, self.show_passphrases, self.length_hint],
            message=self.message,
            busy=self.busy,
            button=self.create_button,
            footer=self.restore_button,
        )
        self.pages.addWidget(self.form_page)

        # Page 2: the recovery key, shown once.
        self.key_page = QWidget(self.pages)
        self.key_title = heading(self.key_page)
        self.key_intro = paragraph(self.key_page)
        self.key_label = QLabel(self.key_page)
        self.key_label.setObjectName("recoveryKey")
        self.key_label.setWordWrap(True)
        self.key_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.key_label.setTextFormat(Qt.TextFormat.PlainText)
        # Latin letters and digits read left to right even on an Arabic screen.
        self.key_label.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        # Not selectable: a recovery key on the clipboard would outlive this screen.
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.key_warning = paragraph(self.key_page)
        self.print_button = QPushButton(self.key_page)
        self.print_button.clicked.connect(self.print_recovery_key)
        self.written_down = QCheckBox(self.key_page)
        self.continue_button = QPushButton(self.key_page)
        self.continue_button.setEnabled(False)
        self.written_down.toggled.connect(self.continue_button.setEnabled)
        self.continue_button.clicked.connect(self.confirm_recovery_key)

        key_buttons = QHBoxLayout()
        key_buttons.addWidget(self.print_button)
        key_buttons.addStretch(1)
        key_buttons.addWidget(self.continue_button)
        key_layout = QVBoxLayout(self.key_page)
        key_layout.addWidget(self.key_title)
        key_layout.addWidget(self.key_intro)
        key_layout.addSpacing(8)
        key_layout.addWidget(self.key_label)
        key_layout.addSpacing(8)
        key_layout.addWidget(self.key_warning)
        key_layout.addWidget(self.written_down)
        key_layout.addLayout(key_buttons)
        key_layout.addStretch(1)
        self.pages.addWidget(self.key_page)

        self.retranslate()

    # -- creating ---------------------------------------------------------------------------

    def submit(self) -> None:
        if self.busy.busy:
            return
        problem = new_passphrase_problem(self.passphrase.text(), self.repeat.text())
        if problem:
            self.message.say(problem)
            self.passphrase.setFocus()
            return
        passphrase = self.passphrase.take()
        self.repeat.clear()
        self.message.clear_message()
        self._set_working(True)
        folder, kdf, language = self.folder, self._kdf, current_language()

        def create(_state: JobState) -> tuple[OpenedProfile, str]:
            profile, recovery_key = create_profile(folder, passphrase, kdf=kdf, language=language)
            return open_profile(profile), recovery_key

        run_job(self, create, writes=True, on_success=self._created, on_failure=self._failed)

    def _set_working(self, working: bool) -> None:
        for widget in (self.passphrase, self.repeat, self.create_button):
            widget.setEnabled(not working)
        if working:
            self.busy.start(self._busy_text())
        else:
            self.busy.stop()

    def _busy_text(self) -> str:
        return _("Creating your encrypted profile… This can take a few seconds.")

    def _created(self, outcome: Any) -> None:
        opened, recovery_key = outcome
        self._set_working(False)
        self._opened = opened
        groups = recovery_key.split("-")
        # Rows of four groups: easier to copy by hand and to check back against the paper.
        rows = ["-".join(groups[i : i + 4]) for i in range(0, len(groups), 4)]
        self.key_label.setText("\n".join(rows))
        self.written_down.setChecked(False)
        self.pages.setCurrentWidget(self.key_page)
        self.written_down.setFocus()

    def _failed(self, error: BaseException) -> None:
        self._set_working(False)
        self.message.say(failure_message(error))
        self.passphrase.setFocus()

    # -- the recovery key -------------------------------------------------------------------

    @property
    def showing_recovery_key(self) -> bool:
        return self.pages.currentWidget() is self.key_page and bool(self.key_label.text())

    def confirm_recovery_key(self) -> None:
        if not self.written_down.isChecked() or self._opened is None:
            return
        opened, self._opened = self._opened, None
        # Shown once: after this the key exists only on the person's paper.
        self.key_label.clear()
        self.written_down.setChecked(False)
        self.created.emit(opened)

    def print_recovery_key(self) -> None:
        # Imported here: QtPrintSupport loads the print system, which most sessions never need.
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self)
        dialog.setWindowTitle(_("Print your recovery key"))
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.recovery_sheet().print_(printer)

    def recovery_sheet(self) -> QTextDocument:
        """The page to print: the key in rows, the date, and the advice on keeping it."""
        key_rows = "<br>".join(html.escape(row) for row in self.key_label.text().splitlines())
        direction = "rtl" if self.layoutDirection() == Qt.LayoutDirection.RightToLeft else "ltr"
        document = QTextDocument()
        document.setHtml(
            f'<div dir="{direction}"><h1>{html.escape(_("Minga recovery key"))}</h1>'
            f"<p>{html.escape(format_day(date.today()))}</p>"
            f'<p dir="ltr" style="font-family: monospace; font-size: 20pt">{key_rows}</p>'
            f"<p>{html.escape(self._paper_advice())}</p></div>"
        )
        return document

    def _paper_advice(self) -> str:
        return _(
            "Keep this paper somewhere safe and away from your computer. With it, anyone who "
            "also has your computer can open your data, so never photograph it or store it "
            "online."
        )

    # -- language -----------------------------------------------------------------------------

    def retranslate(self) -> None:
        self.strength.retranslate()
        self.show_passphrases.retranslate()
        self.title.setText(_("Create your encrypted profile"))
        self.intro.setText(
            _(
                "Everything Minga keeps on this computer is encrypted with a passphrase that "
                "only you know. Without it, a lost or seized laptop reveals nothing."
            )
        )
        self.passphrase_label.setText(_("&Passphrase"))
        self.repeat_label.setText(_("&Repeat the passphrase"))
        self.length_hint.setText(
            ngettext(
                "At least {count} character. Several unrelated words are easier to remember "
                "and harder to guess than one complicated word.",
                "At least {count} characters. Several unrelated words are easier to remember "
                "and harder to guess than one complicated word.",
                PASSPHRASE_MIN_LENGTH,
            ).format(count=format_number(PASSPHRASE_MIN_LENGTH))
        )
        self.create_button.setText(_("&Create profile"))
        self.restore_button.setText(_("Moving to a new computer, or have a backup? Restore it"))
        if self.busy.busy:
            self.busy.set_message(self._busy_text())
        self.key_title.setText(_("Write down your recovery key"))
        self.key_intro.setText(
            _(
                "If you ever forget your passphrase, this recovery key is the only way back "
                "into your data. Write it on paper or print it now. Minga will not show it "
                "again."
            )
        )
        self.key_warning.setText(self._paper_advice())
        self.print_button.setText(_("&Print…"))
        self.written_down.setText(
            _("I have written down or printed my recovery key and put it somewhere safe.")
        )
        self.continue_button.setText(_("C&ontinue"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
