"""The Sync page of a joined computer at the window's minimum size (720×520), in the four
languages: it scrolls up and down only, and nothing in the window is clipped
(``tests.helpers.fit``), the status bar below it included.

A bundle's "Also the files the records name…" check box kept its words on one line (447 px in
English, 472 in Arabic) and held the page wider than the window, which scrolled sideways and
cut every line at its far edge. In Spanish the status bar's texts needed more than the
window's width and cut the sync state (250 px in 240): the auto-lock delay steps aside there.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from desktop.domain.translation import set_language
from desktop.ui.forms import WrappingCheckBox
from desktop.ui.main_window import MainWindow
from tests.helpers.fit import clipped_texts
from tests.ui.sync.conftest import Server, join_as_admin

MINIMUM_SIZE = (720, 520)


def test_the_joined_sync_page_fits_the_minimum_window_in_every_language(
    unlocked: MainWindow, qtbot: QtBot, server: Server
) -> None:
    page = join_as_admin(qtbot, unlocked, server)
    qtbot.waitUntil(lambda: page.bundles.for_device.count() > 0, timeout=10_000)
    unlocked.resize(*MINIMUM_SIZE)
    problems: list[str] = []
    try:
        for language in ("en", "es", "fr", "ar"):
            set_language(language)
            qtbot.wait(300)  # the layout settles
            holder = page.scroll_area.widget()
            viewport = page.scroll_area.viewport()
            if holder.width() > viewport.width():
                problems.append(
                    f"{language}: the page is {holder.width()} px wide in {viewport.width()}"
                )
            # Every part of the page in view in turn: what is scrolled away is not measured.
            for part in (page.device_box, page.status_box, page.bundles, page.network):
                page.scroll_area.ensureWidgetVisible(part, 0, 0)
                # Sideways at the page's start (its right in Arabic), where the person sees it.
                page.scroll_area.horizontalScrollBar().setValue(0)
                qtbot.wait(100)
                problems += [f"{language}: {item}" for item in clipped_texts(unlocked)]
    finally:
        set_language("en")
    assert problems == [], "\n".join(dict.fromkeys(problems))


def test_the_wrapping_check_box_wraps_and_ticks_from_its_words(
    app: QApplication, qtbot: QtBot
) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    check = WrappingCheckBox(window)
    check.setText("Also the &files the records name (larger; this computer's new files always go)")
    check.setGeometry(0, 0, 200, check.heightForWidth(200))
    window.resize(240, 200)
    window.show()
    qtbot.waitExposed(window)
    assert check.minimumSizeHint().width() < 200  # a plain QCheckBox: 440 px or so
    assert check.label.height() > 2 * check.label.fontMetrics().height()  # on several lines
    assert clipped_texts(check) == []
    assert check.box.accessibleName().startswith("Also the files the records")
    qtbot.mouseClick(check.label, Qt.MouseButton.LeftButton, pos=QPoint(20, 5))
    assert check.isChecked()
    qtbot.mouseClick(check.label, Qt.MouseButton.LeftButton, pos=QPoint(20, 5))
    assert not check.isChecked()
    # Its mnemonic (Alt+F, the "&files") ticks it, as a check box's own does.
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(check.isChecked, timeout=2_000)  # an animated click: 100 ms
    assert check.box.hasFocus()
