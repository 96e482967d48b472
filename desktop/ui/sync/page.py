"""The Sync section's page: join a network, this computer's fingerprint, the last sync, conflicts,
and for administrators the spaces and their members. All store and network work runs on workers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.digits import ascii_digits
from desktop.domain.records import Space
from desktop.domain.translation import _, format_number, ngettext
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.sync_state import UNREADABLE_FORMAT, ProfileSyncState
from desktop.ui.bidi import isolated, keep_left_to_right, left_to_right
from desktop.ui.forms import BusyIndicator, LineStack, MessageLabel
from desktop.ui.jobs import Job, JobState, run_job
from desktop.ui.section_catalog import section as section_named
from desktop.ui.sync.bundles import BundlePanel
from desktop.ui.sync.conflict_dialog import ConflictDialog, record_title
from desktop.ui.sync.link import join_error_message, sync_error_message
from desktop.ui.sync.network import (
    NetworkPanel,
    align_fingerprint,
    fingerprint_label,
    join_network,
)
from desktop.ui.sync.scheduler import SyncScheduler
from desktop.ui.sync.texts import (
    fingerprint_text,
    last_sync_text,
    pending_text,
    phase_text,
    phase_tone,
    report_lines,
)
from desktop.ui.sync.trust import ForkCard, TrustCard
from sync.client.state import FirstUse, StoredConflict
from sync.crypto.spaces import MembershipStatement


@dataclass(frozen=True)
class PageFacts:
    """What the page reads from the store on a worker: identity and conflicts by record."""

    server_url: str | None
    fingerprint: tuple[str, ...]
    conflicts: dict[str, tuple[str, list[StoredConflict]]]  # record id -> (title, its conflicts)
    #: Spaces trusted on first use whose admin fingerprint is not compared yet, with names.
    to_confirm: tuple[tuple[FirstUse, str], ...] = ()
    #: Spaces where a fork of the membership was seen: (space, name, safety number).
    forked: tuple[tuple[str, str, str], ...] = ()
    #: Member device → the first group of its fingerprint: who wrote a conflicting value.
    authors: dict[str, str] = field(default_factory=dict)


def space_name(records: RecordStore, space: str) -> str:
    record = records.get(space)
    if isinstance(record, Space) and record.name:
        return record.name
    return _("Unnamed space ({id})").format(id=space[:8])


def read_facts(profile: Profile) -> PageFacts:
    state = ProfileSyncState(profile.engine)
    keys = state.device_keys()
    records = RecordStore(profile.engine)
    grouped: dict[str, tuple[str, list[StoredConflict]]] = {}
    for conflict in state.conflicts():
        if conflict.record not in grouped:
            # A note of one's own dropped with its deleted parent: named as it was.
            held = records.get(conflict.record) or state.taken(conflict.record)
            sealed = state.sealed_title(conflict.record) if held is None else None
            title = (
                record_title(held) if sealed is None else sealed or _("A record without a title")
            )
            grouped[conflict.record] = (title, [])
        grouped[conflict.record][1].append(conflict)
    return PageFacts(
        state.server_url(),
        keys.public.fingerprint.groups if keys is not None else (),
        grouped,
        tuple((first, space_name(records, first.space)) for first in state.spaces_to_confirm()),
        tuple(
            (space, space_name(records, space), _safety(state.statements(space)))
            for space in sorted(state.forked_spaces())
        ),
        state.device_fingerprints(),
    )


def listed_text(title: str, conflicts: list[StoredConflict]) -> str:
    """A record's line in the page's list of conflicts; its title isolated, so in Arabic a
    Spanish title does not turn the line left to right."""
    title = isolated(title)
    if all(c.kind == UNREADABLE_FORMAT for c in conflicts):
        # Kept sealed until an update opens it: nothing to settle here, and said as such.
        return _("{title}: needs a newer Minga").format(title=title)
    return ngettext(
        "{title}: {count} difference to settle",
        "{title}: {count} differences to settle",
        len(conflicts),
    ).format(title=title, count=format_number(len(conflicts)))


def _safety(statements: list[bytes]) -> str:
    # Stored statements were verified when they came; the latest is only parsed here.
    return str(MembershipStatement.from_bytes(statements[-1]).safety_number) if statements else ""


class SyncPage(QWidget):
    """The Sync section. Built at unlock from the profile; the window attaches its scheduler.

    It has no signals of its own: what it starts (a join, a resolution) tells the scheduler.
    """

    def __init__(self, profile: Profile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.profile = profile
        self.scheduler: SyncScheduler | None = None
        self.copy_text: Callable[[str], None] = lambda _text: None
        self.facts: PageFacts | None = None
        self._facts_job: Job | None = None
        self._join_error: BaseException | None = None  # kept to say it again in a new language

        column = QWidget()
        column.setObjectName("syncColumn")
        layout = QVBoxLayout(column)
        layout.setContentsMargins(24, 16, 24, 16)
        layout.setSpacing(16)

        # The section's own heading and sentence, the same words its empty state had.
        self.title = QLabel(column)
        self.title.setProperty("role", "heading")
        self.title.setWordWrap(True)
        self.text = QLabel(column)
        self.text.setWordWrap(True)
        layout.addWidget(self.title)
        layout.addWidget(self.text)

        # First: a network not yet confirmed is the one thing here that must not be missed.
        self.trust_box = QGroupBox(column)
        self.trust_box.setObjectName("trustBox")
        self.trust_holder = QVBoxLayout()
        self.trust_message = MessageLabel(self.trust_box)
        self.trust_message.setObjectName("trustMessage")
        trust_layout = QVBoxLayout(self.trust_box)
        trust_layout.addLayout(self.trust_holder)
        trust_layout.addWidget(self.trust_message)
        self._trust_outcome: tuple[str, str] | None = None  # (what happened, space name)

        self.device_box = QGroupBox(column)
        self.fingerprint_caption = QLabel(self.device_box)
        self.fingerprint_caption.setWordWrap(True)
        self.fingerprint = fingerprint_label(self.device_box)
        self.fingerprint.setObjectName("deviceFingerprint")
        self.server = QLabel(self.device_box)
        self.server.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        device_layout = QVBoxLayout(self.device_box)
        device_layout.addWidget(self.fingerprint_caption)
        device_layout.addWidget(self.fingerprint)
        device_layout.addWidget(self.server)

        self.join_box = QGroupBox(column)
        self.join_intro = QLabel(self.join_box)
        self.join_intro.setWordWrap(True)
        self.server_url = QLineEdit(self.join_box)
        self.server_url.setObjectName("joinServerUrl")
        self.server_url.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        self.invite_code = QLineEdit(self.join_box)
        for code in (self.server_url, self.invite_code):
            keep_left_to_right(code)
        self.invite_code.setObjectName("joinInviteCode")
        self.invite_code.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        self.server_url_label = QLabel(self.join_box)
        self.server_url_label.setBuddy(self.server_url)
        self.invite_code_label = QLabel(self.join_box)
        self.invite_code_label.setBuddy(self.invite_code)
        self.join_button = QPushButton(self.join_box)
        self.join_button.setObjectName("joinButton")
        self.join_button.clicked.connect(self.join)
        self.join_busy = BusyIndicator(self.join_box)
        self.join_message = MessageLabel(self.join_box)
        join_form = QFormLayout()
        join_form.addRow(self.server_url_label, self.server_url)
        join_form.addRow(self.invite_code_label, self.invite_code)
        join_layout = QVBoxLayout(self.join_box)
        join_layout.addWidget(self.join_intro)
        join_layout.addLayout(join_form)
        join_buttons = QHBoxLayout()
        join_buttons.addStretch(1)
        join_buttons.addWidget(self.join_button)
        join_layout.addLayout(join_buttons)
        join_layout.addWidget(self.join_busy)
        join_layout.addWidget(self.join_message)

        self.status_box = QGroupBox(column)
        self.state = QLabel(self.status_box)
        self.state.setObjectName("syncState")
        self.state.setProperty("role", "heading")
        self.last_sync = QLabel(self.status_box)
        self.last_sync.setObjectName("syncLast")
        self.pending = QLabel(self.status_box)
        self.pending.setObjectName("syncPending")
        # Each line of the last sync's report a label of its own, a line of the UI font apart:
        # in one label, Arabic's lines were 14 px apart and touched (LineStack).
        self.report = LineStack(self.status_box)
        self.report.setObjectName("syncReport")
        for line in (self.last_sync, self.pending):
            # As tall as a Latin line: Arabic's marks above its 14 px line were cut off.
            line.setMinimumHeight(line.fontMetrics().lineSpacing())
        self.error = MessageLabel(self.status_box)
        self.sync_button = QPushButton(self.status_box)
        self.sync_button.setObjectName("syncNowButton")
        self.sync_button.clicked.connect(self.sync_now)
        status_layout = QVBoxLayout(self.status_box)
        for widget in (self.state, self.last_sync, self.pending, self.report, self.error):
            status_layout.addWidget(widget)
        status_buttons = QHBoxLayout()
        status_buttons.addStretch(1)
        status_buttons.addWidget(self.sync_button)
        status_layout.addLayout(status_buttons)

        self.conflicts_box = QGroupBox(column)
        self.conflicts_intro = QLabel(self.conflicts_box)
        self.conflicts_intro.setWordWrap(True)
        self.conflict_list = QListWidget(self.conflicts_box)
        self.conflict_list.setObjectName("conflictList")
        self.conflict_list.itemActivated.connect(lambda _item: self.open_conflict())
        self.resolve_button = QPushButton(self.conflicts_box)
        self.resolve_button.setObjectName("resolveButton")
        self.resolve_button.clicked.connect(self.open_conflict)
        conflicts_layout = QVBoxLayout(self.conflicts_box)
        conflicts_layout.addWidget(self.conflicts_intro)
        conflicts_layout.addWidget(self.conflict_list)
        resolve_row = QHBoxLayout()
        resolve_row.addStretch(1)
        resolve_row.addWidget(self.resolve_button)
        conflicts_layout.addLayout(resolve_row)

        self.network = NetworkPanel(profile, column)
        self.bundles = BundlePanel(column)

        for box in (
            self.trust_box,
            self.device_box,
            self.join_box,
            self.status_box,
            self.conflicts_box,
        ):
            layout.addWidget(box)
        layout.addWidget(self.bundles)
        layout.addWidget(self.network)
        layout.addStretch(1)
        column.setMaximumWidth(820)
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        row.addStretch(1)
        row.addWidget(column, 8)
        row.addStretch(1)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(holder)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll_area)
        self.retranslate()
        self.refresh()

    # --- wiring -----------------------------------------------------------------------------

    def attach(self, scheduler: SyncScheduler, copy_text: Callable[[str], None]) -> None:
        """The window's scheduler (one per unlocked profile) and its clipboard guard."""
        self.scheduler = scheduler
        self.copy_text = copy_text
        self.network.attach(scheduler.link, copy_text)
        self.bundles.attach(scheduler.link, self.refresh)
        scheduler.changed.connect(self.show_state)
        scheduler.synced.connect(lambda _report: self.refresh())
        self.show_state()

    def tear_down(self) -> None:
        if self._facts_job is not None:
            self._facts_job.cancel()
        self.network.tear_down()
        self.bundles.tear_down()
        self.conflict_list.clear()

    def refresh(self) -> None:
        if self._facts_job is not None:
            self._facts_job.cancel()
        profile = self.profile
        self._facts_job = run_job(
            self, lambda _state: read_facts(profile), on_success=self._show_facts
        )

    def _show_facts(self, facts: Any) -> None:
        self._facts_job = None
        self.facts = facts
        self.retranslate()
        if facts.server_url is not None:
            self.network.server_url = facts.server_url
            self.network.refresh()

    # --- actions ----------------------------------------------------------------------------

    def join(self) -> None:
        if self.scheduler is None or self.join_busy.busy:
            return
        url = self.server_url.text().strip()
        code = ascii_digits(self.invite_code.text()).strip()  # typed on any keyboard
        if not url.startswith(("https://", "http://")):
            self.join_message.say(
                _("Enter the server address your administrator gave you, starting with https://.")
            )
            return
        if not code:
            self.join_message.say(_("Enter the invite code your administrator gave you."))
            return
        self.join_message.clear_message()
        self._join_error = None
        self.join_button.setEnabled(False)
        self.join_busy.start(_("Joining the network…"))
        link = self.scheduler.link

        def enroll(_state: JobState) -> Any:
            return join_network(link, url, code)

        run_job(self, enroll, on_success=self._joined, on_failure=self._join_failed)

    def _joined(self, _enrollment: Any) -> None:
        self.join_busy.stop()
        self.join_button.setEnabled(True)
        self.invite_code.clear()
        if self.scheduler is not None:
            self.scheduler.joined()
        self.refresh()

    def _join_failed(self, error: BaseException) -> None:
        self.join_busy.stop()
        self.join_button.setEnabled(True)
        self._join_error = error
        self.join_message.say(join_error_message(error))

    def confirm_space(self, space: str) -> None:
        """The administrator's digits matched: the space is trusted from now on."""
        self._answer_trust(space, "confirmed", lambda engine: engine.confirm_space(space))

    def keep_forked(self, space: str) -> None:
        """The safety number matched an administrator's: this copy is theirs; send again."""
        self._answer_trust(space, "kept", lambda engine: engine.keep_forked(space))

    def ask_refuse_space(self, space: str) -> None:
        name = self._trust_name(space)
        answer = QMessageBox.question(
            self,
            _("Stop syncing this network?"),
            _(
                "The fingerprint did not match, so “{space}” may not come from your "
                "administrator. Minga will stop syncing it and forget its keys and members on "
                "this computer. What you already received stays here."
            ).format(space=name),
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.refuse_space(space)

    def refuse_space(self, space: str) -> None:
        """Stop syncing ``space`` and forget its keys and statements (through the link, so a
        sync running now finishes first and the next one no longer sees it)."""
        self._answer_trust(space, "refused", lambda engine: engine.refuse_space(space))

    def _trust_name(self, space: str) -> str:
        for card in self.findChildren(TrustCard):
            if card.first.space == space:
                return card.space_name
        for fork_card in self.findChildren(ForkCard):
            if fork_card.space == space:
                return fork_card.space_name
        return space[:8]

    def _answer_trust(self, space: str, outcome: str, call: Callable[[Any], None]) -> None:
        if self.scheduler is None:
            return
        link, name = self.scheduler.link, self._trust_name(space)
        for card in [*self.findChildren(TrustCard), *self.findChildren(ForkCard)]:
            card.set_enabled(False)

        def answered(_value: Any) -> None:
            self._trust_outcome = (outcome, name)
            self._show_trust_outcome()
            self.network.refresh()
            self.refresh()

        def failed(error: BaseException) -> None:
            for card in [*self.findChildren(TrustCard), *self.findChildren(ForkCard)]:
                card.set_enabled(True)
            self.trust_message.say(sync_error_message(error))

        run_job(
            self,
            lambda _state: link.run(call),
            on_success=answered,
            on_failure=failed,
        )

    def _show_trust_outcome(self) -> None:
        if self._trust_outcome is None:
            return
        outcome, name = self._trust_outcome
        if outcome == "refused":
            self.trust_message.say(
                _(
                    "Minga stopped syncing “{space}” and forgot its keys and members on this "
                    "computer. Tell your administrator, through a channel you trust, that the "
                    "fingerprint did not match: the server may be trying to read your work."
                ).format(space=name)
            )
        elif outcome == "kept":
            self.trust_message.say(
                _(
                    "“{space}” is kept: its safety number matched an administrator's. What you "
                    "write there is sent again."
                ).format(space=name),
                "success",
            )
        else:
            self.trust_message.say(
                _("“{space}” is confirmed: its administrator's fingerprint matched.").format(
                    space=name
                ),
                "success",
            )

    def _show_trust(self) -> None:
        facts = self.facts
        wanted = facts.to_confirm if facts is not None else ()
        # Rebuilt when a space or its name changed (the name record may come a sync later).
        shown = [(card.first, card.space_name) for card in self.findChildren(TrustCard)]
        if shown != list(wanted):
            for card in self.findChildren(TrustCard):
                self.trust_holder.removeWidget(card)
                card.setParent(None)
                card.deleteLater()
            for first, name in wanted:
                card = TrustCard(first, name, self.trust_box)
                card.confirmed.connect(self.confirm_space)
                card.refused.connect(self.ask_refuse_space)
                self.trust_holder.addWidget(card)
        forked = facts.forked if facts is not None else ()
        shown_forks = [
            (c.space, c.space_name, c.safety.text()) for c in self.findChildren(ForkCard)
        ]
        if [(space, name) for space, name, _safety in forked] != [f[:2] for f in shown_forks]:
            for fork_card in self.findChildren(ForkCard):
                self.trust_holder.removeWidget(fork_card)
                fork_card.setParent(None)
                fork_card.deleteLater()
            for space, name, safety in forked:
                fork_card = ForkCard(space, name, safety, self.trust_box)
                fork_card.refused.connect(self.refuse_space)
                fork_card.kept.connect(self.keep_forked)
                self.trust_holder.insertWidget(0, fork_card)
        self.trust_box.setTitle(
            _("Confirm your network") if wanted or forked else _("Your network's administrator")
        )
        self._show_trust_outcome()
        self.trust_box.setVisible(bool(wanted) or bool(forked) or self._trust_outcome is not None)

    def sync_now(self) -> None:
        if self.scheduler is not None:
            self.scheduler.sync_now()

    def open_conflict(self) -> None:
        item = self.conflict_list.currentItem() or self.conflict_list.item(0)
        if item is None or self.facts is None:
            return
        record = item.data(Qt.ItemDataRole.UserRole)
        title, conflicts = self.facts.conflicts[record]
        dialog = ConflictDialog(self.profile, title, conflicts, self, authors=self.facts.authors)
        dialog.resolved.connect(self._resolved)
        dialog.open()

    def _resolved(self) -> None:
        if self.scheduler is not None:
            self.scheduler.note_local_change()
        self.refresh()

    # --- showing ----------------------------------------------------------------------------

    def show_state(self) -> None:
        scheduler = self.scheduler
        if scheduler is None:
            return
        self.state.setText(phase_text(scheduler))  # the status bar's words, and its tone
        self.state.setProperty("tone", phase_tone(scheduler))
        self.state.style().unpolish(self.state)
        self.state.style().polish(self.state)
        self.last_sync.setText(last_sync_text(scheduler.last_sync_at))
        self.pending.setText(pending_text(scheduler.pending))
        report = scheduler.last_report
        self.report.setText("\n".join(report_lines(report)) if report is not None else "")
        self.report.setVisible(report is not None)
        if scheduler.last_error is not None:
            self.error.say(sync_error_message(scheduler.last_error))
        else:
            self.error.clear_message()
        self.sync_button.setEnabled(not scheduler.busy)

    def retranslate(self) -> None:
        facts = self.facts
        joined = facts is not None and facts.server_url is not None
        section = section_named("sync")
        self.title.setText(_(section.empty_title))
        self.text.setText(_(section.empty_text))
        self.device_box.setTitle(_("This computer"))
        self.join_box.setTitle(_("Join a network"))
        self.join_intro.setText(
            _(
                "Your network's administrator gives you the server's address and a one-time "
                "invite code. Nothing you write leaves this computer unencrypted."
            )
        )
        self.server_url_label.setText(_("Server &address:"))
        self.invite_code_label.setText(_("&Invite code:"))
        self.server_url.setPlaceholderText("https://")
        self.join_button.setText(_("&Join"))
        if self._join_error is not None:
            self.join_message.say(join_error_message(self._join_error))
        self.status_box.setTitle(_("Sync"))
        self.sync_button.setText(_("Sync &now"))
        self.conflicts_box.setTitle(_("Conflicts"))
        self.resolve_button.setText(_("&Resolve…"))
        self.join_box.setVisible(facts is not None and not joined)
        self.status_box.setVisible(joined)
        self.network.setVisible(joined)
        self.bundles.setVisible(joined)
        if facts is not None and facts.fingerprint:
            self.fingerprint_caption.setText(
                _(
                    "This computer's fingerprint. Read it aloud to your administrator, "
                    "three groups at a time, so they can check it is really you."
                )
            )
            self.fingerprint.setText(fingerprint_text(facts.fingerprint))
            align_fingerprint(self.fingerprint)
            self.fingerprint.show()
            self.server.setText(
                _("Server: {url}").format(url=left_to_right(facts.server_url or ""))
            )
            self.server.show()
        else:
            self.fingerprint_caption.setText(
                _("This computer has not joined a network yet. Everything works offline.")
            )
            self.fingerprint.hide()
            self.server.hide()
        self._show_trust()
        self._show_conflicts()
        self.show_state()

    def _show_conflicts(self) -> None:
        facts = self.facts
        current = self.conflict_list.currentItem()
        chosen = current.data(Qt.ItemDataRole.UserRole) if current is not None else None
        self.conflict_list.clear()
        conflicts = facts.conflicts if facts is not None else {}
        for record, (title, items) in conflicts.items():
            item = QListWidgetItem(listed_text(title, items), self.conflict_list)
            item.setData(Qt.ItemDataRole.UserRole, record)
            if record == chosen:
                self.conflict_list.setCurrentItem(item)
        self.conflicts_box.setVisible(bool(conflicts))
        self.conflicts_intro.setText(
            _(
                "Someone else changed the same thing differently while you were apart. "
                "Choose what to keep; nothing is lost until you do."
            )
        )
        self.conflict_list.setMaximumHeight(
            self.conflict_list.sizeHintForRow(0) * min(max(len(conflicts), 1), 6) + 8
        )

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
