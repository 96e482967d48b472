"""Recovery shared among trusted people, on screen: make shares (printed words, or sealed to
members' devices and sent by sync), see the shares one holds for others, and come back in
with k shares. The secret sharing is ``desktop.store.shared_recovery``'s (SLIP-39)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.records import Space
from desktop.domain.recovery_records import RecoveryShare
from desktop.domain.translation import _, format_day, format_number, ngettext
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.shared_recovery import (
    MAX_SHARES,
    IssuedShares,
    SharesRefused,
    issue_shares,
    open_share,
    read_share_set,
    retire_issued,
    seal_to_members,
    shares_held,
    unlock_with_shares,
)
from desktop.store.sync_state import ProfileSyncState
from desktop.ui.forms import (
    BusyIndicator,
    MessageLabel,
    PassphraseField,
    failure_message,
    grow_to_fit,
    heading,
    hold_window_size_hints,
    lay_out_passphrase_page,
    new_passphrase_problem,
    paragraph,
)
from desktop.ui.jobs import JobState, run_job
from desktop.ui.session import OpenedProfile, open_profile
from sync.crypto.keys import DevicePublicKeys
from sync.crypto.spaces import MembershipStatement

#: Words in one share of a 256-bit secret (SLIP-39).
SHARE_WORDS = 33


def parse_shares(text: str) -> list[str]:
    """Shares as typed: any line breaks and spacing; every 33 words are one share."""
    words = text.lower().split()
    if not words or len(words) % SHARE_WORDS:
        raise SharesRefused("mistyped", f"{len(words)} words")
    return [
        " ".join(words[index : index + SHARE_WORDS]) for index in range(0, len(words), SHARE_WORDS)
    ]


class SharesField(QPlainTextEdit):
    """Where the shares are typed, one after the other; words of the SLIP-39 list are Latin."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sharesField")
        self.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        self.setTabChangesFocus(True)
        self.setMinimumHeight(120)

    def shares(self) -> list[str]:
        return parse_shares(self.toPlainText())


class SharesUnlockPage(QWidget):
    """Unlock with k shares from trusted people and choose a new passphrase.

    Signals:
        unlocked(object): an :class:`OpenedProfile`.
        back(): the person wants the passphrase page again.
    """

    unlocked = Signal(object)
    back = Signal()

    def __init__(self, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        self.title = heading(self)
        self.intro = paragraph(self)
        self.shares_label = QLabel(self)
        self.shares = SharesField(self)
        self.shares_label.setBuddy(self.shares)
        self.new_label = QLabel(self)
        self.new_passphrase = PassphraseField(self)
        self.new_label.setBuddy(self.new_passphrase)
        self.repeat_label = QLabel(self)
        self.repeat = PassphraseField(self)
        self.repeat_label.setBuddy(self.repeat)
        self.message = MessageLabel(self)
        self.busy = BusyIndicator(self)
        self.button = QPushButton(self)
        self.button.clicked.connect(self.submit)
        self.repeat.returnPressed.connect(self.submit)
        self.back_button = QPushButton(self)
        self.back_button.setFlat(True)
        self.back_button.setProperty("role", "link")
        self.back_button.clicked.connect(self.back)
        lay_out_passphrase_page(
            self,
            title=self.title,
            intro=self.intro,
            rows=[
                (self.shares_label, self.shares),
                (self.new_label, self.new_passphrase),
                (self.repeat_label, self.repeat),
            ],
            message=self.message,
            busy=self.busy,
            button=self.button,
            footer=self.back_button,
        )
        self.retranslate()

    def submit(self) -> None:
        if self.busy.busy:
            return
        try:
            shares = self.shares.shares()
        except SharesRefused as refusal:
            self.message.say(refusal.user_message())
            self.shares.setFocus()
            return
        problem = new_passphrase_problem(self.new_passphrase.text(), self.repeat.text())
        if problem:
            self.message.say(problem)
            self.new_passphrase.setFocus()
            return
        new_passphrase = self.new_passphrase.take()
        self.repeat.clear()
        self.message.clear_message()
        self.busy.start(_("Unlocking… Checking a passphrase takes a moment, on purpose."))
        self.button.setEnabled(False)
        folder = self.folder

        def open_with_shares(_state: JobState) -> OpenedProfile:
            return open_profile(unlock_with_shares(folder, shares, new_passphrase))

        run_job(
            self, open_with_shares, writes=True, on_success=self._opened, on_failure=self._failed
        )

    def _opened(self, opened: Any) -> None:
        self.busy.stop()
        self.button.setEnabled(True)
        self.shares.clear()
        self.unlocked.emit(opened)

    def _failed(self, error: BaseException) -> None:
        self.busy.stop()
        self.button.setEnabled(True)
        self.message.say(failure_message(error))
        self.shares.setFocus()

    def retranslate(self) -> None:
        self.title.setText(_("Use shares from trusted people"))
        self.intro.setText(
            _(
                "Ask the people who hold your recovery shares to read you their words, in "
                "person or on a call you trust. Type the shares one after the other; you need "
                "as many as you chose when you made them. Then choose a new passphrase."
            )
        )
        self.shares_label.setText(_("S&hares"))
        self.new_label.setText(_("&New passphrase"))
        self.repeat_label.setText(_("Re&peat the new passphrase"))
        self.button.setText(_("Unlock and &set the new passphrase"))
        self.back_button.setText(_("Back to the passphrase"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class _Retranslating:
    """Follows a language change while shown, as every other screen does."""

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()  # type: ignore[attr-defined]
        super().changeEvent(event)  # type: ignore[misc]


# --- making shares ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A member's device a share can be sealed to, from a verified statement."""

    space: str
    space_name: str
    keys: DevicePublicKeys

    def label(self) -> str:
        groups = str(self.keys.fingerprint).split()
        return _("Device {fingerprint}… in {space}").format(
            fingerprint=" ".join(groups[:2]), space=self.space_name
        )


def candidates(profile: Profile) -> list[Candidate]:
    """Other members' devices in the spaces this device syncs, from the newest stored statement
    of each (statements are stored only once verified), so a server cannot slip in a key."""
    state = ProfileSyncState(profile.engine)
    own = state.device_keys()
    if own is None:
        return []
    records = RecordStore(profile.engine)
    found: list[Candidate] = []
    for space in state.spaces():
        blobs = state.statements(space)
        if not blobs:
            continue
        latest = MembershipStatement.from_bytes(blobs[-1])
        if latest.member(own.device_id) is None:
            continue
        record = records.get(space)
        name = record.name if isinstance(record, Space) and record.name else space[:8]
        found += [
            Candidate(space, name, member.keys)
            for member in latest.members
            if member.device != own.device_id
        ]
    return found


class ShareRecoveryDialog(_Retranslating, QDialog):
    """Choose k of n and who holds the shares; then the printed ones are shown once."""

    def __init__(self, profile: Profile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shareRecoveryDialog")
        self.profile = profile
        self.issued: IssuedShares | None = None
        self.candidates = candidates(profile)
        self.pages = QStackedWidget(self)

        self.form = QWidget(self.pages)
        self.title = heading(self.form)
        self.intro = paragraph(self.form)
        self.current = paragraph(self.form)
        self.count = QSpinBox(self.form)
        self.count.setRange(2, MAX_SHARES)
        self.count.setValue(3)
        self.threshold = QSpinBox(self.form)
        self.threshold.setRange(2, 3)
        self.threshold.setValue(2)
        self.count.valueChanged.connect(lambda n: self.threshold.setMaximum(n))
        self.count_label = QLabel(self.form)
        self.count_label.setBuddy(self.count)
        self.threshold_label = QLabel(self.form)
        self.threshold_label.setBuddy(self.threshold)
        self.owner = QLineEdit(self.form)
        self.owner_label = QLabel(self.form)
        self.owner_label.setBuddy(self.owner)
        self.members_label = paragraph(self.form)
        self.members = QListWidget(self.form)
        for candidate in self.candidates:
            item = QListWidgetItem(candidate.label(), self.members)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
        self.members.itemChanged.connect(self._update_counts)
        self.split = paragraph(self.form)
        self.message = MessageLabel(self.form)
        self.busy = BusyIndicator(self.form)
        self.make_button = QPushButton(self.form)
        self.make_button.setDefault(True)
        self.make_button.clicked.connect(self.make)
        self.cancel_button = QPushButton(self.form)
        self.cancel_button.clicked.connect(self.reject)
        form = QFormLayout()
        form.addRow(self.count_label, self.count)
        form.addRow(self.threshold_label, self.threshold)
        form.addRow(self.owner_label, self.owner)
        buttons = QHBoxLayout()
        buttons.addWidget(self.busy, 1)
        buttons.addStretch(0)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.make_button)
        layout = QVBoxLayout(self.form)
        layout.addWidget(self.title)
        layout.addWidget(self.intro)
        layout.addWidget(self.current)
        layout.addLayout(form)
        layout.addWidget(self.members_label)
        layout.addWidget(self.members, 1)
        self.members.setVisible(bool(self.candidates))
        layout.addWidget(self.split)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.pages.addWidget(self.form)

        self.words_page = QWidget(self.pages)
        self.words_title = heading(self.words_page)
        self.words_intro = paragraph(self.words_page)
        self.words = QLabel(self.words_page)
        self.words.setObjectName("shareWords")
        self.words.setWordWrap(True)
        self.words.setTextFormat(Qt.TextFormat.PlainText)
        self.words.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        self.words.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.print_button = QPushButton(self.words_page)
        self.print_button.clicked.connect(self.print_shares)
        self.done_button = QPushButton(self.words_page)
        self.done_button.clicked.connect(self.accept)
        words_buttons = QHBoxLayout()
        words_buttons.addWidget(self.print_button)
        words_buttons.addStretch(1)
        words_buttons.addWidget(self.done_button)
        words_layout = QVBoxLayout(self.words_page)
        words_layout.addWidget(self.words_title)
        words_layout.addWidget(self.words_intro)
        words_layout.addWidget(self.words, 1, Qt.AlignmentFlag.AlignTop)
        words_layout.addLayout(words_buttons)
        self.pages.addWidget(self.words_page)

        outer = QVBoxLayout(self)
        outer.addWidget(self.pages)
        self.count.valueChanged.connect(self._update_counts)
        self.threshold.valueChanged.connect(self._update_counts)
        self.retranslate()
        hold_window_size_hints(self, 720)

    def chosen(self) -> list[Candidate]:
        return [
            candidate
            for index, candidate in enumerate(self.candidates)
            if self.members.item(index).checkState() == Qt.CheckState.Checked
        ]

    def _update_counts(self, *_args: object) -> None:
        sealed = len(self.chosen())
        printed = max(0, self.count.value() - sealed)
        sent = ngettext(
            "{count} share goes to the chosen device by sync.",
            "{count} shares go to the chosen devices by sync.",
            sealed,
        ).format(count=format_number(sealed))
        shown = ngettext(
            "{count} share is shown next, to print or write down.",
            "{count} shares are shown next, to print or write down.",
            printed,
        ).format(count=format_number(printed))
        needed = ngettext(
            "Any {needed} of the {count} shares brings you back in.",
            "Any {needed} of the {count} shares bring you back in.",
            self.threshold.value(),
        ).format(
            needed=format_number(self.threshold.value()),
            count=format_number(self.count.value()),
        )
        self.split.setText(
            " ".join(part for part in (sent if sealed else "", shown, needed) if part)
        )

    def make(self) -> None:
        chosen = self.chosen()
        count, threshold = self.count.value(), self.threshold.value()
        owner = self.owner.text().strip()
        if len(chosen) > count:
            self.message.say(_("More devices are chosen than there are shares."))
            return
        if chosen and not owner:
            self.message.say(_("Type your name, so the people holding a share know it is yours."))
            self.owner.setFocus()
            return
        self.message.clear_message()
        self.busy.start(_("Making the shares…"))
        self.make_button.setEnabled(False)
        profile = self.profile

        def make(_state: JobState) -> IssuedShares:
            issued = issue_shares(profile, threshold, count)
            retire_issued(profile, keep=issued.share_set.identifier)
            by_space: dict[str, list[DevicePublicKeys]] = {}
            for candidate in chosen:
                by_space.setdefault(candidate.space, []).append(candidate.keys)
            offset = 0
            for space, holders in by_space.items():
                part = IssuedShares(
                    issued.share_set, issued.mnemonics[offset : offset + len(holders)]
                )
                seal_to_members(profile, part, space=space, owner=owner, holders=holders)
                offset += len(holders)
            return IssuedShares(issued.share_set, issued.mnemonics[offset:])

        run_job(self, make, writes=True, on_success=self._made, on_failure=self._failed)

    def _made(self, printed: IssuedShares) -> None:
        self.busy.stop()
        self.issued = printed
        self.words.setText(self.words_text())
        self.print_button.setVisible(bool(printed.mnemonics))
        self.pages.setCurrentWidget(self.words_page)
        grow_to_fit(self)

    def _failed(self, error: BaseException) -> None:
        self.busy.stop()
        self.make_button.setEnabled(True)
        self.message.say(failure_message(error))

    def words_text(self) -> str:
        if self.issued is None or not self.issued.mnemonics:
            return _("Every share was sealed to a device; nothing to print.")
        blocks = []
        for number, words in enumerate(self.issued.mnemonics, start=1):
            split = words.split()
            lines = [" ".join(split[i : i + 11]) for i in range(0, len(split), 11)]
            blocks.append(f"{number}.\n" + "\n".join(lines))
        return "\n\n".join(blocks)

    def print_shares(self) -> None:
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        if self.issued is None:
            return
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.share_sheet().print_(printer)

    def share_sheet(self) -> QTextDocument:
        """One page per share, each with the date, k of n and the advice."""
        assert self.issued is not None
        direction = "rtl" if self.layoutDirection() == Qt.LayoutDirection.RightToLeft else "ltr"
        share_set = self.issued.share_set
        pages = []
        title = html.escape(_("Minga recovery share"))
        for words in self.issued.mnemonics:
            pages.append(
                f'<div dir="{direction}" style="page-break-after: always">'
                f"<h1>{title}</h1>"
                f"<p>{html.escape(format_day(date.today()))} — "
                + html.escape(
                    ngettext(
                        "{needed} of {count} share is needed.",
                        "{needed} of {count} shares are needed.",
                        share_set.count,
                    ).format(
                        needed=format_number(share_set.threshold),
                        count=format_number(share_set.count),
                    )
                )
                + f'</p><p dir="ltr" style="font-family: monospace; font-size: 14pt">'
                f"{html.escape(words)}</p>"
                f"<p>{html.escape(self._advice())}</p></div>"
            )
        document = QTextDocument()
        document.setHtml("".join(pages))
        return document

    def _advice(self) -> str:
        return _(
            "Give each share to a different person you trust, in person. One share alone "
            "reveals nothing; never keep two together, never photograph them."
        )

    def retranslate(self) -> None:
        self.setWindowTitle(_("Share my recovery"))
        self.title.setText(_("Share your recovery with trusted people"))
        self.intro.setText(
            _(
                "Minga makes a new recovery secret and splits it into shares. Any few of them, "
                "as many as you choose, open this profile and let you set a new passphrase; "
                "fewer reveal nothing. Making new shares retires the ones made before."
            )
        )
        share_set = read_share_set(self.profile.folder)
        self.current.setText(
            _(
                "Shares made before ({needed} of {count}) stop working once you make new ones."
            ).format(needed=share_set.threshold, count=share_set.count)
            if share_set is not None
            else _("You have not shared your recovery yet.")
        )
        self.count_label.setText(_("&Shares to make:"))
        self.threshold_label.setText(_("Shares &needed:"))
        self.owner_label.setText(_("Your &name for them:"))
        self.members_label.setText(
            _(
                "Send a share through sync to these members' devices (compare fingerprints "
                "with them first); the rest are printed:"
            )
            if self.candidates
            else _("No member's device is known yet (sync first); every share will be printed.")
        )
        self.make_button.setText(_("&Make shares"))
        self.cancel_button.setText(_("Cancel"))
        self.words_title.setText(_("Your printed shares"))
        self.words_intro.setText(
            _(
                "Write each share on its own paper, or print them, and give each to a different "
                "person you trust. They are shown only now."
            )
        )
        self.print_button.setText(_("&Print…"))
        self.done_button.setText(_("Done"))
        self._update_counts()


class HeldSharesDialog(_Retranslating, QDialog):
    """The shares others sealed to this device, and their words when the person asks."""

    def __init__(self, profile: Profile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("heldSharesDialog")
        self.profile = profile
        keys = ProfileSyncState(profile.engine).device_keys()
        self.held: list[RecoveryShare] = (
            shares_held(profile.engine, keys) if keys is not None else []
        )
        self._keys = keys
        self.title = heading(self)
        self.intro = paragraph(self)
        self.list = QListWidget(self)
        for share in self.held:
            QListWidgetItem(share.owner, self.list)
        self.words = QLabel(self)
        self.words.setObjectName("shareWords")
        self.words.setWordWrap(True)
        self.words.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        self.words.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.message = MessageLabel(self)
        self.show_button = QPushButton(self)
        self.show_button.clicked.connect(self.reveal)
        self.show_button.setEnabled(bool(self.held))
        self.close_button = QPushButton(self)
        self.close_button.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(self.show_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.words)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        if self.held:
            self.list.setCurrentRow(0)
        self.retranslate()
        hold_window_size_hints(self, 640)

    def reveal(self) -> None:
        row = self.list.currentRow()
        if row < 0 or self._keys is None:
            return
        share = self.held[row]
        try:
            words = open_share(share, self._keys)
        except Exception as error:  # a share not sealed to us: say so, reveal nothing
            self.message.say(failure_message(error))
            return
        split = words.split()
        self.words.setText("\n".join(" ".join(split[i : i + 11]) for i in range(0, len(split), 11)))
        grow_to_fit(self)

    def retranslate(self) -> None:
        self.setWindowTitle(_("Shares I hold for others"))
        self.title.setText(_("Shares you hold for others"))
        self.intro.setText(
            _(
                "These people trusted you with a share of their recovery. Show the words only "
                "when the person asks you themselves, in person or on a call you trust."
            )
            if self.held
            else _("Nobody has given you a recovery share.")
        )
        self.show_button.setText(_("&Show the words"))
        self.close_button.setText(_("Close"))
