"""Each list line in its own direction, in every list of the sections (issue 15 item 7).

In the Arabic interface a Spanish or English name reads from the left, an Arabic one from the
right, in the working group's members and materials, the alert's letters and signatures and
the alert form's defenders, as already in the sections' main lists.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)
from pytestqt.qtbot import QtBot

from desktop.domain.translation import set_language
from desktop.ui.bidi import direction_of

from .conftest import demo_profile, show_window, unlock_through_screen
from .test_layout_fit import WAIT, _first_row, open_first_alert


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_profile(tmp_path_factory, "directions", incidents=5)


def lines_against_their_direction(window: QWidget) -> list[str]:
    """Every visible list or table line drawn in a direction other than its own text's."""
    wrong = []
    for view in window.findChildren(QAbstractItemView):
        if not view.isVisible() or view.model() is None:
            continue
        model = view.model()
        columns = model.columnCount() if isinstance(view, QTableView) else 1
        for row in range(min(model.rowCount(), 40)):
            for column in range(columns):
                index = model.index(row, column, QModelIndex())
                text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
                wanted = direction_of(text)
                if wanted is None or view.isIndexHidden(index):
                    continue
                if index.data(Qt.ItemDataRole.CheckStateRole) is not None:
                    # A list of boxes to tick keeps them in one column on the interface's side
                    # (the alert's defenders): a line of its own direction would move its box.
                    continue
                option = QStyleOptionViewItem()
                view.initViewItemOption(option)
                view.itemDelegateForIndex(index).initStyleOption(option, index)
                if option.direction != wanted:
                    wrong.append(f"{view.objectName() or type(view).__name__}: {text!r}")
    return wrong


def test_every_list_line_reads_in_its_own_direction_in_arabic(
    app: QApplication, qtbot: QtBot, demo_folder: Path
) -> None:
    set_language("ar")
    window = show_window(qtbot, demo_folder)
    unlock_through_screen(qtbot, window)
    set_language("ar")
    workspace = window.workspace
    assert workspace is not None
    wrong: list[str] = []

    workspace.show_section("directory")
    directory = workspace.page("directory")
    for record_type in ("organization", "person", "working_group"):
        listing = directory.show_list(record_type)  # type: ignore[attr-defined]
        _first_row(qtbot, listing)
        qtbot.waitUntil(lambda d=listing: d.detail.detail is not None, timeout=WAIT)
        qtbot.wait(300)
        wrong += lines_against_their_direction(window)
    workspace.show_section("incidents")
    _first_row(qtbot, workspace.page("incidents"))
    qtbot.wait(300)
    wrong += lines_against_their_direction(window)

    workspace.show_section("working_groups")
    groups = workspace.page("working_groups")
    group_id = _first_row(qtbot, groups)
    assert group_id is not None
    with qtbot.waitSignal(groups.group_opened, timeout=WAIT):  # type: ignore[attr-defined]
        groups.open_group(group_id)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: groups.group.bundle is not None, timeout=WAIT)  # type: ignore[attr-defined]
    qtbot.wait(300)
    wrong += lines_against_their_direction(window)

    alerts, _detail = open_first_alert(qtbot, workspace)
    qtbot.wait(300)
    wrong += lines_against_their_direction(window)
    alerts.new_alert()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: alerts.form is not None, timeout=WAIT)  # type: ignore[attr-defined]
    qtbot.wait(300)
    wrong += lines_against_their_direction(window)

    window.lock()
    qtbot.waitUntil(lambda: not window.is_unlocked, timeout=WAIT)
    set_language("en")
    wrong = sorted(set(wrong))
    assert wrong == [], "\n".join(wrong)
