"""Download on demand from the Working groups screen, through a real server.

Another member's material arrives by sync without its file; Download fetches it and it opens.
With the server gone, Download says the file needs a connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.domain.network_records import Material
from desktop.domain.records import WorkingGroup
from desktop.store.materials import MaterialStore
from desktop.ui.sync.link import SyncLink
from desktop.ui.sync.scheduler import SyncScheduler
from desktop.ui.workgroups.files import import_material_file
from desktop.ui.workgroups.page import GroupView, MaterialDialog, WorkingGroupsPage
from tests.integration.conftest import Device, Server, make_device, network_of, server
from tests.integration.devices import make_with_files

from .conftest import make_pdf

__all__ = ["make_device", "server"]  # the integration fixtures, used here by name


@pytest.fixture
def member(
    app: QApplication, server: Server, make_device: Any, tmp_path: Path
) -> Iterator[tuple[Device, list[Material]]]:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    group = admin.records.save(WorkingGroup(space_id=space, name="Tierra"))
    assert isinstance(group, WorkingGroup)
    found = []
    for title, pages in (("Guía", ["uno", "dos"]), ("Mapa", ["tres"])):
        material = admin.records.save(
            Material(
                space_id=space, working_group_id=group.id, title=title, material_type="toolkit"
            )
        )
        assert isinstance(material, Material)
        import_material_file(admin.profile, material, make_pdf(tmp_path / f"{title}.pdf", pages))
        found.append(material)
    admin.sync()
    member.sync()  # the records arrive; their files do not (nothing kept offline)
    yield member, found


def test_download_on_demand_then_offline_says_it_needs_a_connection(
    member: tuple[Device, list[Material]], server: Server, qtbot: QtBot
) -> None:
    device, (guide, _map) = member
    link = SyncLink(device.profile, {})
    scheduler = SyncScheduler(link, 60 * 60_000)
    page = WorkingGroupsPage(device.profile)
    qtbot.addWidget(page)
    page.attach(scheduler)
    page.resize(1200, 800)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    with qtbot.waitSignal(page.group_opened, timeout=5_000) as opened:
        page.view.clicked.emit(page.model.index(0, 0))
    group = opened.args[0]
    assert isinstance(group, GroupView)
    qtbot.waitUntil(lambda: group.bundle is not None and group.materials.count() == 2)
    group.materials.setCurrentRow(0)
    assert group.download_button.isVisible()

    with qtbot.waitSignal(group.downloaded, timeout=10_000):
        qtbot.mouseClick(group.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not group.download_button.isVisible())
    assert group.materials.item(0).text().endswith("· on this computer")
    [file] = MaterialStore.of(device.profile).files(guide.id)
    assert MaterialStore.of(device.profile).held(file)
    with qtbot.waitSignal(group.material_opened, timeout=5_000) as shown:
        qtbot.mouseClick(group.open_button, Qt.MouseButton.LeftButton)
    dialog = shown.args[0]
    assert isinstance(dialog, MaterialDialog) and dialog.reader.page_count == 2
    with qtbot.waitSignal(dialog.reader.page_changed, timeout=2_000):
        qtbot.mouseClick(dialog.reader.next_button, Qt.MouseButton.LeftButton)
    assert dialog.reader.page_text() == "dos"
    dialog.close()

    server.process.stop()
    group.materials.setCurrentRow(1)
    with qtbot.waitSignal(group.downloaded, timeout=30_000):
        qtbot.mouseClick(group.download_button, Qt.MouseButton.LeftButton)
    assert group.message.text().startswith("This file needs a connection")
    assert group.download_button.isVisible() and group.download_button.isEnabled()
    link.close()


def test_a_download_ending_keeps_what_was_said_meanwhile(
    member: tuple[Device, list[Material]], qtbot: QtBot, tmp_path: Path
) -> None:
    # The download's end cleared the group's whole message: a refusal said while the file
    # came (an import without its type) was gone before the person could read it.
    device, _materials = member
    link = SyncLink(device.profile, {})
    scheduler = SyncScheduler(link, 60 * 60_000)
    page = WorkingGroupsPage(device.profile)
    qtbot.addWidget(page)
    page.attach(scheduler)
    page.resize(1200, 800)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    with qtbot.waitSignal(page.group_opened, timeout=5_000) as opened:
        page.view.clicked.emit(page.model.index(0, 0))
    group = opened.args[0]
    assert isinstance(group, GroupView)
    qtbot.waitUntil(lambda: group.bundle is not None and group.materials.count() == 2)
    group.materials.setCurrentRow(0)

    with qtbot.waitSignal(group.downloaded, timeout=10_000):
        qtbot.mouseClick(group.download_button, Qt.MouseButton.LeftButton)
        assert group.message.text() == "Downloading…"
        # Before the worker's answer can come back (it is delivered by this thread's loop).
        group.import_path(make_pdf(tmp_path / "informe.pdf", ["uno"]))
        refusal = group.message.text()
        assert refusal not in ("", "Downloading…")
    qtbot.waitUntil(lambda: not group.download_button.isVisible())
    assert group.message.text() == refusal and not group.message.isHidden()

    # What the download said itself it takes back: the hint, once the file is here.
    group.materials.setCurrentRow(1)
    with qtbot.waitSignal(group.downloaded, timeout=10_000):
        qtbot.mouseClick(group.download_button, Qt.MouseButton.LeftButton)
    assert group.message.text() == "" and group.message.isHidden()
    link.close()
