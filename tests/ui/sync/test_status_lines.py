"""The Sync box's lines stay apart in Arabic at 1024×680, and the fit check sees lines that meet.

Arabic is drawn in a fallback font (DejaVu Sans beside the Noto Sans UI font) whose lines are
14 px, not 17: the last sync's report, three lines in one label, had the marks above one line
(أُ, يُ) touching the letters of the line before (seen in a grab).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

from desktop.domain.translation import set_language
from desktop.ui.main_window import MainWindow
from tests.helpers.fit import clipped_texts
from tests.ui.sync.conftest import Server, join_as_admin

#: The report the Sync box showed after a first sync, in Arabic (three lines).
REPORT_AR = "لم يُرسل أي تغيير\nلم يُستقبل أي تغيير\nأُرسل 63 بايتًا واستُقبل 106 بايتات في طلب واحد"
REPORT_EN = "0 changes sent\n0 changes received\n63 bytes sent and 106 bytes received in 1 request"


def _label(qtbot: QtBot, text: str, direction: Qt.LayoutDirection) -> QWidget:
    window = QWidget()
    qtbot.addWidget(window)
    window.setLayoutDirection(direction)
    label = QLabel(text, window)
    label.setWordWrap(True)
    label.setGeometry(0, 0, 580, label.heightForWidth(580))
    window.resize(600, 120)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_the_check_sees_arabic_lines_touching(app: QApplication, qtbot: QtBot) -> None:
    set_language("ar")
    found = clipped_texts(_label(qtbot, REPORT_AR, Qt.LayoutDirection.RightToLeft))
    assert [(item.kind, item.text) for item in found] == [("lines touch", REPORT_AR)]
    # The same lines in English, 17 px apart, are fine.
    assert clipped_texts(_label(qtbot, REPORT_EN, Qt.LayoutDirection.LeftToRight)) == []
    set_language("en")


def test_the_sync_boxs_lines_stay_apart_in_arabic(
    unlocked: MainWindow, qtbot: QtBot, server: Server
) -> None:
    page = join_as_admin(qtbot, unlocked, server)
    unlocked.resize(1024, 680)
    set_language("ar")
    qtbot.waitUntil(lambda: page.status_box.title() == "المزامنة")
    page.scroll_area.ensureWidgetVisible(page.status_box)
    qtbot.wait(300)  # the layout settles before the check and the picture
    unlocked.grab().save("/tmp/sync-status-lines-ar.png")
    assert "لم يُستقبل أي تغيير" in page.report.text().splitlines()
    assert clipped_texts(unlocked) == []
    # Each line at least as tall as a line of the UI font, whatever font draws it.
    spacing = page.last_sync.fontMetrics().lineSpacing()
    shown = [page.last_sync, page.pending, *page.report.lines()]
    assert len(shown) == 5 and all(line.height() >= spacing for line in shown)
    set_language("en")
