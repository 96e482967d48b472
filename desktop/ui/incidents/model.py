"""The incidents list as a lazy table model: a count, then rows fetched 200 at a time on workers.

Filters and order are a ``RecordQuery`` run in SQL; only the chunks the view scrolled to are held.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from desktop.domain import vocabularies as vocab
from desktop.domain.translation import N_, _
from desktop.store.records import ListRow, RecordQuery, RecordStore
from desktop.ui.incidents.display import describe_span, vocabulary_label
from desktop.ui.jobs import Job, JobState, run_job

#: Rows per fetch: one page query of a few milliseconds, and a screenful many times over.
CHUNK = 200

#: Columns: header (translated when shown) and the query order each sorts by.
COLUMNS: tuple[tuple[str, str], ...] = (
    (N_("Title"), "label"),
    (N_("Date"), "date_from"),
    (N_("Country"), "country"),
    (N_("Status"), "status"),
    (N_("Kind"), "kind"),
)

ID_ROLE = Qt.ItemDataRole.UserRole + 1

_Index = QModelIndex | QPersistentModelIndex


class IncidentListModel(QAbstractTableModel):
    """Incidents matching a query, counted in SQL and fetched in chunks as the view scrolls.

    Each query change starts a new generation; results of an older one are dropped, so a slow
    count never overwrites a newer filter's rows.

    Signals:
        counted(int): how many incidents match the current query.
        failed(object): a read failed (the exception), e.g. the profile was locked.
    """

    counted = Signal(int)
    failed = Signal(object)

    def __init__(self, store: RecordStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._query = RecordQuery("incident", order_by="date_from", descending=True)
        self._generation = 0
        self._total: int | None = None
        self._chunks: dict[int, list[ListRow]] = {}  # first offset of a chunk -> its rows
        self._loaded = 0
        self._fetching: Job | None = None
        self._counting: Job | None = None
        self.fetches = 0  # chunk reads started since the model was made, for tests and logs

    # --- query --------------------------------------------------------------------------------

    @property
    def query(self) -> RecordQuery:
        return self._query

    @property
    def total(self) -> int | None:
        return self._total

    @property
    def loaded(self) -> int:
        return self._loaded

    @property
    def busy(self) -> bool:
        return self._fetching is not None or self._counting is not None

    def set_query(self, query: RecordQuery) -> None:
        self._query = query
        self.refresh()

    def refresh(self) -> None:
        """Forget every row and count again (after a save, a delete, a filter change)."""
        self._drop_jobs()
        self._generation += 1
        self.beginResetModel()
        self._chunks.clear()
        self._loaded = 0
        self._total = None
        self.endResetModel()
        generation = self._generation
        query = self._query
        self._counting = run_job(
            self,
            lambda _state: self._store.count(query),
            on_success=lambda total: self._counted(generation, total),
            on_failure=self._read_failed,
        )

    def clear(self) -> None:
        """Drop every row and stop reading (at lock)."""
        self._drop_jobs()
        self._generation += 1
        self.beginResetModel()
        self._chunks.clear()
        self._loaded = 0
        self._total = 0
        self.endResetModel()

    def _drop_jobs(self) -> None:
        for job in (self._fetching, self._counting):
            if job is not None:
                job.cancel()
        self._fetching = self._counting = None

    def _counted(self, generation: int, total: int) -> None:
        if generation != self._generation:
            return
        self._counting = None
        self._total = total
        self.counted.emit(total)
        if self.canFetchMore(QModelIndex()):
            self.fetchMore(QModelIndex())

    def _read_failed(self, error: BaseException) -> None:
        self._fetching = self._counting = None
        self.failed.emit(error)

    # --- lazy rows ----------------------------------------------------------------------------

    def canFetchMore(self, parent: _Index) -> bool:
        if parent.isValid() or self._total is None:
            return False
        return self._fetching is None and self._loaded < self._total

    def fetchMore(self, parent: _Index) -> None:
        if not self.canFetchMore(parent):
            return
        generation, offset, query = self._generation, self._loaded, self._query
        self.fetches += 1

        def read(_state: JobState) -> list[ListRow]:
            return self._store.page(query, offset, CHUNK)

        self._fetching = run_job(
            self,
            read,
            on_success=lambda rows: self._fetched(generation, offset, rows),
            on_failure=self._read_failed,
        )

    def _fetched(self, generation: int, offset: int, rows: list[ListRow]) -> None:
        if generation != self._generation:
            return
        self._fetching = None
        if not rows:
            # Fewer than counted (deleted meanwhile): stop asking for more.
            self._total = self._loaded
            return
        self.beginInsertRows(QModelIndex(), offset, offset + len(rows) - 1)
        self._chunks[offset] = rows
        self._loaded = offset + len(rows)
        self.endInsertRows()

    def row_at(self, row: int) -> ListRow | None:
        if not 0 <= row < self._loaded:
            return None
        start = row - row % CHUNK
        chunk = self._chunks.get(start)
        return chunk[row - start] if chunk is not None else None

    def row_of(self, incident_id: str) -> int:
        """The row showing ``incident_id`` among those loaded, else -1."""
        for start, chunk in self._chunks.items():
            for index, row in enumerate(chunk):
                if row.id == incident_id:
                    return start + index
        return -1

    # --- table --------------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._loaded

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return _(COLUMNS[section][0])
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index.row()) if index.isValid() else None
        if row is None:
            return None
        if role == ID_ROLE:
            return row.id
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            column = index.column()
            if column == 0:
                return row.label
            if column == 1:
                return describe_span(row.date_from, row.date_to)
            if column == 2:
                return vocabulary_label(vocab.COUNTRIES, row.country)
            if column == 3:
                return vocabulary_label(vocab.INCIDENT_STATUSES, row.status)
            if column == 4:
                return vocabulary_label(vocab.INCIDENT_KINDS, row.kind)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        descending = order == Qt.SortOrder.DescendingOrder
        self.set_query(replace(self._query, order_by=COLUMNS[column][1], descending=descending))

    def retranslate(self) -> None:
        """Labels are read in the current language at paint time; tell the views to repaint."""
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(COLUMNS) - 1)
        if self._loaded:
            self.dataChanged.emit(self.index(0, 0), self.index(self._loaded - 1, len(COLUMNS) - 1))
