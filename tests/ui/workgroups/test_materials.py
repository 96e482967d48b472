"""A working group's page and its materials: import sealed, read from memory, page remembered.

The reader is driven through its buttons; what it shows is read back from QtPdf itself.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.domain.network_records import Material, Note, ReadingPosition
from desktop.store.records import RecordStore
from desktop.ui.workgroups.page import GroupView, MaterialDialog, WorkingGroupsPage
from tests.helpers.profiles import files_containing

from .conftest import make_pdf

CANARY = "CANARYxMATERIALx7311"


def _import(group: GroupView, qtbot: QtBot, path: Path, title: str) -> None:
    group.new_title.setText(title)
    group.new_type.setCurrentIndex(group.new_type.findData("toolkit"))
    before = len(group.bundle.materials) if group.bundle else 0
    with qtbot.waitSignal(group.loaded, timeout=5_000):
        group.import_path(path)
    qtbot.waitUntil(lambda: group.bundle is not None and len(group.bundle.materials) > before)


def _open(group: GroupView, qtbot: QtBot, row: int = 0) -> MaterialDialog:
    group.materials.setCurrentRow(row)
    with qtbot.waitSignal(group.material_opened, timeout=5_000) as opened:
        qtbot.mouseClick(group.open_button, Qt.MouseButton.LeftButton)
    dialog = opened.args[0]
    assert isinstance(dialog, MaterialDialog)
    qtbot.waitExposed(dialog)
    return dialog


def test_a_groups_page_shows_its_members(group: GroupView) -> None:
    members = {group.members.item(i).text() for i in range(group.members.count())}
    assert members == {"Amina Diallo", "Colectivo Tierra Viva"}
    assert group.title.text() == "\u200e\u2068Tierra y vivienda\u2069"  # marked and isolated


def test_open_a_material_and_turn_a_page_then_find_it_again(
    page: WorkingGroupsPage, group: GroupView, qtbot: QtBot, tmp_path: Path
) -> None:
    pdf = make_pdf(tmp_path / "guia.pdf", ["Page one of the guide", f"Second page {CANARY}"])
    _import(group, qtbot, pdf, "Guía de protección")
    store = RecordStore(page.profile.engine)
    material = store.get(group.bundle.materials[0].id) if group.bundle else None
    assert isinstance(material, Material) and [n for _r, n in material.attachments] == ["guia.pdf"]
    pdf.unlink()  # the original is gone: what follows reads the sealed copy only

    dialog = _open(group, qtbot)
    reader = dialog.reader
    assert reader.page == 0 and reader.page_count == 2
    assert "Page one of the guide" in reader.page_text()
    assert reader.page_label.text() == "Page 1 of 2"
    assert not reader.previous_button.isEnabled()
    with qtbot.waitSignal(reader.page_changed, timeout=2_000):
        qtbot.mouseClick(reader.next_button, Qt.MouseButton.LeftButton)
    assert reader.page == 1 and CANARY in reader.page_text()
    assert reader.page_label.text() == "Page 2 of 2" and not reader.next_button.isEnabled()

    # A personal note on this page.
    dialog.notes.text.setPlainText("Revisar con el grupo")
    dialog.notes.personal.setChecked(True)
    qtbot.mouseClick(dialog.notes.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.notes.list.count() == 1)
    assert dialog.notes.list.item(0).text().endswith("(only me)")
    notes = store.children(material.id, "note")
    assert isinstance(notes[0], Note) and notes[0].page == 1

    # The decrypted PDF was never written anywhere: only the sealed copy holds its bytes.
    assert files_containing([page.profile.folder, tmp_path], CANARY) == []

    with qtbot.waitSignal(dialog.page_saved, timeout=2_000):
        dialog.close()
    qtbot.waitUntil(lambda: bool(store.children(material.id, "reading_position")))
    position = store.children(material.id, "reading_position")[0]
    assert isinstance(position, ReadingPosition) and position.page == 1

    reopened = _open(group, qtbot)
    assert reopened.reader.page == 1  # where the person left off
    reopened.close()


def test_a_text_material_reads_as_text(group: GroupView, qtbot: QtBot, tmp_path: Path) -> None:
    notes = tmp_path / "acta.txt"
    notes.write_text("Acta de la reunión del 3 de junio\nAcuerdos: …", encoding="utf-8")
    _import(group, qtbot, notes, "Acta")
    dialog = _open(group, qtbot)
    assert dialog.reader.document is None
    assert "Acuerdos" in dialog.reader.content.toPlainText()  # type: ignore[attr-defined]
    assert not dialog.reader.next_button.isVisible()
    dialog.close()


def test_a_group_note_shared_with_the_group(group: GroupView, qtbot: QtBot) -> None:
    group.notes.text.setPlainText("Próxima reunión el martes")
    with qtbot.waitSignal(group.loaded, timeout=5_000):
        qtbot.mouseClick(group.notes.add_button, Qt.MouseButton.LeftButton)
    assert group.notes.list.count() == 1
    assert group.notes.list.item(0).text().endswith("(group)")


def test_a_material_whose_file_has_not_arrived_says_it_needs_a_connection(
    page: WorkingGroupsPage, group: GroupView, qtbot: QtBot
) -> None:
    # As sync delivers it from another member before the file itself: a record, no file here.
    assert group.bundle is not None
    store = RecordStore(page.profile.engine)
    store.save(
        Material(
            space_id=group.bundle.group.space_id,
            working_group_id=group.group_id,
            title="Informe anual",
            material_type="report",
            attachments=(("ab" * 16, "informe.pdf"),),
        )
    )
    group.reload()
    qtbot.waitUntil(lambda: group.materials.count() == 1)
    group.materials.setCurrentRow(0)
    qtbot.mouseClick(group.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: group.message.isVisible())
    assert group.message.text() == (
        "This file is not on this computer yet. It will be fetched when you are connected."
    )
    assert group.dialog is None
