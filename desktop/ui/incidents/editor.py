"""The incident editor: the event, its acts, sources, evidence, follow-ups and consents.

A dialog over the list, so the list keeps its filters and place, and the lock closes it with the
other dialogs. Each tab is a module of ``desktop.ui.incidents.tabs``; this dialog wires them,
builds every record from them, and saves them in one transaction on the write worker. Before the
lock closes it, its fields as typed are kept as a draft (``draft``); ``restore_draft`` puts them
back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.records import Incident, Organization, Record, new_id
from desktop.domain.translation import N_, _, format_number, ngettext
from desktop.domain.validation import FieldError
from desktop.store.drafts import Draft, DraftStore
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.ui.access import held_note, read_only_reason
from desktop.ui.bidi import follow_own_direction
from desktop.ui.field_labels import field_label
from desktop.ui.forms import failure_message, heading, hold_window_size_hints
from desktop.ui.incidents.bundle import IncidentBundle, load_bundle, save_bundle
from desktop.ui.incidents.fields import Party, party_label
from desktop.ui.incidents.parts import Labelled, changed_copy, confirm, new_people
from desktop.ui.incidents.report import write_report
from desktop.ui.incidents.tab_parts import kept_codes
from desktop.ui.incidents.tabs.acts import ActsTab
from desktop.ui.incidents.tabs.consents import ConsentTab
from desktop.ui.incidents.tabs.event import EventTab
from desktop.ui.incidents.tabs.evidence import EvidenceTab
from desktop.ui.incidents.tabs.follow_ups import FollowUpTab
from desktop.ui.incidents.tabs.sources import SourcesTab
from desktop.ui.jobs import JobState, run_job

SAVE_SHORTCUT = QKeySequence("Ctrl+S")

#: The editor's name in drafts (``Draft.editor``).
DRAFT_EDITOR = "incident"


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
        self.incident = bundle.incident
        self.space_id = bundle.incident.space_id
        self.dirty = False
        self.busy = False
        #: The id this editor's draft is kept under; a reopened draft keeps its own.
        self.draft_id = new_id()
        self.from_draft = False
        known: dict[str, Party] = {
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
        self.event_tab = EventTab()
        self.acts = ActsTab(self.store, bundle, known)
        self.sources = SourcesTab(self.store, bundle, known)
        self.evidence = EvidenceTab(profile, bundle)
        self.follow_ups = FollowUpTab(bundle)
        self.consents = ConsentTab(bundle.incident)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        for tab in (
            self.event_tab,
            self.acts,
            self.sources,
            self.evidence,
            self.follow_ups,
            self.consents,
        ):
            self.tabs.addTab(tab, "")
        for edited in (self.event_tab.changed, self.acts.changed, self.sources.changed):
            edited.connect(self._touched)
        self.consents.changed.connect(self._touched)
        for named in (self.acts.changed, self.acts.people_changed):
            named.connect(self._refresh_consents)
        for named in (self.sources.changed, self.sources.people_changed):
            named.connect(self._refresh_consents)
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
        self.event_tab.title.setFocus()

    def _load(self) -> None:
        self.event_tab.load(self.incident, is_new=self.bundle.is_new)
        self.acts.load()
        self.sources.load()
        self.evidence.show_evidence()
        self.follow_ups.show_timeline()
        self._refresh_consents()
        self.dirty = False

    def _touched(self, *_args: Any) -> None:
        self.dirty = True

    def named_people(self) -> list[Party]:
        """Victims and the people who told of it (organizations need no consent), in order."""
        found = {party.id: party for party in self.acts.people() + self.sources.people()}
        return list(found.values())

    def _refresh_consents(self) -> None:
        self.consents.show_people(self.named_people())

    # --- saving -------------------------------------------------------------------------------

    def build(self) -> tuple[list[Record], list[FieldError]]:
        """Every record to save (new people first), and every problem found, by field."""
        errors: list[FieldError] = []
        consents = self.consents.consents(errors)
        values = {**self.event_tab.values(errors), "consents": consents}
        incident = (
            Incident(id=self.incident.id, space_id=self.space_id, **values)
            if self.bundle.is_new
            else changed_copy(self.incident, **values)
        )
        parsed = {e.field for e in errors}
        errors += [e for e in incident.validate() if e.field not in parsed]
        acts, act_parties = self.acts.build(errors)
        sources, source_parties = self.sources.build(errors)
        people = new_people(act_parties + source_parties)
        for person in people:
            errors += [
                FieldError(f"people.{e.field}", e.code, e.message) for e in person.validate()
            ]
        pending = self.follow_ups.pending
        records: list[Record] = [*people, incident, *acts, *sources, *pending]
        return records, errors

    def show_errors(self, errors: list[FieldError]) -> None:
        self.event_tab.form.show_errors(
            [e for e in errors if "." not in e.field and not e.field.startswith("consents")]
        )
        self.consents.show_errors(errors)
        self.acts.show_errors(errors)
        self.sources.show_errors(errors)
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
                tab: QWidget = self.acts
            elif error.field.startswith("sources["):
                tab = self.sources
            elif error.field.startswith("consents["):
                tab = self.consents
            else:
                tab = self.event_tab
            names[self.tabs.tabText(self.tabs.indexOf(tab))] = None
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
        self.evidence.imported_here.clear()
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
        self.busy = self.evidence.busy = busy
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
            for button in (self.save_button, self.delete_button, self.evidence.import_button):
                button.setEnabled(False)
                button.setToolTip(reason)
            self.save_action.setEnabled(False)

    # --- drafts -------------------------------------------------------------------------------

    def form_state(self) -> dict[str, Any]:
        """Every field as typed, JSON-ready: nothing parsed or validated, so nothing is lost."""
        return {
            "event": self.event_tab.kept(),
            "acts": self.acts.kept(),
            "sources": self.sources.kept(),
            "removed_acts": list(self.acts.removed),
            "removed_sources": list(self.sources.removed),
            "consents": self.consents.kept(),
            "pending_follow_ups": self.follow_ups.kept_pending(),
            "follow_up": self.follow_ups.kept(),
            "imported_here": list(self.evidence.imported_here),
            "tab": self.tabs.currentIndex(),
        }

    def draft(self) -> Draft | None:
        """What to keep if the lock closes this editor now; None when nothing was changed."""
        if not self.changed and not self.from_draft:
            return None
        typed = self.event_tab.title.text().strip()
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
        self.event_tab.restore(state.get("event"))
        self.acts.restore(state.get("acts"), state.get("removed_acts"))
        self.sources.restore(state.get("sources"), state.get("removed_sources"))
        self._refresh_consents()
        self.consents.restore(state.get("consents"))
        self.follow_ups.restore(state.get("pending_follow_ups"), state.get("follow_up"))
        known = {e.id for e in self.bundle.evidence}
        self.evidence.imported_here = [
            i for i in kept_codes(state.get("imported_here")) if i in known
        ]
        tab = state.get("tab")
        if isinstance(tab, int) and 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)
        self.dirty = True  # what is shown differs from what is saved

    # --- discarding and deleting --------------------------------------------------------------

    @property
    def changed(self) -> bool:
        return self.dirty or bool(self.follow_ups.pending) or bool(self.evidence.imported_here)

    def reject(self) -> None:
        if self.profile.closed or not self.changed:
            self._discard()
            return
        confirm(
            self,
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
        # Files imported into an incident that was never saved must not stay behind.
        self.evidence.drop_imported()
        QDialog.reject(self)

    def confirm_delete(self) -> None:
        if not self.can_save:
            return
        if self.bundle.is_new:
            self.reject()
            return
        confirm(
            self,
            _("Delete this incident?"),
            _(
                "The incident, its acts, sources, evidence files and follow-ups will be "
                "deleted from this computer, and from the network at the next sync."
            ),
            _("Delete incident"),
            self._delete,
        )

    def _delete(self) -> None:
        evidence_store, incident_id = self.evidence.evidence_store, self.incident.id
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
        self.event_tab.retranslate()
        self.acts.retranslate()
        self.sources.retranslate()
        self.evidence.retranslate()
        self.follow_ups.retranslate()
        self.consents.retranslate()
        self.setWindowTitle(_("Incident — Minga"))
        self.title_label.setText(
            self.incident.title if not self.bundle.is_new else _("New incident")
        )
        for tab, name in (
            (self.event_tab, N_("Event")),
            (self.acts, N_("Acts")),
            (self.sources, N_("Sources")),
            (self.evidence, N_("Evidence")),
            (self.follow_ups, N_("Follow-up")),
            (self.consents, N_("Consent")),
        ):
            self.tabs.setTabText(self.tabs.indexOf(tab), _(name))
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
