"""Where the network stands on its six shared objectives: what is tagged with each, as a chart.

Counts are SQL counts over the record codes index; the chart (QtCharts) and a CSV can be saved.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QChartView,
    QHorizontalStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.domain import vocabularies as vocab
from desktop.domain.translation import N_, _, format_number, is_right_to_left
from desktop.store.records import RecordQuery, RecordStore
from desktop.ui.forms import MessageLabel, failure_message, heading
from desktop.ui.jobs import JobState, run_job

#: What can be tagged with an objective, and the column each gets.
TAGGED: tuple[tuple[str, str], ...] = (
    ("material", N_("Materials")),
    ("working_group", N_("Working groups")),
    ("organization", N_("Organizations")),
)


@dataclass(frozen=True)
class ObjectiveCounts:
    """For each objective code (in the vocabulary's order), a count per tagged record type."""

    objectives: tuple[str, ...]
    counts: dict[str, dict[str, int]]


def count_objectives(store: RecordStore) -> ObjectiveCounts:
    codes = tuple(term.code for term in vocab.default_vocabularies()[vocab.OBJECTIVES].top_level())
    counts = {
        code: {
            record_type: store.count(RecordQuery(record_type, codes={"objectives": [code]}))
            for record_type, _label in TAGGED
        }
        for code in codes
    }
    return ObjectiveCounts(codes, counts)


def counts_csv(result: ObjectiveCounts) -> str:
    """The table as CSV: codes for tools, labels in the current language for people."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([_("Code"), _("Objective"), *(_(label) for _t, label in TAGGED)])
    for code in result.objectives:
        writer.writerow(
            [
                code,
                vocab.label(vocab.OBJECTIVES, code),
                *(result.counts[code][record_type] for record_type, _l in TAGGED),
            ]
        )
    return out.getvalue()


class ObjectivesView(QWidget):
    """Counts per objective as a table and a stacked bar chart, exportable as PNG and CSV.

    Signals:
        counted(object): the :class:`ObjectiveCounts` just shown.
    """

    counted = Signal(object)

    def __init__(self, store: RecordStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("objectivesView")
        self.store = store
        self.result: ObjectiveCounts | None = None
        self.title = heading(self)
        self.table = QTableWidget(self)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.chart = QChart()
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart_view = QChartView(self.chart, self)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(280)
        self.png_button = QPushButton(self)
        self.png_button.clicked.connect(self._ask_png)
        self.csv_button = QPushButton(self)
        self.csv_button.clicked.connect(self._ask_csv)
        self.message = MessageLabel(self)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.png_button)
        buttons.addWidget(self.csv_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.chart_view, 2)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.retranslate()
        self.refresh()

    def refresh(self) -> None:
        store = self.store

        def count(_state: JobState) -> ObjectiveCounts:
            return count_objectives(store)

        run_job(
            self,
            count,
            on_success=self._show,
            on_failure=lambda error: self.message.say(failure_message(error)),
        )

    def _show(self, result: ObjectiveCounts) -> None:
        self.result = result
        self._fill()
        self.counted.emit(result)

    def _fill(self) -> None:
        result = self.result
        if result is None:
            return
        labels = [vocab.label(vocab.OBJECTIVES, code) for code in result.objectives]
        self.table.setRowCount(len(result.objectives))
        self.table.setColumnCount(1 + len(TAGGED))
        self.table.setHorizontalHeaderLabels([_("Objective"), *(_(label) for _t, label in TAGGED)])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for row, code in enumerate(result.objectives):
            self.table.setItem(row, 0, QTableWidgetItem(labels[row]))
            for column, (record_type, _label) in enumerate(TAGGED, start=1):
                count = result.counts[code][record_type]
                item = QTableWidgetItem(format_number(count))
                item.setData(Qt.ItemDataRole.UserRole, count)
                self.table.setItem(row, column, item)
        self.chart.removeAllSeries()
        for axis in self.chart.axes():
            self.chart.removeAxis(axis)
        # A horizontal bar chart draws its first category at the bottom; reversed, the chart
        # reads top to bottom in the same order as the table.
        order = list(reversed(result.objectives))
        series = QHorizontalStackedBarSeries()
        for record_type, label in TAGGED:
            bar = QBarSet(_(label))
            bar.append([float(result.counts[code][record_type]) for code in order])
            series.append(bar)
        self.chart.addSeries(series)
        categories = QBarCategoryAxis()
        categories.append([vocab.label(vocab.OBJECTIVES, code) for code in order])
        values = QValueAxis()
        values.setLabelFormat("%d")
        # QtCharts does not mirror itself: in Arabic the labels go right and bars grow leftward.
        right_to_left = is_right_to_left()
        values.setReverse(right_to_left)
        side = Qt.AlignmentFlag.AlignRight if right_to_left else Qt.AlignmentFlag.AlignLeft
        self.chart.addAxis(categories, side)
        self.chart.addAxis(values, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(categories)
        series.attachAxis(values)

    def save_png(self, path: Path) -> bool:
        return self.chart_view.grab().save(str(path), "PNG")

    def save_csv(self, path: Path) -> None:
        if self.result is not None:
            path.write_text(counts_csv(self.result), encoding="utf-8")

    def _ask_png(self) -> None:
        name, _filter = QFileDialog.getSaveFileName(self, _("Save the chart"), "objectives.png")
        if name and not self.save_png(Path(name)):
            self.message.say(_("The chart could not be saved there."))

    def _ask_csv(self) -> None:
        name, _filter = QFileDialog.getSaveFileName(self, _("Save the counts"), "objectives.csv")
        if name:
            try:
                self.save_csv(Path(name))
            except OSError:
                self.message.say(_("The counts could not be saved there."))

    def retranslate(self) -> None:
        self.title.setText(_("Where we stand on our shared objectives"))
        self.png_button.setText(_("Save chart as PNG…"))
        self.csv_button.setText(_("Save counts as CSV…"))
        self._fill()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
