"""A lazy table model over one directory list: counted and paged in SQL, fetched in chunks.

Rows arrive from a worker; a new query drops whatever the previous one still had in flight.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import QAbstractItemView

from desktop.domain import vocabularies as vocab
from desktop.domain.translation import N_, _
from desktop.store.profile import Profile
from desktop.store.records import ListRow, RecordQuery, RecordStore
from desktop.ui.jobs import JobState, run_job

#: Rows read per fetch: a screenful or three, so the first page shows at once.
CHUNK = 100

AnyIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column:
    """A list column: its header (marked with ``N_``) and how a row shows in it."""

    title: str
    value: Callable[[ListRow], str]


def _country(row: ListRow) -> str:
    return vocab.label(vocab.COUNTRIES, row.country) if row.country else ""


def _kind(row: ListRow) -> str:
    return vocab.label(vocab.PERSON_KINDS, row.kind) if row.kind else ""


def _name(row: ListRow) -> str:
    # A person known only by an alias has no list label yet; never show an empty line.
    return row.label or "—"


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


COLUMNS: dict[str, tuple[Column, ...]] = {
    "organization": (Column(N_("Name"), _name), Column(N_("Country"), _country)),
    "person": (
        Column(N_("Name"), _name),
        Column(N_("Kind"), _kind),
        Column(N_("Country"), _country),
    ),
    "working_group": (Column(N_("Name"), _name),),
}


class RecordListModel(QAbstractTableModel):
    """The rows of a ``RecordQuery``; only the chunks scrolled to are ever read.

    Signals:
        counted(int): how many rows the current query has in all.
        loaded(int): how many rows are loaded now, after each chunk.
        failed(object): a read failed; the exception.
    """

    counted = Signal(int)
    loaded = Signal(int)
    failed = Signal(object)

    def __init__(self, profile: Profile, query: RecordQuery, parent: QObject | None = None):
        super().__init__(parent)
        self._profile = profile
        self._query = query
        self._columns = COLUMNS[query.record_type]
        self._rows: list[ListRow] = []
        self._total: int | None = None
        self._fetching = False
        # Bumped by every new query; a reply carrying an older number is dropped.
        self._generation = 0

    @property
    def query(self) -> RecordQuery:
        return self._query

    @property
    def total(self) -> int | None:
        """Rows the query has in all; None until counted."""
        return self._total

    @property
    def busy(self) -> bool:
        return self._total is None or self._fetching

    def set_query(self, query: RecordQuery) -> None:
        """Show ``query`` instead: the rows go, then its count and first chunk are read."""
        self._generation += 1
        generation = self._generation
        self.beginResetModel()
        self._query = query
        self._rows = []
        self._total = None
        self._fetching = False
        self.endResetModel()
        engine = self._profile.engine

        def count(_state: JobState) -> int:
            return RecordStore(engine).count(query)

        run_job(
            self,
            count,
            on_success=lambda total: self._counted(generation, total),
            on_failure=self.failed.emit,
        )

    def refresh(self) -> None:
        self.set_query(self._query)

    def clear(self) -> None:
        """Drop every row and ignore replies still on their way (the profile is locking)."""
        self._generation += 1
        self.beginResetModel()
        self._rows = []
        self._total = 0
        self._fetching = False
        self.endResetModel()

    def row_at(self, row: int) -> ListRow:
        return self._rows[row]

    def row_of(self, record_id: str) -> int:
        for number, row in enumerate(self._rows):
            if row.id == record_id:
                return number
        return -1

    def _counted(self, generation: int, total: int) -> None:
        if generation != self._generation:
            return
        self._total = total
        self.counted.emit(total)
        if total:
            self.fetchMore(QModelIndex())
        else:
            self.loaded.emit(0)

    # --- Qt's model interface -----------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._columns[index.column()].value(row)
        if role == Qt.ItemDataRole.UserRole:
            return row.id
        return None

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self._columns)
        ):
            return _(self._columns[section].title)
        return None

    def canFetchMore(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008
        if parent.isValid() or self._total is None or self._fetching:
            return False
        return len(self._rows) < self._total

    def fetchMore(self, parent: AnyIndex = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        self._fetching = True
        generation, query, offset = self._generation, self._query, len(self._rows)
        engine = self._profile.engine

        def read(_state: JobState) -> list[ListRow]:
            return RecordStore(engine).page(query, offset, CHUNK)

        run_job(
            self,
            read,
            on_success=lambda rows: self._arrived(generation, offset, rows),
            on_failure=lambda error: self._read_failed(generation, error),
        )

    def _arrived(self, generation: int, offset: int, rows: list[ListRow]) -> None:
        if generation != self._generation or offset != len(self._rows):
            return
        self._fetching = False
        if not rows:
            # The table shrank under us (a delete elsewhere): stop asking for more.
            self._total = len(self._rows)
        else:
            self.beginInsertRows(QModelIndex(), offset, offset + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
        self.loaded.emit(len(self._rows))

    def _read_failed(self, generation: int, error: BaseException) -> None:
        if generation == self._generation:
            self._fetching = False
            self.failed.emit(error)

    def retranslate(self) -> None:
        """Headers and vocabulary labels (countries, kinds) in the language now current."""
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(self._columns) - 1)
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(self._columns) - 1)
            )
