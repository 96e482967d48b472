"""The objectives view shows the fixture's counts, its filters change them, and it exports them.

The fixture is the store test's: its numbers are known one by one.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from desktop.domain.translation import set_language
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.forms import hold_window_size_hints
from desktop.ui.workgroups.objectives import BREAKDOWNS, ObjectivesView
from tests.store.test_objectives import save_fixture


def shown(view: ObjectivesView) -> dict[str, list[int]]:
    """The table as the person sees it: first column's text → the counts after it."""
    table = view.table
    return {
        table.item(row, 0).text(): [
            int(table.item(row, column).data(256)) for column in range(1, table.columnCount())
        ]
        for row in range(table.rowCount())
    }


def recount(view: ObjectivesView, qtbot: QtBot, change: object) -> None:
    with qtbot.waitSignal(view.counted, timeout=5_000):
        assert callable(change)
        change()


def make_view(profile: Profile, qtbot: QtBot) -> ObjectivesView:
    store = RecordStore(profile.engine)
    save_fixture(store, local_spaces(store).network.id)
    view = ObjectivesView(profile.engine)
    qtbot.addWidget(view)
    # Shown as its own window, as no page hosts it here: the offscreen platform warns if a
    # top-level window's size hints change once shown.
    hold_window_size_hints(view)
    view.resize(1100, 800)
    view.show()
    qtbot.waitUntil(lambda: view.result is not None, timeout=5_000)
    return view


def choose(view: ObjectivesView, objective: str, breakdown: str) -> None:
    view.objective.setCurrentIndex(view.objective.findData(objective))
    view.breakdown.setCurrentIndex(view.breakdown.findData(breakdown))


def test_the_summary_shows_every_objectives_counts(profile: Profile, qtbot: QtBot) -> None:
    view = make_view(profile, qtbot)
    rows = shown(view)
    assert len(rows) == 6
    # Incidents, alerts, open alerts, materials, working groups, organizations.
    assert rows["Women and economic, social and cultural rights"] == [3, 1, 0, 1, 0, 2]
    assert rows["Social movements and human rights defenders"] == [1, 3, 2, 0, 0, 0]
    assert rows["Land, housing and natural resources"] == [2, 0, 0, 2, 1, 0]
    series = view.chart.series()
    assert len(series) == 1
    bars = series[0].barSets()
    assert [bar.label() for bar in bars] == ["Incidents", "Alerts", "Materials"]


def test_one_objective_broken_down_and_filtered_by_period_and_place(
    profile: Profile, qtbot: QtBot
) -> None:
    view = make_view(profile, qtbot)
    choose(view, "land_housing_natural_resources", "incidents_by_right")
    assert shown(view) == {"Rights to water and sanitation": [1], "Right to adequate housing": [1]}
    assert "Incidents: 2" in view.totals.text()
    bar = view.chart.series()[0].barSets()[0]
    assert [bar.at(i) for i in range(bar.count())] == [1.0, 1.0]
    # Drawn bottom to top, so the chart reads in the table's order.
    (names,) = view.chart.axes(Qt.Orientation.Vertical)
    table_order = [view.table.item(row, 0).text() for row in range(view.table.rowCount())]
    assert table_order == ["Right to adequate housing", "Rights to water and sanitation"]
    # Long names wrap onto lines (rich text) rather than being cut with "…".
    assert [c.replace("<br>", " ") for c in names.categories()] == list(reversed(table_order))
    assert "<br>" in names.categories()[0]

    view.date_from.setText("2024-06")
    recount(view, qtbot, view.date_from.editingFinished.emit)
    assert shown(view) == {"Right to adequate housing": [1]}

    view.date_from.clear()
    recount(view, qtbot, view.date_from.editingFinished.emit)
    recount(view, qtbot, lambda: view.country.setCurrentIndex(view.country.findData("co")))
    assert view.region.isEnabled() and view.region.findData("co_cau") > 0
    recount(view, qtbot, lambda: view.region.setCurrentIndex(view.region.findData("co_cau")))
    assert shown(view) == {"Rights to water and sanitation": [1]}

    # Outcomes list every status, even those no alert has reached.
    choose(view, "social_movements_defenders", "alerts_by_status")
    recount(view, qtbot, lambda: view.country.setCurrentIndex(0))
    assert shown(view) == {
        "Received": [1],
        "Verified": [0],
        "Response sent": [1],
        "Follow-up": [0],
        "Closed": [1],
    }


def test_a_wrong_date_is_refused_and_the_counts_stay(profile: Profile, qtbot: QtBot) -> None:
    view = make_view(profile, qtbot)
    before = view.result
    view.date_to.setText("junio")
    view.date_to.editingFinished.emit()
    assert "2025-06-30" in view.message.text()
    view.date_from.setText("2025")
    view.date_to.setText("2024")
    view.date_to.editingFinished.emit()
    assert view.message.text() == "The period ends before it starts."
    qtbot.wait(50)
    assert view.result is before


def test_what_is_shown_exports_as_csv_and_png(
    profile: Profile, qtbot: QtBot, tmp_path: Path
) -> None:
    view = make_view(profile, qtbot)
    view.save_csv(tmp_path / "all.csv")
    rows = {r["Code"]: r for r in csv.DictReader(io.StringIO((tmp_path / "all.csv").read_text()))}
    assert rows["women_escr"]["Incidents"] == "3"
    assert rows["social_movements_defenders"]["Open alerts"] == "2"

    choose(view, "monitoring_escr", "incidents_by_country")
    view.save_csv(tmp_path / "countries.csv")
    assert (tmp_path / "countries.csv").read_text(encoding="utf-8").splitlines() == [
        "Code,Country,Count",
        "co,Colombia,2",
        ",Not recorded,1",
        "eg,Egypt,1",
    ]
    assert view.save_png(tmp_path / "chart.png")
    image = QImage(str(tmp_path / "chart.png"))
    assert not image.isNull() and image.width() > 300


def test_the_view_reads_in_arabic(profile: Profile, qtbot: QtBot) -> None:
    set_language("ar")
    try:
        view = make_view(profile, qtbot)
        choose(view, "women_escr", BREAKDOWNS[0].attribute)
        assert view.labels["objective"].text() == "الهدف"
        assert view.objective.currentText() == "المرأة والحقوق الاقتصادية والاجتماعية والثقافية"
        # Mirrored: the rights' names on the right, bars growing leftward.
        (values,) = view.chart.axes(Qt.Orientation.Horizontal)
        (names,) = view.chart.axes(Qt.Orientation.Vertical)
        assert values.isReverse()
        assert names.alignment() == Qt.AlignmentFlag.AlignRight
    finally:
        set_language("en")
