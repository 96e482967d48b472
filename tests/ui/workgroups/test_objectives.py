"""The objectives view counts exactly what the records tag, shows it as a chart, and exports it.

The fixture tags materials, groups and organizations; the view's numbers must match them.
"""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from desktop.domain.network_records import Material
from desktop.domain.records import Organization, WorkingGroup
from desktop.store.records import RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.workgroups.objectives import ObjectivesView
from desktop.ui.workgroups.page import WorkingGroupsPage


def test_the_counts_match_the_records_and_export_as_png_and_csv(
    page: WorkingGroupsPage, qtbot: QtBot, tmp_path: Path
) -> None:
    store = RecordStore(page.profile.engine)
    space = local_spaces(store).network.id
    group = WorkingGroup(
        space_id=space, name="Rendición de cuentas", objectives=("corporate_accountability",)
    )

    def material(title: str, *objectives: str) -> Material:
        return Material(
            space_id=space,
            working_group_id=group.id,
            title=title,
            material_type="report",
            objectives=objectives,
        )

    store.save_all(
        [
            group,
            material("Informe A", "corporate_accountability", "women_escr"),
            material("Informe B", "corporate_accountability"),
            material("Informe C"),
            Organization(space_id=space, name="Org", objectives=("women_escr",)),
        ]
    )
    with qtbot.waitSignal(page.objectives_button.clicked):
        page.objectives_button.click()
    view = page.objectives
    assert isinstance(view, ObjectivesView)
    qtbot.waitUntil(lambda: view.result is not None)
    assert view.result is not None
    counts = view.result.counts
    assert counts["corporate_accountability"] == {
        "material": 2,
        "working_group": 1,
        "organization": 0,
    }
    assert counts["women_escr"] == {"material": 1, "working_group": 0, "organization": 1}
    assert counts["monitoring_escr"] == {"material": 0, "working_group": 0, "organization": 0}
    assert len(view.result.objectives) == 6 and view.table.rowCount() == 6
    assert len(view.chart.series()) == 1

    assert view.save_png(tmp_path / "chart.png")
    assert not QImage(str(tmp_path / "chart.png")).isNull()
    view.save_csv(tmp_path / "counts.csv")
    with (tmp_path / "counts.csv").open(encoding="utf-8") as file:
        rows = {row["Code"]: row for row in csv.DictReader(file)}
    assert rows["corporate_accountability"]["Materials"] == "2"
    assert rows["women_escr"]["Organizations"] == "1"


def test_the_chart_axis_labels_are_whole_at_the_default_size(
    page: WorkingGroupsPage, qtbot: QtBot
) -> None:
    # At 1024×680 the chart had about 17 px per objective and QtCharts cut every label to "…"
    # (a one-line item). Now each label keeps all its lines, and the page scrolls instead.
    page.resize(1024 - 200, 680 - 60)  # the page's share of the default window
    with qtbot.waitSignal(page.objectives_button.clicked):
        page.objectives_button.click()
    view = page.objectives
    assert isinstance(view, ObjectivesView)
    qtbot.waitUntil(lambda: view.result is not None)
    view.views.setCurrentWidget(view.chart_view)
    qtbot.wait(300)
    axis = view.chart.axes()[0]
    categories = axis.categories()  # type: ignore[attr-defined]
    line = view.chart_view.fontMetrics().lineSpacing()
    wrapped = [c for c in categories if "<br>" in c]
    assert len(categories) == 6 and wrapped  # some names need two lines or more
    heights = sorted(
        item.boundingRect().height()
        for item in view.chart_view.scene().items()
        if item.type() == 8  # text items: the axes' labels
    )
    tall = [h for h in heights if h >= 1.8 * line]
    assert len(tall) >= len(wrapped), heights
