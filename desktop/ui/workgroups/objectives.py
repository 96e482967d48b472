"""Where the network stands on its six shared objectives: what was recorded against each.

All six side by side, or one objective broken down (incidents by right, country and kind; alerts
by status and urgency), for a period and a place. Counts come from ``desktop.store.objectives``
on a worker; the chart (QtCharts) and the table can be saved as PNG and CSV.
"""

from __future__ import annotations

import csv
import html
import io
import textwrap
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QChartView,
    QHorizontalBarSeries,
    QValueAxis,
)
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from desktop.domain import vocabularies as vocab
from desktop.domain.dates import InvalidDate, PartialDate
from desktop.domain.network_records import ALERT_STATUSES, ALERT_URGENCIES
from desktop.domain.translation import N_, _, format_number, is_right_to_left, ngettext
from desktop.store.objectives import (
    Breakdown,
    ObjectiveFilter,
    ObjectiveReport,
    count_objectives,
)
from desktop.ui.forms import MessageLabel, failure_message, heading
from desktop.ui.jobs import JobState, run_job

#: What can be tagged with an objective, and the column each gets.
TAGGED: tuple[tuple[str, str], ...] = (
    ("material", N_("Materials")),
    ("working_group", N_("Working groups")),
    ("organization", N_("Organizations")),
)

#: The columns of the six-objective summary: a report's attribute and its heading.
SUMMARY: tuple[tuple[str, str], ...] = (
    ("incidents", N_("Incidents")),
    ("alerts", N_("Alerts")),
    ("open_alerts", N_("Open alerts")),
    ("materials", N_("Materials")),
    ("working_groups", N_("Working groups")),
    ("organizations", N_("Organizations")),
)


@dataclass(frozen=True)
class BreakdownKind:
    """One way to break an objective down: the report's attribute, its name, what a row is."""

    attribute: str
    name: str
    row_heading: str
    vocabulary: str
    #: closed lists show every term, zeros included, in the list's own order
    every_term: bool


BREAKDOWNS: tuple[BreakdownKind, ...] = (
    BreakdownKind("incidents_by_right", N_("Incidents by right"), N_("Right"), vocab.RIGHTS, False),
    BreakdownKind(
        "incidents_by_country", N_("Incidents by country"), N_("Country"), vocab.COUNTRIES, False
    ),
    BreakdownKind(
        "incidents_by_kind", N_("Incidents by kind"), N_("Kind"), vocab.INCIDENT_KINDS, True
    ),
    BreakdownKind("alerts_by_status", N_("Alerts by outcome"), N_("Status"), ALERT_STATUSES, True),
    BreakdownKind(
        "alerts_by_urgency", N_("Alerts by urgency"), N_("Urgency"), ALERT_URGENCIES, True
    ),
)


@dataclass(frozen=True)
class ObjectiveCounts:
    """Every objective's report under one filter, in the vocabulary's order."""

    objectives: tuple[str, ...]
    reports: dict[str, ObjectiveReport]
    where: ObjectiveFilter

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """Per objective, the materials, groups and organizations tagged with it."""
        return {
            code: {
                "material": report.materials,
                "working_group": report.working_groups,
                "organization": report.organizations,
            }
            for code, report in self.reports.items()
        }


def count_all(engine: Engine, where: ObjectiveFilter) -> ObjectiveCounts:
    reports = count_objectives(engine, where)
    return ObjectiveCounts(
        tuple(r.objective for r in reports), {r.objective: r for r in reports}, where
    )


def breakdown_rows(report: ObjectiveReport, kind: BreakdownKind) -> list[tuple[str, str, int]]:
    """``(code, label, count)`` rows of one breakdown, as the table and the CSV show them."""
    counted: Breakdown = getattr(report, kind.attribute)
    if kind.every_term:
        found = dict(counted)
        terms = vocab.default_vocabularies()[kind.vocabulary].top_level()
        pairs = [(t.code, found.pop(t.code, 0)) for t in terms] + sorted(found.items())
    else:
        pairs = list(counted)
    return [(code, _term_label(kind.vocabulary, code), count) for code, count in pairs]


def _term_label(vocabulary: str, code: str) -> str:
    return vocab.label(vocabulary, code) if code else _("Not recorded")


def summary_csv(result: ObjectiveCounts) -> str:
    """The six objectives' counts as CSV: codes for tools, labels in the current language."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([_("Code"), _("Objective"), *(_(heading) for _a, heading in SUMMARY)])
    for code in result.objectives:
        report = result.reports[code]
        writer.writerow(
            [
                code,
                vocab.label(vocab.OBJECTIVES, code),
                *(getattr(report, attribute) for attribute, _h in SUMMARY),
            ]
        )
    return out.getvalue()


def breakdown_csv(report: ObjectiveReport, kind: BreakdownKind) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([_("Code"), _(kind.row_heading), _("Count")])
    writer.writerows(breakdown_rows(report, kind))
    return out.getvalue()


#: The chart's least height, and what it needs besides its categories (value axis, legend,
#: margins), in pixels.
CHART_MINIMUM = 220
CHART_FRAME = 130


def _axis_label(text: str, width: int = 24) -> str:
    """A category as the chart shows it: escaped, on lines of about ``width`` characters."""
    lines = textwrap.wrap(text, width) or [""]
    return "<br>".join(html.escape(line) for line in lines)


class ObjectivesView(QWidget):
    """The objectives' counts as a table and a bar chart, filtered, exportable as PNG and CSV.

    Signals:
        counted(object): the :class:`ObjectiveCounts` just shown.
    """

    counted = Signal(object)

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("objectivesView")
        self.engine = engine
        self.result: ObjectiveCounts | None = None
        # Counts for an older filter may come back after newer ones: only the last is shown.
        self._asked = 0
        self.title = heading(self)
        self.objective = QComboBox(self)
        self.breakdown = QComboBox(self)
        self.date_from = QLineEdit(self)
        self.date_to = QLineEdit(self)
        self.country = QComboBox(self)
        self.region = QComboBox(self)
        self.labels: dict[str, QLabel] = {}
        # What to count on the first line, where and when on the second: in one line the
        # filters made the view wider than the Working groups page leaves it.
        filters = QGridLayout()
        for row, column, span, name, widget in (
            (0, 0, 2, "objective", self.objective),
            (0, 2, 2, "breakdown", self.breakdown),
            # Dates, then places, a pair to a line: four in a row cut the dates' hint.
            (2, 0, 2, "date_from", self.date_from),
            (2, 2, 2, "date_to", self.date_to),
            (4, 0, 2, "country", self.country),
            (4, 2, 2, "region", self.region),
        ):
            label = QLabel(self)
            label.setBuddy(widget)
            self.labels[name] = label
            filters.addWidget(label, row, column, 1, span)
            filters.addWidget(widget, row + 1, column, 1, span)
        for column in range(4):
            filters.setColumnStretch(column, 1)
        self.totals = QLabel(self)
        self.totals.setWordWrap(True)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setObjectName("hint")
        self.table = QTableWidget(self)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.chart = QChart()
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart_view = QChartView(self.chart, self)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(CHART_MINIMUM)
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
        layout.addLayout(filters)
        layout.addWidget(self.totals)
        # The chart and the table each get the whole height, one at a time: stacked, the
        # table had room for a single row at 1024×680.
        self.views = QTabWidget(self)
        self.views.setDocumentMode(True)
        self.views.addTab(self.chart_view, "")
        self.views.addTab(self.table, "")
        layout.addWidget(self.views, 1)
        layout.addWidget(self.note)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.retranslate()
        self.objective.currentIndexChanged.connect(self._fill)
        self.breakdown.currentIndexChanged.connect(self._fill)
        self.country.currentIndexChanged.connect(self._country_chosen)
        self.region.currentIndexChanged.connect(self.refresh)
        self.date_from.editingFinished.connect(self.refresh)
        self.date_to.editingFinished.connect(self.refresh)
        self.refresh()

    # --- filters ------------------------------------------------------------------------------

    def chosen_objective(self) -> str:
        return str(self.objective.currentData() or "")

    def chosen_breakdown(self) -> BreakdownKind:
        index = max(self.breakdown.currentIndex(), 0)
        return BREAKDOWNS[index]

    def current_filter(self) -> ObjectiveFilter | None:
        """The filter the fields describe, or None (and a message) if a date can't be read.

        A partial date stands for its whole span: "2024" from 1 January, or to 31 December.
        """
        bounds: list[date | None] = []
        for field, edge in ((self.date_from, "earliest"), (self.date_to, "latest")):
            written = field.text().strip()
            if not written:
                bounds.append(None)
                continue
            try:
                bounds.append(getattr(PartialDate.parse(written), edge))
            except InvalidDate:
                self.message.say(_("Write a date as 2025-06-30, 2025-06 or 2025."))
                field.setFocus()
                return None
        if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
            self.message.say(_("The period ends before it starts."))
            return None
        return ObjectiveFilter(
            bounds[0],
            bounds[1],
            str(self.country.currentData() or ""),
            str(self.region.currentData() or ""),
        )

    def _country_chosen(self) -> None:
        self._fill_regions()
        self.refresh()

    def _fill_regions(self) -> None:
        chosen = self.region.currentData()
        country = str(self.country.currentData() or "")
        self.region.blockSignals(True)
        self.region.clear()
        self.region.addItem(_("Whole country") if country else _("Any region"), "")
        if country:
            countries = vocab.default_vocabularies()[vocab.COUNTRIES]
            for code, label in countries.choices(parent=country, by_label=True):
                self.region.addItem(label, code)
        self.region.setCurrentIndex(max(self.region.findData(chosen), 0))
        self.region.setEnabled(self.region.count() > 1)
        self.region.blockSignals(False)

    # --- counting -----------------------------------------------------------------------------

    def refresh(self) -> None:
        where = self.current_filter()
        if where is None:
            return
        self.message.clear_message()
        self._asked += 1
        asked, engine = self._asked, self.engine

        def count(_state: JobState) -> ObjectiveCounts:
            return count_all(engine, where)

        run_job(
            self,
            count,
            on_success=lambda result: self._show(asked, result),
            on_failure=lambda error: self.message.say(failure_message(error)),
        )

    def _show(self, asked: int, result: ObjectiveCounts) -> None:
        if asked != self._asked:
            return
        self.result = result
        self._fill()
        self.counted.emit(result)

    # --- showing ------------------------------------------------------------------------------

    def _fill(self) -> None:
        objective = self.chosen_objective()
        self.breakdown.setEnabled(bool(objective))
        self.labels["breakdown"].setEnabled(bool(objective))
        result = self.result
        if result is None:
            return
        if objective:
            self._fill_breakdown(result.reports[objective], self.chosen_breakdown())
        else:
            self._fill_summary(result)

    def _fill_summary(self, result: ObjectiveCounts) -> None:
        self.totals.setText(_("All six objectives, side by side."))
        headings = [_("Objective"), *(_(heading) for _a, heading in SUMMARY)]
        rows = [
            (
                vocab.label(vocab.OBJECTIVES, code),
                [getattr(result.reports[code], attribute) for attribute, _h in SUMMARY],
            )
            for code in result.objectives
        ]
        self._fill_table(headings, rows)
        # Incidents, alerts and materials side by side: the three things the network records.
        shown = (SUMMARY[0], SUMMARY[1], SUMMARY[3])
        self._draw(
            [vocab.label(vocab.OBJECTIVES, code) for code in result.objectives],
            [
                (_(heading), [getattr(result.reports[c], attribute) for c in result.objectives])
                for attribute, heading in shown
            ],
        )

    def _fill_breakdown(self, report: ObjectiveReport, kind: BreakdownKind) -> None:
        self.totals.setText(
            "  ·  ".join(
                (
                    _("Incidents: {count}").format(count=format_number(report.incidents)),
                    _("Alerts: {count} ({open})").format(
                        count=format_number(report.alerts),
                        # "open" agrees with its number in Spanish, French and Arabic.
                        open=ngettext(
                            "{count} open alert", "{count} open alerts", report.open_alerts
                        ).format(count=format_number(report.open_alerts)),
                    ),
                    _("Materials: {count}").format(count=format_number(report.materials)),
                    _("Working groups: {count}").format(count=format_number(report.working_groups)),
                    _("Organizations: {count}").format(count=format_number(report.organizations)),
                )
            )
        )
        rows = breakdown_rows(report, kind)
        self._fill_table(
            [_(kind.row_heading), _("Count")], [(label, [count]) for _c, label, count in rows]
        )
        self._draw([label for _c, label, _n in rows], [(_(kind.name), [n for *_r, n in rows])])

    def _fill_table(self, headings: list[str], rows: list[tuple[str, list[int]]]) -> None:
        self.table.clear()
        self.table.setColumnCount(len(headings))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels(headings)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(headings)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        for row, (label, counts) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(label))
            for column, count in enumerate(counts, start=1):
                item = QTableWidgetItem(format_number(count))
                item.setData(Qt.ItemDataRole.UserRole, count)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(row, column, item)

    def _draw(self, categories: list[str], sets: list[tuple[str, list[int]]]) -> None:
        # A new chart each time: axes removed from a shown chart left their labels drawn
        # under the new ones.
        chart = QChart()
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        # A horizontal bar chart draws its first category at the bottom; reversed, the chart
        # reads top to bottom in the same order as the table.
        series = QHorizontalBarSeries()
        for name, values in sets:
            bar = QBarSet(name)
            bar.append([float(v) for v in reversed(values)])
            series.append(bar)
        chart.addSeries(series)
        chart.legend().setVisible(len(sets) > 1)
        axis = QBarCategoryAxis()
        # Axis labels are rich text: long ones wrap onto lines instead of ending in "…".
        axis.append([_axis_label(c) for c in reversed(categories)] or [_("Nothing recorded")])
        values = QValueAxis()
        values.setLabelFormat("%d")
        top = max([1, *(v for _n, counts in sets for v in counts)])
        values.setRange(0, top)
        if top <= 10:
            # One tick per whole number: "nice numbers" on 0..3 would label 0.5 as "0".
            values.setTickCount(top + 1)
        else:
            values.applyNiceNumbers()
        # QtCharts does not mirror itself: in Arabic the labels go right and bars grow leftward.
        right_to_left = is_right_to_left()
        values.setReverse(right_to_left)
        side = Qt.AlignmentFlag.AlignRight if right_to_left else Qt.AlignmentFlag.AlignLeft
        chart.addAxis(axis, side)
        chart.addAxis(values, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(axis)
        series.attachAxis(values)
        self.chart_view.setChart(chart)
        self.chart = chart
        # QtCharts shortens a category's label to "…" when its share of the height is less
        # than the label's lines: the chart is made tall enough for every label whole.
        lines = max([label.count("<br>") + 1 for label in axis.categories()] or [1])
        line = QFontMetrics(axis.labelsFont()).lineSpacing()
        needed = len(axis.categories()) * (lines * line + 8) + CHART_FRAME
        self.chart_view.setMinimumHeight(max(CHART_MINIMUM, needed))

    # --- saving -------------------------------------------------------------------------------

    def shown_csv(self) -> str:
        """The table on screen as CSV: the summary, or the breakdown chosen."""
        if self.result is None:
            return ""
        objective = self.chosen_objective()
        if objective:
            return breakdown_csv(self.result.reports[objective], self.chosen_breakdown())
        return summary_csv(self.result)

    def save_png(self, path: Path) -> bool:
        return self.chart_view.grab().save(str(path), "PNG")

    def save_csv(self, path: Path) -> None:
        if self.result is not None:
            path.write_text(self.shown_csv(), encoding="utf-8")

    def _suggested(self, suffix: str) -> str:
        objective = self.chosen_objective()
        name = f"{objective}-{self.chosen_breakdown().attribute}" if objective else "objectives"
        return f"{name}.{suffix}"

    def _ask_png(self) -> None:
        name, _filter = QFileDialog.getSaveFileName(
            self, _("Save the chart"), self._suggested("png")
        )
        if name and not self.save_png(Path(name)):
            self.message.say(_("The chart could not be saved there."))

    def _ask_csv(self) -> None:
        name, _filter = QFileDialog.getSaveFileName(
            self, _("Save the counts"), self._suggested("csv")
        )
        if name:
            try:
                self.save_csv(Path(name))
            except OSError:
                self.message.say(_("The counts could not be saved there."))

    # --- language -----------------------------------------------------------------------------

    def retranslate(self) -> None:
        self.title.setText(_("Where we stand on our shared objectives"))
        self.views.setTabText(0, _("Chart"))
        self.views.setTabText(1, _("Table"))
        names: dict[str, str] = {
            "objective": _("Objective"),
            "breakdown": _("Show"),
            "date_from": _("From"),
            "date_to": _("To"),
            "country": _("Country"),
            "region": _("Region"),
        }
        for name, text in names.items():
            self.labels[name].setText(text)
        hint = _("2025, 2025-06 or 2025-06-30")
        for field in (self.date_from, self.date_to):
            field.setPlaceholderText(hint)
            # Wide enough for the whole hint: cut short, it no longer says what to write.
            field.setMinimumWidth(field.fontMetrics().horizontalAdvance(hint) + 16)
        _refill(self.objective, [("", _("All six objectives"))], vocab.OBJECTIVES)
        _refill(
            self.breakdown,
            [(kind.attribute, _(kind.name)) for kind in BREAKDOWNS],
            None,
        )
        _refill(self.country, [("", _("Any country"))], vocab.COUNTRIES)
        self._fill_regions()
        self.note.setText(
            _(
                "Incidents and alerts count toward an objective by their rights, acts, kind or "
                "threat. Materials and working groups have no date or place, so no filter "
                "narrows them; organizations are narrowed by country only. Alerts record no "
                "region: a region counts the alerts of its whole country."
            )
        )
        self.png_button.setText(_("Save chart as PNG…"))
        self.csv_button.setText(_("Save counts as CSV…"))
        self._fill()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


def _refill(combo: QComboBox, first: list[tuple[str, str]], vocabulary: str | None) -> None:
    """Fill a chooser in the current language, keeping the chosen code and sending no signal."""
    chosen = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    items = list(first)
    if vocabulary is not None:
        by_label = vocabulary == vocab.COUNTRIES
        items += vocab.default_vocabularies()[vocabulary].choices(by_label=by_label)
    for code, label in items:
        combo.addItem(label, code)
    combo.setCurrentIndex(max(combo.findData(chosen), 0))
    combo.blockSignals(False)
