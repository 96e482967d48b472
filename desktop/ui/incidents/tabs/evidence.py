"""The Evidence tab: files sealed in the vault under the incident, and each one's chain of custody.

Importing, opening, exporting and deleting are writes (each appends to the custody log), so they
queue on the write worker with the others, whether or not the incident was saved yet.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.domain import vocabularies as vocab
from desktop.domain.records import Evidence
from desktop.domain.translation import _, format_moment
from desktop.store.evidence import EvidenceStore, OpenedEvidence, device_actor
from desktop.store.profile import Profile
from desktop.ui.display import describe_size, vocabulary_label
from desktop.ui.file_types import kind_of_file, mislabelled_text
from desktop.ui.forms import failure_message
from desktop.ui.incidents.bundle import IncidentBundle
from desktop.ui.incidents.parts import ErrorLine, confirm
from desktop.ui.incidents.viewer import EvidenceViewer
from desktop.ui.jobs import JobState, run_job


class EvidenceTab(QWidget):
    """The incident's evidence files (``bundle.evidence``, kept current) and their custody."""

    def __init__(self, profile: Profile, bundle: IncidentBundle) -> None:
        super().__init__()
        self.profile = profile
        self.bundle = bundle
        self.evidence_store = EvidenceStore.of(profile)
        self.actor = device_actor(profile)
        self.busy = False  # the editor is saving or deleting: no file actions meanwhile
        self.imported_here: list[str] = []  # evidence imported before the first save
        self.viewer: EvidenceViewer | None = None
        self.table = QTableWidget(0, 4, self)
        self.table.setObjectName("evidenceTable")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self.show_custody)
        self.table.doubleClicked.connect(lambda _index: self.view_evidence())
        self.import_button = QPushButton(self)
        self.import_button.clicked.connect(self.choose_files)
        self.view_button = QPushButton(self)
        self.view_button.clicked.connect(self.view_evidence)
        self.export_button = QPushButton(self)
        self.export_button.clicked.connect(self.choose_export_path)
        self.remove_button = QPushButton(self)
        self.remove_button.clicked.connect(self.confirm_remove)
        self.import_progress = QProgressBar(self)
        self.import_progress.hide()
        self.message = ErrorLine(self)
        self.custody_caption = QLabel(self)
        self.custody_table = QTableWidget(0, 4, self)
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
            self.remove_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.import_progress)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 2)
        layout.addWidget(self.custody_caption)
        layout.addWidget(self.custody_table, 1)

    def show_evidence(self) -> None:
        table = self.table
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
        self.show_custody()

    def selected_evidence(self) -> Evidence | None:
        row = self.table.currentRow()
        if 0 <= row < len(self.bundle.evidence):
            return self.bundle.evidence[row]
        return None

    def select_evidence(self, evidence_id: str) -> None:
        for row, evidence in enumerate(self.bundle.evidence):
            if evidence.id == evidence_id:
                self.table.setCurrentCell(row, 0)

    def show_custody(self) -> None:
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
        for button in (self.view_button, self.export_button, self.remove_button):
            button.setEnabled(has and not self.busy)

    def _replace_evidence(self, evidence: Evidence) -> None:
        items = self.bundle.evidence
        for index, old in enumerate(items):
            if old.id == evidence.id:
                items[index] = evidence
                break
        else:
            items.append(evidence)
        self.show_evidence()
        self.select_evidence(evidence.id)

    def choose_files(self) -> None:
        paths, _filter = QFileDialog.getOpenFileNames(self, _("Import evidence files"))
        if paths:
            self.import_files([Path(p) for p in paths])

    def import_files(self, paths: list[Path]) -> None:
        """Seal each file into the vault on the write worker, reporting progress per file."""
        if not self.bundle.access.can_write:
            return  # dropped files too: evidence is a record of the space
        evidence_store, incident, actor = self.evidence_store, self.bundle.incident, self.actor

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

        self.message.say("")
        self.import_progress.setRange(0, len(paths))
        self.import_progress.setValue(0)
        self.import_progress.show()
        self.import_button.setEnabled(False)
        run_job(
            self,
            work,
            writes=True,
            on_success=self._imported,
            on_failure=self._failed,
            on_progress=lambda done, _total, _note: self.import_progress.setValue(done),
        )

    def _imported(self, found: tuple[list[Evidence], list[str]]) -> None:
        added, warnings = found
        self.import_progress.hide()
        self.import_button.setEnabled(True)
        if warnings:
            self.message.say("\n".join(warnings))
        for evidence in added:
            if self.bundle.is_new:
                self.imported_here.append(evidence.id)
            self._replace_evidence(evidence)

    def _failed(self, error: BaseException) -> None:
        self.import_progress.hide()
        self.import_button.setEnabled(True)
        if not self.profile.closed:
            self.message.say(failure_message(error))

    def _write_selected(self, work: Callable[[Evidence], object], then: Any) -> None:
        """``work(selected file)`` on the write worker (it appends to the custody log)."""
        evidence = self.selected_evidence()
        if evidence is None:
            return
        run_job(
            self,
            lambda _state: work(evidence),
            writes=True,
            on_success=then,
            on_failure=self._failed,
        )

    def view_evidence(self) -> None:
        evidence_store, actor = self.evidence_store, self.actor
        # Opening appends to the custody log: a write, so it queues with the others.
        self._write_selected(lambda e: evidence_store.open(e.id, actor=actor), self._show_viewer)

    def _show_viewer(self, opened: OpenedEvidence) -> None:
        self._replace_evidence(opened.evidence)
        viewer = EvidenceViewer(opened.evidence, opened.data, self.window())
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
        evidence_store, actor = self.evidence_store, self.actor
        self._write_selected(
            lambda e: evidence_store.export(e.id, destination, actor=actor),
            self._replace_evidence,
        )

    def confirm_remove(self) -> None:
        evidence = self.selected_evidence()
        if evidence is None:
            return
        confirm(
            self.window(),
            _("Delete the evidence file “{filename}”?").format(filename=evidence.filename),
            _("The encrypted file and its custody log will be deleted from this computer."),
            _("Delete file"),
            lambda: self._remove(evidence),
        )

    def _remove(self, evidence: Evidence) -> None:
        evidence_store = self.evidence_store

        def removed(_result: object) -> None:
            self.bundle.evidence = [e for e in self.bundle.evidence if e.id != evidence.id]
            if evidence.id in self.imported_here:
                self.imported_here.remove(evidence.id)
            self.show_evidence()

        run_job(
            self,
            lambda _state: evidence_store.delete(evidence.id),
            writes=True,
            on_success=removed,
            on_failure=self._failed,
        )

    def drop_imported(self) -> None:
        """Delete the files imported into an incident that is left unsaved: none stays behind."""
        if self.imported_here and not self.profile.closed:
            doomed, evidence_store = list(self.imported_here), self.evidence_store
            run_job(
                None,
                lambda _state: [evidence_store.delete(i) for i in doomed],
                writes=True,
            )
            self.imported_here.clear()

    def retranslate(self) -> None:
        self.table.setHorizontalHeaderLabels([_("File"), _("Size"), _("Type"), _("SHA-256")])
        self.custody_table.setHorizontalHeaderLabels([_("When"), _("Who"), _("Action"), _("Note")])
        # Sized to the words just set: empty, the columns kept a width made before they had any
        # ("الإجراء" read "لإجرا").
        self.custody_table.resizeColumnsToContents()
        self.custody_caption.setText(_("Chain of custody"))
        self.import_button.setText(_("Import files…"))
        self.view_button.setText(_("View"))
        self.export_button.setText(_("Export…"))
        self.remove_button.setText(_("Delete file…"))
