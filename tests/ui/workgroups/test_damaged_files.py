"""A file's type comes from its content: a random file named ``.pdf`` is refused as a material
and, kept as evidence (evidence is kept as it is), it is recorded as what it is and the viewer
says so instead of showing an empty grey page; a damaged PDF says it is damaged. Markdown
materials are shown rendered, not as their source."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QTextBrowser
from pytestqt.qtbot import QtBot

from desktop.domain.network_records import Material
from desktop.store.materials import MaterialStore, OpenedFile
from desktop.store.profile import Profile
from desktop.ui.file_types import kind_of
from desktop.ui.workgroups.files import import_material_file
from desktop.ui.workgroups.page import GroupView, WorkingGroupsPage
from desktop.ui.workgroups.reader import MaterialReader

WAIT = 5_000


def _random_pdf(path: Path) -> Path:
    path.write_bytes(os.urandom(6000))
    return path


def test_a_random_file_named_pdf_is_refused_as_a_material_with_the_reason(
    group: GroupView, qtbot: QtBot, tmp_path: Path, profile: Profile
) -> None:
    before = group.materials.count()
    group.new_title.setText("Informe")
    group.new_type.setCurrentIndex(group.new_type.findData("report"))
    group.import_path(_random_pdf(tmp_path / "informe.pdf"))
    qtbot.waitUntil(lambda: group.message.isVisible(), timeout=WAIT)
    text = group.message.text()
    assert "“informe.pdf” is named as PDF document" in text
    assert "damaged or mislabelled" in text
    group.reload()
    qtbot.wait(300)
    assert group.materials.count() == before  # nothing imported


def test_the_type_is_read_from_the_content(tmp_path: Path) -> None:
    assert kind_of(b"%PDF-1.7\n", "x.pdf").media_type == "application/pdf"
    assert kind_of(b"%PDF-1.7\n", "renamed.txt").media_type == "application/pdf"
    assert kind_of(b"%PDF-1.7\n", "renamed.txt").mislabelled
    assert kind_of(b"\x89PNG\r\n\x1a\n" + bytes(40), "photo.jpg").media_type == "image/png"
    assert not kind_of(b"# Guide\n", "guide.md").mislabelled


def test_a_damaged_pdf_and_a_mislabelled_file_say_what_is_wrong(qtbot: QtBot) -> None:
    damaged = OpenedFile("f1", "guide.pdf", "application/pdf", b"%PDF-1.4\n1 0 obj <<\n")
    reader = MaterialReader(damaged)
    qtbot.addWidget(reader)
    assert reader.document is None
    assert "This PDF is damaged" in reader.content.text()  # type: ignore[attr-defined]

    mislabelled = OpenedFile("f2", "guide.pdf", "application/pdf", os.urandom(3000))
    reader = MaterialReader(mislabelled)
    qtbot.addWidget(reader)
    assert "damaged or mislabelled" in reader.content.text()  # type: ignore[attr-defined]


def test_markdown_materials_are_rendered(
    profile: Profile, group: GroupView, qtbot: QtBot, tmp_path: Path
) -> None:
    source = tmp_path / "guia.md"
    source.write_text("# Guía de protección\n\n- **Primero**: avisar\n", encoding="utf-8")
    assert group.bundle is not None
    material = Material(
        space_id=group.bundle.group.space_id,
        working_group_id=group.group_id,
        title="Guía",
        material_type="toolkit",
    )
    file = import_material_file(profile, material, source)
    assert file.media_type == "text/markdown"
    opened = MaterialStore.of(profile).open(file.id)
    reader = MaterialReader(opened)
    qtbot.addWidget(reader)
    assert isinstance(reader.content, QTextBrowser)
    shown = reader.content.toPlainText()
    assert "Guía de protección" in shown and "Primero" in shown
    assert "#" not in shown and "**" not in shown


def test_a_random_file_named_pdf_kept_as_evidence_is_recorded_as_what_it_is(
    qtbot: QtBot, tmp_path: Path
) -> None:
    from desktop.domain.records import Evidence
    from desktop.ui.incidents.viewer import EvidenceViewer

    data = os.urandom(5000)
    evidence = Evidence(
        space_id="0" * 32,
        incident_id="1" * 32,
        attachment_ref="2" * 32,
        sha256="3" * 64,
        filename="acta.pdf",
        size=len(data),
        media_type="application/pdf",  # what an older import recorded from the name
    )
    viewer = EvidenceViewer(evidence, data)
    qtbot.addWidget(viewer)
    assert viewer.document is None
    assert "“acta.pdf” is named as PDF document" in viewer.content.text()  # type: ignore[attr-defined]


def test_the_refusal_is_brought_into_view_on_a_scrolled_group_page(
    page: WorkingGroupsPage, group: GroupView, qtbot: QtBot, tmp_path: Path
) -> None:
    # The group's page scrolls at the default size; its message sat below the fold, so the
    # person saw nothing happen. It is now scrolled into view.
    page.resize(1024 - 200, 680 - 60)
    qtbot.wait(200)
    group.new_type.setCurrentIndex(group.new_type.findData("report"))
    group.import_path(_random_pdf(tmp_path / "informe.pdf"))
    qtbot.waitUntil(lambda: group.message.isVisible(), timeout=WAIT)
    qtbot.waitUntil(lambda: not group.message.visibleRegion().isEmpty(), timeout=WAIT)
    shown = group.message.visibleRegion().boundingRect()
    assert shown.height() >= group.message.height() - 1  # whole, not a sliver at the edge


def test_a_material_s_type_is_chosen_by_the_person(
    group: GroupView, qtbot: QtBot, tmp_path: Path
) -> None:
    # It started as "Report": a toolkit imported without a look was recorded as a report.
    assert group.new_type.currentIndex() == -1 and group.new_type.currentData() is None
    assert group.new_type.placeholderText() == "Choose the type…"
    group.import_button.click()  # no file is asked for before the type is chosen
    assert group.message.text() == "Type of material: Choose a value from the list."
    group.import_path(_random_pdf(tmp_path / "informe.pdf"))  # however the file comes
    assert group.message.text() == "Type of material: Choose a value from the list."
    group.new_type.setCurrentIndex(group.new_type.findData("toolkit"))
    group.new_type.activated.emit(group.new_type.currentIndex())  # what a person's pick sends
    assert not group.message.isVisible()  # once chosen, the problem is no longer shown
    group.new_title.setText("x" * 190)
    hint = group.title_hint
    assert hint.isVisible() and hint.text() == "190 of 200 characters"
