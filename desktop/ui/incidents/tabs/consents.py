"""The Consent tab: what each person named (a victim, a source) agreed to.

Names are left out of reports unless the person agreed to be named; the tab warns while a
named person's consent is not yet recorded.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout

from desktop.domain.records import Act, Consent, Incident, consent_errors
from desktop.domain.translation import _
from desktop.domain.validation import FieldError
from desktop.ui.incidents.fields import Party
from desktop.ui.incidents.parts import ConsentRow, ErrorLine, changed_copy
from desktop.ui.incidents.tab_parts import kept_text, scroll_over


class ConsentTab(QScrollArea):
    """One row per person named, in order; errors are named ``consents[index].field``.

    Signals:
        changed(): the person edited a consent.
    """

    changed = Signal()

    def __init__(self, incident: Incident) -> None:
        super().__init__()
        self.incident = incident
        self.people: list[Party] = []
        page = scroll_over(self)
        self.intro = QLabel(page)
        self.intro.setWordWrap(True)
        self.warning = ErrorLine(page)
        self.warning.setObjectName("consentWarning")
        self.rows: dict[str, ConsentRow] = {}
        self.column = QVBoxLayout()
        self.nobody = QLabel(page)
        self.nobody.setProperty("role", "hint")
        layout = QVBoxLayout(page)
        layout.addWidget(self.intro)
        layout.addWidget(self.warning)
        layout.addWidget(self.nobody)
        layout.addLayout(self.column)
        layout.addStretch(1)

    def show_people(self, people: list[Party]) -> None:
        """A row for each of ``people``, keeping what was typed in rows already there."""
        self.people = people
        wanted = {party.id for party in people}
        for person_id in list(self.rows):
            if person_id not in wanted:
                row = self.rows.pop(person_id)
                row.hide()
                row.deleteLater()
        for index, party in enumerate(people):
            row = self.rows.get(party.id)
            if row is None:
                row = ConsentRow(party)
                row.set_consent(self.incident.consent_of(party.id))
                row.changed.connect(self.changed)
                row.changed.connect(self.show_warning)
                self.rows[party.id] = row
            else:
                row.party = party
                row.name.setText(party.label)
            self.column.insertWidget(index, row)
        self.nobody.setVisible(not people)
        self.show_warning()

    def consents(self, errors: list[FieldError]) -> tuple[Consent, ...]:
        found = []
        for index, row in enumerate(self.rows.values()):
            consent = row.consent(errors, f"consents[{index}]")
            if consent is not None:
                found.append(consent)
        return tuple(found)

    def show_warning(self) -> None:
        scratch: list[FieldError] = []
        incident = changed_copy(self.incident, consents=self.consents(scratch))
        acts = [
            Act(space_id=incident.space_id, incident_id=incident.id, victim_id=p.id)
            for p in self.people
        ]
        problems = consent_errors(incident, acts, [])
        self.warning.say(" ".join(p.message for p in problems))

    def show_errors(self, errors: list[FieldError]) -> None:
        """Under each row, its problems among ``errors`` (any tab's)."""
        for row in self.rows.values():
            row.error.say("")
        rows = list(self.rows.values())
        for error in errors:
            if error.field.startswith("consents["):
                index = int(error.field[len("consents[") :].split("]")[0])
                if index < len(rows):
                    rows[index].error.say(error.message)

    def kept(self) -> dict[str, Any]:
        """Each row as typed, by person, for a draft."""
        return {
            person_id: {
                "level": row.level.code(),
                "recorded_on": row.recorded_on.text(),
                "note": row.note.text(),
            }
            for person_id, row in self.rows.items()
        }

    def restore(self, kept: Any) -> None:
        """Show what ``kept()`` returned before the lock in the rows of the people named now."""
        if isinstance(kept, dict):
            for person_id, row in self.rows.items():
                typed = kept.get(person_id)
                if isinstance(typed, dict):
                    row.level.set_code(kept_text(typed, "level"))
                    row.recorded_on.setText(kept_text(typed, "recorded_on"))
                    row.note.setText(kept_text(typed, "note"))
        self.show_warning()

    def retranslate(self) -> None:
        self.intro.setText(
            _(
                "Record what each person named here agreed to: the victims and the people "
                "who told of it. Their names are left out of reports unless they agreed to "
                "be named."
            )
        )
        self.nobody.setText(
            _("Nobody is named yet. Victims and sources appear here as you add them.")
        )
