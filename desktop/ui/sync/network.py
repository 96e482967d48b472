"""Joining a network, and for administrators its spaces and members: invite (the code shown once),
admit after comparing fingerprints, change a member's role, remove (which rotates the key)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFont, QGuiApplication, QTextDocument
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.records import Space, SpaceKind, edit
from desktop.domain.translation import N_, _
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from desktop.ui.flow import FlowLayout
from desktop.ui.forms import BusyIndicator, MessageLabel, grow_to_fit, hold_window_size_hints
from desktop.ui.jobs import Job, run_job
from desktop.ui.sync.link import SyncLink, sync_error_message
from desktop.ui.sync.new_space import NewSpaceDialog, SpaceOwners, read_owners
from desktop.ui.sync.texts import fingerprint_text
from sync.client.engine import Enrollment, LastAdmin, NotAMember, OwnRole, PendingMember
from sync.client.transport import Offline
from sync.crypto.keys import same_digits
from sync.crypto.spaces import MembershipLog
from sync.protocol import Role

ROLE_NAMES: dict[Role, str] = {
    Role.ADMIN: N_("Administrator"),
    Role.EDITOR: N_("Editor"),
    Role.READER: N_("Reader"),
}


def member_error_message(error: BaseException) -> str:
    """What an administrator reads when a change to a member did not work."""
    if isinstance(error, LastAdmin):
        return _(
            "A space must keep at least one administrator. Make another member an "
            "administrator first."
        )
    if isinstance(error, OwnRole):
        return _("Your own role is changed by another administrator of this space.")
    if isinstance(error, NotAMember):
        return _("This device is no longer a member of the space. Sync, then try again.")
    return sync_error_message(error)


def join_network(link: SyncLink, server_url: str, invite_code: str) -> Enrollment:
    """Enroll with the invite (runs on a worker), then sync, which starts the spaces it made us
    admin of.

    An operator's ``invite --new-space`` creates the space on the server only; its first
    statement and key come from its admin, this device: the engine issues them when it
    discovers such a space, so a setup cut off here is finished by a later sync.
    """
    enrollment = link.run(lambda engine: engine.enroll(invite_code), server_url=server_url)
    # Enrolled either way; when offline the scheduler syncs once the server answers again.
    with contextlib.suppress(Offline):
        link.run(lambda engine: engine.sync_once(discover=True))
    return enrollment


@dataclass(frozen=True)
class SpaceMember:
    device: str
    fingerprint: tuple[str, ...]
    role: Role
    is_this_device: bool = False


@dataclass(frozen=True)
class SpaceFacts:
    space: str
    name: str
    my_role: Role | None
    members: tuple[SpaceMember, ...]
    #: Whether the space has its own (synced) record with a name; an operator's
    #: ``invite --new-space`` makes a space on the server only, without one.
    named: bool = True
    #: The latest statement's version and safety number: members who hold the same
    #: membership see the same digits (CRYPTO.md §4, "Safety numbers").
    version: int = 0
    safety: str = ""


def read_spaces(profile: Profile) -> list[SpaceFacts]:
    """Every space with verified statements here, its members as the latest statement says."""
    state = ProfileSyncState(profile.engine)
    keys = state.device_keys()
    me = keys.device_id if keys is not None else ""
    pins = state.pins()
    records = RecordStore(profile.engine)
    found = []
    for space in state.spaces():
        latest = MembershipLog.from_blobs(state.statements(space), pins).latest
        record = records.get(space)
        name = (
            record.name
            if isinstance(record, Space) and record.name
            else _("Unnamed space ({id})").format(id=space[:8])
        )
        members = tuple(
            SpaceMember(m.device, m.keys.fingerprint.groups, m.role, m.device == me)
            for m in latest.members
        )
        mine = latest.member(me)
        named = isinstance(record, Space) and bool(record.name)
        found.append(
            SpaceFacts(
                space,
                name,
                mine.role if mine else None,
                members,
                named,
                latest.version,
                str(latest.safety_number),
            )
        )
    return found


def fingerprint_label(parent: QWidget) -> QLabel:
    """Digits big and monospaced, left to right in every language, selectable to compare."""
    label = QLabel(parent)
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPointSizeF(font.pointSizeF() * 1.6 if font.pointSizeF() > 0 else 16)
    label.setFont(font)
    label.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    align_fingerprint(label)
    return label


def align_fingerprint(label: QLabel) -> None:
    """The groups always read left to right (their order is the number), but the block sits on
    the leading side of the page: on the right in Arabic."""
    side = (
        Qt.AlignmentFlag.AlignRight
        if QGuiApplication.layoutDirection() == Qt.LayoutDirection.RightToLeft
        else Qt.AlignmentFlag.AlignLeft
    )
    label.setAlignment(side | Qt.AlignmentFlag.AlignAbsolute)


class TypedDigits(QLineEdit):
    """Where a person types the digits the other person reads aloud: every group is compared,
    not glanced at. ``matches`` turns True only when all of them are the shown ones.

    Signals:
        matched(bool): whether what is typed now is the whole number shown.
    """

    matched = Signal(bool)

    def __init__(self, shown: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("typedDigits")
        self.shown = shown
        self.setLayoutDirection(Qt.LayoutDirection.LeftToRight)  # digits read left to right
        self.setInputMethodHints(Qt.InputMethodHint.ImhDigitsOnly)
        self.textChanged.connect(lambda text: self.matched.emit(self.matches))
        self.retranslate()

    @property
    def matches(self) -> bool:
        return same_digits(self.shown, self.text())

    def retranslate(self) -> None:
        self.setPlaceholderText(_("Type the digits as the other person reads them to you"))
        self.setAccessibleName(_("Digits read aloud"))


class PendingCard(QFrame):
    """A device waiting to be admitted: its fingerprint big, to compare aloud, and Admit.

    Signals:
        admit(object, bool): the ``PendingMember`` whose fingerprint the administrator typed
            and confirmed; whether to start a new key so it reads nothing written before.
    """

    admit = Signal(object, bool)

    def __init__(self, member: PendingMember, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.member = member
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.fingerprint = fingerprint_label(self)
        self.fingerprint.setText(fingerprint_text(member.fingerprint.groups))
        # Admitting hands the device the space's key: the digits are typed, not glanced at.
        self.typed = TypedDigits(str(member.fingerprint), self)
        self.admit_button = QPushButton(self)
        self.admit_button.setObjectName("admitButton")
        self.admit_button.setEnabled(False)
        self.typed.matched.connect(self.admit_button.setEnabled)
        self.admit_button.clicked.connect(self._admit)
        self.fresh_key = QCheckBox(self)
        self.fresh_key.setObjectName("freshKeyOnAdmit")
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(self.fingerprint)
        layout.addWidget(self.fresh_key)
        row = QHBoxLayout()
        row.addWidget(self.typed, 1)
        row.addWidget(self.admit_button)
        layout.addLayout(row)
        self.retranslate()

    def retranslate(self) -> None:
        self.caption.setText(
            _(
                "A new device asks to join. It will be admitted as {role}, the role you chose "
                "when inviting (you can change it afterwards). Ask the person to read their "
                "fingerprint aloud and type it below: Admit works only when every digit matches."
            ).format(role=_(ROLE_NAMES[self.member.role]))
        )
        self.admit_button.setText(_("The digits match: &admit"))
        self.fresh_key.setText(
            _("Start a new key: the newcomer cannot read anything written here before")
        )
        self.typed.retranslate()
        align_fingerprint(self.fingerprint)

    def _admit(self) -> None:
        if self.typed.matches:
            self.admit.emit(self.member, self.fresh_key.isChecked())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class InviteDialog(QDialog):
    """Choose a role, get a one-time invite code; shown once, to copy or print.

    Signals:
        invited(str): the code was made.
    """

    invited = Signal(str)

    def __init__(
        self,
        link: SyncLink,
        space: SpaceFacts,
        copy_text: Callable[[str], None],
        server_url: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("inviteDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setModal(True)
        self._link = link
        self._space = space
        self._copy_text = copy_text
        self._server_url = server_url
        self.code = ""
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.role = QComboBox(self)
        self.role.setObjectName("inviteRole")
        for role in (Role.EDITOR, Role.READER, Role.ADMIN):
            self.role.addItem("", role)
        self.create_button = QPushButton(self)
        self.create_button.setObjectName("createInvite")
        self.create_button.clicked.connect(self.create_invite)
        self.code_label = QLabel(self)
        self.code_label.setObjectName("inviteCode")
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSizeF(max(font.pointSizeF(), 10) * 1.4)
        self.code_label.setFont(font)
        self.code_label.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        self.code_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.code_label.hide()
        self.once = QLabel(self)
        self.once.setWordWrap(True)
        self.once.hide()
        self.copy_button = QPushButton(self)
        self.copy_button.setObjectName("copyInvite")
        self.copy_button.clicked.connect(lambda: self._copy_text(self.code))
        self.print_button = QPushButton(self)
        self.print_button.setObjectName("printInvite")
        self.print_button.clicked.connect(self.print_code)
        self.copy_button.hide()
        self.print_button.hide()
        self.busy = BusyIndicator(self)
        self.message = MessageLabel(self)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.rejected.connect(self.reject)
        role_row = QHBoxLayout()
        role_row.addWidget(self.role, 1)
        role_row.addWidget(self.create_button)
        code_row = QHBoxLayout()
        code_row.addStretch(1)
        code_row.addWidget(self.copy_button)
        code_row.addWidget(self.print_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(role_row)
        layout.addWidget(self.code_label)
        layout.addWidget(self.once)
        layout.addLayout(code_row)
        layout.addWidget(self.busy)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.retranslate()
        hold_window_size_hints(self, minimum_width=600)

    def create_invite(self) -> None:
        if self.busy.busy or self.code:
            return
        role = Role(self.role.currentData())
        space = self._space.space
        link = self._link
        self.create_button.setEnabled(False)
        self.busy.start(_("Asking the server for a code…"))
        run_job(
            self,
            lambda _state: link.run(lambda engine: engine.invite(space, role)),
            on_success=self._show_code,
            on_failure=self._failed,
        )

    def _show_code(self, code: Any) -> None:
        self.busy.stop()
        self.code = str(code)
        self.code_label.setText(self.code)
        self.role.setEnabled(False)
        for widget in (self.code_label, self.once, self.copy_button, self.print_button):
            widget.show()
        grow_to_fit(self)  # the code and its warning appeared: room for them, nothing clipped
        self.invited.emit(self.code)

    def _failed(self, error: BaseException) -> None:
        self.busy.stop()
        self.create_button.setEnabled(True)
        self.message.say(sync_error_message(error))

    def print_code(self) -> None:
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        printer = QPrinter()
        dialog = QPrintDialog(printer, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        document = QTextDocument()
        document.setPlainText(
            _("Invite to {space} on {server}:\n\n{code}").format(
                space=self._space.name, server=self._server_url, code=self.code
            )
        )
        document.print_(printer)

    def retranslate(self) -> None:
        self.setWindowTitle(_("Invite someone to {space}").format(space=self._space.name))
        self.intro.setText(
            _(
                "Choose what the new member may do, then make a one-time code. Give it to them "
                "in person or through a channel you trust."
            )
        )
        for index in range(self.role.count()):
            self.role.setItemText(index, _(ROLE_NAMES[Role(self.role.itemData(index))]))
        self.create_button.setText(_("&Make a code"))
        self.once.setText(
            _(
                "This code is shown only once and works once, for seven days. Once they have "
                "joined, compare their fingerprint before you admit them."
            )
        )
        self.copy_button.setText(_("&Copy"))
        self.print_button.setText(_("&Print…"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class NetworkPanel(QGroupBox):
    """Spaces this computer belongs to and their members; administrators manage them here.

    Signals:
        changed(): membership changed (a space created, someone admitted or removed).
    """

    changed = Signal()

    def __init__(self, profile: Profile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("networkPanel")
        self.profile = profile
        self.link: SyncLink | None = None
        self.copy_text: Callable[[str], None] = lambda _text: None
        self.server_url = ""  # the page sets it from what it read on a worker
        self.spaces: list[SpaceFacts] = []
        self.pending: list[PendingMember] = []
        self._pending_space: str | None = None  # whose waiting devices the cards show
        self._job: Job | None = None
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.space_choice = QComboBox(self)
        self.space_choice.setObjectName("spaceChoice")
        # As wide as its names in the language shown (its row wraps when they do not fit).
        self.space_choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.space_choice.currentIndexChanged.connect(lambda _i: self._show_space())
        self.new_space_button = QPushButton(self)
        self.new_space_button.setObjectName("newSpaceButton")
        self.new_space_button.clicked.connect(self._ask_space_name)
        self.rename_button = QPushButton(self)
        self.rename_button.setObjectName("renameSpaceButton")
        self.rename_button.clicked.connect(self._ask_new_name)
        self.members = QTreeWidget(self)
        self.members.setObjectName("memberList")
        self.members.setColumnCount(2)
        self.members.setRootIsDecorated(False)
        # As tall as its rows (up to a limit), not a fixed empty box under two members.
        self.members.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
        self.members.setMaximumHeight(260)
        self.members.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.invite_button = QPushButton(self)
        self.invite_button.setObjectName("inviteButton")
        self.invite_button.clicked.connect(self.open_invite)
        self.check_button = QPushButton(self)
        self.check_button.setObjectName("checkPendingButton")
        self.check_button.clicked.connect(self.check_pending)
        self.remove_button = QPushButton(self)
        self.remove_button.setObjectName("removeMemberButton")
        self.remove_button.clicked.connect(self._confirm_removal)
        self.role_label = QLabel(self)
        self.role_choice = QComboBox(self)
        self.role_choice.setObjectName("memberRole")
        for role in (Role.ADMIN, Role.EDITOR, Role.READER):
            self.role_choice.addItem("", role)
        self.role_label.setBuddy(self.role_choice)
        self.apply_role_button = QPushButton(self)
        self.apply_role_button.setObjectName("applyRoleButton")
        self.apply_role_button.clicked.connect(self.apply_role)
        self.members.currentItemChanged.connect(lambda *_items: self._show_member_role())
        self.safety_caption = QLabel(self)
        self.safety_caption.setWordWrap(True)
        self.safety = fingerprint_label(self)
        self.safety.setObjectName("spaceSafetyNumber")
        self.pending_holder = QVBoxLayout()
        self.busy = BusyIndicator(self)
        self.message = MessageLabel(self)
        # Wraps: side by side with both buttons, at the window's minimum size an unnamed space's
        # name was cut in its box (Arabic, 136 px in 125); now the buttons go to the next line.
        top = FlowLayout()
        top.add_widget(self.space_choice, stretch=True)
        top.add_widget(self.rename_button)
        top.add_widget(self.new_space_button)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.invite_button, self.check_button, self.remove_button):
            buttons.addWidget(button)
        role_row = QHBoxLayout()
        role_row.addStretch(1)
        role_row.addWidget(self.role_label)
        role_row.addWidget(self.role_choice)
        role_row.addWidget(self.apply_role_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(top)
        layout.addWidget(self.members)
        layout.addWidget(self.safety_caption)
        layout.addWidget(self.safety)
        layout.addLayout(role_row)
        layout.addLayout(buttons)
        layout.addLayout(self.pending_holder)
        layout.addWidget(self.busy)
        layout.addWidget(self.message)
        self.retranslate()

    def attach(self, link: SyncLink, copy_text: Callable[[str], None]) -> None:
        self.link = link
        self.copy_text = copy_text

    def tear_down(self) -> None:
        if self._job is not None:
            self._job.cancel()
        self.members.clear()

    @property
    def current(self) -> SpaceFacts | None:
        index = self.space_choice.currentIndex()
        return self.spaces[index] if 0 <= index < len(self.spaces) else None

    def refresh(self) -> None:
        profile = self.profile
        run_job(
            self,
            lambda _state: read_spaces(profile),
            on_success=self._show_spaces,
            on_failure=lambda error: self.message.say(sync_error_message(error)),
        )

    def _show_spaces(self, spaces: Any) -> None:
        chosen = self.current.space if self.current is not None else None
        self.spaces = list(spaces)
        self.space_choice.blockSignals(True)
        self.space_choice.clear()
        for facts in self.spaces:
            self.space_choice.addItem(facts.name, facts.space)
        found = self.space_choice.findData(chosen) if chosen else -1
        self.space_choice.setCurrentIndex(found if found >= 0 else 0)
        self.space_choice.blockSignals(False)
        self._show_space()

    def _show_space(self) -> None:
        facts = self.current
        self.members.clear()
        for member in facts.members if facts is not None else ():
            # Isolated left to right, like the big fingerprint: the group order is the number.
            name = "\u2066" + "   ".join(member.fingerprint[:2]) + " …\u2069"
            if member.is_this_device:
                name = _("{fingerprint} (this computer)").format(fingerprint=name)
            item = QTreeWidgetItem([name, _(ROLE_NAMES[member.role])])
            item.setData(0, Qt.ItemDataRole.UserRole, member.device)
            self.members.addTopLevelItem(item)
        self.safety.setText(fingerprint_text(tuple(facts.safety.split())) if facts else "")
        self.safety_caption.setText(
            _(
                "Safety number of this space (membership version {version}). Members who "
                "compare it in person see the same digits; different digits mean someone is "
                "shown another membership."
            ).format(version=facts.version)
            if facts is not None
            else ""
        )
        for widget in (self.safety_caption, self.safety):
            widget.setVisible(facts is not None and bool(facts.safety))
        admin = facts is not None and facts.my_role is Role.ADMIN
        for widget in (
            self.invite_button,
            self.check_button,
            self.remove_button,
            self.role_choice,
            self.apply_role_button,
        ):
            widget.setEnabled(admin)
        # The name is a record of the space: whoever may write there may rename it.
        self.rename_button.setEnabled(
            facts is not None and facts.my_role is not None and facts.my_role.can_write
        )
        self._show_member_role()
        # A sync refreshes this list often: the cards an admin is reading stay unless the
        # space changed.
        if facts is None or facts.space != self._pending_space:
            self._clear_pending()

    def _run(self, note: str, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        if self.busy.busy:
            return
        self.busy.start(note)
        self.message.clear_message()

        def finished(value: Any) -> None:
            self.busy.stop()
            done(value)

        def failed(error: BaseException) -> None:
            self.busy.stop()
            self.message.say(member_error_message(error))

        self._job = run_job(self, lambda _state: work(), on_success=finished, on_failure=failed)

    # --- spaces -----------------------------------------------------------------------------

    def _ask_space_name(self) -> None:
        """Read the organizations and working groups a space can belong to, then ask."""
        profile, first = self.profile, not self.spaces
        run_job(
            self,
            lambda _state: read_owners(RecordStore(profile.engine)),
            on_success=lambda owners: self._open_new_space(first, owners),
            on_failure=lambda error: self.message.say(sync_error_message(error)),
        )

    def _open_new_space(self, first: bool, owners: SpaceOwners) -> None:
        self.open_new_space(first, owners)

    def open_new_space(self, first: bool, owners: SpaceOwners) -> NewSpaceDialog:
        dialog = NewSpaceDialog(first, owners, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(
            lambda: self.create_space(dialog.record) if dialog.record is not None else None
        )
        dialog.open()
        return dialog

    def create_space(self, record: Space) -> None:
        """A new space on the server with this computer as its administrator, and its record.

        ``record`` is checked first (the dialog does too): a space is never created on the
        server without a valid name record to save. The record's id is the space's id.
        """
        link = self.link
        if link is None:
            return
        errors = record.validate()
        if errors:
            self.message.say(errors[0].message)
            return
        profile = self.profile

        def create() -> str:
            space = link.run(lambda engine: engine.create_space(record.id))
            RecordStore(profile.engine).save(record)
            return space

        self._run(_("Creating the space…"), create, lambda _space: self._membership_changed())

    def _ask_new_name(self) -> None:
        facts = self.current
        if facts is None:
            return
        name, ok = QInputDialog.getText(
            self,
            _("Rename the space"),
            _("New name of the space:"),
            text=facts.name if facts.named else "",
        )
        if ok and name.strip():
            self.rename_space(name.strip())

    def rename_space(self, name: str) -> None:
        """Name the current space: its record is edited, or made if it has none yet (a space
        an operator created); members get the name with their next sync."""
        facts = self.current
        if facts is None:
            return
        if not facts.named and len(self.spaces) > 1:
            # A working group's or organization's space is named with the record it belongs
            # to; only the network's first space (an operator's) is made without one.
            self.message.say(_("Only the network's first space can be named here."))
            return
        profile, space = self.profile, facts.space

        def rename() -> None:
            records = RecordStore(profile.engine)
            record = records.get(space)
            if isinstance(record, Space):
                records.save(edit(record, name=name))
            else:
                records.save(Space(id=space, space_id=space, name=name, kind=SpaceKind.NETWORK))

        self._run(_("Saving the name…"), rename, lambda _none: self._membership_changed())

    # --- members ----------------------------------------------------------------------------

    def open_invite(self) -> None:
        if self.link is None or self.current is None:
            return
        dialog = InviteDialog(self.link, self.current, self.copy_text, self.server_url, self)
        dialog.open()

    def check_pending(self) -> None:
        link, facts = self.link, self.current
        if link is None or facts is None:
            return
        space = facts.space
        self._run(
            _("Looking for new members…"),
            lambda: link.run(lambda engine: engine.pending_members(space)),
            self._show_pending,
        )

    def _clear_pending(self) -> None:
        while self.pending_holder.count():
            item = self.pending_holder.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.pending = []
        self._pending_space = None

    def _show_pending(self, pending: Any) -> None:
        self._clear_pending()
        self.pending = list(pending)
        self._pending_space = self.current.space if self.current is not None else None
        if not self.pending:
            self.message.say(_("Nobody is waiting to be admitted."))
        for member in self.pending:
            card = PendingCard(member, self)
            card.admit.connect(self.admit)
            self.pending_holder.addWidget(card)

    def admit(self, member: PendingMember, new_epoch: bool = False) -> None:
        link = self.link
        if link is None:
            return
        self._run(
            _("Admitting…"),
            lambda: link.run(
                lambda engine: engine.admit(member.space, [member], new_epoch=new_epoch)
            ),
            lambda _count: self._admitted(member),
        )

    def _admitted(self, member: PendingMember) -> None:
        for card in self.findChildren(PendingCard):
            if card.member.device == member.device:
                self.pending_holder.removeWidget(card)
                card.deleteLater()
        self.pending = [p for p in self.pending if p.device != member.device]
        self._membership_changed()

    def selected_member(self) -> str | None:
        item = self.members.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None

    def selected_facts(self) -> SpaceMember | None:
        device = self.selected_member()
        facts = self.current
        if device is None or facts is None:
            return None
        return next((m for m in facts.members if m.device == device), None)

    def _show_member_role(self) -> None:
        member = self.selected_facts()
        if member is not None:
            self.role_choice.setCurrentIndex(self.role_choice.findData(member.role))

    def apply_role(self) -> None:
        """Give the chosen member the role in the chooser (checked here first, then on a
        worker: the signed statement and the server's role, see SyncEngine.change_role)."""
        link, facts, member = self.link, self.current, self.selected_facts()
        if link is None or facts is None:
            return
        if member is None:
            self.message.say(_("Choose the member whose role to change first."))
            return
        role = Role(self.role_choice.currentData())
        if member.role is role:
            self.message.say(_("This member already has that role."))
            return
        admins = {m.device for m in facts.members if m.role is Role.ADMIN}
        if role is not Role.ADMIN and admins == {member.device}:
            self.message.say(member_error_message(LastAdmin(member.device)))
            return
        if member.is_this_device:
            self.message.say(member_error_message(OwnRole(member.device)))
            return
        space, device = facts.space, member.device
        self._run(
            _("Changing the role…"),
            lambda: link.run(lambda engine: engine.change_role(space, device, role)),
            lambda _epoch: self._role_changed(),
        )

    def _role_changed(self) -> None:
        self.message.say(
            _("The role was changed. Members learn it with their next sync."), "success"
        )
        self._membership_changed()

    def _confirm_removal(self) -> None:
        device = self.selected_member()
        if device is None or self.current is None:
            self.message.say(_("Choose the member to remove first."))
            return
        answer = QMessageBox.question(
            self,
            _("Remove this member?"),
            _(
                "They will no longer receive anything shared in “{space}”. Minga makes a new "
                "key for the space and gives it only to those who stay. What they already "
                "received stays on their computer: removal cannot take it back."
            ).format(space=self.current.name),
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.remove(device)

    def remove(self, device: str) -> None:
        link, facts = self.link, self.current
        if link is None or facts is None:
            return
        space = facts.space
        self._run(
            _("Removing and making a new key…"),
            lambda: link.run(lambda engine: engine.remove_member(space, device)),
            lambda _epoch: self._membership_changed(),
        )

    def _membership_changed(self) -> None:
        self.changed.emit()
        self.refresh()

    def retranslate(self) -> None:
        self.setTitle(_("Spaces and members"))
        self.intro.setText(
            _(
                "Each space is shared only with its members. Administrators invite people, "
                "admit them after comparing fingerprints, and remove them."
            )
        )
        self.new_space_button.setText(_("New &space…"))
        self.rename_button.setText(_("Re&name…"))
        self.members.setHeaderLabels([_("Fingerprint"), _("Role")])
        self.invite_button.setText(_("&Invite…"))
        self.check_button.setText(_("Check for &new members"))
        self.remove_button.setText(_("Re&move…"))
        self.role_label.setText(_("Role of the chosen member:"))
        for index in range(self.role_choice.count()):
            self.role_choice.setItemText(
                index, _(ROLE_NAMES[Role(self.role_choice.itemData(index))])
            )
        self.apply_role_button.setText(_("&Apply role"))
        if self.spaces:
            self._show_space()
            self.refresh()  # space names are read in the current language

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
