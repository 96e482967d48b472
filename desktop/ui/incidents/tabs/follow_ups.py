"""The Follow-up tab: the timeline of steps taken after the incident, and a form to add one.

Entries are never changed once saved; one added here waits in ``pending`` and is saved with the
incident.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.domain import vocabularies as vocab
from desktop.domain.records import FollowUp, FollowUpKind, from_dict, to_dict
from desktop.domain.translation import N_, _
from desktop.domain.validation import FieldError
from desktop.ui.display import describe_partial, vocabulary_label
from desktop.ui.incidents.bundle import IncidentBundle
from desktop.ui.incidents.fields import PartialDateEdit
from desktop.ui.incidents.fields import VocabularyCombo as Combo
from desktop.ui.incidents.parts import FieldForm, read_date
from desktop.ui.incidents.tab_parts import kept_text


def _timeline_text(entry: FollowUp) -> str:
    parts = [
        describe_partial(entry.occurred_on),
        vocabulary_label(vocab.FOLLOW_UP_KINDS, entry.kind.value),
        entry.counterpart,
    ]
    head = " · ".join(p for p in parts if p)
    return f"{head}\n{entry.summary}"


class FollowUpTab(QWidget):
    """The saved follow-ups of ``bundle``, those added since, and the entry being typed."""

    def __init__(self, bundle: IncidentBundle) -> None:
        super().__init__()
        self.bundle = bundle
        self.pending: list[FollowUp] = []
        self.timeline = QListWidget(self)
        self.timeline.setObjectName("followUpTimeline")
        self.timeline.setWordWrap(True)
        self.form = form = FieldForm()
        self.kind = Combo(vocab.FOLLOW_UP_KINDS, prompt=N_("Choose a step…"), parent=self)
        self.date = PartialDateEdit(self)
        self.counterpart = QLineEdit(self)
        self.summary = QPlainTextEdit(self)
        self.summary.setTabChangesFocus(True)
        self.summary.setFixedHeight(70)
        self.add_button = QPushButton(self)
        self.add_button.clicked.connect(self.add_follow_up)
        form.row("kind", N_("Step"), self.kind)
        form.row("occurred_on", N_("Date"), self.date)
        form.row("counterpart", N_("With whom"), self.counterpart)
        form.row("summary", N_("Summary"), self.summary)
        form.addRow("", self.add_button)
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.caption.setProperty("role", "hint")
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(self.timeline, 1)
        layout.addLayout(form)

    def show_timeline(self) -> None:
        self.timeline.clear()
        for entry in self.bundle.follow_ups:
            self.timeline.addItem(_timeline_text(entry))
        for entry in self.pending:
            self.timeline.addItem(
                _("{entry} (saved with the incident)").format(entry=_timeline_text(entry))
            )

    def add_follow_up(self) -> FollowUp | None:
        """Add the entry typed below the timeline; it is saved with the incident."""
        errors: list[FieldError] = []
        kind = self.kind.code()
        if not kind:
            errors.append(FieldError("kind", "required", _("Choose a value from the list.")))
        incident = self.bundle.incident
        entry = FollowUp(
            space_id=incident.space_id,
            incident_id=incident.id,
            # A stand-in while no step is chosen: the error above keeps it from being added.
            kind=FollowUpKind(kind) if kind else FollowUpKind.OTHER,
            occurred_on=read_date(self.date, "occurred_on", errors),
            counterpart=self.counterpart.text().strip(),
            summary=self.summary.toPlainText().strip(),
        )
        parsed = {e.field for e in errors}
        errors += [e for e in entry.validate() if e.field not in parsed]
        self.form.show_errors(errors)
        if errors:
            return None
        self.pending.append(entry)
        self.kind.set_code("")  # the next step is chosen anew, like the rest of its fields
        self.date.clear()
        self.counterpart.clear()
        self.summary.clear()
        self.show_timeline()
        return entry

    def kept(self) -> dict[str, Any]:
        """The entry being typed, as typed, for a draft."""
        return {
            "kind": self.kind.code(),
            "date": self.date.text(),
            "counterpart": self.counterpart.text(),
            "summary": self.summary.toPlainText(),
        }

    def kept_pending(self) -> list[dict[str, Any]]:
        return [to_dict(entry) for entry in self.pending]

    def restore(self, pending: Any, typed: Any) -> None:
        """Show what ``kept_pending()`` and ``kept()`` returned before the lock."""
        self.pending = [
            entry
            for entry in (
                from_dict(data)
                for data in (pending if isinstance(pending, list) else [])
                if isinstance(data, dict)
            )
            if isinstance(entry, FollowUp)
        ]
        typed = typed if isinstance(typed, dict) else {}
        self.kind.set_code(kept_text(typed, "kind"))
        self.date.setText(kept_text(typed, "date"))
        self.counterpart.setText(kept_text(typed, "counterpart"))
        self.summary.setPlainText(kept_text(typed, "summary"))
        self.show_timeline()

    def retranslate(self) -> None:
        self.form.relabel()
        self.caption.setText(
            _(
                "Each step taken after the incident is added to its timeline. Entries are "
                "never changed: to correct one, add another."
            )
        )
        self.add_button.setText(_("Add to the timeline"))
