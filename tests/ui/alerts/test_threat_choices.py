"""Every threat or attack a new alert offers is readable in the narrowest side pane, in English
and Arabic: the chosen one wraps in its box, and the list of choices shows each one whole.

The side pane beside the alerts list can be dragged down to 320 px at 1024×680; there the box
was 263 px wide and "Restrictions on the organization (registration, funding)" needed 306 px
(Arabic: "العنف الجنسي أو القائم على النوع الاجتماعي", 222 px in 160), cut at its end.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.domain.records import SpaceKind
from desktop.domain.translation import set_language
from desktop.ui.alerts.forms import AlertForm, SpaceChoice
from desktop.ui.list_page import DETAIL_MINIMUM_WIDTH, UpDownScroll
from tests.helpers.fit import clipped_texts


# Opening the list on the offscreen platform: it cannot raise a window or grab the keyboard.
@pytest.mark.qt_log_ignore("does not support raise", "does not support grabbing the keyboard")
@pytest.mark.parametrize("language", ["en", "ar"])
def test_every_threat_is_readable_in_the_narrowest_side_pane(
    app: QApplication, qtbot: QtBot, language: str
) -> None:
    set_language(language)
    scroll = UpDownScroll()
    qtbot.addWidget(scroll)
    if language == "ar":
        scroll.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
    form = AlertForm([SpaceChoice("network", "Network", SpaceKind.NETWORK)], [], scroll)
    scroll.setWidget(form)
    scroll.resize(DETAIL_MINIMUM_WIDTH, 700)
    scroll.show()
    qtbot.waitExposed(scroll)
    threat = form.threat
    single = threat.fontMetrics().height()
    wrapped = 0
    for index in range(threat.count()):
        threat.setCurrentIndex(index)
        QApplication.processEvents()  # the form lays out the box's new height
        assert [str(item) for item in clipped_texts(scroll)] == [], threat.currentText()
        wider = threat.fontMetrics().horizontalAdvance(threat.currentText()) > threat.width()
        if wider:
            # More lines than one, and the box as tall as they are.
            wrapped += 1
            assert threat.height() >= threat.text_height(threat.width()) > single
    assert wrapped > 0  # the premise: some choices are wider than the box
    # The list of choices opens showing each choice whole.
    threat.showPopup()
    view = threat.view()
    qtbot.waitUntil(view.isVisible)
    for row in range(threat.count()):
        index = view.model().index(row, 0, QModelIndex())
        assert view.sizeHintForIndex(index).width() <= view.viewport().width(), index.data()
        assert view.visualRect(index).height() >= view.sizeHintForIndex(index).height()
    threat.hidePopup()
    set_language("en")
