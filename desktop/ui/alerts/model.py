"""Open alerts as a lazy table: most urgent first, each urgency counted and paged in SQL.

An alert's urgency is its list row's ``kind``, so each urgency is one indexed query.
"""

from __future__ import annotations

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
from desktop.domain.network_records import (
    ALERT_STATUSES,
    ALERT_URGENCIES,
    OPEN_ALERT_STATUSES,
    AlertUrgency,
)
from desktop.domain.translation import N_, _
from desktop.store.records import ListRow, RecordQuery, RecordStore
from desktop.ui.incidents.display import describe_span, vocabulary_label
from desktop.ui.jobs import Job, JobState, run_job

CHUNK = 200
COLUMNS: tuple[str, ...] = (N_("Alert"), N_("Urgency"), N_("Status"), N_("Date"), N_("Country"))
ID_ROLE = Qt.ItemDataRole.UserRole + 1

_Index = QModelIndex | QPersistentModelIndex


def open_alerts(urgency: AlertUrgency) -> RecordQuery:
    """The open alerts of one urgency, the most recent first."""
    return RecordQuery(
        "alert",
        statuses=[status.value for status in OPEN_ALERT_STATUSES],
        kinds=[urgency.value],
        order_by="date_from",
        descending=True,
    )


def _read_chunk(
    store: RecordStore, counts: dict[AlertUrgency, int], start: int, limit: int
) -> list[ListRow]:
    """Rows ``start`` to ``start + limit`` of the urgencies laid end to end, in urgency order."""
    rows: list[ListRow] = []
    before = 0
    for urgency in AlertUrgency:
        count = counts.get(urgency, 0)
        wanted_from = max(start + len(rows) - before, 0)
        if wanted_from < count and len(rows) < limit:
            rows += store.page(open_alerts(urgency), wanted_from, limit - len(rows))
        before += count
    return rows


class AlertListModel(QAbstractTableModel):
    """Open alerts, the most urgent first, fetched a chunk at a time as the view scrolls.

    Signals:
        counted(int): how many alerts are open.
        failed(object): a read failed (the exception).
    """

    counted = Signal(int)
    failed = Signal(object)

    def __init__(self, store: RecordStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._generation = 0
        self._counts: dict[AlertUrgency, int] | None = None
        self._rows: list[ListRow] = []
        self._job: Job | None = None

    @property
    def total(self) -> int | None:
        return None if self._counts is None else sum(self._counts.values())

    def refresh(self) -> None:
        self._drop()
        self.beginResetModel()
        self._rows = []
        self._counts = None
        self.endResetModel()
        generation = self._generation
        store = self._store

        def count(_state: JobState) -> dict[AlertUrgency, int]:
            return {urgency: store.count(open_alerts(urgency)) for urgency in AlertUrgency}

        self._job = run_job(
            self,
            count,
            on_success=lambda counts: self._counted(generation, counts),
            on_failure=self._read_failed,
        )

    def clear(self) -> None:
        """Drop every row and stop reading (at lock)."""
        self._drop()
        self.beginResetModel()
        self._rows = []
        self._counts = {}
        self.endResetModel()

    def _drop(self) -> None:
        self._generation += 1
        if self._job is not None:
            self._job.cancel()
            self._job = None

    def _counted(self, generation: int, counts: dict[AlertUrgency, int]) -> None:
        if generation != self._generation:
            return
        self._job = None
        self._counts = counts
        self.counted.emit(sum(counts.values()))
        if self.canFetchMore(QModelIndex()):
            self.fetchMore(QModelIndex())

    def _read_failed(self, error: BaseException) -> None:
        self._job = None
        self.failed.emit(error)

    def canFetchMore(self, parent: _Index) -> bool:
        total = self.total
        if parent.isValid() or total is None:
            return False
        return self._job is None and len(self._rows) < total

    def fetchMore(self, parent: _Index) -> None:
        if not self.canFetchMore(parent) or self._counts is None:
            return
        generation, start, counts, store = (
            self._generation,
            len(self._rows),
            self._counts,
            self._store,
        )
        self._job = run_job(
            self,
            lambda _state: _read_chunk(store, counts, start, CHUNK),
            on_success=lambda rows: self._fetched(generation, start, rows),
            on_failure=self._read_failed,
        )

    def _fetched(self, generation: int, start: int, rows: list[ListRow]) -> None:
        if generation != self._generation:
            return
        self._job = None
        if not rows:
            self._counts = {AlertUrgency.IMMEDIATE: len(self._rows)}  # fewer than counted
            return
        self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
        self._rows += rows
        self.endInsertRows()

    def row_at(self, row: int) -> ListRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, alert_id: str) -> int:
        return next((i for i, row in enumerate(self._rows) if row.id == alert_id), -1)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return _(COLUMNS[section])
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
                return vocabulary_label(ALERT_URGENCIES, row.kind)
            if column == 2:
                return vocabulary_label(ALERT_STATUSES, row.status)
            if column == 3:
                return describe_span(row.date_from, row.date_to)
            if column == 4:
                return vocabulary_label(vocab.COUNTRIES, row.country)
        return None

    def retranslate(self) -> None:
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(COLUMNS) - 1)
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(COLUMNS) - 1)
            )
