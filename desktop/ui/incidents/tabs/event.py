"""The Event tab: what happened, when, where, to which rights, and who may see it."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QScrollArea, QWidget

from desktop.domain import vocabularies as vocab
from desktop.domain.record_base import TITLE_LIMIT
from desktop.domain.records import Confidentiality, Incident, IncidentKind, IncidentStatus
from desktop.domain.translation import N_, _
from desktop.domain.validation import FieldError
from desktop.ui.incidents.fields import CodeChecklist, PartialDateEdit
from desktop.ui.incidents.fields import VocabularyCombo as Combo
from desktop.ui.incidents.parts import FieldForm, read_date
from desktop.ui.incidents.tab_parts import kept_codes, kept_text, scroll_over


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


class EventTab(QScrollArea):
    """The incident's own fields; its errors are named by the incident's field names.

    Signals:
        changed(): the person edited a field.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        page = scroll_over(self)
        self.form = form = FieldForm(page)
        self.title = QLineEdit(page)
        self.title.setObjectName("incidentTitle")
        # Nothing chosen for the person: a new incident's kind is theirs to say.
        self.kind = Combo(vocab.INCIDENT_KINDS, prompt=N_("Choose a kind…"), parent=page)
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
            widget.textEdited.connect(self.changed)
        self.longitude.textEdited.connect(self.changed)
        for text in (self.narrative, self.impact):
            text.textChanged.connect(self.changed)
        for combo in (self.kind, self.country, self.region, self.status, self.confidentiality):
            combo.activated.connect(self.changed)
        self.rights.codes_changed.connect(self.changed)
        self.capture_forms.codes_changed.connect(self.changed)

    def load(self, incident: Incident, *, is_new: bool = False) -> None:
        """Show ``incident``'s saved values (nothing counts as edited); a new one's kind is
        left for the person to choose (the record's default is not their choice)."""
        blockers = [QSignalBlocker(w) for w in self.findChildren(QWidget)]
        self.title.setText(incident.title)
        self.kind.set_code("" if is_new else incident.kind.value)
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
        self._show_capture_forms()

    def _country_changed(self, code: str) -> None:
        self.region.set_parent_code(code or "")
        if not code:
            self.region.set_code("")

    def _show_capture_forms(self) -> None:
        shown = self.kind.code() == IncidentKind.CORPORATE_CAPTURE.value
        self.capture_forms.setVisible(shown)
        self.capture_caption.setVisible(shown)

    def values(self, errors: list[FieldError]) -> dict[str, Any]:
        """The incident's fields as typed; what cannot be read goes into ``errors``."""
        kind = self.kind.code()
        if not kind:
            errors.append(FieldError("kind", "required", _("Choose a value from the list.")))
        return {
            "title": self.title.text().strip(),
            # Until a kind is chosen the incident is checked as a threat to a defender, the
            # kind that requires neither rights nor forms of capture: only the missing choice
            # is reported, not what some kind would have required.
            "kind": IncidentKind(kind) if kind else IncidentKind.THREAT_TO_DEFENDER,
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
        }

    def kept(self) -> dict[str, Any]:
        """Every field as typed, for a draft: nothing parsed, so nothing is lost."""
        return {
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
        }

    def restore(self, kept: Any) -> None:
        """Show what ``kept()`` returned before the lock, exactly as it was typed."""
        event = kept if isinstance(kept, dict) else {}
        blockers = [QSignalBlocker(w) for w in (self.title, self.narrative, self.impact)]
        self.title.setText(kept_text(event, "title"))
        self.kind.set_code(kept_text(event, "kind"))
        self.start.setText(kept_text(event, "start"))
        self.end.setText(kept_text(event, "end"))
        self.country.set_code(kept_text(event, "country"))
        self.region.set_parent_code(kept_text(event, "country"))
        self.region.set_code(kept_text(event, "region"))
        self.place.setText(kept_text(event, "place"))
        self.latitude.setText(kept_text(event, "latitude"))
        self.longitude.setText(kept_text(event, "longitude"))
        self.rights.set_codes(kept_codes(event.get("rights")))
        self.capture_forms.set_codes(kept_codes(event.get("capture_forms")))
        self.narrative.setPlainText(kept_text(event, "narrative"))
        self.impact.setPlainText(kept_text(event, "impact"))
        self.status.set_code(kept_text(event, "status"))
        self.confidentiality.set_code(kept_text(event, "confidentiality"))
        del blockers
        self._show_capture_forms()

    def retranslate(self) -> None:
        self.form.relabel()
        self.title.setPlaceholderText(_("A short title: what happened, where"))
        self.until.setText(_("until"))
        self.place.setPlaceholderText(_("Village, neighbourhood, river, road…"))
        self.latitude.setPlaceholderText(_("Latitude, e.g. -12.0464"))
        self.longitude.setPlaceholderText(_("Longitude, e.g. -77.0428"))
        self.narrative.setPlaceholderText(
            _("What happened, in order, as the people affected tell it.")
        )
        self.impact.setPlaceholderText(_("What it changed for the people and the place."))
