"""A space after the network's first belongs to an organization or a working group, chosen in the
New space dialog; its record is valid and saved with the space, and one that would not be valid
is refused before anything reaches the server."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from desktop.domain.records import Organization, Space, SpaceKind, WorkingGroup
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from desktop.ui.main_window import MainWindow
from desktop.ui.sync.network import NetworkPanel
from desktop.ui.sync.new_space import NewSpaceDialog, SpaceOwners
from tests.ui.sync.conftest import Server, join_as_admin


def open_dialog(qtbot: QtBot, panel: NetworkPanel) -> NewSpaceDialog:
    def shown() -> list[NewSpaceDialog]:
        # A closed dialog may linger until its deferred delete: only the open one counts.
        return [d for d in panel.findChildren(NewSpaceDialog) if d.isVisible()]

    qtbot.mouseClick(panel.new_space_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(shown()) == 1, timeout=5_000)
    return shown()[0]


def press_ok(qtbot: QtBot, dialog: NewSpaceDialog) -> None:
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)


def choose(dialog: NewSpaceDialog, kind: SpaceKind) -> None:
    dialog.kind.setCurrentIndex(dialog.kind.findData(kind))


def test_second_spaces_belong_to_an_organization_or_a_working_group(
    unlocked: MainWindow, qtbot: QtBot, server: Server
) -> None:
    page = join_as_admin(qtbot, unlocked, server)
    panel = page.network
    network = panel.spaces[0].space
    profile = unlocked.session.profile
    assert profile is not None
    records = RecordStore(profile.engine)
    state = ProfileSyncState(profile.engine)

    # No working group yet: that kind cannot be chosen, and nothing is sent.
    dialog = open_dialog(qtbot, panel)
    assert dialog.kind.isVisible()
    choose(dialog, SpaceKind.WORKING_GROUP)
    assert not dialog.owner.isEnabled()
    dialog.name.setText("Agua")
    press_ok(qtbot, dialog)
    assert dialog.isVisible() and dialog.record is None
    assert dialog.message.text() == "Add the working group first."
    dialog.reject()
    assert state.spaces() == [network]

    organization = records.save(Organization(space_id=network, name="Colectivo Tierra"))
    group = records.save(WorkingGroup(space_id=network, name="Defensa del agua"))

    # An organization's space: the organization chosen, its name suggested.
    dialog = open_dialog(qtbot, panel)
    choose(dialog, SpaceKind.ORGANIZATION)
    assert dialog.owner.currentData() == organization.id
    assert dialog.name.text() == "Colectivo Tierra"
    press_ok(qtbot, dialog)
    qtbot.waitUntil(lambda: len(panel.spaces) == 2, timeout=15_000)

    # A working group's space, with a name of the person's own.
    dialog = open_dialog(qtbot, panel)
    choose(dialog, SpaceKind.WORKING_GROUP)
    assert dialog.owner.currentData() == group.id
    dialog.name.setText("Agua: coordinación")
    press_ok(qtbot, dialog)
    qtbot.waitUntil(lambda: len(panel.spaces) == 3, timeout=15_000)

    made = {facts.space: facts for facts in panel.spaces if facts.space != network}
    assert set(made) == set(state.spaces()) - {network}
    kinds = {}
    for space, facts in made.items():
        record = records.get(space)
        assert isinstance(record, Space) and record.validate() == []
        assert facts.named and facts.name == record.name
        kinds[record.kind] = record
    assert kinds[SpaceKind.ORGANIZATION].organization_id == organization.id
    assert kinds[SpaceKind.ORGANIZATION].name == "Colectivo Tierra"
    assert kinds[SpaceKind.WORKING_GROUP].working_group_id == group.id
    assert kinds[SpaceKind.WORKING_GROUP].name == "Agua: coordinación"

    # The name records go to the server with the next sync (none refused as invalid).
    scheduler = unlocked.sync
    assert scheduler is not None
    scheduler.sync_now()
    qtbot.waitUntil(lambda: not scheduler.busy and scheduler.pending == 0, timeout=15_000)
    assert scheduler.last_report is not None and scheduler.last_report.rejected == []


def test_the_networks_first_space_asks_only_for_a_name(qtbot: QtBot) -> None:
    dialog = NewSpaceDialog(True, SpaceOwners())
    qtbot.addWidget(dialog)
    assert dialog.kind.isHidden() and dialog.owner.isHidden()
    dialog.name.setText("   ")
    dialog.accept()
    assert dialog.record is None and dialog.message.text() != ""
    dialog.name.setText("Red del Sur")
    dialog.accept()
    assert dialog.record is not None
    assert (dialog.record.kind, dialog.record.name) == (SpaceKind.NETWORK, "Red del Sur")
    assert dialog.record.id == dialog.record.space_id
