"""Fixtures for the Sync section's tests: a real `minga-server` on 127.0.0.1, and joining it.

The server runs from a temporary folder and is ended by pid when the test ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.ui.main_window import MainWindow
from desktop.ui.sync.page import SyncPage
from tests.helpers.server_process import MANY_DEVICES, Server, fresh_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    data_dir = tmp_path / "server"
    process = fresh_server(data_dir, MANY_DEVICES)
    server = Server(data_dir, process)
    try:
        yield server
    finally:
        # A test may restart the server; end whichever process it holds now, and the first.
        server.process.stop()
        process.stop()


def sync_page(window: MainWindow, qtbot: QtBot) -> SyncPage:
    assert window.workspace is not None
    window.workspace.show_section("sync")
    page = window.workspace.page("sync")
    assert isinstance(page, SyncPage)
    qtbot.waitUntil(lambda: page.facts is not None, timeout=5_000)
    return page


def join_through_page(qtbot: QtBot, page: SyncPage, url: str, code: str) -> None:
    page.server_url.setText(url)
    page.invite_code.setText(code)
    qtbot.mouseClick(page.join_button, Qt.MouseButton.LeftButton)


def join_as_admin(qtbot: QtBot, window: MainWindow, server: Server) -> SyncPage:
    """Join with an operator's `invite --new-space`, wait for the first sync to settle."""
    page = sync_page(window, qtbot)
    join_through_page(qtbot, page, server.url, server.invite("--new-space"))
    qtbot.waitUntil(lambda: page.status_box.isVisibleTo(page), timeout=20_000)
    assert window.sync is not None
    scheduler = window.sync
    qtbot.waitUntil(
        lambda: not scheduler.busy and scheduler.last_report is not None, timeout=20_000
    )
    qtbot.waitUntil(lambda: page.network.spaces != [], timeout=10_000)
    return page
