"""The Sync page's list of records in conflict reads in the interface's language: in Arabic a
line whose record title is Spanish is an Arabic line, the title isolated inside it."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import insert

from desktop.domain.records import Organization
from desktop.domain.translation import set_language
from desktop.store.records import RecordStore
from desktop.store.schema import SyncConflictRow
from desktop.store.spaces import local_spaces
from desktop.ui.bidi import direction_of
from desktop.ui.main_window import MainWindow
from tests.ui.sync.conftest import sync_page


def test_a_spanish_title_in_an_arabic_conflict_line_is_isolated(
    unlocked: MainWindow, qtbot: QtBot
) -> None:
    profile = unlocked.session.profile
    assert profile is not None
    store = RecordStore(profile.engine)
    record = store.save(
        Organization(space_id=local_spaces(store).network.id, name="Colectivo Tierra Viva")
    )
    with profile.engine.begin() as connection:
        connection.execute(
            insert(SyncConflictRow).values(
                record_id=record.id,
                space_id=record.space_id,
                kind="field",
                field="acronym",
                base=json.dumps("CTV"),
                mine=json.dumps("CTV-Co"),
                theirs=json.dumps("C.T.V."),
            )
        )
    page = sync_page(unlocked, qtbot)
    page.refresh()
    qtbot.waitUntil(lambda: page.conflict_list.count() == 1, timeout=5_000)
    set_language("ar")
    try:
        qtbot.waitUntil(lambda: "difference" not in page.conflict_list.item(0).text())
        text = page.conflict_list.item(0).text()
        assert "\u2068Colectivo Tierra Viva\u2069" in text
        assert direction_of(text) == Qt.LayoutDirection.RightToLeft
    finally:
        set_language("en")
