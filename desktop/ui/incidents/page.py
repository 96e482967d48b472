"""The Incidents section: filters, the lazy list, an empty state, and the way into the editor.

Rows come from SQL in chunks; opening, creating and deleting run on workers.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMenu, QPushButton, QToolButton, QWidget

from desktop.domain.translation import _, format_number, ngettext
from desktop.store.incident_export import write_incidents
from desktop.store.profile import Profile
from desktop.store.records import RecordQuery, RecordStore
from desktop.ui.bidi import left_to_right
from desktop.ui.forms import failure_message
from desktop.ui.incidents.bundle import IncidentBundle, load_bundle, new_bundle, with_access
from desktop.ui.incidents.filters import FilterBar
from desktop.ui.incidents.model import FIRST_QUERY, INCIDENT_LIST
from desktop.ui.jobs import run_job
from desktop.ui.list_page import ListDetailPage
from desktop.ui.lists import ID_ROLE, RecordListModel
from desktop.ui.section_catalog import section

NEW_INCIDENT_SHORTCUT = QKeySequence("Ctrl+N")


class IncidentsPage(ListDetailPage):
    """Filter bar, count, the lazy list (or an empty state), and "New incident".

    Signals:
        editor_opened(object): the :class:`IncidentEditor` just shown (tests, screenshots).
    """

    editor_opened = Signal(object)
    exported = Signal(int)

    def __init__(self, profile: Profile, parent: QWidget | None = None) -> None:
        store = RecordStore(profile.engine)
        super().__init__(RecordListModel(store, INCIDENT_LIST, FIRST_QUERY), parent, detail=False)
        self.store = store
        self.profile = profile
        self.editor: QWidget | None = None
        self._opening = False

        self.new_action = QAction(self)
        self.new_action.setShortcut(NEW_INCIDENT_SHORTCUT)
        self.new_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.new_action.triggered.connect(self.new_incident)
        self.addAction(self.new_action)

        self.count_label.setObjectName("incidentCount")
        self.new_button = QPushButton(self)
        self.new_button.setObjectName("newIncident")
        self.new_button.clicked.connect(self.new_action.trigger)
        self.add_action(self.new_button)
        # What the filters show, for analysis elsewhere: names only where consent allows.
        self.export_button = QToolButton(self)
        self.export_button.setObjectName("exportIncidents")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        export_menu = QMenu(self.export_button)
        self.export_csv_action = export_menu.addAction("")
        self.export_json_action = export_menu.addAction("")
        self.export_csv_action.triggered.connect(lambda: self.choose_export_path("csv"))
        self.export_json_action.triggered.connect(lambda: self.choose_export_path("json"))
        self.export_button.setMenu(export_menu)
        self.add_action(self.export_button)
        self.filters = FilterBar(self)
        self.filter_area.addWidget(self.filters)
        self.table.setObjectName("incidentTable")
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(1, Qt.SortOrder.DescendingOrder)
        self.table.open_requested.connect(self._open_index)
        self.no_incidents = self.empty
        self.start_button = QPushButton(self.empty)
        self.start_button.clicked.connect(self.new_action.trigger)
        self.empty.add_button(self.start_button)
        self.filters.query_changed.connect(self._filter)
        self.setTabOrder(self.new_button, self.filters.search)
        self.retranslate()
        self.model.set_query(self.filters.query())

    @property
    def title(self) -> QLabel:
        """The empty state's title, as every section page has one."""
        return self.empty.title

    @property
    def text(self) -> QLabel:
        return self.empty.text

    # --- list ---------------------------------------------------------------------------------

    def _filter(self, query: RecordQuery) -> None:
        # The filters choose the rows; the header keeps choosing their order.
        current = self.model.query
        self.model.set_query(
            replace(query, order_by=current.order_by, descending=current.descending)
        )

    def filtering(self) -> bool:
        return self.filters.filtering

    def count_text(self, total: int) -> str:
        return ngettext("{count} incident", "{count} incidents", total).format(
            count=format_number(total)
        )

    def closing(self) -> bool:
        return self.profile.closed

    # --- export -------------------------------------------------------------------------------

    def choose_export_path(self, file_format: str) -> None:
        file_filter = _("CSV tables (*.csv)") if file_format == "csv" else _("JSON files (*.json)")
        path, _chosen = QFileDialog.getSaveFileName(
            self, _("Export the incidents shown"), f"incidents.{file_format}", file_filter
        )
        if path:
            self.export_to(Path(path), file_format)

    def export_to(self, path: Path, file_format: str) -> None:
        """Write the incidents the filters show to ``path`` on a worker, then say how many."""
        store, query = self.store, self.model.query
        self.export_button.setEnabled(False)

        def done(count: int) -> None:
            self.export_button.setEnabled(True)
            self.message.say(
                ngettext(
                    "{count} incident exported to {path}. Names are withheld where the person "
                    "did not agree to be named; titles and narratives are left out.",
                    "{count} incidents exported to {path}. Names are withheld where the person "
                    "did not agree to be named; titles and narratives are left out.",
                    count,
                ).format(count=format_number(count), path=left_to_right(str(path))),
                "success",
            )
            self.exported.emit(count)

        def failed(error: BaseException) -> None:
            self.export_button.setEnabled(True)
            if isinstance(error, OSError):
                self.message.say(
                    _("The file could not be written: {reason}").format(
                        reason=error.strerror or str(error)
                    )
                )
            else:
                self.message.say(failure_message(error))

        run_job(
            self,
            lambda _state: write_incidents(store, query, path, file_format),
            on_success=done,
            on_failure=failed,
        )

    # --- editor -------------------------------------------------------------------------------

    def _open_index(self, index: QModelIndex) -> None:
        incident_id = index.data(ID_ROLE)
        if isinstance(incident_id, str):
            self.open_incident(incident_id)

    def open_incident(self, incident_id: str) -> None:
        if self._raise_editor() or self._opening:
            return
        self._opening = True
        store, engine = self.store, self.profile.engine
        run_job(
            self,
            lambda _state: with_access(load_bundle(store, incident_id), engine),
            on_success=self.show_editor,
            on_failure=self._open_failed,
        )

    def new_incident(self) -> None:
        if self._raise_editor() or self._opening:
            return
        self._opening = True
        store, engine = self.store, self.profile.engine
        # May create the profile's local spaces on first use: a write.
        run_job(
            self,
            lambda _state: with_access(new_bundle(store, engine), engine),
            writes=True,
            on_success=self.show_editor,
            on_failure=self._open_failed,
        )

    def _raise_editor(self) -> bool:
        if self.editor is not None:
            self.editor.raise_()
            self.editor.activateWindow()
            return True
        return False

    def _open_failed(self, error: BaseException) -> None:
        self._opening = False
        if not self.profile.closed:
            self.message.say(failure_message(error))

    def show_editor(self, bundle: IncidentBundle) -> None:
        from desktop.ui.incidents.editor import IncidentEditor  # the editor is heavy; load late

        self._opening = False
        if self.profile.closed:
            return
        editor = IncidentEditor(self.profile, bundle, self)
        editor.saved.connect(self._changed)
        editor.deleted.connect(self._changed)
        editor.finished.connect(self._editor_closed)
        self.editor = editor
        editor.open()
        self.editor_opened.emit(editor)

    def _editor_closed(self) -> None:
        self.editor = None

    def _changed(self, _incident_id: str) -> None:
        self.model.refresh()

    # --- lock and language --------------------------------------------------------------------

    def tear_down(self) -> None:
        """At lock: stop reading, forget every row, close the editor without asking."""
        self.model.clear()
        if self.editor is not None:
            self.editor.close()
            self.editor = None

    def retranslate(self) -> None:
        section_texts = section("incidents")
        self.heading.setText(_("Incidents"))
        self.empty.title.setText(_(section_texts.empty_title))
        self.empty.text.setText(_(section_texts.empty_text))
        self.start_button.setText(_("Record the first incident"))
        self.new_action.setText(_("New incident"))
        self.new_button.setText(_("New incident"))
        self.new_button.setToolTip(
            _("Record a new incident ({shortcut})").format(
                shortcut=NEW_INCIDENT_SHORTCUT.toString(QKeySequence.SequenceFormat.NativeText)
            )
        )
        self.table.setAccessibleName(_("Incidents"))
        self.export_button.setText(_("Export"))
        self.export_button.setToolTip(_("Export the incidents the filters show"))
        self.export_csv_action.setText(_("Export as CSV…"))
        self.export_json_action.setText(_("Export as JSON…"))
        self.no_matches.setText(
            _("No incident matches these filters. Clear them to see every incident.")
        )
        super().retranslate()
