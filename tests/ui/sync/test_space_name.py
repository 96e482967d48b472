"""An operator's `invite --new-space` makes a space without a name record: its administrator
names it from the network page, and the name travels to members like any record."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.domain.records import Space
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from desktop.ui.main_window import MainWindow
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from sync.protocol import Role
from tests.helpers.profiles import new_profile
from tests.ui.sync.conftest import Server, join_as_admin


def test_the_admin_names_an_operators_space_and_members_see_the_name(
    unlocked: MainWindow, qtbot: QtBot, server: Server, tmp_path: Path
) -> None:
    page = join_as_admin(qtbot, unlocked, server)
    panel = page.network
    scheduler = unlocked.sync
    assert scheduler is not None
    (facts,) = panel.spaces
    assert not facts.named and facts.name.startswith("Unnamed space")
    assert panel.rename_button.isEnabled()

    panel.rename_space("Red de Defensoras")
    qtbot.waitUntil(lambda: panel.space_choice.currentText() == "Red de Defensoras", timeout=10_000)
    assert panel.spaces[0].named
    scheduler.sync_now()
    qtbot.waitUntil(lambda: not scheduler.busy and scheduler.pending == 0, timeout=10_000)

    other, _recovery = new_profile(tmp_path / "other")
    engine = SyncEngine(ProfileSyncState(other.engine), Transport(server.url))
    try:
        code = scheduler.link.run(lambda e: e.invite(facts.space, Role.READER))
        engine.enroll(code)
        scheduler.link.run(lambda e: e.admit(facts.space, e.pending_members(facts.space)))
        engine.sync_once(discover=True)
        named = RecordStore(other.engine).get(facts.space)
        assert isinstance(named, Space) and named.name == "Red de Defensoras"
    finally:
        engine.transport.close()
        other.close()

    # Renamed again: the synced record is edited (its revision kept, dirty), not made anew.
    panel.rename_space("Red de Defensoras del Sur")
    qtbot.waitUntil(
        lambda: panel.space_choice.currentText() == "Red de Defensoras del Sur", timeout=10_000
    )
    profile = unlocked.session.profile
    assert profile is not None
    renamed = RecordStore(profile.engine).require(facts.space)
    assert (renamed.revision, renamed.dirty) == (1, True)
    QApplication.processEvents()
