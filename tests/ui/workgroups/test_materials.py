"""A working group's page and its materials: import sealed, read from memory, page remembered.

The reader is driven through its buttons; what it shows is read back from QtPdf itself.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.domain.network_records import Material, Note, ReadingPosition
from desktop.store.evidence import EvidenceStore
from desktop.store.materials import MaterialStore
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
    # In its own direction: a Spanish name reads left to right wherever it is shown.
    assert group.title.text() == "Tierra y vivienda"
    assert group.title.layoutDirection() == Qt.LayoutDirection.LeftToRight


def test_open_a_material_and_turn_a_page_then_find_it_again(
    page: WorkingGroupsPage, group: GroupView, qtbot: QtBot, tmp_path: Path
) -> None:
    pdf = make_pdf(tmp_path / "guia.pdf", ["Page one of the guide", f"Second page {CANARY}"])
    _import(group, qtbot, pdf, "Guía de protección")
    store = RecordStore(page.profile.engine)
    material = store.get(group.bundle.materials[0].id) if group.bundle else None
    assert isinstance(material, Material)
    assert [f.filename for f in MaterialStore.of(page.profile).files(material.id)] == ["guia.pdf"]
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


def _arrived_without_file(page: WorkingGroupsPage, group: GroupView, tmp_path: Path) -> Material:
    """As sync delivers a material from another member before its file: records, no file."""
    assert group.bundle is not None
    materials = MaterialStore.of(page.profile)
    material = materials.records.save(
        Material(
            space_id=group.bundle.group.space_id,
            working_group_id=group.group_id,
            title="Informe anual",
            material_type="report",
        )
    )
    pdf = make_pdf(tmp_path / "informe.pdf", ["Informe anual", "desalojos"])
    file = materials.import_file(material, pdf)
    EvidenceStore.of(page.profile).erase(file.attachment_ref)  # the file itself is not here
    return material


def test_a_material_whose_file_is_not_here_shows_its_size_and_needs_a_connection(
    page: WorkingGroupsPage, group: GroupView, qtbot: QtBot, tmp_path: Path
) -> None:
    _arrived_without_file(page, group, tmp_path)
    group.reload()
    qtbot.waitUntil(lambda: group.materials.count() == 1)
    assert group.materials.item(0).text().endswith("· 850 bytes to download")
    group.materials.setCurrentRow(0)
    assert group.download_button.isVisible() and not group.keep_material.isChecked()
    assert group.file_status.text() == (
        "Not on this computer (850 bytes). Downloading it needs a connection."
    )
    qtbot.mouseClick(group.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: group.message.isVisible())
    assert group.message.text().startswith(
        "This file is not on this computer: it needs a connection."
    )
    assert group.dialog is None
    # Never joined a server: Download says there is nothing to download from.
    with qtbot.waitSignal(group.downloaded, timeout=2_000):
        qtbot.mouseClick(group.download_button, Qt.MouseButton.LeftButton)
    assert "no server to download from" in group.message.text()


def test_keeping_a_material_or_the_group_offline_is_this_devices_choice(
    page: WorkingGroupsPage, group: GroupView, qtbot: QtBot, tmp_path: Path
) -> None:
    material = _arrived_without_file(page, group, tmp_path)
    materials = MaterialStore.of(page.profile)
    group.reload()
    qtbot.waitUntil(lambda: group.materials.count() == 1)
    group.materials.setCurrentRow(0)
    with qtbot.waitSignal(group.loaded, timeout=5_000):
        qtbot.mouseClick(group.keep_material, Qt.MouseButton.LeftButton)
    assert materials.pinned_ids() == {material.id}
    assert group.materials.item(0).text().endswith("· kept offline, 850 bytes still to arrive")
    assert group.file_status.text().startswith("Kept offline: 850 bytes will arrive")
    with qtbot.waitSignal(group.loaded, timeout=5_000):
        qtbot.mouseClick(group.keep_group, Qt.MouseButton.LeftButton)
    assert materials.pinned_ids() == {material.id, group.group_id}
    assert not group.keep_material.isEnabled()  # the whole group is kept: one switch for all
    with qtbot.waitSignal(group.loaded, timeout=5_000):
        qtbot.mouseClick(group.keep_group, Qt.MouseButton.LeftButton)
    group.materials.setCurrentRow(0)
    with qtbot.waitSignal(group.loaded, timeout=5_000):
        qtbot.mouseClick(group.keep_material, Qt.MouseButton.LeftButton)
    assert materials.pinned_ids() == set()
    assert not materials.records.get(material.id).pinned  # type: ignore[union-attr]  # not synced


def test_search_finds_a_word_inside_a_pdf(group: GroupView, qtbot: QtBot, tmp_path: Path) -> None:
    _import(group, qtbot, make_pdf(tmp_path / "a.pdf", ["Tierra", "Los desalojos del norte"]), "A")
    other = tmp_path / "b.txt"
    other.write_text("nada que ver", encoding="utf-8")
    _import(group, qtbot, other, "B")
    assert group.materials.count() == 2
    with qtbot.waitSignal(group.searched, timeout=5_000):
        group.search.setText("desalojos")
    assert group.materials.count() == 1 and group.materials.item(0).text().startswith("\u2068A")
    with qtbot.waitSignal(group.searched, timeout=5_000):
        group.search.setText("")
    assert group.materials.count() == 2
