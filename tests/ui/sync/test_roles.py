"""The administrator changes a member's role from the network page, through a real server: the
demoted member's edits are then refused, and demoting the last administrator is refused
on the page before anything is sent."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.domain.records import Organization
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from desktop.ui.main_window import MainWindow
from desktop.ui.sync.network import NetworkPanel
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from sync.protocol import ErrorCode, Role
from tests.helpers.profiles import new_profile
from tests.ui.sync.conftest import Server, join_as_admin


def _select(panel: NetworkPanel, device: str) -> None:
    for index in range(panel.members.topLevelItemCount()):
        item = panel.members.topLevelItem(index)
        if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == device:
            panel.members.setCurrentItem(item)
            return
    raise AssertionError(f"{device} is not listed")


def _role_of(panel: NetworkPanel, device: str) -> Role:
    return next(m.role for m in panel.spaces[0].members if m.device == device)


def test_an_admin_demotes_and_promotes_a_member_from_the_page(
    unlocked: MainWindow, qtbot: QtBot, server: Server, tmp_path: Path
) -> None:
    page = join_as_admin(qtbot, unlocked, server)
    panel = page.network
    space = panel.spaces[0].space
    other, _recovery = new_profile(tmp_path / "other")
    other_state = ProfileSyncState(other.engine)
    other_engine = SyncEngine(other_state, Transport(server.url))
    try:
        assert unlocked.sync is not None
        code = unlocked.sync.link.run(lambda engine: engine.invite(space, Role.EDITOR))
        joined = other_engine.enroll(code)
        panel.check_pending()
        qtbot.waitUntil(lambda: len(panel.pending) == 1, timeout=10_000)
        panel.admit(panel.pending[0])
        qtbot.waitUntil(lambda: len(panel.spaces[0].members) == 2, timeout=10_000)
        other_engine.sync_once(discover=True)
        # Its person compared the admin's fingerprint: until then its edits stay on it.
        other_engine.confirm_space(space)

        # Demote: choose the member, the role, Apply; the list shows it once done.
        _select(panel, joined.device)
        assert Role(panel.role_choice.currentData()) is Role.EDITOR  # the chooser follows the row
        panel.role_choice.setCurrentIndex(panel.role_choice.findData(Role.READER))
        qtbot.mouseClick(panel.apply_role_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: _role_of(panel, joined.device) is Role.READER, timeout=10_000)
        assert "role was changed" in panel.message.text()

        # The demoted member learns it and its edit is refused.
        other_engine.sync_once()
        RecordStore(other.engine).save(Organization(space_id=space, name="Not allowed"))
        report = other_engine.sync_once()
        assert [r.code for r in report.rejected] == [ErrorCode.ROLE_FORBIDDEN]

        # Demoting this computer, the only administrator: refused on the page, nothing sent.
        profile = unlocked.session.profile
        assert profile is not None
        statements = len(ProfileSyncState(profile.engine).statements(space))
        me = next(m.device for m in panel.spaces[0].members if m.is_this_device)
        _select(panel, me)
        panel.role_choice.setCurrentIndex(panel.role_choice.findData(Role.EDITOR))
        qtbot.mouseClick(panel.apply_role_button, Qt.MouseButton.LeftButton)
        assert "at least one administrator" in panel.message.text()
        assert not panel.busy.busy
        assert len(ProfileSyncState(profile.engine).statements(space)) == statements

        # Promote back: the kept edit goes through.
        _select(panel, joined.device)
        panel.role_choice.setCurrentIndex(panel.role_choice.findData(Role.EDITOR))
        qtbot.mouseClick(panel.apply_role_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: _role_of(panel, joined.device) is Role.EDITOR, timeout=10_000)
        report = other_engine.sync_once()
        assert report.rejected == [] and report.pushed == 1
    finally:
        other_engine.transport.close()
        other.close()
    QApplication.processEvents()
