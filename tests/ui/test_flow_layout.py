"""A flow of buttons with none shown takes no height: it said -6 px (minus its spacing), and a
box layout above it took those 6 px from the label before it. An organization's "None yet."
under "People" (no add button there) was cut in half at 720x520 in Arabic."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from desktop.ui.flow import FlowLayout


def test_an_empty_flow_takes_no_height(app: QApplication) -> None:
    flow = FlowLayout()
    assert flow.heightForWidth(300) == 0
    hidden = QPushButton("Add a person…")
    holder = QWidget()
    holder.setLayout(flow)
    flow.add_widget(hidden)
    hidden.hide()
    assert flow.heightForWidth(300) == 0


# Shown alone on the offscreen platform, a window's size hints cannot be handed on.
@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_a_label_above_an_empty_flow_is_shown_whole(app: QApplication, qtbot: QtBot) -> None:
    box = QWidget()
    qtbot.addWidget(box)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 8, 0, 0)
    title, empty = QLabel("People", box), QLabel("None yet.", box)
    layout.addWidget(title)
    layout.addWidget(empty)
    layout.addLayout(FlowLayout())
    box.resize(300, layout.totalHeightForWidth(300))
    box.show()
    qtbot.waitExposed(box)
    assert empty.geometry().bottom() < box.height(), (empty.geometry(), box.height())
    assert empty.height() >= empty.sizeHint().height()
