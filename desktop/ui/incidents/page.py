"""The Incidents section: filters, the lazy list, an empty state, and the way into the editor.

Rows come from SQL in chunks; opening, creating and deleting run on workers.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QEvent, QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.translation import _, format_number, ngettext
from desktop.store.profile import Profile
from desktop.store.records import RecordQuery, RecordStore
from desktop.ui.forms import MessageLabel, failure_message, heading, paragraph
from desktop.ui.incidents.bundle import IncidentBundle, load_bundle, new_bundle, with_access
from desktop.ui.incidents.filters import FilterBar
from desktop.ui.incidents.model import COLUMNS, ID_ROLE, IncidentListModel
from desktop.ui.jobs import run_job
from desktop.ui.workspace import SECTIONS

NEW_INCIDENT_SHORTCUT = QKeySequence("Ctrl+N")


class IncidentTable(QTableView):
    """The list itself; Enter opens the current incident as double-click does.

    Signals:
        open_requested(QModelIndex): the person asked to open this row.
    """

    open_requested = Signal(QModelIndex)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.open_requested.emit(self.currentIndex())
            return
        super().keyPressEvent(event)


class NoIncidents(QWidget):
    """What the section shows before the first incident: what goes here, and how to start."""

    def __init__(self, new_action: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = QWidget(self)
        column.setMaximumWidth(560)
        self.title = heading(column)
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.text = paragraph(column)
        self.text.setProperty("role", "empty")
        self.text.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.button = QPushButton(column)
        self.button.clicked.connect(new_action.trigger)
        inner = QVBoxLayout(column)
        inner.addWidget(self.title)
        inner.addSpacing(8)
        inner.addWidget(self.text)
        inner.addSpacing(12)
        inner.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column, 4)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)
        self.retranslate()

    def retranslate(self) -> None:
        # The section's own words, as the workspace shows them for every empty section.
        section = next(s for s in SECTIONS if s.key == "incidents")
        self.title.setText(_(section.empty_title))
        self.text.setText(_(section.empty_text))
        self.button.setText(_("Record the first incident"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class IncidentsPage(QWidget):
    """Filter bar, count, the lazy list (or an empty state), and "New incident".

    Signals:
        editor_opened(object): the :class:`IncidentEditor` just shown (tests, screenshots).
    """

    editor_opened = Signal(object)

    def __init__(self, profile: Profile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.profile = profile
        self.store = RecordStore(profile.engine)
        self.editor: QWidget | None = None
        self._opening = False

        self.new_action = QAction(self)
        self.new_action.setShortcut(NEW_INCIDENT_SHORTCUT)
        self.new_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.new_action.triggered.connect(self.new_incident)
        self.addAction(self.new_action)

        self.heading = heading(self)
        self.count_label = QLabel(self)
        self.count_label.setObjectName("incidentCount")
        self.new_button = QPushButton(self)
        self.new_button.setObjectName("newIncident")
        self.new_button.clicked.connect(self.new_action.trigger)
        self.filters = FilterBar(self)
        self.message = MessageLabel(self)

        self.model = IncidentListModel(self.store, self)
        self.table = IncidentTable(self)
        self.table.setObjectName("incidentTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.setSortingEnabled(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSortIndicator(1, Qt.SortOrder.DescendingOrder)
        self.table.doubleClicked.connect(self._open_index)
        self.table.open_requested.connect(self._open_index)

        self.no_incidents = NoIncidents(self.new_action, self)
        self.no_matches = paragraph(self)
        self.no_matches.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_matches.setProperty("role", "empty")
        self.views = QStackedWidget(self)
        for view in (self.table, self.no_incidents, self.no_matches):
            self.views.addWidget(view)

        self.filters.query_changed.connect(self._filter)
        self.model.counted.connect(self._counted)
        self.model.failed.connect(self._read_failed)

        top = QHBoxLayout()
        top.addWidget(self.heading)
        top.addWidget(self.count_label, 1, Qt.AlignmentFlag.AlignBottom)
        top.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        # Shown on its own (tests, a detached window) it must not re-constrain its window.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addLayout(top)
        layout.addWidget(self.filters)
        layout.addWidget(self.message)
        layout.addWidget(self.views, 1)
        self.setTabOrder(self.new_button, self.filters.search)
        self.retranslate()
        self.model.set_query(self.filters.query())

    @property
    def title(self) -> QLabel:
        """The empty state's title, as every section page has one."""
        return self.no_incidents.title

    @property
    def text(self) -> QLabel:
        return self.no_incidents.text

    # --- list ---------------------------------------------------------------------------------

    def _filter(self, query: RecordQuery) -> None:
        # The filters choose the rows; the header keeps choosing their order.
        current = self.model.query
        self.model.set_query(
            replace(query, order_by=current.order_by, descending=current.descending)
        )

    def _counted(self, total: int) -> None:
        self.message.clear_message()
        if total:
            self.views.setCurrentWidget(self.table)
        elif self.filters.filtering:
            self.views.setCurrentWidget(self.no_matches)
        else:
            self.views.setCurrentWidget(self.no_incidents)
        self._show_count()

    def _show_count(self) -> None:
        total = self.model.total
        if total is None:
            self.count_label.setText("")
            return
        self.count_label.setText(
            ngettext("{count} incident", "{count} incidents", total).format(
                count=format_number(total)
            )
        )

    def _read_failed(self, error: BaseException) -> None:
        if self.profile.closed:
            return  # locking: the page is about to go
        self.message.say(failure_message(error))

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
        self.heading.setText(_("Incidents"))
        self.new_action.setText(_("New incident"))
        self.new_button.setText(_("New incident"))
        self.new_button.setToolTip(
            _("Record a new incident ({shortcut})").format(
                shortcut=NEW_INCIDENT_SHORTCUT.toString(QKeySequence.SequenceFormat.NativeText)
            )
        )
        self.table.setAccessibleName(_("Incidents"))
        self.no_matches.setText(
            _("No incident matches these filters. Clear them to see every incident.")
        )
        self.model.retranslate()
        self._show_count()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
