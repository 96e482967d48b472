"""The incidents list: lazy chunks over SQL, filters and order in SQL, and cleared at lock.

A 1,000-incident profile shows its first rows after reading one chunk, not the table.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.store.demo import fill_profile
from desktop.store.profile import Profile
from desktop.store.records import RecordQuery, RecordStore
from desktop.ui.incidents.model import CHUNK
from desktop.ui.incidents.page import IncidentsPage
from desktop.ui.main_window import MainWindow
from tests.ui.conftest import show_window, unlock_through_screen


def test_a_thousand_incidents_load_in_chunks_as_the_list_scrolls(
    app: QApplication, profile: Profile, qtbot: QtBot
) -> None:
    fill_profile(profile, incidents=1_000)
    page = IncidentsPage(profile)
    qtbot.addWidget(page)
    page.resize(1000, 600)
    page.show()
    qtbot.waitUntil(lambda: page.model.total == 1_000 and page.model.loaded > 0)
    qtbot.wait(100)  # give the view a chance to ask for more than it needs
    assert page.model.loaded == CHUNK
    assert page.model.fetches == 1
    assert page.count_label.text() == "1,000 incidents"

    page.table.scrollToBottom()
    qtbot.waitUntil(lambda: page.model.loaded == 2 * CHUNK)
    assert page.model.fetches == 2
    assert page.model.loaded < page.model.total


def test_filters_and_sorting_run_as_queries(
    app: QApplication, profile: Profile, qtbot: QtBot
) -> None:
    fill_profile(profile, incidents=120)
    store = RecordStore(profile.engine)
    page = IncidentsPage(profile)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.model.total == 120)

    page.filters.status.set_code("verified")
    expected = store.count(RecordQuery("incident", statuses=["verified"]))
    assert 0 < expected < 120
    qtbot.waitUntil(lambda: page.model.total == expected and page.model.loaded == expected)
    assert {page.model.index(r, 3).data() for r in range(page.model.loaded)} == {"Verified"}

    # A header click orders by that column, in SQL, keeping the filter.
    page.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: page.model.query.order_by == "label" and page.model.loaded > 0)
    labels = [page.model.index(r, 0).data() for r in range(page.model.loaded)]
    assert labels == [row.label for row in store.page(page.model.query, 0, len(labels))]
    assert page.model.query.statuses == ["verified"]

    page.filters.date_from.setText("2030")
    page.filters.date_from.editingFinished.emit()
    qtbot.waitUntil(lambda: page.model.total == 0)
    assert page.views.currentWidget() is page.no_matches
    page.filters.clear_filters()
    qtbot.waitUntil(lambda: page.model.total == 120)


def test_locking_deletes_the_incidents_page_and_its_rows(
    app: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    from tests.helpers.profiles import new_profile
    from tests.ui.conftest import PASSPHRASE

    folder = tmp_path / "locked"
    profile, _key = new_profile(folder, PASSPHRASE)
    fill_profile(profile, incidents=30)
    profile.close()
    window: MainWindow = show_window(qtbot, folder)
    unlock_through_screen(qtbot, window)
    assert window.workspace is not None
    window.workspace.show_section("incidents")
    page = window.workspace.page("incidents")
    assert isinstance(page, IncidentsPage)
    qtbot.waitUntil(lambda: page.model.loaded == 30)
    model = page.model
    window.lock()
    assert model.rowCount() == 0
    qtbot.waitUntil(lambda: window.findChildren(IncidentsPage) == [])
