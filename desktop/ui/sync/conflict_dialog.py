"""The conflict dialog: each field two people changed differently, mine and theirs side by side,
settled with "Keep mine", "Keep theirs" or an edit; flags (deleted or edited elsewhere) are read."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.network_records import ReadingPosition
from desktop.domain.translation import N_, _
from desktop.store.evidence import FILE_GONE_MESSAGE
from desktop.store.profile import Profile
from desktop.store.sync_state import (
    FILE_GONE,
    MOVED,
    TAKEN_WITH_PARENT,
    UNREADABLE_FORMAT,
    ProfileSyncState,
)
from desktop.ui.field_labels import field_label
from desktop.ui.forms import MessageLabel, failure_message, hold_window_size_hints
from desktop.ui.jobs import JobState, run_job
from sync.client.diff3 import merge_lines
from sync.client.merge import MergeFlag
from sync.client.state import StoredConflict

FLAG_TEXTS: dict[str, str] = {
    MergeFlag.DELETED_ELSEWHERE.value: N_(
        "Someone deleted this record while you were editing it. Your version was kept."
    ),
    MergeFlag.EDITED_ELSEWHERE.value: N_(
        "You deleted this record while someone else edited it. Their version was kept, so "
        "the record is back, with everything that was deleted along with it."
    ),
    MergeFlag.DUPLICATE_ENTRY.value: N_(
        "Two entries arrived under one identity. Both were kept, as separate entries."
    ),
    MergeFlag.RESTORED.value: N_(
        "This record had been deleted, here or on another device, and is back because "
        "someone edited it or added to what is recorded under it. Everything its deletion "
        "took is back too. Delete it again if that is still what should happen."
    ),
    TAKEN_WITH_PARENT: N_(
        "This was yours only: a note or where you stopped reading, on a material or working "
        "group that was deleted on another device. It was removed with it, and did not bring "
        "it back, as nobody else could see it. If the material or group comes back, this "
        "comes back too, as it was."
    ),
    FILE_GONE: FILE_GONE_MESSAGE,
    UNREADABLE_FORMAT: N_(
        "Needs a newer Minga: this record was saved by a newer version and cannot be opened "
        "here. It is kept as it came and opens after you update Minga. Your own changes to "
        "it wait on this computer until then."
    ),
}


#: Said under ``TAKEN_WITH_PARENT`` when what was taken held a change never sent: reading the
#: note ("Understood") does not discard it (``ProfileSyncState.resolve_conflict``).
UNSENT_KEPT_TEXT = N_(
    "Your last change to it had not been sent yet. That change is kept, also after you press "
    "“Understood”: if this comes back different, you will be asked which version to keep."
)


def holds_unsent(conflict: StoredConflict) -> bool:
    """A ``TAKEN_WITH_PARENT`` note keeping a change of the person's never sent."""
    return conflict.kind == TAKEN_WITH_PARENT and bool(conflict.mine)


def record_title(record: Any) -> str:
    """A record's name as a person would recognise it in a list (a note by its first line)."""
    if isinstance(record, ReadingPosition):
        return _("Where you stopped reading")
    for name in ("name", "title", "summary", "filename", "body"):
        value = getattr(record, name, None)
        if isinstance(value, str) and value.strip():
            return value.strip().splitlines()[0][:80]
    return _("A record without a title") if record is not None else _("A deleted record")


def value_text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return _("(empty)")
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    return json.dumps(value, ensure_ascii=False, indent=1)


def edit_text(conflict: StoredConflict) -> str:
    """What the editor starts with: for texts, both edits merged line by line where they do not
    overlap; where they do, mine then theirs, so nothing either person wrote is lost."""
    base, mine, theirs = conflict.base, conflict.mine, conflict.theirs
    if isinstance(mine, str) and isinstance(theirs, str):
        merged = merge_lines(base if isinstance(base, str) else "", mine, theirs)
        if merged is not None:
            return merged
        return mine.rstrip("\n") + "\n\n" + theirs
    return value_text(mine) if isinstance(mine, str) else json.dumps(mine, ensure_ascii=False)


def stamp_text(stamp: str) -> str:
    """A record's ``updated_at`` stamp as a person reads it (UTC, to the minute)."""
    return f"{stamp[:10]} {stamp[11:16]} UTC" if len(stamp) >= 16 else ""


def author_text(author: str, authors: dict[str, str]) -> str:
    """Who wrote a value: this device, or another by its fingerprint's first digits."""
    if not author:
        return _("this device")
    group = authors.get(author)
    if group is None:
        return _("another device")
    return _("the device whose fingerprint starts {digits}").format(digits=group)


def caption(
    label: str, author: str | None, at: str, authors: dict[str, str], vouched: bool = False
) -> str:
    """``label``, then who and when where known: "Theirs · the device … · 2026-12-05 08:01".

    ``vouched``: the version came in an administrator's snapshot of a departed member's
    records, so the device named vouched for it rather than wrote it (CRYPTO.md §5)."""
    parts = [label]
    if author is not None:
        parts.append(author_text(author, authors))
    if vouched:
        parts.append(_("vouched for by an administrator"))
    if stamp_text(at):
        parts.append(stamp_text(at))
    return " · ".join(parts)


def _value_view(parent: QWidget) -> QLabel:
    view = QLabel(parent)
    view.setWordWrap(True)
    view.setFrameShape(QFrame.Shape.StyledPanel)
    view.setTextFormat(Qt.TextFormat.PlainText)
    view.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    view.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeading)
    view.setMargin(6)
    return view


class ConflictRow(QGroupBox):
    """One conflicting field or one flag, with the buttons that settle it.

    Besides mine and theirs it shows what the field holds now when someone changed it since
    the conflict was kept, and every value of earlier conflicts on the field nobody chose yet,
    each with who wrote it and when where known, and each can be kept.

    Signals:
        chosen(int, object): the conflict id and the value to keep.
    """

    chosen = Signal(int, object)

    def __init__(
        self,
        conflict: StoredConflict,
        parent: QWidget | None = None,
        authors: dict[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.conflict = conflict
        self.authors = authors or {}
        self.is_flag = conflict.field is None
        layout = QGridLayout(self)
        self.mine_caption = QLabel(self)
        self.theirs_caption = QLabel(self)
        self.mine = _value_view(self)
        self.theirs = _value_view(self)
        self.flag_text = QLabel(self)
        self.flag_text.setWordWrap(True)
        for label in (self.mine_caption, self.theirs_caption):
            label.setWordWrap(True)
        self.keep_mine = QPushButton(self)
        self.keep_mine.setObjectName("keepMine")
        self.keep_theirs = QPushButton(self)
        self.keep_theirs.setObjectName("keepTheirs")
        self.edit = QPushButton(self)
        self.edit.setObjectName("editValue")
        self.dismiss = QPushButton(self)
        self.dismiss.setObjectName("dismissFlag")
        self.editor = QPlainTextEdit(self)
        self.editor.setObjectName("mergedEditor")
        self.editor.hide()
        self.save_edit = QPushButton(self)
        self.save_edit.setObjectName("saveEdit")
        self.save_edit.hide()
        self.message = MessageLabel(self)
        # What the field holds now, when someone changed it after the conflict was kept.
        self.now_caption = QLabel(self)
        self.now_caption.setWordWrap(True)
        self.now = _value_view(self)
        self.keep_now = QPushButton(self)
        self.keep_now.setObjectName("keepNow")
        # Values of earlier conflicts on this field that nobody chose yet.
        self.others_caption = QLabel(self)
        self.others_caption.setWordWrap(True)
        self.other_views: list[tuple[QLabel, QLabel, QPushButton]] = []
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.keep_mine, self.keep_theirs, self.edit, self.dismiss, self.save_edit):
            buttons.addWidget(button)
        line = 0
        if self.is_flag:
            layout.addWidget(self.flag_text, 0, 0, 1, 2)
            # Listed until a newer Minga opens it: there is nothing to dismiss.
            self.dismiss.setVisible(conflict.kind != UNREADABLE_FORMAT)
            for widget in (self.keep_mine, self.keep_theirs, self.edit, self.mine, self.theirs):
                widget.hide()
            for widget in (self.mine_caption, self.theirs_caption, self.now_caption, self.now):
                widget.hide()
            self.keep_now.hide()
            self.others_caption.hide()
            line = 1
        else:
            self.dismiss.hide()
            self.flag_text.hide()
            layout.addWidget(self.mine_caption, 0, 0)
            layout.addWidget(self.theirs_caption, 0, 1)
            layout.addWidget(self.mine, 1, 0)
            layout.addWidget(self.theirs, 1, 1)
            line = 2
            if conflict.moved_since:
                layout.addWidget(self.now_caption, line, 0, 1, 2)
                layout.addWidget(self.now, line + 1, 0)
                layout.addWidget(
                    self.keep_now,
                    line + 1,
                    1,
                    Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeading,
                )
                line += 2
            else:
                for widget in (self.now_caption, self.now, self.keep_now):
                    widget.hide()
            if conflict.others:
                layout.addWidget(self.others_caption, line, 0, 1, 2)
                line += 1
            else:
                self.others_caption.hide()
            for other in conflict.others:
                other_caption = QLabel(self)
                other_caption.setWordWrap(True)
                other_view = _value_view(self)
                keep = QPushButton(self)
                keep.setObjectName("keepOther")
                keep.clicked.connect(
                    lambda _checked=False, value=other.value: self.chosen.emit(conflict.id, value)
                )
                layout.addWidget(other_caption, line, 0, 1, 2)
                layout.addWidget(other_view, line + 1, 0)
                layout.addWidget(
                    keep, line + 1, 1, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeading
                )
                line += 2
                self.other_views.append((other_caption, other_view, keep))
            layout.addWidget(self.editor, line, 0, 1, 2)
            line += 1
            layout.setColumnStretch(0, 1)
            layout.setColumnStretch(1, 1)
        layout.addLayout(buttons, line, 0, 1, 2)
        layout.addWidget(self.message, line + 1, 0, 1, 2)
        self.keep_mine.clicked.connect(lambda: self.chosen.emit(conflict.id, conflict.mine))
        self.keep_theirs.clicked.connect(lambda: self.chosen.emit(conflict.id, conflict.theirs))
        self.keep_now.clicked.connect(lambda: self.chosen.emit(conflict.id, conflict.current))
        self.dismiss.clicked.connect(lambda: self.chosen.emit(conflict.id, None))
        self.edit.clicked.connect(self.start_editing)
        self.save_edit.clicked.connect(self.finish_editing)
        self.retranslate()

    def start_editing(self) -> None:
        self.editor.setPlainText(edit_text(self.conflict))
        self.editor.show()
        self.save_edit.show()
        self.edit.hide()
        self.editor.setFocus()

    def finish_editing(self) -> None:
        text = self.editor.toPlainText()
        value: Any = text
        mine = self.conflict.mine
        if not isinstance(mine, str) and not isinstance(self.conflict.theirs, str):
            try:
                value = json.loads(text)
            except ValueError:
                self.message.say(_("This value cannot be read. Keep one side instead."))
                return
        self.chosen.emit(self.conflict.id, value)

    def buttons(self) -> list[QPushButton]:
        return [
            self.keep_mine,
            self.keep_theirs,
            self.keep_now,
            self.edit,
            self.dismiss,
            self.save_edit,
            *(keep for _caption, _view, keep in self.other_views),
        ]

    def set_busy(self, busy: bool) -> None:
        for button in self.buttons():
            button.setEnabled(not busy)

    def retranslate(self) -> None:
        conflict = self.conflict
        field = conflict.field
        if field is None:
            self.setTitle(_("Note"))
            fallback = N_("This record changed elsewhere.")
            said = _(FLAG_TEXTS.get(conflict.kind, fallback))
            if holds_unsent(conflict):
                said += "\n\n" + _(UNSENT_KEPT_TEXT)
            self.flag_text.setText(said)
        else:
            self.setTitle(field_label(field))
        self.mine_caption.setText(caption(_("Mine"), None, conflict.mine_at, self.authors))
        self.theirs_caption.setText(
            caption(
                _("Theirs"),
                conflict.theirs_author if conflict.theirs_author else None,
                conflict.theirs_at,
                self.authors,
                vouched=conflict.theirs_vouched,
            )
        )
        self.mine.setText(value_text(conflict.mine))
        self.theirs.setText(value_text(conflict.theirs))
        self.now_caption.setText(
            _(
                "Changed again since, on another device. When the conflict arose it said what "
                "is shown under “Theirs”; now it says the following, and your choice will be "
                "merged with it:"
            )
        )
        self.now.setText(value_text(conflict.current))
        self.keep_now.setText(_("Keep what it says &now"))
        self.others_caption.setText(
            _("Also written in earlier conflicts on this field, not chosen yet:")
        )
        for other, (other_caption, other_view, keep) in zip(
            conflict.others, self.other_views, strict=True
        ):
            other_caption.setText(caption(_("Earlier"), other.author, other.at, self.authors))
            other_view.setText(value_text(other.value))
            keep.setText(_("Keep this"))
        self.keep_mine.setText(_("Keep &mine"))
        self.keep_theirs.setText(_("Keep &theirs"))
        self.edit.setText(_("&Edit…"))
        self.save_edit.setText(_("&Use this text"))
        self.dismiss.setText(_("&Understood"))


class ConflictDialog(QDialog):
    """Every conflict of one record; each settled row disappears, the dialog closes at the end.

    Signals:
        resolved(): a conflict was settled (the record is saved dirty; the next sync sends it).
    """

    resolved = Signal()

    def __init__(
        self,
        profile: Profile,
        title: str,
        conflicts: list[StoredConflict],
        parent: QWidget | None = None,
        authors: dict[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("conflictDialog")
        self.authors = authors or {}
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setModal(True)
        self._profile = profile
        self.record_title = title
        self.heading = QLabel(self)
        self.heading.setProperty("role", "heading")
        self.heading.setWordWrap(True)
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.rows: list[ConflictRow] = []
        holder = QWidget()
        self.rows_layout = QVBoxLayout(holder)
        for conflict in conflicts:
            row = ConflictRow(conflict, holder, self.authors)
            row.chosen.connect(self.settle)
            self.rows_layout.addWidget(row)
            self.rows.append(row)
        self.rows_layout.addStretch(1)
        self.scroll = scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(holder)
        self.message = MessageLabel(self)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.intro)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.retranslate()
        hold_window_size_hints(self, minimum_width=640)
        self.resize(760, 520)

    def settle(self, conflict_id: int, value: Any) -> None:
        row = next((r for r in self.rows if r.conflict.id == conflict_id), None)
        if row is None:
            return
        row.set_busy(True)
        engine = self._profile.engine

        def resolve(_state: JobState) -> tuple[int, str, StoredConflict | None]:
            state = ProfileSyncState(engine)
            outcome = state.resolve_conflict(conflict_id, value)
            again = next((c for c in state.conflicts() if c.id == conflict_id), None)
            return conflict_id, outcome, again

        run_job(self, resolve, writes=True, on_success=self._settled, on_failure=self._failed)

    def _settled(self, answer: Any) -> None:
        conflict_id, outcome, again = answer
        for row in list(self.rows):
            if row.conflict.id != conflict_id:
                continue
            index = self.rows_layout.indexOf(row)
            self.rows.remove(row)
            row.hide()
            row.deleteLater()
            if outcome == MOVED and again is not None:
                # Changed on another device since: shown again, against what it says now.
                fresh = ConflictRow(again, row.parentWidget(), self.authors)
                fresh.chosen.connect(self.settle)
                self.rows_layout.insertWidget(index, fresh)
                self.rows.append(fresh)
                fresh.message.say(
                    _(
                        "Someone changed this on another device after the conflict arose. "
                        "Compare your choice with what it says now, and choose again."
                    )
                )
        self.resolved.emit()
        if not self.rows:
            self.accept()

    def _failed(self, error: BaseException) -> None:
        for row in self.rows:
            row.set_busy(False)
        self.message.say(failure_message(error))

    def retranslate(self) -> None:
        self.setWindowTitle(_("Settle a conflict"))
        self.heading.setText(self.record_title)
        if any(not row.is_flag for row in self.rows):
            self.intro.setText(
                _(
                    "You and someone else changed this record differently. For each "
                    "difference, keep your version, theirs, or write what it should say."
                )
            )
        else:  # notes only (came back, taken with a deletion, needs a newer Minga …)
            self.intro.setText(
                _(
                    "Nothing to choose here: this says what happened to the record during "
                    "sync, and why."
                )
            )

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
            for row in self.rows:
                row.retranslate()
        super().changeEvent(event)
