"""A damaged profile in the Incidents list (issue 12): the translated message says so, and the
button beside it exports every record still readable to a file the person chose."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot
from sqlalchemy.exc import DBAPIError

from desktop.domain.records import Incident, new_id
from desktop.store.profile import DATABASE_FILE, unlock
from desktop.store.records import DamagedRows, RecordStore, is_damage
from desktop.ui.incidents.page import IncidentsPage
from tests.helpers.profiles import PASSPHRASE, new_profile
from tests.store.test_damaged_pages import TOTAL, _records_lost, damaged  # noqa: F401


def test_the_damaged_message_offers_to_export_what_can_be_read(
    app: QApplication,
    qtbot: QtBot,
    damaged: tuple[Path, dict[str, str]],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = _records_lost(damaged[0], tmp_path / "profile")
    profile = unlock(folder, PASSPHRASE)
    try:
        page = IncidentsPage(profile)
        qtbot.addWidget(page)
        page.resize(1024, 680)
        page.show()
        qtbot.waitUntil(lambda: page.model.loaded > 0, timeout=20_000)
        # The list reads in chunks: the damage is met as the person scrolls down to it.
        for _ in range(100):
            if page.model.unreadable:
                break
            page.table.scrollToBottom()
            qtbot.wait(100)
        assert page.model.unreadable > 0
        qtbot.waitUntil(lambda: page.export_readable_button.isVisible())
        assert DamagedRows().user_message() in page.message.text()
        assert page.export_readable_button.text() == "Export what can be read…"

        # The file is asked for with Qt's own dialog (no trace in recent-document lists).
        target = tmp_path / "readable.json"
        asked: dict[str, Any] = {}

        def choose(*args: Any, **options: Any) -> tuple[str, str]:
            asked.update(options)
            return str(target), ""

        monkeypatch.setattr(QFileDialog, "getSaveFileName", choose)
        page.export_readable_button.click()
        qtbot.waitUntil(lambda: "exported" in page.message.text(), timeout=20_000)
        assert asked["options"] & QFileDialog.Option.DontUseNativeDialog
        records = json.loads(target.read_text(encoding="utf-8"))["records"]
        written = sum(1 for r in records if r["content"] is not None)
        lost = TOTAL - written
        assert 0 < lost < TOTAL * 0.2
        assert page.message.text() == (
            f"{written:,} records exported; {lost} could not be read."
            if lost > 1
            else f"{written:,} records exported; 1 could not be read."
        )
        assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
        assert page.export_readable_button.isEnabled()
    finally:
        profile.close()


def _profile_with_an_unreadable_record(folder: Path) -> tuple[str, bytes]:
    """A profile of incidents with long narratives (their contents fill most pages) in which
    one page is damaged so that one incident's own content cannot be read: (its id, the
    damaged database's bytes)."""
    profile, _ = new_profile(folder)
    space = new_id()
    incidents = [
        Incident(space_id=space, title=f"Desalojo {n:02d}", narrative="Relato. " * 700)  # type: ignore[call-arg]
        for n in range(40)
    ]
    RecordStore(profile.engine).save_all(incidents)
    profile.close()
    database = folder / DATABASE_FILE
    pristine = database.read_bytes()
    pages = len(pristine) // 4096
    for page in range(pages - 2, pages // 2, -3):
        with open(database, "r+b") as handle:
            handle.seek(page * 4096 + 512)
            handle.write(b"\xa5" * 1024)
        reopened = unlock(folder, PASSPHRASE)
        try:
            store = RecordStore(reopened.engine)
            for incident in incidents:
                try:
                    store.get(incident.id)
                except DBAPIError as error:
                    if is_damage(error):
                        return incident.id, database.read_bytes()
        finally:
            reopened.close()
        database.write_bytes(pristine)
        for leftover in folder.glob(DATABASE_FILE + "-*"):
            leftover.unlink()
    raise AssertionError("no page found whose damage makes one incident unreadable")


def test_opening_a_record_on_a_damaged_page_says_the_profile_is_damaged(
    app: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    # A record whose own content sits on a damaged page: opening it met "database disk image
    # is malformed", which reached the person as "Something unexpected went wrong", as if it
    # were a bug, instead of the damaged-profile message the list gives.
    folder = tmp_path / "profile"
    unreadable, _damaged = _profile_with_an_unreadable_record(folder)
    profile = unlock(folder, PASSPHRASE)
    try:
        page = IncidentsPage(profile)
        qtbot.addWidget(page)
        # Opened after the count, as a person opens a record from the list. The other order (the
        # count arriving after the failure, which wiped it once) is the next test's.
        qtbot.waitUntil(lambda: page.model.total is not None, timeout=20_000)
        page.open_incident(unreadable)
        qtbot.waitUntil(lambda: bool(page.message.text()), timeout=20_000)
        assert DamagedRows().user_message() in page.message.text()
        assert "unexpected" not in page.message.text()
    finally:
        profile.close()


def test_the_list_counted_after_a_record_failed_to_open_keeps_the_failure(
    app: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    # The order a full run once met: the record's failure said first, the list's count after.
    # The count took back the whole message, so the page said nothing of the damage. Driven
    # here in that order: the failure is on the page, then the list is counted again.
    folder = tmp_path / "profile"
    unreadable, _damaged = _profile_with_an_unreadable_record(folder)
    profile = unlock(folder, PASSPHRASE)
    try:
        page = IncidentsPage(profile)
        qtbot.addWidget(page)
        qtbot.waitUntil(lambda: page.model.total is not None, timeout=20_000)
        page.open_incident(unreadable)
        qtbot.waitUntil(lambda: bool(page.message.text()), timeout=20_000)
        said = page.message.text()
        assert DamagedRows().user_message() in said
        assert page.model.unreadable == 0  # the list itself met no damage: it has nothing to say

        with qtbot.waitSignal(page.model.counted, timeout=20_000):
            page.model.refresh()
        assert page.message.text() == said
        assert not page.message.isHidden()

        # A full run met one more turn: the list's re-read met the damaged page too and said
        # the damage as its own, then its count took it back. Driven here: the list's read
        # fails on damage, then it is counted again; the damage is still said.
        page._read_failed(DamagedRows())
        with qtbot.waitSignal(page.model.counted, timeout=20_000):
            page.model.refresh()
        assert page.message.text() == said
        assert not page.message.isHidden()
    finally:
        profile.close()
