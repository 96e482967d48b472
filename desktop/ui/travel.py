"""Travel mode: choose the spaces to leave behind, see the return key once; return with it.

One dialog, three pages: the choice (with what is unsent in the chosen spaces and an offer to
send it first), the return key shown once (grouped like the recovery key, not selectable, so
it never reaches the clipboard), and, while travelling, the return with the key. Server calls
and deletions run on a worker through the window's sync link.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.records import Space
from desktop.domain.translation import _, ngettext
from desktop.store.errors import ProfileError
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.travel import (
    Unsent,
    UnsentChanges,
    leave_behind,
    return_from_travel,
    travelling,
    unsent_in,
)
from desktop.ui.forms import BusyIndicator, MessageLabel, heading, hold_window_size_hints, paragraph
from desktop.ui.jobs import JobState, run_job
from desktop.ui.sync.link import SyncLink, sync_error_message


@dataclass(frozen=True)
class SpaceChoice:
    space_id: str
    name: str


def spaces_to_choose(link: SyncLink) -> list[SpaceChoice]:
    """The synced spaces of this profile with their names (runs on a worker)."""
    store = RecordStore(link.profile.engine)
    found = []
    for space_id in link.state.spaces():
        record = store.get(space_id)
        name = record.name if isinstance(record, Space) and record.name else space_id[:8]
        found.append(SpaceChoice(space_id, name))
    return sorted(found, key=lambda choice: choice.name.casefold())


def describe_unsent(unsent: list[Unsent]) -> str:
    """What is not on the server yet, as a person reads it (a few names, then a count)."""
    names = [u.label for u in unsent if u.label][:5]
    text = ngettext(
        "{count} change in these spaces has not reached the server.",
        "{count} changes in these spaces have not reached the server.",
        len(unsent),
    ).format(count=len(unsent))
    if names:
        text += " " + _("Among them: {names}.").format(names=", ".join(f"“{n}”" for n in names))
    return text


def _failure(error: BaseException) -> str:
    if isinstance(error, ProfileError):
        return error.user_message()
    return sync_error_message(error)


class TravelDialog(QDialog):
    """Leave spaces behind, or return to them.

    Signals:
        left(list): the names of the spaces left behind.
        returned(list): the names of the spaces back; the window syncs next.
    """

    left = Signal(list)
    returned = Signal(list)

    def __init__(self, link: SyncLink, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("travelDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setModal(True)
        self.link = link
        self.profile: Profile = link.profile
        self.pages = QStackedWidget(self)

        # Page 1: choose the spaces to leave behind.
        self.choose_page = QWidget(self.pages)
        self.choose_title = heading(self.choose_page)
        self.choose_intro = paragraph(self.choose_page)
        self.space_list = QListWidget(self.choose_page)
        self.space_list.setObjectName("travelSpaces")
        self.space_list.itemChanged.connect(lambda _item: self._update_leave_button())
        self.unsent_label = MessageLabel(self.choose_page)
        self.send_button = QPushButton(self.choose_page)
        self.send_button.setObjectName("travelSendFirst")
        self.send_button.hide()
        self.send_button.clicked.connect(self.send_first)
        self.choose_message = MessageLabel(self.choose_page)
        self.busy = BusyIndicator(self.choose_page)
        self.leave_button = QPushButton(self.choose_page)
        self.leave_button.setObjectName("travelLeave")
        self.leave_button.setEnabled(False)
        self.leave_button.clicked.connect(self.leave)
        self.cancel_button = QPushButton(self.choose_page)
        self.cancel_button.clicked.connect(self.reject)
        choose = QVBoxLayout(self.choose_page)
        choose.addWidget(self.choose_title)
        choose.addWidget(self.choose_intro)
        choose.addWidget(self.space_list, 1)
        choose.addWidget(self.unsent_label)
        choose.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignLeading)
        choose.addWidget(self.choose_message)
        buttons = QHBoxLayout()
        buttons.addWidget(self.busy, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.leave_button)
        choose.addLayout(buttons)
        self.pages.addWidget(self.choose_page)

        # Page 2: the return key, shown once.
        self.key_page = QWidget(self.pages)
        self.key_title = heading(self.key_page)
        self.key_intro = paragraph(self.key_page)
        self.key_label = QLabel(self.key_page)
        self.key_label.setObjectName("recoveryKey")  # the recovery key's look
        self.key_label.setWordWrap(True)
        self.key_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.key_label.setTextFormat(Qt.TextFormat.PlainText)
        self.key_label.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.key_warning = paragraph(self.key_page)
        self.written_down = QCheckBox(self.key_page)
        self.done_button = QPushButton(self.key_page)
        self.done_button.setObjectName("travelDone")
        self.done_button.setEnabled(False)
        self.written_down.toggled.connect(self.done_button.setEnabled)
        self.done_button.clicked.connect(self._key_noted)
        key = QVBoxLayout(self.key_page)
        key.addWidget(self.key_title)
        key.addWidget(self.key_intro)
        key.addWidget(self.key_label)
        key.addWidget(self.key_warning)
        key.addStretch(1)
        key.addWidget(self.written_down)
        key.addWidget(self.done_button, 0, Qt.AlignmentFlag.AlignTrailing)
        self.pages.addWidget(self.key_page)

        # Page 3: return with the key.
        self.return_page = QWidget(self.pages)
        self.return_title = heading(self.return_page)
        self.return_intro = paragraph(self.return_page)
        self.return_key_label = QLabel(self.return_page)
        self.return_key = QLineEdit(self.return_page)
        self.return_key.setObjectName("returnKeyField")
        self.return_key.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        self.return_key.setPlaceholderText("XXXXX-XXXXX-XXXXX-…")
        self.return_key_label.setBuddy(self.return_key)
        self.return_message = MessageLabel(self.return_page)
        self.return_busy = BusyIndicator(self.return_page)
        self.return_button = QPushButton(self.return_page)
        self.return_button.setObjectName("travelReturn")
        self.return_button.setDefault(True)
        self.return_button.clicked.connect(self.return_now)
        self.return_key.returnPressed.connect(self.return_now)
        self.return_cancel = QPushButton(self.return_page)
        self.return_cancel.clicked.connect(self.reject)
        back = QVBoxLayout(self.return_page)
        back.addWidget(self.return_title)
        back.addWidget(self.return_intro)
        back.addWidget(self.return_key_label)
        back.addWidget(self.return_key)
        back.addWidget(self.return_message)
        back.addStretch(1)
        back_buttons = QHBoxLayout()
        back_buttons.addWidget(self.return_busy, 1)
        back_buttons.addWidget(self.return_cancel)
        back_buttons.addWidget(self.return_button)
        back.addLayout(back_buttons)
        self.pages.addWidget(self.return_page)

        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        self.retranslate()
        hold_window_size_hints(self, 560)
        if travelling(self.profile.folder):
            self.pages.setCurrentWidget(self.return_page)
            self.return_key.setFocus()
        else:
            self.pages.setCurrentWidget(self.choose_page)
            self._load_spaces()

    # -- leaving ------------------------------------------------------------------------------

    def _load_spaces(self) -> None:
        link = self.link
        run_job(self, lambda _state: spaces_to_choose(link), on_success=self._show_spaces)

    def _show_spaces(self, choices: list[SpaceChoice]) -> None:
        self.space_list.clear()
        for choice in choices:
            item = QListWidgetItem(choice.name, self.space_list)
            item.setData(Qt.ItemDataRole.UserRole, choice.space_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
        if not choices:
            self.choose_message.say(
                _("This computer syncs no space with a server: there is nothing to leave behind.")
            )
        self._update_leave_button()

    def chosen(self) -> list[str]:
        return [
            str(self.space_list.item(row).data(Qt.ItemDataRole.UserRole))
            for row in range(self.space_list.count())
            if self.space_list.item(row).checkState() == Qt.CheckState.Checked
        ]

    def check_space(self, name: str) -> None:
        """Tick the space called ``name`` (tests and keyboard users alike)."""
        for row in range(self.space_list.count()):
            item = self.space_list.item(row)
            if item.text() == name:
                item.setCheckState(Qt.CheckState.Checked)

    def _update_leave_button(self) -> None:
        self.leave_button.setEnabled(bool(self.chosen()) and not self.busy.busy)

    def _working(self, working: bool) -> None:
        for widget in (self.space_list, self.leave_button, self.send_button, self.cancel_button):
            widget.setEnabled(not working)
        if working:
            self.busy.start(_("Working… Telling the server and erasing, please wait."))
        else:
            self.busy.stop()
            self._update_leave_button()

    def leave(self) -> None:
        spaces = self.chosen()
        if not spaces:
            return
        names = [
            self.space_list.item(row).text()
            for row in range(self.space_list.count())
            if self.space_list.item(row).checkState() == Qt.CheckState.Checked
        ]
        self.choose_message.clear_message()
        self.unsent_label.clear_message()
        self.send_button.hide()
        self._working(True)
        link, profile = self.link, self.profile

        def go(_state: JobState) -> str:
            return link.run(lambda engine: leave_behind(profile, engine, spaces))

        run_job(
            self,
            go,
            writes=True,
            on_success=lambda key: self._left(str(key), names),
            on_failure=self._leave_failed,
        )

    def _leave_failed(self, error: BaseException) -> None:
        self._working(False)
        if isinstance(error, UnsentChanges):
            self.unsent_label.say(describe_unsent(error.unsent))
            self.send_button.show()
            return
        self.choose_message.say(_failure(error))

    def send_first(self) -> None:
        self._working(True)
        link, profile, spaces = self.link, self.profile, self.chosen()

        def send(_state: JobState) -> list[Unsent]:
            link.sync()
            return unsent_in(profile, spaces)

        run_job(self, send, writes=True, on_success=self._sent, on_failure=self._send_failed)

    def _sent(self, still: list[Unsent]) -> None:
        self._working(False)
        if still:
            self.unsent_label.say(describe_unsent(still))
            return
        self.unsent_label.clear_message()
        self.send_button.hide()
        self.choose_message.say(
            _("Everything was sent. You can leave these spaces behind now."), "success"
        )

    def _send_failed(self, error: BaseException) -> None:
        self._working(False)
        self.choose_message.say(_failure(error))

    def _left(self, return_key: str, names: list[str]) -> None:
        self._working(False)
        self.key_label.setText(return_key)
        self.pages.setCurrentWidget(self.key_page)
        self.left.emit(names)

    def _key_noted(self) -> None:
        self.key_label.clear()  # the key leaves the screen and this dialog's memory
        self.accept()

    # -- returning ----------------------------------------------------------------------------

    def return_now(self) -> None:
        typed = self.return_key.text().strip()
        if not typed:
            self.return_message.say(_("Type the return key you carried apart from this computer."))
            return
        self.return_message.clear_message()
        for widget in (self.return_key, self.return_button, self.return_cancel):
            widget.setEnabled(False)
        self.return_busy.start(_("Returning… Asking the server to let this computer back in."))
        link, profile = self.link, self.profile

        def go(_state: JobState) -> list[str]:
            return link.run(lambda engine: return_from_travel(profile, engine, typed))

        run_job(self, go, writes=True, on_success=self._returned, on_failure=self._return_failed)

    def _return_failed(self, error: BaseException) -> None:
        for widget in (self.return_key, self.return_button, self.return_cancel):
            widget.setEnabled(True)
        self.return_busy.stop()
        self.return_message.say(_failure(error))
        self.return_key.setFocus()

    def _returned(self, names: list[str]) -> None:
        self.return_busy.stop()
        self.return_key.clear()
        self.returned.emit(list(names))
        self.accept()

    def retranslate(self) -> None:
        self.setWindowTitle(_("Travel mode — Minga"))
        self.choose_title.setText(_("Leave spaces behind for a journey"))
        self.choose_intro.setText(
            _(
                "Choose what should not cross the border with this computer. Minga erases "
                "every record, file and key of those spaces here, and the server stops giving "
                "them to this computer. Only the return key you are about to receive brings "
                "them back, through sync. Your passphrase and recovery key cannot."
            )
        )
        self.send_button.setText(_("Send them now"))
        self.leave_button.setText(_("Leave behind"))
        self.cancel_button.setText(_("Cancel"))
        self.key_title.setText(_("Your return key"))
        self.key_intro.setText(
            _(
                "Write this key down and carry it apart from this computer: memorized, on "
                "paper in another bag, or with a trusted colleague. It is shown only this once."
            )
        )
        self.key_warning.setText(
            _(
                "Without it the spaces left behind cannot come back to this computer; another "
                "member can invite it again. Someone who holds this key and this computer can "
                "bring them back."
            )
        )
        self.written_down.setText(_("I wrote the return key down and will keep it apart."))
        self.done_button.setText(_("Done"))
        self.return_title.setText(_("Return from travel"))
        self.return_intro.setText(
            _(
                "Type the return key you received when you left spaces behind. They come back "
                "through sync; on a slow connection that can take a while, and it resumes "
                "where it stopped."
            )
        )
        self.return_key_label.setText(_("&Return key"))
        self.return_button.setText(_("&Return"))
        self.return_cancel.setText(_("Cancel"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
