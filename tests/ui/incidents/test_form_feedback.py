"""Errors that help: the title's limit is shown while typing (not only at save), the summary of
problems names each field, and an error under a field goes once the field is changed."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from desktop.domain.record_base import TITLE_LIMIT
from desktop.ui.incidents.page import IncidentsPage
from desktop.ui.incidents.parts import LengthHint

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
