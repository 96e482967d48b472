"""A reader of a working group's space reads, keeps offline and writes notes only for itself; it
is not offered importing materials or group notes, which the server would refuse (they would wait
unsent forever). An editor is offered both. Roles come from real signed statements."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.domain.network_records import Material, Note, ReadingPosition
from desktop.domain.records import SpaceKind, WorkingGroup
from desktop.domain.translation import set_language
from desktop.store.materials import MaterialStore
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.workgroups.files import import_material_file
from desktop.ui.workgroups.page import GroupView, MaterialDialog, WorkingGroupsPage
from sync.protocol import Role
from tests.ui.sync.spaces import member_of_space

from .conftest import make_pdf

WAIT = 5_000


def _group_in_space(profile: Profile, role: Role | None, tmp_path: Path) -> WorkingGroup:
    """A group whose own space this device is ``role`` in, with one PDF material already here."""
    store = RecordStore(profile.engine)
    space = member_of_space(profile, role, SpaceKind.WORKING_GROUP)
    group = WorkingGroup(space_id=space.id, name="Defensa jurídica")
    store.save_all([replace(space, working_group_id=group.id), group])
    material = Material(
        space_id=space.id, working_group_id=group.id, title="Guía", material_type="toolkit"
    )
    pdf = make_pdf(tmp_path / "guia.pdf", ["Primera", "Segunda"])
    import_material_file(profile, material, pdf)
    return group


#: The page each test opened: qtbot holds widgets only weakly; a group view lives in its page.
_PAGES: list[WorkingGroupsPage] = []


def _open_group(profile: Profile, qtbot: QtBot, group_id: str) -> GroupView:
    page = WorkingGroupsPage(profile)
    _PAGES[:] = [page]
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    qtbot.waitExposed(page)
    with qtbot.waitSignal(page.group_opened, timeout=WAIT) as opened:
        page.open_group(group_id)
    view = opened.args[0]
    assert isinstance(view, GroupView)
    qtbot.waitUntil(lambda: view.bundle is not None and view.materials.count() == 1, timeout=WAIT)
    return view


def _read(view: GroupView, qtbot: QtBot) -> MaterialDialog:
    view.materials.setCurrentRow(0)
    with qtbot.waitSignal(view.material_opened, timeout=WAIT) as opened:
        qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
    dialog = opened.args[0]
    assert isinstance(dialog, MaterialDialog)
    qtbot.waitExposed(dialog)
    return dialog


def test_a_reader_reads_keeps_offline_and_notes_for_itself_only(
    profile: Profile, qtbot: QtBot, tmp_path: Path
) -> None:
    store = RecordStore(profile.engine)
    group = _group_in_space(profile, Role.READER, tmp_path)
    only_me = local_spaces(store).only_me.id
    view = _open_group(profile, qtbot, group.id)

    assert view.read_only.isVisible() and "reader" in view.read_only.text()
    for widget in (view.import_button, view.new_title, view.new_type, view.new_language):
        assert not widget.isEnabled()
    assert "reader" in view.import_button.toolTip()
    view.import_path(make_pdf(tmp_path / "otra.pdf", ["Otra"]))  # the path around the button
    qtbot.waitUntil(lambda: view.message.isVisible(), timeout=WAIT)
    assert "reader" in view.message.text()
    qtbot.wait(50)
    assert len(store.children(group.id, "material")) == 1

    # A group note is not offered: the note box is for the person's own notes only.
    assert view.notes.personal.isChecked() and not view.notes.personal.isEnabled()
    assert view.notes.only_personal.isVisible()
    view.notes.text.setPlainText("Leer antes del martes")
    with qtbot.waitSignal(view.loaded, timeout=WAIT):
        qtbot.mouseClick(view.notes.add_button, Qt.MouseButton.LeftButton)
    (note,) = store.children(group.id, "note")
    assert isinstance(note, Note) and note.space_id == only_me
    assert view.notes.list.item(0).text().endswith("(only me)")
    view._add_note("Para todo el grupo", personal=False)  # refused, never stored
    assert len(store.children(group.id, "note")) == 1

    # Keeping offline is this device's reading choice: still offered, and it works.
    assert view.keep_group.isEnabled()
    with qtbot.waitSignal(view.loaded, timeout=WAIT):
        qtbot.mouseClick(view.keep_group, Qt.MouseButton.LeftButton)
    assert group.id in MaterialStore.of(profile).pinned_ids()

    # Reading: a note on the material is personal, and the page is remembered in "only me".
    dialog = _read(view, qtbot)
    material_id = dialog.material.id
    assert dialog.notes.personal.isChecked() and not dialog.notes.personal.isEnabled()
    assert "reader" in dialog.notes.personal.toolTip()
    with qtbot.waitSignal(dialog.reader.page_changed, timeout=WAIT):
        qtbot.mouseClick(dialog.reader.next_button, Qt.MouseButton.LeftButton)
    dialog.notes.text.setPlainText("Ver la página dos")
    qtbot.mouseClick(dialog.notes.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.notes.list.count() == 1, timeout=WAIT)
    (material_note,) = store.children(material_id, "note")
    assert material_note.space_id == only_me
    with qtbot.waitSignal(dialog.page_saved, timeout=WAIT):
        dialog.close()
    qtbot.waitUntil(lambda: bool(store.children(material_id, "reading_position")), timeout=WAIT)
    (position,) = store.children(material_id, "reading_position")
    assert isinstance(position, ReadingPosition)
    assert (position.page, position.space_id) == (1, only_me)


def test_an_editor_imports_and_shares_notes_with_the_group(
    profile: Profile, qtbot: QtBot, tmp_path: Path
) -> None:
    store = RecordStore(profile.engine)
    group = _group_in_space(profile, Role.EDITOR, tmp_path)
    view = _open_group(profile, qtbot, group.id)
    assert view.read_only.isHidden()
    assert view.import_button.isEnabled() and view.notes.personal.isEnabled()
    assert not view.notes.personal.isChecked() and view.notes.only_personal.isHidden()

    view.new_title.setText("Acta")
    view.new_type.setCurrentIndex(view.new_type.findData("meeting_minutes"))
    with qtbot.waitSignal(view.loaded, timeout=WAIT):
        view.import_path(make_pdf(tmp_path / "acta.pdf", ["Acta"]))
    qtbot.waitUntil(lambda: view.materials.count() == 2, timeout=WAIT)
    view.notes.text.setPlainText("Próxima reunión el martes")
    with qtbot.waitSignal(view.loaded, timeout=WAIT):
        qtbot.mouseClick(view.notes.add_button, Qt.MouseButton.LeftButton)
    (note,) = store.children(group.id, "note")
    assert note.space_id == group.space_id  # shared with the group

    dialog = _read(view, qtbot)
    assert dialog.notes.personal.isEnabled() and dialog.notes.only_personal.isHidden()
    dialog.close()


def test_a_removed_member_is_told_its_changes_would_reach_nobody(
    profile: Profile, qtbot: QtBot, tmp_path: Path
) -> None:
    group = _group_in_space(profile, None, tmp_path)
    view = _open_group(profile, qtbot, group.id)
    assert "no longer a member" in view.read_only.text()
    assert not view.import_button.isEnabled()
    assert view.notes.personal.isChecked() and not view.notes.personal.isEnabled()
    assert view.keep_group.isEnabled()  # keeping offline is reading

    set_language("es")  # the reason follows the interface's language
    try:
        view.retranslate()
        view.notes.retranslate()
        assert view.read_only.text().startswith("Ya no es miembro de este espacio")
        assert view.notes.personal.toolTip() == view.read_only.text()
        assert view.notes.only_personal.text().startswith("Las notas que añada aquí")
    finally:
        set_language("en")
