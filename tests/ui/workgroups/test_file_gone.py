"""A material's file brought back over its deletion after the server collected its bytes and no
device held a copy (sync/ENGINE.md, "A file whose bytes are gone"), on the Working groups
screen through a real server: the list says its content was removed, Download and Open say
what happened and what to do (before, Download ended without a word), in English and Arabic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.domain.network_records import Material
from desktop.domain.records import WorkingGroup, edit
from desktop.domain.translation import _, set_language
from desktop.store.evidence import FILE_GONE_MESSAGE
from desktop.store.materials import MaterialStore
from desktop.ui.sync.link import SyncLink
from desktop.ui.sync.scheduler import SyncScheduler
from desktop.ui.workgroups.files import import_material_file
from desktop.ui.workgroups.page import GroupView, WorkingGroupsPage
from tests.helpers.server_process import run_cli
from tests.integration.conftest import Device, Server, make_device, network_of, server
from tests.integration.devices import make_with_files
from tests.integration.test_meaning import _converge

from .conftest import make_pdf

__all__ = ["make_device", "server"]  # the integration fixtures, used here by name


def _gone_on_admin(server: Server, make_device: Any, tmp_path: Path) -> Device:
    """Alba adds a file and deletes its material (the only copy erased), the server collects
    its chunks, badu's edit brings it back: on the admin's computer, a file marked gone."""
    import time

    space, devices = network_of(server, make_with_files(make_device), 3)
    admin, alba, badu = devices
    group = alba.records.save(WorkingGroup(space_id=space, name="Tierra"))
    material = alba.records.save(
        Material(space_id=space, working_group_id=group.id, title="Guía", material_type="toolkit")
    )
    assert isinstance(material, Material)
    import_material_file(alba.profile, material, make_pdf(tmp_path / "guia.pdf", ["uno"]))
    _converge(devices, rounds=2)
    MaterialStore.of(alba.profile).delete_material(material.id)
    alba.sync()
    time.sleep(1.1)
    env = {
        "MINGA_SERVER_CHUNK_GRACE_SECONDS": "0",
        "MINGA_SERVER_RELEASED_CHUNK_GRACE_SECONDS": "0",
    }
    assert "removed 1 unreferenced" in run_cli(server.data_dir, "collect", extra_env=env).stdout
    badu.records.save(edit(badu.records.require(material.id), description="Para todos."))
    assert badu.sync().files_gone == 1
    admin.sync()
    return admin


def _group_view(page: WorkingGroupsPage, qtbot: QtBot) -> GroupView:
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    with qtbot.waitSignal(page.group_opened, timeout=5_000) as opened:
        page.view.clicked.emit(page.model.index(0, 0))
    group = opened.args[0]
    assert isinstance(group, GroupView)
    qtbot.waitUntil(lambda: group.bundle is not None and group.materials.count() == 1)
    group.materials.setCurrentRow(0)
    return group


def test_a_file_whose_content_is_gone_says_so_on_download_and_open(
    app: QApplication, server: Server, make_device: Any, tmp_path: Path, qtbot: QtBot
) -> None:
    admin = _gone_on_admin(server, make_device, tmp_path)
    link = SyncLink(admin.profile, {})
    scheduler = SyncScheduler(link, 60 * 60_000)
    for language in ("en", "ar"):
        set_language(language)
        app.setLayoutDirection(
            Qt.LayoutDirection.RightToLeft if language == "ar" else Qt.LayoutDirection.LeftToRight
        )
        page = WorkingGroupsPage(admin.profile)
        qtbot.addWidget(page)
        page.attach(scheduler)
        page.resize(1024, 680)
        page.show()
        group = _group_view(page, qtbot)
        said = _(FILE_GONE_MESSAGE)
        assert group.materials.item(0).text().endswith(_("content removed"))
        assert said in group.file_status.text()
        assert group.download_button.isVisible()
        with qtbot.waitSignal(group.downloaded, timeout=10_000):
            qtbot.mouseClick(group.download_button, Qt.MouseButton.LeftButton)
        assert group.message.text() == said
        group.message.clear_message()
        qtbot.mouseClick(group.open_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda g=group, s=said: g.message.text() == s, timeout=5_000)
        page.grab().save(f"/tmp/gone-file-{language}.png")
        page.close()
    set_language("en")
    app.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
    link.close()


def test_download_asks_the_server_for_a_file_marked_gone_falsely_and_it_comes_back(
    app: QApplication, server: Server, make_device: Any, tmp_path: Path, qtbot: QtBot
) -> None:
    """A mark set falsely: the server still holds the bytes (it answered `chunk_missing` for
    them by fault or hostility, and badu, who never had the file, marked it gone: what its
    engine does with that answer), and alba, the only device holding a copy, is away. Before,
    Download said the content was removed without asking anyone, and no device could ever
    fetch the file again. Now Download asks the server once; the bytes come, and the admin's
    next sync puts the file back for everyone."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    admin, alba, badu = devices
    group = alba.records.save(WorkingGroup(space_id=space, name="Tierra"))
    material = alba.records.save(
        Material(space_id=space, working_group_id=group.id, title="Guía", material_type="toolkit")
    )
    assert isinstance(material, Material)
    import_material_file(alba.profile, material, make_pdf(tmp_path / "guia.pdf", ["uno"]))
    _converge(devices, rounds=2)
    [file] = MaterialStore.of(badu.profile).files(material.id)
    badu.state.mark_gone(space, file.id)
    assert badu.sync().rejected == []
    admin.sync()
    assert MaterialStore.of(admin.profile).gone(file)
    link = SyncLink(admin.profile, {})
    scheduler = SyncScheduler(link, 60 * 60_000)
    page = WorkingGroupsPage(admin.profile)
    qtbot.addWidget(page)
    page.attach(scheduler)
    page.resize(1024, 680)
    page.show()
    view = _group_view(page, qtbot)
    assert view.materials.item(0).text().endswith(_("content removed"))
    with qtbot.waitSignal(view.downloaded, timeout=10_000):
        qtbot.mouseClick(view.download_button, Qt.MouseButton.LeftButton)
    assert view.message.text() != _(FILE_GONE_MESSAGE)
    assert MaterialStore.of(admin.profile).held(file)
    page.close()
    link.close()
    assert admin.sync().files_put_back == 1
    badu.sync()
    back = badu.records.require(file.id)
    assert not MaterialStore.of(badu.profile).gone(back)
    assert MaterialStore.of(badu.profile).reference(back) is not None
