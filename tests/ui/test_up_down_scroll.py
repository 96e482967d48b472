"""The scroll area that scrolls up and down only (list pages' details, the objectives page)."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from desktop.ui.list_page import UpDownScroll


def test_a_fit_pending_when_the_area_goes_is_dropped(app: QApplication, qtbot: QtBot) -> None:
    # A form in the area asks for a new layout (its text changed), then the page replaces the
    # area (another alert opened, the window locked) before the event loop runs: the fit that
    # was asked for must not run on the deleted area (it raised in the event loop, seen with
    # the new-defender dialog closed just before the window locked).
    holder = QWidget()
    qtbot.addWidget(holder)
    area = UpDownScroll(holder)
    content = QWidget()
    QVBoxLayout(content).addWidget(QLabel("A form", content))
    area.setWidget(content)
    holder.show()
    qtbot.waitExposed(holder)
    content.layout().addWidget(QLabel("One more line", content))  # posts a LayoutRequest
    QApplication.sendPostedEvents()  # the request reaches the area: a fit is queued
    area.deleteLater()
    qtbot.wait(100)  # the area goes, then the queued fit's turn comes
