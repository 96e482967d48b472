"""The incident editor: the event, its acts, sources, evidence, follow-ups and consents.

A dialog over the list, so the list keeps its filters and place, and the lock closes it with the
other dialogs. Everything is saved in one transaction on the write worker. Before the lock
closes it, its fields as typed are kept as a draft (``draft``); ``restore_draft`` puts them back.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.domain import vocabularies as vocab
from desktop.domain.record_base import TITLE_LIMIT
from desktop.domain.records import (
    Act,
    Confidentiality,
    Evidence,
    FollowUp,
    FollowUpKind,
    Incident,
    IncidentKind,
    IncidentStatus,
    Organization,
    Person,
    PersonKind,
    Record,
    Source,
    consent_errors,
    from_dict,
    new_id,
    to_dict,
)
from desktop.domain.translation import N_, _, format_moment, format_number, ngettext
from desktop.domain.validation import FieldError
from desktop.store.drafts import Draft, DraftStore
from desktop.store.evidence import EvidenceStore, OpenedEvidence, device_actor
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.ui.access import held_note, read_only_reason
from desktop.ui.bidi import follow_own_direction
from desktop.ui.display import describe_partial, describe_size, vocabulary_label
from desktop.ui.field_labels import field_label
from desktop.ui.file_types import kind_of_file, mislabelled_text
from desktop.ui.forms import failure_message, heading, hold_window_size_hints
from desktop.ui.incidents.bundle import IncidentBundle, load_bundle, save_bundle
from desktop.ui.incidents.fields import (
    CodeChecklist,
    PartialDateEdit,
    Party,
    PartyField,
    party_label,
)
from desktop.ui.incidents.fields import VocabularyCombo as Combo
from desktop.ui.incidents.parts import (
    ActCard,
    Card,
    Confirmation,
    ConsentRow,
    ErrorLine,
    FieldForm,
    Labelled,
    SourceCard,
    changed_copy,
    new_people,
    read_date,
)
from desktop.ui.incidents.report import write_report
from desktop.ui.incidents.viewer import EvidenceViewer
from desktop.ui.jobs import JobState, run_job

SAVE_SHORTCUT = QKeySequence("Ctrl+S")


def _number(text: str, name: str, errors: list[FieldError]) -> float | None:
    """A coordinate typed with a point or a comma; None when empty."""
    cleaned = text.strip().replace(",", ".")
    if not cleaned:
        return None
    try:
        value = float(cleaned)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        errors.append(
            FieldError(name, "not_a_number", _("“{value}” is not a number.").format(value=text))
        )
        return None
    return value


def _scrolling(content: QWidget) -> QScrollArea:
    scroll = QScrollArea()
    scroll.setWidget(content)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    return scroll


class CardList(QWidget, Labelled):
    """A column of cards (acts or sources) with an "add" button under them.

    Signals:
        changed(): a card was added, removed or edited.
    """

    changed = Signal()

    def __init__(self, add_label: str, parent: QWidget | None = None) -> None:
        QWidget.__init__(self, parent)
        Labelled.__init__(self)
        self.cards: list[Card] = []
        self.removed: list[str] = []  # ids of saved records the person removed
        self.column = QVBoxLayout()
        self.add_button = QPushButton(self)
        self.tr_(self.add_button, add_label)
        self.empty = QLabel(self)
        self.empty.setProperty("role", "hint")
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addLayout(self.column)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(1)

    def add(self, card: Card) -> Card:
        card.remove_requested.connect(lambda: self.remove(card))
        card.changed.connect(self.changed)
        self.column.addWidget(card)
        self.cards.append(card)
        self.empty.setVisible(False)
        self.changed.emit()
        return card

    def remove(self, card: Card) -> None:
        original = getattr(card, "original", None)
        if isinstance(original, Record):
            self.removed.append(original.id)
        self._drop(card)

    def _drop(self, card: Card) -> None:
        self.cards.remove(card)
        card.hide()
        card.deleteLater()
        self.empty.setVisible(not self.cards)
        self.changed.emit()

    def clear(self) -> None:
        """Take every card away without counting any as removed (a draft brings its own)."""
        for card in list(self.cards):
            self._drop(card)
        self.removed = []


#: The editor's name in drafts (``Draft.editor``).
DRAFT_EDITOR = "incident"


def _party_state(field: PartyField) -> dict[str, Any]:
    """A party field as typed: the party chosen (or to create) and the text in the line."""
    party = field.party
    return {
        "text": field.line.text(),
        "party": None
        if party is None
        else {
            "record_type": party.record_type,
            "id": party.id,
            "label": party.label,
            "new": party.new is not None,
        },
    }


def _restore_party(field: PartyField, state: Any, space_id: str) -> None:
    if not isinstance(state, dict):
        return
    chosen = state.get("party")
    party: Party | None = None
    if isinstance(chosen, dict):
        record_type, record_id = str(chosen.get("record_type", "person")), str(chosen["id"])
        label = str(chosen.get("label", ""))
        new = None
        if chosen.get("new"):
            # Same id as before the lock: the person is still created once, on save.
            new = Person(id=record_id, space_id=space_id, name=label, kind=PersonKind.INDIVIDUAL)
        party = Party(record_type, record_id, label, new=new)
    field.choose(party)
    text = str(state.get("text", ""))
    if text != field.line.text():
        field.line.setText(text)  # typed but not yet settled: settles when focus leaves


def _text(state: dict[str, Any], key: str) -> str:
    value = state.get(key, "")
    return value if isinstance(value, str) else ""


def _codes(state: dict[str, Any], key: str) -> tuple[str, ...]:
    value = state.get(key, ())
    return tuple(str(code) for code in value) if isinstance(value, list | tuple) else ()


class IncidentEditor(QDialog, Labelled):
    """Edit one incident and what is recorded under it; save validates everything first.

    Signals:
        saved(str): the incident's id, after everything was written.
        deleted(str): the incident's id, after it and its children were deleted.
    """

    saved = Signal(str)
    deleted = Signal(str)

    def __init__(
        self, profile: Profile, bundle: IncidentBundle, parent: QWidget | None = None
    ) -> None:
        QDialog.__init__(self, parent)
        Labelled.__init__(self)
        self.setObjectName("incidentEditor")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.profile = profile
        self.bundle = bundle
        self.store = RecordStore(profile.engine)
        self.evidence_store = EvidenceStore.of(profile)
        self.actor = device_actor(profile)
        self.incident = bundle.incident
        self.space_id = bundle.incident.space_id
        self.dirty = False
        self.busy = False
        self.imported_here: list[str] = []  # evidence imported before the first save
        self.pending_follow_ups: list[FollowUp] = []
        #: The id this editor's draft is kept under; a reopened draft keeps its own.
        self.draft_id = new_id()
        self.from_draft = False
        self.viewer: EvidenceViewer | None = None
        self.known: dict[str, Party] = {
            record_id: Party(
                "organization" if isinstance(record, Organization) else "person",
                record_id,
                party_label(record),
            )
            for record_id, record in bundle.parties.items()
        }

        self.title_label = heading(self)
        self.summary = QLabel(self)
        self.summary.setObjectName("errorSummary")
        self.summary.setProperty("role", "error")
        self.summary.setWordWrap(True)
        self.summary.hide()
        # A reader's edits would be refused by the server and wait unsent forever: say why
        # saving is off instead (the role comes from the space's verified statements).
        self.read_only = QLabel(self)
        self.read_only.setObjectName("readOnlyNotice")
        self.read_only.setProperty("role", "hint")
        self.read_only.setWordWrap(True)
        self.read_only.hide()
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self._build_event_tab()
        self._build_acts_tab()
        self._build_sources_tab()
        self._build_evidence_tab()
        self._build_follow_up_tab()
        self._build_consent_tab()
        self.tabs.currentChanged.connect(lambda _index: self._refresh_consents())

        self.report_button = QPushButton(self)
        self.report_button.clicked.connect(self.choose_report_path)
        self.delete_button = QPushButton(self)
        self.delete_button.clicked.connect(self.confirm_delete)
        self.discard_button = QPushButton(self)
        self.discard_button.clicked.connect(self.reject)
        self.save_button = QPushButton(self)
        self.save_button.setObjectName("saveIncident")
        self.save_button.setDefault(False)
        self.save_button.setAutoDefault(False)
        self.save_button.clicked.connect(self.save)
        self.status_line = QLabel(self)
        self.status_line.setProperty("role", "hint")
        self.save_action = QAction(self)
        self.save_action.setShortcut(SAVE_SHORTCUT)
        self.save_action.triggered.connect(self.save)
        self.addAction(self.save_action)

        buttons = QHBoxLayout()
        buttons.addWidget(self.report_button)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.status_line, 1)
        buttons.addWidget(self.discard_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        layout.addWidget(self.summary)
        layout.addWidget(self.read_only)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)

        self._load()
        self.retranslate()
        # Each field in its own text's direction (an Arabic narrative runs from the right in
        # a Spanish screen); coordinates and dates have no letters and keep the screen's.
        for field in self.findChildren(QLineEdit) + self.findChildren(QPlainTextEdit):
            # Not where a direction was chosen on purpose (coordinates, date fields).
            chosen = field.testAttribute(Qt.WidgetAttribute.WA_SetLayoutDirection)
            if not isinstance(field.parent(), QComboBox) and not chosen:
                follow_own_direction(field)
        hold_window_size_hints(self, 720)
        self.resize(940, 720)
        self.title.setFocus()

    # --- building -----------------------------------------------------------------------------

    def _build_event_tab(self) -> None:
        page = QWidget()
        self.event_form = form = FieldForm(page)
        self.title = QLineEdit(page)
        self.title.setObjectName("incidentTitle")
        self.kind = Combo(vocab.INCIDENT_KINDS, parent=page)
        self.start = PartialDateEdit(page)
        self.end = PartialDateEdit(page)
        dates = QWidget(page)
        row = QHBoxLayout(dates)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.start)
        self.until = QLabel(page)
        row.addWidget(self.until)
        row.addWidget(self.end)
        self.country = Combo(
            vocab.COUNTRIES, none_label=N_("Choose a country…"), by_label=True, parent=page
        )
        self.region = Combo(vocab.COUNTRIES, none_label=N_("No region"), parent=page)
        self.region.set_parent_code("")
        self.country.code_changed.connect(self._country_changed)
        self.place = QLineEdit(page)
        self.latitude = QLineEdit(page)
        self.longitude = QLineEdit(page)
        coordinates = QWidget(page)
        row = QHBoxLayout(coordinates)
        row.setContentsMargins(0, 0, 0, 0)
        for field in (self.latitude, self.longitude):
            field.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
            row.addWidget(field)
        self.rights = CodeChecklist(vocab.RIGHTS, page)
        self.rights.setMinimumHeight(170)
        self.capture_forms = CodeChecklist(vocab.CORPORATE_CAPTURE, page)
        self.capture_forms.setMinimumHeight(130)
        self.narrative = QPlainTextEdit(page)
        self.narrative.setTabChangesFocus(True)
        self.narrative.setMinimumHeight(110)
        self.impact = QPlainTextEdit(page)
        self.impact.setTabChangesFocus(True)
        self.impact.setMinimumHeight(70)
        self.status = Combo(vocab.INCIDENT_STATUSES, parent=page)
        self.confidentiality = Combo(vocab.CONFIDENTIALITY_LEVELS, parent=page)
        form.row("title", N_("Title"), self.title, limit=TITLE_LIMIT)
        form.row("kind", N_("Kind"), self.kind)
        form.row("start_date", N_("When (from, until)"), dates, also=("end_date",))
        form.row("country", N_("Country"), self.country)
        form.row("region", N_("Region"), self.region)
        form.row("place", N_("Place"), self.place)
        form.row("latitude", N_("Coordinates (optional)"), coordinates, also=("longitude",))
        self.rights_caption = form.row("rights", N_("Rights affected"), self.rights)
        self.capture_caption = form.row(
            "capture_forms", N_("Forms of corporate capture"), self.capture_forms
        )
        form.row("narrative", N_("What happened"), self.narrative)
        form.row("impact", N_("Impact"), self.impact)
        form.row("status", N_("Status"), self.status)
        form.row("confidentiality", N_("Confidentiality"), self.confidentiality)
        self.kind.code_changed.connect(lambda _code: self._show_capture_forms())
        for widget in (self.title, self.start, self.end, self.place, self.latitude):
            widget.textEdited.connect(self._touched)
        self.longitude.textEdited.connect(self._touched)
        for text in (self.narrative, self.impact):
            text.textChanged.connect(self._touched)
        for combo in (self.kind, self.country, self.region, self.status, self.confidentiality):
            combo.activated.connect(self._touched)
        self.rights.codes_changed.connect(self._touched)
        self.capture_forms.codes_changed.connect(self._touched)
        self.event_page = _scrolling(page)
        self.tabs.addTab(self.event_page, "")

    def _build_acts_tab(self) -> None:
        self.acts = CardList(N_("Add an act"))
        self.acts.add_button.clicked.connect(lambda: self.add_act())
        self.acts.changed.connect(self._touched)
        self.acts.changed.connect(self._refresh_consents)
        self.acts_page = _scrolling(self.acts)
        self.tabs.addTab(self.acts_page, "")

    def _build_sources_tab(self) -> None:
        self.sources = CardList(N_("Add a source"))
        self.sources.add_button.clicked.connect(lambda: self.add_source())
        self.sources.changed.connect(self._touched)
        self.sources.changed.connect(self._refresh_consents)
        self.sources_page = _scrolling(self.sources)
        self.tabs.addTab(self.sources_page, "")

    def _build_evidence_tab(self) -> None:
        page = QWidget()
        self.evidence_table = QTableWidget(0, 4, page)
        self.evidence_table.setObjectName("evidenceTable")
        self.evidence_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.evidence_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.evidence_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.evidence_table.verticalHeader().hide()
        header = self.evidence_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.evidence_table.itemSelectionChanged.connect(self._show_custody)
        self.evidence_table.doubleClicked.connect(lambda _index: self.view_evidence())
        self.import_button = QPushButton(page)
        self.import_button.clicked.connect(self.choose_files)
        self.view_button = QPushButton(page)
        self.view_button.clicked.connect(self.view_evidence)
        self.export_button = QPushButton(page)
        self.export_button.clicked.connect(self.choose_export_path)
        self.remove_evidence_button = QPushButton(page)
        self.remove_evidence_button.clicked.connect(self.confirm_remove_evidence)
        self.import_progress = QProgressBar(page)
        self.import_progress.hide()
        self.evidence_message = ErrorLine(page)
        self.custody_caption = QLabel(page)
        self.custody_table = QTableWidget(0, 4, page)
        self.custody_table.setObjectName("custodyTable")
        self.custody_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.custody_table.verticalHeader().hide()
        self.custody_table.horizontalHeader().setStretchLastSection(True)
        self.custody_caption.setBuddy(self.custody_table)
        buttons = QHBoxLayout()
        for button in (
            self.import_button,
            self.view_button,
            self.export_button,
            self.remove_evidence_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(page)
        layout.addLayout(buttons)
        layout.addWidget(self.import_progress)
        layout.addWidget(self.evidence_message)
        layout.addWidget(self.evidence_table, 2)
        layout.addWidget(self.custody_caption)
        layout.addWidget(self.custody_table, 1)
        self.evidence_page = page
        self.tabs.addTab(page, "")

    def _build_follow_up_tab(self) -> None:
        page = QWidget()
        self.timeline = QListWidget(page)
        self.timeline.setObjectName("followUpTimeline")
        self.timeline.setWordWrap(True)
        self.follow_up_form = form = FieldForm()
        self.follow_up_kind = Combo(vocab.FOLLOW_UP_KINDS, parent=page)
        self.follow_up_date = PartialDateEdit(page)
        self.follow_up_counterpart = QLineEdit(page)
        self.follow_up_summary = QPlainTextEdit(page)
        self.follow_up_summary.setTabChangesFocus(True)
        self.follow_up_summary.setFixedHeight(70)
        self.add_follow_up_button = QPushButton(page)
        self.add_follow_up_button.clicked.connect(self.add_follow_up)
        form.row("kind", N_("Step"), self.follow_up_kind)
        form.row("occurred_on", N_("Date"), self.follow_up_date)
        form.row("counterpart", N_("With whom"), self.follow_up_counterpart)
        form.row("summary", N_("Summary"), self.follow_up_summary)
        form.addRow("", self.add_follow_up_button)
        self.timeline_caption = QLabel(page)
        self.timeline_caption.setWordWrap(True)
        self.timeline_caption.setProperty("role", "hint")
        layout = QVBoxLayout(page)
        layout.addWidget(self.timeline_caption)
        layout.addWidget(self.timeline, 1)
        layout.addLayout(form)
        self.follow_up_page = page
        self.tabs.addTab(page, "")

    def _build_consent_tab(self) -> None:
        page = QWidget()
        self.consent_intro = QLabel(page)
        self.consent_intro.setWordWrap(True)
        self.consent_warning = ErrorLine(page)
        self.consent_warning.setObjectName("consentWarning")
        self.consent_rows: dict[str, ConsentRow] = {}
        self.consent_column = QVBoxLayout()
        self.no_consents = QLabel(page)
        self.no_consents.setProperty("role", "hint")
        layout = QVBoxLayout(page)
        layout.addWidget(self.consent_intro)
        layout.addWidget(self.consent_warning)
        layout.addWidget(self.no_consents)
        layout.addLayout(self.consent_column)
        layout.addStretch(1)
        self.consent_page = _scrolling(page)
        self.tabs.addTab(self.consent_page, "")

    # --- loading ------------------------------------------------------------------------------

    def _load(self) -> None:
        incident = self.incident
        blockers = [QSignalBlocker(w) for w in self.findChildren(QWidget)]
        self.title.setText(incident.title)
        self.kind.set_code(incident.kind.value)
        self.start.set_value(incident.start_date)
        self.end.set_value(incident.end_date)
        self.country.set_code(incident.country)
        self.region.set_parent_code(incident.country or "")
        self.region.set_code(incident.region)
        self.place.setText(incident.place)
        self.latitude.setText("" if incident.latitude is None else str(incident.latitude))
        self.longitude.setText("" if incident.longitude is None else str(incident.longitude))
        self.rights.set_codes(incident.rights)
        self.capture_forms.set_codes(incident.capture_forms)
        self.narrative.setPlainText(incident.narrative)
        self.impact.setPlainText(incident.impact)
        self.status.set_code(incident.status.value)
        self.confidentiality.set_code(incident.confidentiality.value)
        del blockers
        for act in self.bundle.acts:
            self.add_act(act)
        for source in self.bundle.sources:
            self.add_source(source)
        self._show_evidence()
        self._show_timeline()
        self._refresh_consents()
        self._show_capture_forms()
        self.dirty = False

    def add_act(self, act: Act | None = None) -> ActCard:
        card = ActCard(self.store, self.incident.id, self.space_id, act, self.known)
        self.acts.add(card)
        card.victim.party_changed.connect(self._refresh_consents)
        if act is None:
            card.add_perpetrator()
            card.victim.setFocus()
        return card

    def add_source(self, source: Source | None = None) -> SourceCard:
        card = SourceCard(self.store, self.incident.id, self.space_id, source, self.known)
        self.sources.add(card)
        card.who.party_changed.connect(self._refresh_consents)
        if source is None:
            card.who.setFocus()
        return card

    def _country_changed(self, code: str) -> None:
        self.region.set_parent_code(code or "")
        if not code:
            self.region.set_code("")

    def _show_capture_forms(self) -> None:
        shown = self.kind.code() == IncidentKind.CORPORATE_CAPTURE.value
        self.capture_forms.setVisible(shown)
        self.capture_caption.setVisible(shown)

    def _touched(self, *_args: Any) -> None:
        self.dirty = True

    # --- consent ------------------------------------------------------------------------------

    def named_people(self) -> list[Party]:
        """Victims and the people who told of it (organizations need no consent), in order."""
        found: dict[str, Party] = {}
        for card in self.acts.cards:
            party = card.victim.party if isinstance(card, ActCard) else None
            if party is not None and party.record_type == "person":
                found[party.id] = party
        for card in self.sources.cards:
            party = card.who.party if isinstance(card, SourceCard) else None
            if party is not None and party.record_type == "person":
                found[party.id] = party
        return list(found.values())

    def _refresh_consents(self) -> None:
        people = self.named_people()
        wanted = {party.id for party in people}
        for person_id in list(self.consent_rows):
            if person_id not in wanted:
                row = self.consent_rows.pop(person_id)
                row.hide()
                row.deleteLater()
        for index, party in enumerate(people):
            row = self.consent_rows.get(party.id)
            if row is None:
                row = ConsentRow(party)
                row.set_consent(self.incident.consent_of(party.id))
                row.changed.connect(self._touched)
                row.changed.connect(self._show_consent_warning)
                self.consent_rows[party.id] = row
            else:
                row.party = party
                row.name.setText(party.label)
            self.consent_column.insertWidget(index, row)
        self.no_consents.setVisible(not people)
        self._show_consent_warning()

    def _consents(self, errors: list[FieldError]) -> tuple[Any, ...]:
        found = []
        for index, row in enumerate(self.consent_rows.values()):
            consent = row.consent(errors, f"consents[{index}]")
            if consent is not None:
                found.append(consent)
        return tuple(found)

    def _show_consent_warning(self) -> None:
        scratch: list[FieldError] = []
        incident = changed_copy(self.incident, consents=self._consents(scratch))
        acts = [
            Act(space_id=self.space_id, incident_id=incident.id, victim_id=p.id)
            for p in self.named_people()
        ]
        problems = consent_errors(incident, acts, [])
        self.consent_warning.say(" ".join(p.message for p in problems))

    # --- saving -------------------------------------------------------------------------------

    def build(self) -> tuple[list[Record], list[FieldError]]:
        """Every record to save (new people first), and every problem found, by field."""
        errors: list[FieldError] = []
        consents = self._consents(errors)
        values: dict[str, Any] = {
            "title": self.title.text().strip(),
            "kind": IncidentKind(self.kind.code()),
            "start_date": read_date(self.start, "start_date", errors),
            "end_date": read_date(self.end, "end_date", errors),
            "country": self.country.code(),
            "region": self.region.code(),
            "place": self.place.text().strip(),
            "latitude": _number(self.latitude.text(), "latitude", errors),
            "longitude": _number(self.longitude.text(), "longitude", errors),
            "rights": self.rights.codes(),
            "capture_forms": self.capture_forms.codes()
            if self.kind.code() == IncidentKind.CORPORATE_CAPTURE.value
            else (),
            "narrative": self.narrative.toPlainText(),
            "impact": self.impact.toPlainText(),
            "status": IncidentStatus(self.status.code()),
            "confidentiality": Confidentiality(self.confidentiality.code()),
            "consents": consents,
        }
        incident = (
            Incident(id=self.incident.id, space_id=self.space_id, **values)
            if self.bundle.is_new
            else changed_copy(self.incident, **values)
        )
        parsed = {e.field for e in errors}
        errors += [e for e in incident.validate() if e.field not in parsed]
        children: list[Record] = []
        parties: list[Party] = []
        for prefix, cards in (("acts", self.acts.cards), ("sources", self.sources.cards)):
            for index, card in enumerate(cards):
                assert isinstance(card, ActCard | SourceCard)
                card_errors: list[FieldError] = []
                record = card.build(card_errors)
                seen = {e.field for e in card_errors}
                card_errors += [e for e in record.validate() if e.field not in seen]
                if isinstance(card, ActCard) and card.victim.party is None:
                    card_errors = [
                        FieldError("victim_id", e.code, _("Name the victim or choose a person."))
                        if e.field == "victim_id"
                        else e
                        for e in card_errors
                    ]
                errors += [
                    FieldError(f"{prefix}[{index}].{e.field}", e.code, e.message)
                    for e in card_errors
                ]
                children.append(record)
                parties += card.parties()
        people = new_people(parties)
        for person in people:
            errors += [
                FieldError(f"people.{e.field}", e.code, e.message) for e in person.validate()
            ]
        records: list[Record] = [*people, incident, *children, *self.pending_follow_ups]
        return records, errors

    def show_errors(self, errors: list[FieldError]) -> None:
        event = [e for e in errors if "." not in e.field or e.field.startswith("consents")]
        unplaced = self.event_form.show_errors(
            [e for e in event if not e.field.startswith("consents")]
        )
        for row in self.consent_rows.values():
            row.error.say("")
        rows = list(self.consent_rows.values())
        for error in event:
            if error.field.startswith("consents["):
                index = int(error.field[len("consents[") :].split("]")[0])
                if index < len(rows):
                    rows[index].error.say(error.message)
        for prefix, cards in (("acts", self.acts.cards), ("sources", self.sources.cards)):
            for index, card in enumerate(cards):
                start = f"{prefix}[{index}]."
                mine = [
                    FieldError(e.field[len(start) :], e.code, e.message)
                    for e in errors
                    if e.field.startswith(start)
                ]
                assert isinstance(card, ActCard | SourceCard)
                card.show_errors(mine)
        del unplaced
        if not errors:
            self.summary.hide()
            return
        tabs = self._tabs_with_errors(errors)
        lines = [
            ngettext_problems(len(errors)),
            _("Look at: {tabs}").format(tabs=", ".join(tabs)),
        ]
        # Each problem after the name of its field: "This field is required." alone said
        # nothing about which one.
        lines += [
            _("• {field}: {problem}").format(field=field_label(e.field), problem=e.message)
            for e in errors[:6]
        ]
        self.summary.setText("\n".join(lines))
        self.summary.show()

    def _tabs_with_errors(self, errors: list[FieldError]) -> list[str]:
        names: dict[str, None] = {}
        for error in errors:
            if error.field.startswith("acts["):
                names[self.tabs.tabText(1)] = None
            elif error.field.startswith("sources["):
                names[self.tabs.tabText(2)] = None
            elif error.field.startswith("consents["):
                names[self.tabs.tabText(5)] = None
            else:
                names[self.tabs.tabText(0)] = None
        return list(names)

    @property
    def can_save(self) -> bool:
        return self.bundle.access.can_write

    def save(self) -> None:
        if self.busy or self.profile.closed or not self.can_save:
            return
        records, errors = self.build()
        self.show_errors(errors)
        if errors:
            self.status_line.setText("")
            return
        removed = self.acts.removed + self.sources.removed
        store, draft_id = self.store, self.draft_id if self.from_draft else None
        engine = self.profile.engine

        def work(_state: JobState) -> None:
            save_bundle(store, records, removed)
            if draft_id is not None:
                DraftStore(engine).discard(draft_id)  # what it kept is saved now

        self._set_busy(True, _("Saving…"))
        run_job(
            self,
            work,
            writes=True,
            on_success=lambda _result: self._saved(),
            on_failure=self._failed,
        )

    def _saved(self) -> None:
        self._set_busy(False, "")
        self.dirty = False
        self.imported_here.clear()
        self.saved.emit(self.incident.id)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self._set_busy(False, "")
        if self.profile.closed:
            return
        errors = getattr(error, "errors", None)
        if isinstance(errors, list) and errors:
            self.show_errors(errors)
        else:
            self.summary.setText(failure_message(error))
            self.summary.show()

    def _set_busy(self, busy: bool, message: str) -> None:
        self.busy = busy
        self.status_line.setText(message)
        for button in (self.save_button, self.delete_button, self.discard_button):
            button.setEnabled(not busy)
        self._apply_access()

    def _apply_access(self) -> None:
        """Saving, deleting and importing off, with the reason, where this device only reads."""
        reason = read_only_reason(self.bundle.access)
        # Saving works where edits are only held back, but the person must know they wait.
        note = reason or held_note(self.bundle.access)
        self.read_only.setText(note or "")
        self.read_only.setVisible(note is not None)
        if reason is not None:
            for button in (self.save_button, self.delete_button, self.import_button):
                button.setEnabled(False)
                button.setToolTip(reason)
            self.save_action.setEnabled(False)

    # --- drafts -------------------------------------------------------------------------------

    def form_state(self) -> dict[str, Any]:
        """Every field as typed, JSON-ready: nothing parsed or validated, so nothing is lost."""
        acts = []
        for card in self.acts.cards:
            assert isinstance(card, ActCard)
            acts.append(
                {
                    "original": card.original.id if card.original is not None else None,
                    "victim": _party_state(card.victim),
                    "act_type": card.act_type.code(),
                    "start": card.start.text(),
                    "end": card.end.text(),
                    "notes": card.notes.toPlainText(),
                    "involvements": [
                        {
                            "perpetrator": _party_state(row.perpetrator),
                            "perpetrator_type": row.perpetrator_type.code(),
                            "degree": row.degree.code(),
                        }
                        for row in card.involvements
                    ],
                }
            )
        sources = []
        for card in self.sources.cards:
            assert isinstance(card, SourceCard)
            sources.append(
                {
                    "original": card.original.id if card.original is not None else None,
                    "who": _party_state(card.who),
                    "source_type": card.source_type.code(),
                    "reliability": card.reliability.code(),
                    "reported_on": card.reported_on.text(),
                    "language": card.language.code(),
                    "summary": card.summary.toPlainText(),
                }
            )
        return {
            "event": {
                "title": self.title.text(),
                "kind": self.kind.code(),
                "start": self.start.text(),
                "end": self.end.text(),
                "country": self.country.code(),
                "region": self.region.code(),
                "place": self.place.text(),
                "latitude": self.latitude.text(),
                "longitude": self.longitude.text(),
                "rights": list(self.rights.codes()),
                "capture_forms": list(self.capture_forms.codes()),
                "narrative": self.narrative.toPlainText(),
                "impact": self.impact.toPlainText(),
                "status": self.status.code(),
                "confidentiality": self.confidentiality.code(),
            },
            "acts": acts,
            "sources": sources,
            "removed_acts": list(self.acts.removed),
            "removed_sources": list(self.sources.removed),
            "consents": {
                person_id: {
                    "level": row.level.code(),
                    "recorded_on": row.recorded_on.text(),
                    "note": row.note.text(),
                }
                for person_id, row in self.consent_rows.items()
            },
            "pending_follow_ups": [to_dict(entry) for entry in self.pending_follow_ups],
            "follow_up": {
                "kind": self.follow_up_kind.code(),
                "date": self.follow_up_date.text(),
                "counterpart": self.follow_up_counterpart.text(),
                "summary": self.follow_up_summary.toPlainText(),
            },
            "imported_here": list(self.imported_here),
            "tab": self.tabs.currentIndex(),
        }

    def draft(self) -> Draft | None:
        """What to keep if the lock closes this editor now; None when nothing was changed."""
        if not self.changed and not self.from_draft:
            return None
        typed = self.title.text().strip()
        return Draft(
            editor=DRAFT_EDITOR,
            space_id=self.space_id,
            record_id=self.incident.id,
            is_new=self.bundle.is_new,
            label=typed or ("" if self.bundle.is_new else self.incident.title),
            state=self.form_state(),
            id=self.draft_id,
        )

    def restore_draft(self, draft: Draft) -> None:
        """Show ``draft``'s fields exactly as they were typed; saving or discarding ends it."""
        self.draft_id = draft.id
        self.from_draft = True
        state = draft.state
        event = state.get("event")
        event = event if isinstance(event, dict) else {}
        blockers = [QSignalBlocker(w) for w in (self.title, self.narrative, self.impact)]
        self.title.setText(_text(event, "title"))
        self.kind.set_code(_text(event, "kind"))
        self.start.setText(_text(event, "start"))
        self.end.setText(_text(event, "end"))
        self.country.set_code(_text(event, "country"))
        self.region.set_parent_code(_text(event, "country"))
        self.region.set_code(_text(event, "region"))
        self.place.setText(_text(event, "place"))
        self.latitude.setText(_text(event, "latitude"))
        self.longitude.setText(_text(event, "longitude"))
        self.rights.set_codes(_codes(event, "rights"))
        self.capture_forms.set_codes(_codes(event, "capture_forms"))
        self.narrative.setPlainText(_text(event, "narrative"))
        self.impact.setPlainText(_text(event, "impact"))
        self.status.set_code(_text(event, "status"))
        self.confidentiality.set_code(_text(event, "confidentiality"))
        del blockers
        self._restore_cards(state)
        consents = state.get("consents")
        if isinstance(consents, dict):
            for person_id, row in self.consent_rows.items():
                kept = consents.get(person_id)
                if isinstance(kept, dict):
                    row.level.set_code(_text(kept, "level"))
                    row.recorded_on.setText(_text(kept, "recorded_on"))
                    row.note.setText(_text(kept, "note"))
        pending = state.get("pending_follow_ups")
        self.pending_follow_ups = [
            entry
            for entry in (from_dict(data) for data in (pending or []) if isinstance(data, dict))
            if isinstance(entry, FollowUp)
        ]
        follow_up = state.get("follow_up")
        follow_up = follow_up if isinstance(follow_up, dict) else {}
        self.follow_up_kind.set_code(_text(follow_up, "kind"))
        self.follow_up_date.setText(_text(follow_up, "date"))
        self.follow_up_counterpart.setText(_text(follow_up, "counterpart"))
        self.follow_up_summary.setPlainText(_text(follow_up, "summary"))
        known = {e.id for e in self.bundle.evidence}
        self.imported_here = [i for i in _codes(state, "imported_here") if i in known]
        self._show_timeline()
        self._show_capture_forms()
        self._show_consent_warning()
        tab = state.get("tab")
        if isinstance(tab, int) and 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)
        self.dirty = True  # what is shown differs from what is saved

    def _restore_cards(self, state: dict[str, Any]) -> None:
        originals: dict[str, Record] = {r.id: r for r in (*self.bundle.acts, *self.bundle.sources)}
        self.acts.clear()
        self.sources.clear()
        for kept in state.get("acts") or []:
            if not isinstance(kept, dict):
                continue
            original = originals.get(str(kept.get("original")))
            card = self.add_act(original if isinstance(original, Act) else None)
            _restore_party(card.victim, kept.get("victim"), self.space_id)
            card.act_type.set_code(_text(kept, "act_type"))
            card.start.setText(_text(kept, "start"))
            card.end.setText(_text(kept, "end"))
            card.notes.setPlainText(_text(kept, "notes"))
            rows = [r for r in kept.get("involvements") or [] if isinstance(r, dict)]
            while len(card.involvements) < len(rows):
                card.add_perpetrator()
            for extra in card.involvements[len(rows) :]:
                extra.remove_requested.emit()
            for row, row_state in zip(card.involvements, rows, strict=False):
                _restore_party(row.perpetrator, row_state.get("perpetrator"), self.space_id)
                row.perpetrator_type.set_code(_text(row_state, "perpetrator_type"))
                row.degree.set_code(_text(row_state, "degree"))
        for kept in state.get("sources") or []:
            if not isinstance(kept, dict):
                continue
            original = originals.get(str(kept.get("original")))
            source = self.add_source(original if isinstance(original, Source) else None)
            _restore_party(source.who, kept.get("who"), self.space_id)
            source.source_type.set_code(_text(kept, "source_type"))
            source.reliability.set_code(_text(kept, "reliability"))
            source.reported_on.setText(_text(kept, "reported_on"))
            source.language.set_code(_text(kept, "language"))
            source.summary.setPlainText(_text(kept, "summary"))
        self.acts.removed = [i for i in _codes(state, "removed_acts") if i in originals]
        self.sources.removed = [i for i in _codes(state, "removed_sources") if i in originals]
        self._refresh_consents()

    # --- discarding and deleting --------------------------------------------------------------

    @property
    def changed(self) -> bool:
        return self.dirty or bool(self.pending_follow_ups) or bool(self.imported_here)

    def reject(self) -> None:
        if self.profile.closed or not self.changed:
            self._discard()
            return
        self._ask(
            _("Discard your changes to this incident?"),
            _("What you typed since the last save will be lost."),
            _("Discard changes"),
            self._discard,
        )

    def _discard(self) -> None:
        if self.from_draft and not self.profile.closed:
            # Discarding a reopened draft is discarding the draft; a lock keeps it instead.
            engine, draft_id = self.profile.engine, self.draft_id
            run_job(None, lambda _state: DraftStore(engine).discard(draft_id), writes=True)
            self.from_draft = False
        if self.imported_here and not self.profile.closed:
            # Files imported into an incident that was never saved must not stay behind.
            doomed, evidence_store = list(self.imported_here), self.evidence_store
            run_job(
                None,
                lambda _state: [evidence_store.delete(i) for i in doomed],
                writes=True,
            )
            self.imported_here.clear()
        QDialog.reject(self)

    def confirm_delete(self) -> None:
        if not self.can_save:
            return
        if self.bundle.is_new:
            self.reject()
            return
        self._ask(
            _("Delete this incident?"),
            _(
                "The incident, its acts, sources, evidence files and follow-ups will be "
                "deleted from this computer, and from the network at the next sync."
            ),
            _("Delete incident"),
            self._delete,
        )

    def _delete(self) -> None:
        evidence_store, incident_id = self.evidence_store, self.incident.id
        engine, draft_id = self.profile.engine, self.draft_id if self.from_draft else None

        def work(_state: JobState) -> None:
            evidence_store.delete_incident(incident_id)
            if draft_id is not None:
                DraftStore(engine).discard(draft_id)

        self._set_busy(True, _("Deleting…"))
        run_job(
            self,
            work,
            writes=True,
            on_success=lambda _result: self._deleted(),
            on_failure=self._failed,
        )

    def _deleted(self) -> None:
        self._set_busy(False, "")
        self.dirty = False
        self.deleted.emit(self.incident.id)
        QDialog.reject(self)

    def _ask(self, question: str, detail: str, action: str, then: Any) -> Confirmation:
        box = Confirmation(question, detail, action, self)
        box.confirmed.connect(then)
        box.open()
        return box

    # --- evidence -----------------------------------------------------------------------------

    def _show_evidence(self) -> None:
        table = self.evidence_table
        selected = self.selected_evidence()
        table.setRowCount(len(self.bundle.evidence))
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        for row, evidence in enumerate(self.bundle.evidence):
            cells = [
                evidence.filename,
                describe_size(evidence.size),
                evidence.media_type,
                evidence.sha256,
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, evidence.id)
                if column == 3:
                    item.setFont(mono)
                    item.setToolTip(text)
                table.setItem(row, column, item)
        if selected is not None:
            self.select_evidence(selected.id)
        elif self.bundle.evidence:
            table.setCurrentCell(0, 0)  # selectRow misses in right-to-left before layout
        self._show_custody()

    def selected_evidence(self) -> Evidence | None:
        row = self.evidence_table.currentRow()
        if 0 <= row < len(self.bundle.evidence):
            return self.bundle.evidence[row]
        return None

    def select_evidence(self, evidence_id: str) -> None:
        for row, evidence in enumerate(self.bundle.evidence):
            if evidence.id == evidence_id:
                self.evidence_table.setCurrentCell(row, 0)

    def _show_custody(self) -> None:
        evidence = self.selected_evidence()
        entries = evidence.custody if evidence is not None else ()
        self.custody_table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            cells = [
                format_moment(entry.at),
                entry.actor,
                vocabulary_label(vocab.CUSTODY_ACTIONS, entry.action),
                entry.note,
            ]
            for column, text in enumerate(cells):
                self.custody_table.setItem(row, column, QTableWidgetItem(text))
        self.custody_table.resizeColumnsToContents()
        has = evidence is not None
        for button in (self.view_button, self.export_button, self.remove_evidence_button):
            button.setEnabled(has and not self.busy)

    def _replace_evidence(self, evidence: Evidence) -> None:
        items = self.bundle.evidence
        for index, old in enumerate(items):
            if old.id == evidence.id:
                items[index] = evidence
                break
        else:
            items.append(evidence)
        self._show_evidence()
        self.select_evidence(evidence.id)

    def choose_files(self) -> None:
        paths, _filter = QFileDialog.getOpenFileNames(self, _("Import evidence files"))
        if paths:
            self.import_files([Path(p) for p in paths])

    def import_files(self, paths: list[Path]) -> None:
        """Seal each file into the vault on the write worker, reporting progress per file."""
        if not self.can_save:
            return  # dropped files too: evidence is a record of the space
        evidence_store, incident, actor = self.evidence_store, self.incident, self.actor

        def work(state: JobState) -> tuple[list[Evidence], list[str]]:
            done: list[Evidence] = []
            warnings: list[str] = []
            for index, path in enumerate(paths):
                if state.cancelled:
                    break
                state.report(index, len(paths), path.name)
                # The type its content shows, not its name: evidence is kept as it is (it may
                # matter that it is damaged), and the person is told it is not what it says.
                kind = kind_of_file(path)
                if kind.mislabelled:
                    warnings.append(mislabelled_text(path.name, kind))
                done.append(
                    evidence_store.import_file(
                        incident, path, actor=actor, media_type=kind.media_type
                    )
                )
            state.report(len(paths), len(paths), "")
            return done, warnings

        self.evidence_message.say("")
        self.import_progress.setRange(0, len(paths))
        self.import_progress.setValue(0)
        self.import_progress.show()
        self.import_button.setEnabled(False)
        run_job(
            self,
            work,
            writes=True,
            on_success=self._imported,
            on_failure=self._evidence_failed,
            on_progress=lambda done, _total, _note: self.import_progress.setValue(done),
        )

    def _imported(self, found: tuple[list[Evidence], list[str]]) -> None:
        added, warnings = found
        self.import_progress.hide()
        self.import_button.setEnabled(True)
        if warnings:
            self.evidence_message.say("\n".join(warnings))
        for evidence in added:
            if self.bundle.is_new:
                self.imported_here.append(evidence.id)
            self._replace_evidence(evidence)

    def _evidence_failed(self, error: BaseException) -> None:
        self.import_progress.hide()
        self.import_button.setEnabled(True)
        if not self.profile.closed:
            self.evidence_message.say(failure_message(error))

    def view_evidence(self) -> None:
        evidence = self.selected_evidence()
        if evidence is None:
            return
        evidence_store, actor = self.evidence_store, self.actor
        # Opening appends to the custody log: a write, so it queues with the others.
        run_job(
            self,
            lambda _state: evidence_store.open(evidence.id, actor=actor),
            writes=True,
            on_success=self._show_viewer,
            on_failure=self._evidence_failed,
        )

    def _show_viewer(self, opened: OpenedEvidence) -> None:
        self._replace_evidence(opened.evidence)
        viewer = EvidenceViewer(opened.evidence, opened.data, self)
        del opened
        self.viewer = viewer
        viewer.finished.connect(lambda _result: setattr(self, "viewer", None))
        viewer.open()

    def choose_export_path(self) -> None:
        evidence = self.selected_evidence()
        if evidence is None:
            return
        path, _filter = QFileDialog.getSaveFileName(
            self, _("Export evidence file"), evidence.filename
        )
        if path:
            self.export_evidence(Path(path))

    def export_evidence(self, destination: Path) -> None:
        evidence = self.selected_evidence()
        if evidence is None:
            return
        evidence_store, actor = self.evidence_store, self.actor
        run_job(
            self,
            lambda _state: evidence_store.export(evidence.id, destination, actor=actor),
            writes=True,
            on_success=self._replace_evidence,
            on_failure=self._evidence_failed,
        )

    def confirm_remove_evidence(self) -> None:
        evidence = self.selected_evidence()
        if evidence is None:
            return
        self._ask(
            _("Delete the evidence file “{filename}”?").format(filename=evidence.filename),
            _("The encrypted file and its custody log will be deleted from this computer."),
            _("Delete file"),
            lambda: self._remove_evidence(evidence),
        )

    def _remove_evidence(self, evidence: Evidence) -> None:
        evidence_store = self.evidence_store

        def removed(_result: object) -> None:
            self.bundle.evidence = [e for e in self.bundle.evidence if e.id != evidence.id]
            if evidence.id in self.imported_here:
                self.imported_here.remove(evidence.id)
            self._show_evidence()

        run_job(
            self,
            lambda _state: evidence_store.delete(evidence.id),
            writes=True,
            on_success=removed,
            on_failure=self._evidence_failed,
        )

    # --- follow-ups ---------------------------------------------------------------------------

    def _show_timeline(self) -> None:
        self.timeline.clear()
        for entry in self.bundle.follow_ups:
            self.timeline.addItem(self._timeline_text(entry))
        for entry in self.pending_follow_ups:
            self.timeline.addItem(
                _("{entry} (saved with the incident)").format(entry=self._timeline_text(entry))
            )

    @staticmethod
    def _timeline_text(entry: FollowUp) -> str:
        parts = [
            describe_partial(entry.occurred_on),
            vocabulary_label(vocab.FOLLOW_UP_KINDS, entry.kind.value),
            entry.counterpart,
        ]
        head = " · ".join(p for p in parts if p)
        return f"{head}\n{entry.summary}"

    def add_follow_up(self) -> FollowUp | None:
        """Add the entry typed below the timeline; it is saved with the incident."""
        errors: list[FieldError] = []
        entry = FollowUp(
            space_id=self.space_id,
            incident_id=self.incident.id,
            kind=FollowUpKind(self.follow_up_kind.code()),
            occurred_on=read_date(self.follow_up_date, "occurred_on", errors),
            counterpart=self.follow_up_counterpart.text().strip(),
            summary=self.follow_up_summary.toPlainText().strip(),
        )
        parsed = {e.field for e in errors}
        errors += [e for e in entry.validate() if e.field not in parsed]
        self.follow_up_form.show_errors(errors)
        if errors:
            return None
        self.pending_follow_ups.append(entry)
        self.follow_up_date.clear()
        self.follow_up_counterpart.clear()
        self.follow_up_summary.clear()
        self._show_timeline()
        return entry

    # --- report -------------------------------------------------------------------------------

    def choose_report_path(self) -> None:
        suggested = f"{self.incident.title or 'incident'}.pdf"
        path, _filter = QFileDialog.getSaveFileName(
            self, _("Export a PDF report"), suggested, _("PDF documents (*.pdf)")
        )
        if path:
            self.export_report(Path(path))

    def export_report(self, destination: Path) -> None:
        """Write the saved version of this incident as a PDF report at ``destination``."""
        store, incident_id = self.store, self.incident.id

        def work(_state: JobState) -> Path:
            write_report(load_bundle(store, incident_id), destination)
            return destination

        self.status_line.setText(_("Writing the report…"))
        run_job(self, work, on_success=self._reported, on_failure=self._failed)

    def _reported(self, destination: Path) -> None:
        self.status_line.setText(_("Report saved as {filename}.").format(filename=destination.name))

    # --- language -----------------------------------------------------------------------------

    def retranslate(self) -> None:
        self.relabel()
        self.event_form.relabel()
        self.follow_up_form.relabel()
        self.acts.relabel()
        self.sources.relabel()
        self.setWindowTitle(_("Incident — Minga"))
        self.title_label.setText(
            self.incident.title if not self.bundle.is_new else _("New incident")
        )
        self.title.setPlaceholderText(_("A short title: what happened, where"))
        self.until.setText(_("until"))
        self.place.setPlaceholderText(_("Village, neighbourhood, river, road…"))
        self.latitude.setPlaceholderText(_("Latitude, e.g. -12.0464"))
        self.longitude.setPlaceholderText(_("Longitude, e.g. -77.0428"))
        self.narrative.setPlaceholderText(
            _("What happened, in order, as the people affected tell it.")
        )
        self.impact.setPlaceholderText(_("What it changed for the people and the place."))
        for index, name in enumerate(
            (
                N_("Event"),
                N_("Acts"),
                N_("Sources"),
                N_("Evidence"),
                N_("Follow-up"),
                N_("Consent"),
            )
        ):
            self.tabs.setTabText(index, _(name))
        self.acts.empty.setText(_("No act recorded yet: who suffered what, and by whom."))
        self.sources.empty.setText(_("No source recorded yet: who told of this incident."))
        self.evidence_table.setHorizontalHeaderLabels(
            [_("File"), _("Size"), _("Type"), _("SHA-256")]
        )
        self.custody_table.setHorizontalHeaderLabels([_("When"), _("Who"), _("Action"), _("Note")])
        self.custody_caption.setText(_("Chain of custody"))
        self.import_button.setText(_("Import files…"))
        self.view_button.setText(_("View"))
        self.export_button.setText(_("Export…"))
        self.remove_evidence_button.setText(_("Delete file…"))
        self.timeline_caption.setText(
            _(
                "Each step taken after the incident is added to its timeline. Entries are "
                "never changed: to correct one, add another."
            )
        )
        self.add_follow_up_button.setText(_("Add to the timeline"))
        self.consent_intro.setText(
            _(
                "Record what each person named here agreed to: the victims and the people "
                "who told of it. Their names are left out of reports unless they agreed to "
                "be named."
            )
        )
        self.no_consents.setText(
            _("Nobody is named yet. Victims and sources appear here as you add them.")
        )
        self.report_button.setText(_("PDF report…"))
        self.report_button.setToolTip(_("Write the saved version of this incident as a PDF"))
        self.report_button.setEnabled(not self.bundle.is_new)
        self.delete_button.setText(_("Delete…"))
        self.delete_button.setEnabled(not self.bundle.is_new)
        self.discard_button.setText(_("Discard"))
        self.discard_button.setToolTip(_("Close without saving (Esc)"))
        self.save_button.setText(_("Save"))
        self.save_button.setToolTip(
            _("Save the incident ({shortcut})").format(
                shortcut=SAVE_SHORTCUT.toString(QKeySequence.SequenceFormat.NativeText)
            )
        )
        self._apply_access()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


def ngettext_problems(count: int) -> str:
    return ngettext(
        "This incident was not saved: {count} thing needs your attention.",
        "This incident was not saved: {count} things need your attention.",
        count,
    ).format(count=format_number(count))
