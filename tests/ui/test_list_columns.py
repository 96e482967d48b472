"""A list's columns beside the first are shown whole or hidden, and a second fit agrees with the
first: a hidden column's header used to measure as narrow as its values, so it was shown again
at the next fit, its header cut (the alerts' "Urgency" in Arabic at 720x520, 98 px in 38)."""

from __future__ import annotations

from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.ui.lists import ListTable


def test_a_column_hidden_as_too_wide_stays_hidden_at_the_next_fit(
    app: QApplication, qtbot: QtBot
) -> None:
    model = QStandardItemModel(1, 2)
    model.setHorizontalHeaderLabels(["Title", "A header much wider than its value"])
    model.setItem(0, 0, QStandardItem("Amenazas a Rosa"))
    model.setItem(0, 1, QStandardItem("x"))
    table = ListTable(share=0.35)
    qtbot.addWidget(table)
    table.setModel(model)
    header = table.horizontalHeader()
    table.resize(220, 200)
    table.show()
    qtbot.waitExposed(table)
    label = header.fontMetrics().horizontalAdvance("A header much wider than its value")
    room = table.viewport().width() - max(140, int(table.viewport().width() * 0.35))
    # The premise: the header needs more than is left beside the first column, its value less.
    assert label > room > header.fontMetrics().horizontalAdvance("x")
    for _ in range(3):
        table.fit_columns()
        # Hidden (its value is in the record's detail), never shown with its header cut.
        assert header.isSectionHidden(1), header.sectionSize(1)
