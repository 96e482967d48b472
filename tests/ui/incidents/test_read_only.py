"""A reader in a space is not offered saving an incident of that space (the server would refuse
the push and the edit would wait unsent forever); an editor is. The role comes from the space's
real signed statements stored in the profile."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.domain.records import Incident, SpaceKind
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.incidents.page import IncidentsPage
from sync.protocol import Role
from tests.ui.incidents.conftest import open_editor, open_new_editor
from tests.ui.sync.spaces import member_of_space


def test_a_reader_cannot_save_or_delete_an_incident_and_is_told_why(
    profile: Profile, page: IncidentsPage, qtbot: QtBot
) -> None:
    store = RecordStore(profile.engine)
    space = store.save(member_of_space(profile, Role.READER))
    incident = store.save(Incident(space_id=space.id, title="Desalojo en El Salado"))

    editor = open_editor(page, qtbot, incident.id)
    assert editor.read_only.isVisible()
    assert "reader" in editor.read_only.text()
    assert not editor.save_button.isEnabled()
    assert not editor.delete_button.isEnabled()
    assert not editor.evidence.import_button.isEnabled()
    assert not editor.save_action.isEnabled()

    editor.event_tab.title.setText("Desalojo en El Salado (corregido)")
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    editor.save()  # the shortcut's path: refused too
    qtbot.wait(50)
    kept = store.require(incident.id)
    assert isinstance(kept, Incident)
    assert (kept.title, kept.dirty, kept.revision) == ("Desalojo en El Salado", True, 0)
    assert kept.updated_at == incident.updated_at
    editor.close()


def test_an_editor_saves_and_new_incidents_skip_a_space_they_only_read(
    profile: Profile, page: IncidentsPage, qtbot: QtBot
) -> None:
    store = RecordStore(profile.engine)
    space = store.save(member_of_space(profile, Role.EDITOR))
    incident = store.save(Incident(space_id=space.id, title="Amenaza a lideresa"))
    editor = open_editor(page, qtbot, incident.id)
    assert editor.read_only.isHidden()
    assert editor.save_button.isEnabled()
    editor.event_tab.title.setText("Amenaza a lideresa social")
    with qtbot.waitSignal(editor.saved, timeout=5_000):
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    saved = store.require(incident.id)
    assert isinstance(saved, Incident) and saved.title == "Amenaza a lideresa social"

    # The organization's space is one this device only reads: a new incident stays private.
    store.save(member_of_space(profile, Role.READER, SpaceKind.ORGANIZATION))
    editor = open_new_editor(page, qtbot)
    assert editor.space_id == local_spaces(store).only_me.id
    assert editor.save_button.isEnabled()
    editor.close()
