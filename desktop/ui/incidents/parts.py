"""The repeated parts of the incident editor: an act with its perpetrators, a source, a consent.

Each part builds its record from what was typed and shows the errors of that record.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.domain import vocabularies as vocab
from desktop.domain.dates import InvalidDate, PartialDate
from desktop.domain.records import (
    Act,
    Consent,
    ConsentLevel,
    Involvement,
    Person,
    Record,
    Source,
    edit,
)
from desktop.domain.translation import N_, _
from desktop.domain.validation import FieldError
from desktop.store.records import RecordStore
from desktop.ui.forms import add_field_row, hold_window_size_hints, on_edit
from desktop.ui.incidents.fields import LanguageCombo, PartialDateEdit, Party, PartyField
from desktop.ui.incidents.fields import VocabularyCombo as Combo

R = TypeVar("R", bound=Record)


def changed_copy(original: R, **values: Any) -> R:
    """``original`` itself when nothing differs (so it stays out of the outbox), else an edit."""
    names = {f.name for f in fields(original)}
    changes = {k: v for k, v in values.items() if k in names and getattr(original, k) != v}
    return edit(original, **changes) if changes else original


def read_date(field: PartialDateEdit, name: str, errors: list[FieldError]) -> PartialDate | None:
    try:
        return field.value()
    except InvalidDate as error:
        errors.append(FieldError(name, "invalid_date", error.message))
        return None


class ErrorLine(QLabel):
    """The message under one field; hidden while the field is fine."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "error")
        self.setWordWrap(True)
        self.hide()

    def say(self, message: str) -> None:
        self.setText(message)
        self.setVisible(bool(message))


class Labelled:
    """Text set through ``_`` now and again on every language change."""

    def __init__(self) -> None:
        self._texts: list[tuple[Any, str, str]] = []

    def tr_(self, widget: Any, message: str, setter: str = "setText") -> Any:
        self._texts.append((widget, setter, message))
        getattr(widget, setter)(_(message))
        return widget

    def relabel(self) -> None:
        for widget, setter, message in self._texts:
            getattr(widget, setter)(_(message))


class FieldForm(QFormLayout, Labelled):
    """A form whose rows each have an error line under the field, found by the field's name."""

    def __init__(self, parent: QWidget | None = None) -> None:
        QFormLayout.__init__(self, parent)
        Labelled.__init__(self)
        self.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.errors: dict[str, ErrorLine] = {}

    def row(
        self,
        name: str,
        label: str,
        widget: QWidget,
        *,
        also: tuple[str, ...] = (),
        limit: int | None = None,
    ) -> QLabel:
        """A field, its error line and, with ``limit``, a count shown as the limit nears."""
        line = ErrorLine()
        caption, _hint = add_field_row(self, widget, line, limit=limit)
        # Once the person changes the field, its old error no longer describes it; in a row
        # of several fields (from and until, latitude and longitude) a change to either.
        if not on_edit(widget, lambda: line.say("")):
            for part in widget.findChildren(QLineEdit):
                on_edit(part, lambda: line.say(""))
        self.tr_(caption, label)
        for key in (name, *also):
            self.errors[key] = line
        return caption

    def show_errors(self, errors: list[FieldError]) -> list[FieldError]:
        """Put each error under its field; returns those no field here claims."""
        for line in self.errors.values():
            line.say("")
        unplaced: list[FieldError] = []
        shown: dict[str, list[str]] = {}
        for error in errors:
            key = error.field if error.field in self.errors else error.field.split("[")[0]
            if key in self.errors:
                shown.setdefault(key, []).append(error.message)
            else:
                unplaced.append(error)
        for key, messages in shown.items():
            line = self.errors[key]
            line.say("\n".join(dict.fromkeys([*filter(None, [line.text()]), *messages])))
        return unplaced


class Card(QFrame, Labelled):
    """A framed part of the editor with a remove button.

    Signals:
        remove_requested(): the person asked to remove this part.
        changed(): something in it was edited.
    """

    remove_requested = Signal()
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        QFrame.__init__(self, parent)
        Labelled.__init__(self)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.form = FieldForm()
        self.remove_button = QPushButton()
        self.remove_button.clicked.connect(self.remove_requested)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.remove_button)
        layout.addLayout(bottom)

    def watch(self, *widgets: QWidget) -> None:
        for widget in widgets:
            signal = None
            if isinstance(widget, QLineEdit):
                signal = widget.textEdited
            elif isinstance(widget, QPlainTextEdit):
                signal = widget.textChanged
            elif isinstance(widget, Combo | LanguageCombo):
                signal = widget.activated
            elif isinstance(widget, PartyField):
                signal = widget.party_changed
            if signal is not None:
                signal.connect(lambda *_args: self.changed.emit())

    def relabel_all(self) -> None:
        self.relabel()
        self.form.relabel()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.relabel_all()
        super().changeEvent(event)


class InvolvementRow(QWidget, Labelled):
    """One perpetrator's part in an act: who (optional), what kind, how directly.

    Signals:
        remove_requested(): remove this perpetrator from the act.
    """

    remove_requested = Signal()

    def __init__(self, store: RecordStore, space_id: str, parent: QWidget | None = None) -> None:
        QWidget.__init__(self, parent)
        Labelled.__init__(self)
        self.perpetrator = PartyField(store, space_id, organizations=True, parent=self)
        self.perpetrator_type = Combo(
            vocab.PERPETRATOR_TYPES, none_label=N_("Perpetrator type…"), parent=self
        )
        self.degree = Combo(vocab.INVOLVEMENT_DEGREES, none_label=N_("Involvement…"), parent=self)
        self.remove_button = QPushButton(self)
        self.tr_(self.remove_button, N_("Remove"))
        self.tr_(self.remove_button, N_("Remove this perpetrator"), "setToolTip")
        self.remove_button.clicked.connect(self.remove_requested)
        self.error = ErrorLine(self)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.perpetrator, 3)
        row.addWidget(self.perpetrator_type, 2)
        row.addWidget(self.degree, 2)
        row.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.error)
        self.tr_(self.perpetrator_type, N_("Perpetrator type"), "setAccessibleName")
        self.tr_(self.degree, N_("Involvement"), "setAccessibleName")

    def is_empty(self) -> bool:
        """Nothing chosen at all: a row left as added, which saving skips."""
        return (
            self.perpetrator.party is None
            and not self.perpetrator_type.code()
            and not self.degree.code()
        )

    def involvement(self) -> Involvement:
        party = self.perpetrator.party
        return Involvement(
            perpetrator_id=party.id if party is not None else None,
            perpetrator_type=self.perpetrator_type.code(),
            degree=self.degree.code(),
        )

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.relabel()
        super().changeEvent(event)


class ActCard(Card):
    """One act: its victim, what was done, when, and who took part."""

    def __init__(
        self,
        store: RecordStore,
        incident_id: str,
        space_id: str,
        act: Act | None = None,
        parties: dict[str, Party] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("actCard")
        self._store = store
        self._space_id = space_id
        self.original = act
        self.incident_id = incident_id
        self.victim = PartyField(store, space_id, parent=self)
        self.act_type = Combo(
            vocab.ACT_TYPES,
            none_label=N_("Choose an act…"),
            extra=(vocab.DEFENDER_THREATS,),
            parent=self,
        )
        self.start = PartialDateEdit(self)
        self.end = PartialDateEdit(self)
        dates = QWidget(self)
        dates_row = QHBoxLayout(dates)
        dates_row.setContentsMargins(0, 0, 0, 0)
        dates_row.addWidget(self.start)
        dates_row.addWidget(self.end)
        self.notes = QPlainTextEdit(self)
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(60)
        self.involvement_box = QWidget(self)
        self.involvement_layout = QVBoxLayout(self.involvement_box)
        self.involvement_layout.setContentsMargins(0, 0, 0, 0)
        self.add_involvement = QPushButton(self)
        self.add_involvement.clicked.connect(lambda: self.add_perpetrator())
        self.involvements: list[InvolvementRow] = []
        self.form.row("victim_id", N_("Victim"), self.victim)
        self.form.row("act_type", N_("Act"), self.act_type)
        self.form.row("start_date", N_("Dates (from, until)"), dates, also=("end_date",))
        self.form.row("involvements", N_("Perpetrators"), self.involvement_box)
        self.form.addRow("", self.add_involvement)
        self.form.row("notes", N_("Notes"), self.notes)
        self.tr_(self.add_involvement, N_("Add a perpetrator"))
        self.tr_(self.remove_button, N_("Remove this act"))
        self.watch(self.victim, self.act_type, self.start, self.end, self.notes)
        known = parties or {}
        if act is not None:
            self.victim.choose(known.get(act.victim_id))
            self.act_type.set_code(act.act_type)
            self.start.set_value(act.start_date)
            self.end.set_value(act.end_date)
            self.notes.setPlainText(act.notes)
            for involvement in act.involvements:
                row = self.add_perpetrator()
                if involvement.perpetrator_id:
                    row.perpetrator.choose(known.get(involvement.perpetrator_id))
                row.perpetrator_type.set_code(involvement.perpetrator_type)
                row.degree.set_code(involvement.degree)

    def add_perpetrator(self) -> InvolvementRow:
        row = InvolvementRow(self._store, self._space_id, self.involvement_box)
        row.remove_requested.connect(lambda: self._remove_perpetrator(row))
        for widget in (row.perpetrator, row.perpetrator_type, row.degree):
            self.watch(widget)
        self.involvement_layout.addWidget(row)
        self.involvements.append(row)
        self.changed.emit()
        return row

    def _remove_perpetrator(self, row: InvolvementRow) -> None:
        self.involvements.remove(row)
        row.hide()
        row.deleteLater()
        self.changed.emit()

    def parties(self) -> list[Party]:
        found = [self.victim.party] + [row.perpetrator.party for row in self.involvements]
        return [p for p in found if p is not None]

    def build(self, errors: list[FieldError]) -> Act:
        victim = self.victim.party
        values: dict[str, Any] = {
            "victim_id": victim.id if victim is not None else "",
            "act_type": self.act_type.code(),
            "start_date": read_date(self.start, "start_date", errors),
            "end_date": read_date(self.end, "end_date", errors),
            "involvements": tuple(row.involvement() for row in self._kept_rows()),
            "notes": self.notes.toPlainText(),
        }
        if self.original is not None:
            return changed_copy(self.original, **values)
        return Act(space_id=self._space_id, incident_id=self.incident_id, **values)

    def _kept_rows(self) -> list[InvolvementRow]:
        return [row for row in self.involvements if not row.is_empty()]

    def show_errors(self, errors: list[FieldError]) -> list[FieldError]:
        # Errors count the saved involvements only: empty rows were skipped.
        kept = self._kept_rows()
        per_row: dict[int, list[str]] = {}
        rest: list[FieldError] = []
        for error in errors:
            if error.field.startswith("involvements["):
                index = int(error.field[len("involvements[") :].split("]")[0])
                per_row.setdefault(index, []).append(error.message)
            else:
                rest.append(error)
        for row in self.involvements:
            row.error.say("")
        for index, row in enumerate(kept):
            row.error.say("\n".join(dict.fromkeys(per_row.get(index, []))))
        return self.form.show_errors(rest)

    def relabel_all(self) -> None:
        super().relabel_all()
        for row in self.involvements:
            row.relabel()


class SourceCard(Card):
    """One source: who told of the incident, how, how reliable, when, in what language."""

    def __init__(
        self,
        store: RecordStore,
        incident_id: str,
        space_id: str,
        source: Source | None = None,
        parties: dict[str, Party] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("sourceCard")
        self._space_id = space_id
        self.original = source
        self.incident_id = incident_id
        self.who = PartyField(store, space_id, organizations=True, parent=self)
        self.source_type = Combo(vocab.SOURCE_TYPES, none_label=N_("Choose a type…"), parent=self)
        self.reliability = Combo(
            vocab.SOURCE_RELIABILITY, none_label=N_("Choose a reliability…"), parent=self
        )
        self.reported_on = PartialDateEdit(self)
        self.language = LanguageCombo(self)
        self.summary = QPlainTextEdit(self)
        self.summary.setTabChangesFocus(True)
        self.summary.setFixedHeight(70)
        self.form.row("person_id", N_("Who"), self.who, also=("organization_id",))
        self.form.row("source_type", N_("Type"), self.source_type)
        self.form.row("reliability", N_("Reliability"), self.reliability)
        self.form.row("reported_on", N_("Date"), self.reported_on)
        self.form.row("language", N_("Language"), self.language)
        self.form.row("summary", N_("Summary"), self.summary)
        self.tr_(self.remove_button, N_("Remove this source"))
        self.watch(self.who, self.source_type, self.reliability, self.reported_on, self.language)
        self.watch(self.summary)
        known = parties or {}
        if source is not None:
            self.who.choose(known.get(source.person_id or source.organization_id or ""))
            self.source_type.set_code(source.source_type)
            self.reliability.set_code(source.reliability)
            self.reported_on.set_value(source.reported_on)
            self.language.set_code(source.language)
            self.summary.setPlainText(source.summary)

    def parties(self) -> list[Party]:
        return [self.who.party] if self.who.party is not None else []

    def build(self, errors: list[FieldError]) -> Source:
        party = self.who.party
        values: dict[str, Any] = {
            "person_id": party.id if party and party.record_type == "person" else None,
            "organization_id": party.id if party and party.record_type == "organization" else None,
            "source_type": self.source_type.code(),
            "reliability": self.reliability.code(),
            "reported_on": read_date(self.reported_on, "reported_on", errors),
            "language": self.language.code(),
            "summary": self.summary.toPlainText(),
        }
        if self.original is not None:
            return changed_copy(self.original, **values)
        return Source(space_id=self._space_id, incident_id=self.incident_id, **values)

    def show_errors(self, errors: list[FieldError]) -> list[FieldError]:
        return self.form.show_errors(errors)


class ConsentRow(QWidget, Labelled):
    """What one person named agreed to: the level, when it was recorded, a note."""

    changed = Signal()

    def __init__(self, party: Party, parent: QWidget | None = None) -> None:
        QWidget.__init__(self, parent)
        Labelled.__init__(self)
        self.setObjectName("consentRow")
        self.party = party
        self.name = QLabel(party.label, self)
        self.name.setMinimumWidth(160)
        self.level = Combo(vocab.CONSENT_LEVELS, parent=self)
        self.recorded_on = PartialDateEdit(self, placeholder=N_("Date recorded"))
        self.recorded_on.setMaximumWidth(180)
        self.note = QLineEdit(self)
        self.error = ErrorLine(self)
        self.tr_(self.level, N_("Consent"), "setAccessibleName")
        self.tr_(self.recorded_on, N_("Date consent was recorded"), "setAccessibleName")
        self.tr_(self.note, N_("Note (who asked, how)"), "setPlaceholderText")
        for signal in (self.level.activated, self.recorded_on.textEdited, self.note.textEdited):
            signal.connect(lambda *_args: self.changed.emit())
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.name, 2)
        row.addWidget(self.level, 2)
        row.addWidget(self.recorded_on, 1)
        row.addWidget(self.note, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.error)

    def set_consent(self, consent: Consent | None) -> None:
        if consent is None:
            return
        self.level.set_code(consent.level.value)
        self.recorded_on.set_value(consent.recorded_on)
        self.note.setText(consent.note)

    def consent(self, errors: list[FieldError], where: str) -> Consent | None:
        """The consent recorded, or None while it is still "not asked" with nothing noted."""
        level = ConsentLevel(self.level.code() or ConsentLevel.NOT_ASKED.value)
        recorded_on = read_date(self.recorded_on, f"{where}.recorded_on", errors)
        note = self.note.text().strip()
        if level is ConsentLevel.NOT_ASKED and recorded_on is None and not note:
            return None
        return Consent(person_id=self.party.id, level=level, recorded_on=recorded_on, note=note)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.relabel()
        super().changeEvent(event)


def new_people(parties: list[Party]) -> list[Person]:
    """The people typed in for the first time, once each."""
    found: dict[str, Person] = {}
    for party in parties:
        if party.new is not None:
            found[party.new.id] = party.new
    return list(found.values())


class Confirmation(QDialog):
    """Asks before something that cannot be undone; the safe answer is the default one.

    (QMessageBox fixes its own size, which platforms without size hints warn about.)

    Signals:
        confirmed(): the person chose the action.
    """

    confirmed = Signal()

    def __init__(
        self, question: str, detail: str, action: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("confirmation")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle(_("Minga"))
        self.question = QLabel(question, self)
        self.question.setProperty("role", "heading")
        self.question.setWordWrap(True)
        self.detail = QLabel(detail, self)
        self.detail.setWordWrap(True)
        self.action_button = QPushButton(action, self)
        self.keep_button = QPushButton(_("Keep editing"), self)
        self.keep_button.setDefault(True)
        self.action_button.clicked.connect(self._chosen)
        self.keep_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.keep_button)
        buttons.addWidget(self.action_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.question)
        layout.addWidget(self.detail)
        layout.addSpacing(8)
        layout.addLayout(buttons)
        hold_window_size_hints(self, 420)

    def _chosen(self) -> None:
        self.accept()
        self.confirmed.emit()


def confirm(parent: QWidget, question: str, detail: str, action: str, then: Any) -> Confirmation:
    """Ask ``question`` over ``parent``; ``then()`` runs only if the person chooses ``action``."""
    box = Confirmation(question, detail, action, parent)
    box.confirmed.connect(then)
    box.open()
    return box
