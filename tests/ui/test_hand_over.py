"""A sole admin's laptop is lost; the backup restored on a new computer takes the space over
from the window, through the real server: the new device administers, the old one is out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.store.backup import write_backup
from desktop.store.sync_state import ProfileSyncState
from sync.protocol import Role
from tests.helpers.profiles import PASSPHRASE
from tests.integration import conftest as integration
from tests.integration.conftest import Server, network_of, organization
from tests.ui.conftest import show_window

# The real server and devices of the integration tests.
server = integration.server
make_device = integration.make_device


def test_a_restored_admin_takes_its_space_over_from_the_window(
    app: QApplication, qtbot: QtBot, server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, alba) = network_of(server, make_device, 2)
    admin.records.save(organization(space, "Kept by the admin"))
    for device in (admin, alba):
        device.sync()
    backup = tmp_path / "admin.mingabackup"
    write_backup(admin.profile, backup)
    old_keys = admin.state.device_keys()
    assert old_keys is not None

    window = show_window(qtbot, tmp_path / "new-laptop" / "profile")
    assert window.gate is not None
    window.gate.show_restore()
    screen = window.gate.restore_screen
    assert screen is not None
    screen.set_backup(backup)
    screen.passphrase.setText(PASSPHRASE)
    qtbot.mouseClick(screen.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.pages.currentWidget() is screen.done, timeout=20_000)
    qtbot.mouseClick(screen.continue_button, Qt.MouseButton.LeftButton)
    assert window.gate.unlock_screen is not None
    window.gate.unlock_screen.passphrase.setText(PASSPHRASE)
    qtbot.mouseClick(window.gate.unlock_screen.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=10_000)
    qtbot.waitUntil(
        lambda: window.hand_over_question is not None and window.hand_over_question.isVisible(),
        timeout=10_000,
    )
    assert str(old_keys.public.fingerprint) in window.hand_over_text.text()
    window.hand_over_question.accept()  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: "now administers" in window.status.currentMessage(), timeout=30_000)

    profile = window.session.profile
    assert profile is not None
    new_keys = ProfileSyncState(profile.engine).device_keys()
    assert new_keys is not None and new_keys.device_id != old_keys.device_id
    alba.sync()
    keyring, _pins = alba.engine._keyring()
    latest = keyring.logs[space].latest
    assert {m.device for m in latest.members} == {
        alba.state.device_keys().device_id,  # type: ignore[union-attr]
        new_keys.device_id,
    }
    member = latest.member(new_keys.device_id)
    assert member is not None and member.role is Role.ADMIN
    window.lock()
