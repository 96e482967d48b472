"""The one lazy list of every section: rows counted and paged in SQL, fetched in chunks.

A section declares its list (``ListSpec``: columns, chunk size) and hands the model a query, or
several laid end to end (alerts: one per urgency, most urgent first). The model caches the rows
it was shown by position and id; a new query drops whatever the previous one still had in
flight. ``ListTable`` is the view all sections use: whole-row selection, Enter opens, columns
sized to their content within a share of the width.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QIcon, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QStyle,
    QTableView,
    QWidget,
)

from desktop.domain import vocabularies as vocab
from desktop.domain.translation import N_, _
from desktop.store.conflict_marks import records_in_conflict
from desktop.store.records import ListRow, RecordQuery, RecordStore
from desktop.ui.bidi import OwnDirectionDelegate
from desktop.ui.display import describe_span, vocabulary_label
from desktop.ui.jobs import Job, JobState, run_job

#: The narrowest the first column (a title, a name) is ever made to fit the others.
FIRST_COLUMN_MINIMUM = 140

#: The role under which every list answers a row's record id.
ID_ROLE = Qt.ItemDataRole.UserRole + 1
#: True for a row whose record has a conflict waiting for a person (marked in the list).
CONFLICT_ROLE = Qt.ItemDataRole.UserRole + 2
#: True for a row whose record has a conflict waiting for a person (marked in the list).
CONFLICT_ROLE = Qt.ItemDataRole.UserRole + 2

AnyIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column:
    """A list column: its header (marked with ``N_``), how a row reads in it, and the query
    order it sorts by when its header is clicked (None: not sortable)."""

    title: str
    value: Callable[[ListRow], str]
    order_by: str | None = None


@dataclass(frozen=True)
class ListSpec:
    """What one section's list shows: its columns and how many rows one read brings."""

    columns: tuple[Column, ...]
    chunk: int = 100


# --- the columns sections share ---------------------------------------------------------------


def row_name(row: ListRow) -> str:
    # A person known only by an alias has no list label yet; never show an empty line.
    return row.label or "—"


def row_country(row: ListRow) -> str:
    return vocabulary_label(vocab.COUNTRIES, row.country)


def row_dates(row: ListRow) -> str:
    return describe_span(row.date_from, row.date_to)


NAME = Column(N_("Name"), row_name, "label")
COUNTRY = Column(N_("Country"), row_country, "country")
DATE = Column(N_("Date"), row_dates, "date_from")


def conflict_icon() -> QIcon:
    """The mark of a record in conflict: the style's own warning sign (drawn, not a file)."""
    application = QApplication.instance()
    style = application.style() if isinstance(application, QApplication) else None
    if style is None:
        return QIcon()
    return style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)


def select_row(view: QAbstractItemView, row: int) -> None:
    """Make ``row`` current and selected, whole.

    ``QTableView.selectRow`` selects nothing in a right-to-left layout (its span runs from
    the last visual column), so Arabic needs this instead.
    """
    model = view.model()
    selection = view.selectionModel()
    if model is None or selection is None or not 0 <= row < model.rowCount():
        return
    selection.setCurrentIndex(
        model.index(row, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )


def _read_marked(
    store: RecordStore,
    queries: Sequence[RecordQuery],
    counts: Sequence[int],
    start: int,
    limit: int,
) -> tuple[list[ListRow], set[str]]:
    """A chunk of rows and which of them are in conflict."""
    rows = _read(store, queries, counts, start, limit)
    return rows, records_in_conflict(store.engine, (row.id for row in rows))


def _read(
    store: RecordStore,
    queries: Sequence[RecordQuery],
    counts: Sequence[int],
    start: int,
    limit: int,
) -> list[ListRow]:
    """Rows ``start`` to ``start + limit`` of the queries' results laid end to end."""
    rows: list[ListRow] = []
    before = 0
    for query, count in zip(queries, counts, strict=True):
        wanted_from = max(start + len(rows) - before, 0)
        if wanted_from < count and len(rows) < limit:
            rows += store.page(query, wanted_from, limit - len(rows))
        before += count
    return rows


class RecordListModel(QAbstractTableModel):
    """The rows of one query (or several end to end); only the chunks scrolled to are read.

    Each query change starts a new generation; replies of an older one are dropped, so a slow
    count never overwrites a newer filter's rows.

    Signals:
        counted(int): how many rows the current query has in all.
        arrived(int): how many rows are loaded now, after each chunk (0 for an empty list).
        failed(object): a read failed (the exception), e.g. the profile was locked.
    """

    counted = Signal(int)
    arrived = Signal(int)
    failed = Signal(object)

    def __init__(
        self,
        store: RecordStore,
        spec: ListSpec,
        query: RecordQuery | Sequence[RecordQuery],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._spec = spec
        self._queries = self._as_queries(query)
        self._generation = 0
        self._counts: list[int] | None = None
        self._rows: list[ListRow] = []
        self._ids: dict[str, int] = {}
        self._conflicted: set[str] = set()
        self._fetching: Job | None = None
        self._counting: Job | None = None
        self.fetches = 0  # chunk reads started since the model was made, for tests and logs

    @staticmethod
    def _as_queries(query: RecordQuery | Sequence[RecordQuery]) -> tuple[RecordQuery, ...]:
        return (query,) if isinstance(query, RecordQuery) else tuple(query)

    # --- query --------------------------------------------------------------------------------

    @property
    def spec(self) -> ListSpec:
        return self._spec

    @property
    def query(self) -> RecordQuery:
        """The (first) query shown: its filters and order."""
        return self._queries[0]

    @property
    def queries(self) -> tuple[RecordQuery, ...]:
        return self._queries

    @property
    def total(self) -> int | None:
        """Rows the query has in all; None until counted."""
        return None if self._counts is None else sum(self._counts)

    @property
    def loaded(self) -> int:
        return len(self._rows)

    @property
    def store(self) -> RecordStore:
        """The store the list reads (a damaged profile's export reads the same profile)."""
        return self._store

    @property
    def unreadable(self) -> int:
        """Rows a damaged profile kept out of this list (known once a read had to go past
        damaged pages; see RecordStore.salvage)."""
        return sum(self._store.unreadable(query) for query in self._queries)

    @property
    def busy(self) -> bool:
        return self._counts is None or self._fetching is not None or self._counting is not None

    def set_query(self, query: RecordQuery | Sequence[RecordQuery]) -> None:
        """Show ``query`` instead: the rows go, then its count and first chunk are read."""
        self._queries = self._as_queries(query)
        self.refresh()

    def refresh(self) -> None:
        """Forget every row and count again (after a save, a delete, a filter change)."""
        self._drop_jobs()
        self._generation += 1
        self.beginResetModel()
        self._rows = []
        self._ids = {}
        self._conflicted = set()
        self._counts = None
        self.endResetModel()
        generation, queries, store = self._generation, self._queries, self._store

        def count(_state: JobState) -> list[int]:
            return [store.count(query) for query in queries]

        self._counting = run_job(
            self,
            count,
            on_success=lambda counts: self._counted(generation, counts),
            on_failure=lambda error: self._read_failed(generation, error),
        )

    def clear(self) -> None:
        """Drop every row and ignore replies still on their way (the profile is locking)."""
        self._drop_jobs()
        self._generation += 1
        self.beginResetModel()
        self._rows = []
        self._ids = {}
        self._counts = [0] * len(self._queries)
        self.endResetModel()

    def _drop_jobs(self) -> None:
        for job in (self._fetching, self._counting):
            if job is not None:
                job.cancel()
        self._fetching = self._counting = None

    def _counted(self, generation: int, counts: list[int]) -> None:
        if generation != self._generation:
            return
        self._counting = None
        self._counts = counts
        total = sum(counts)
        self.counted.emit(total)
        if total:
            self.fetchMore(QModelIndex())
        else:
            self.arrived.emit(0)

    def _read_failed(self, generation: int, error: BaseException) -> None:
        if generation != self._generation:
            return
        self._fetching = self._counting = None
        self.failed.emit(error)

    # --- rows ---------------------------------------------------------------------------------

    def row_at(self, row: int) -> ListRow:
        return self._rows[row]

    def row_of(self, record_id: str) -> int:
        """The row showing ``record_id`` among those loaded, else -1."""
        return self._ids.get(record_id, -1)

    def canFetchMore(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008
        total = self.total
        if parent.isValid() or total is None or self._fetching is not None:
            return False
        return len(self._rows) < total

    def fetchMore(self, parent: AnyIndex = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent) or self._counts is None:
            return
        generation, offset = self._generation, len(self._rows)
        store, queries, counts, chunk = self._store, self._queries, self._counts, self._spec.chunk
        self.fetches += 1
        self._fetching = run_job(
            self,
            lambda _state: _read_marked(store, queries, counts, offset, chunk),
            on_success=lambda found: self._fetched(generation, offset, *found),
            on_failure=lambda error: self._read_failed(generation, error),
        )

    def _fetched(
        self, generation: int, offset: int, rows: list[ListRow], conflicted: set[str]
    ) -> None:
        if generation != self._generation or offset != len(self._rows):
            return
        self._fetching = None
        self._conflicted |= conflicted
        if not rows:
            # Fewer than counted (deleted meanwhile): stop asking for more.
            self._counts = [len(self._rows)] + [0] * (len(self._queries) - 1)
        else:
            self.beginInsertRows(QModelIndex(), offset, offset + len(rows) - 1)
            for number, row in enumerate(rows, offset):
                self._ids.setdefault(row.id, number)
            self._rows.extend(rows)
            self.endInsertRows()
        self.arrived.emit(len(self._rows))

    # --- Qt's model interface -----------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._spec.columns)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == ID_ROLE:
            return row.id
        conflicted = row.id in self._conflicted
        if role == CONFLICT_ROLE:
            return conflicted
        if role == Qt.ItemDataRole.DisplayRole:
            return self._spec.columns[index.column()].value(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            text = self._spec.columns[index.column()].value(row)
            if conflicted and index.column() == 0:
                return _(
                    "{title} — in conflict: two edits disagree; settle it on the Sync page."
                ).format(title=text)
            return text
        if role == Qt.ItemDataRole.DecorationRole and conflicted and index.column() == 0:
            return conflict_icon()
        if role == Qt.ItemDataRole.AccessibleDescriptionRole and conflicted:
            return _("In conflict")
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        columns = self._spec.columns
        horizontal = orientation == Qt.Orientation.Horizontal
        if horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(columns):
            return _(columns[section].title)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        columns = self._spec.columns
        if not 0 <= column < len(columns) or columns[column].order_by is None:
            return
        order_by = columns[column].order_by
        assert order_by is not None
        descending = order == Qt.SortOrder.DescendingOrder
        self.set_query(
            [replace(q, order_by=order_by, descending=descending) for q in self._queries]
        )

    def retranslate(self) -> None:
        """Labels are read in the current language at paint time; tell the views to repaint."""
        last = len(self._spec.columns) - 1
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, last)
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, last))


class ListTable(QTableView):
    """A section's list: whole rows, one at a time, read only; Enter opens as double-click does.

    The first column takes the width the others leave, at least ``share`` of it; each other
    column fits its content and header, or is hidden when it cannot (see ``fit_columns``).

    Signals:
        open_requested(QModelIndex): the person asked to open this row.
    """

    open_requested = Signal(QModelIndex)

    def __init__(self, parent: QWidget | None = None, *, share: float = 0.35) -> None:
        super().__init__(parent)
        self._share = share
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        self.doubleClicked.connect(self.open_requested)
        self.setItemDelegate(OwnDirectionDelegate(self))

    def setModel(self, model: Any) -> None:
        super().setModel(model)
        if model is None:
            return
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # Rows arrive a chunk at a time after the header was laid out for none: fit again.
        model.rowsInserted.connect(self.fit_columns)
        model.modelReset.connect(self.fit_columns)
        model.headerDataChanged.connect(self.fit_columns)

    def fit_columns(self) -> None:
        """Give every column but the first the width its contents and header need.

        The first column (the record's title or name) keeps at least ``share`` of the width;
        when the others do not fit beside it, the last ones are hidden (their values are in the
        record's detail) rather than cut: a hidden column is honest, "Imme…" is not.
        """
        model = self.model()
        if model is None:
            return
        header = self.horizontalHeader()
        width = self.viewport().width()
        columns = list(range(1, model.columnCount()))
        # Measured shown: a hidden section's size hint leaves out its header's text, so a column
        # hidden as too wide measured narrow the next time, was shown, measured wide, was
        # hidden... and a fit could end on "shown", its header cut (at 720x520 in Arabic the
        # urgency column, 98 px needed, got 38).
        for column in columns:
            header.setSectionHidden(column, False)
        needed = {
            column: max(self.sizeHintForColumn(column), header.sectionSizeHint(column))
            for column in columns
        }
        first = max(FIRST_COLUMN_MINIMUM, int(width * self._share))
        shown = list(columns)
        while shown and first + sum(needed[column] for column in shown) > width:
            shown.pop()
        for column in columns:
            header.setSectionHidden(column, column not in shown)
            if column in shown:
                header.resizeSection(column, needed[column])

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.fit_columns()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.LanguageChange, QEvent.Type.FontChange):
            self.fit_columns()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.open_requested.emit(self.currentIndex())
            return
        super().keyPressEvent(event)
