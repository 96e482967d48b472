"""Errors that help: the title's limit is shown while typing (not only at save), the summary of
problems names each field, and an error under a field goes once the field is changed."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.domain.record_base import NAME_LIMIT, TITLE_LIMIT
from desktop.ui.forms import LengthHint
from desktop.ui.incidents.page import IncidentsPage

from .conftest import open_new_editor


def test_the_title_limit_shows_while_typing(page: IncidentsPage, qtbot: QtBot) -> None:
    editor = open_new_editor(page, qtbot)
    hint = editor.findChild(LengthHint, "lengthHint")
    assert hint is not None and hint.isHidden()  # nothing to say for a short title
    editor.event_tab.title.setText("x" * 170)
    assert hint.isVisibleTo(editor) and hint.text() == f"170 of {TITLE_LIMIT} characters"
    assert hint.property("role") == "hint"
    editor.event_tab.title.setText("x" * (TITLE_LIMIT + 10))
    assert hint.text() == f"{TITLE_LIMIT + 10} of {TITLE_LIMIT} characters"
    assert hint.property("role") == "error"  # over: said before any save


def test_the_summary_names_fields_and_errors_clear_once_fixed(
    page: IncidentsPage, qtbot: QtBot
) -> None:
    editor = open_new_editor(page, qtbot)
    editor.event_tab.title.setText("")
    editor.save()
    assert editor.summary.isVisibleTo(editor)
    assert any(line.startswith("• Title: ") for line in editor.summary.text().splitlines())
    line = editor.event_tab.form.errors["title"]
    assert line.isVisibleTo(editor) and line.text()
    editor.event_tab.title.setText("Desalojo en Cochabamba")
    assert not line.isVisibleTo(editor)  # fixed: the old error goes at once


def test_errors_under_rows_of_fields_pickers_and_checklists_clear_once_fixed(
    page: IncidentsPage, qtbot: QtBot
) -> None:
    editor = open_new_editor(page, qtbot)
    tab = editor.event_tab
    tab.title.setText("Corte de agua en la vereda")
    tab.kind.setCurrentIndex(tab.kind.findData("violation"))
    tab.status.set_code("documented")  # documented: a date, a country and rights are required
    tab.start.setText("2024-13")
    tab.latitude.setText("95")
    card = editor.acts.add_act()
    editor.save()
    errors = tab.form.errors
    for name in ("start_date", "latitude", "rights"):
        assert errors[name].isVisibleTo(editor) and errors[name].text(), name
    victim = card.form.errors["victim_id"]
    assert victim.text() == "Name the victim or choose a person."

    tab.start.setText("2024-03")  # one field of the "from, until" row
    assert not errors["start_date"].isVisibleTo(editor)
    tab.latitude.setText("-12.05")  # one field of the coordinates row
    assert not errors["latitude"].isVisibleTo(editor)
    tab.rights.topLevelItem(0).setCheckState(0, Qt.CheckState.Checked)  # a right ticked
    assert not errors["rights"].isVisibleTo(editor)
    card.victim.line.setText("Rosa Quispe")
    card.victim.line.editingFinished.emit()  # leaving the field settles the name
    assert victim.text() == ""


def test_a_name_typed_for_a_new_person_shows_its_limit_while_typing(
    page: IncidentsPage, qtbot: QtBot
) -> None:
    editor = open_new_editor(page, qtbot)
    card = editor.acts.add_act()
    editor.tabs.setCurrentWidget(editor.acts)
    line = card.victim.line
    assert line.maxLength() == NAME_LIMIT
    hint = card.victim.findChild(LengthHint, "lengthHint")
    assert hint is not None and hint.isHidden()
    line.setText("x" * 170)
    assert hint.isVisibleTo(editor) and hint.text() == f"170 of {NAME_LIMIT} characters"
    line.setText("x" * (NAME_LIMIT + 50))  # a paste longer than the limit stops at it
    assert line.text() == "x" * NAME_LIMIT
