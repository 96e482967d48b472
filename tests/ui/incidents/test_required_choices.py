"""Nothing chosen for the person: a new incident's kind and a follow-up's step start empty with a
prompt; saving without choosing names the missing choice (by the field's name) and stores
nothing; the error under the field goes as soon as something is chosen."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from desktop.domain.records import FollowUpKind, IncidentKind
from desktop.store.records import RecordQuery, RecordStore
from desktop.ui.incidents.page import IncidentsPage

from .conftest import open_editor, open_new_editor

REQUIRED = "Choose a value from the list."


def test_a_new_incident_chooses_no_kind_for_the_person(page: IncidentsPage, qtbot: QtBot) -> None:
    editor = open_new_editor(page, qtbot)
    kind = editor.event_tab.kind
    assert kind.currentIndex() == -1 and kind.code() == ""
    assert kind.placeholderText() == "Choose a kind…"
    qtbot.keyClicks(editor.event_tab.title, "Desalojo en la ribera")
    editor.save()
    assert f"• Kind: {REQUIRED}" in editor.summary.text().splitlines()
    line = editor.event_tab.form.errors["kind"]
    assert line.isVisibleTo(editor) and line.text() == REQUIRED
    store = RecordStore(page.profile.engine)
    assert store.count(RecordQuery("incident")) == 0

    # Chosen: the error under it goes at once, and the incident is saved with that kind.
    kind.setCurrentIndex(kind.findData("corporate_capture"))
    assert not line.isVisibleTo(editor)
    with qtbot.waitSignal(editor.saved, timeout=5_000) as saved:
        editor.save()
    stored = store.require(saved.args[0])
    assert stored.kind is IncidentKind.CORPORATE_CAPTURE  # type: ignore[attr-defined]

    # A saved incident shows its own kind.
    reopened = open_editor(page, qtbot, stored.id)
    assert reopened.event_tab.kind.code() == "corporate_capture"


def test_a_follow_up_step_is_chosen_by_the_person(page: IncidentsPage, qtbot: QtBot) -> None:
    editor = open_new_editor(page, qtbot)
    tab = editor.follow_ups
    editor.tabs.setCurrentWidget(tab)
    assert tab.kind.currentIndex() == -1 and tab.kind.code() == ""
    assert tab.kind.placeholderText() == "Choose a step…"
    tab.date.setText("2024-05-02")
    tab.summary.setPlainText("Carta enviada a la defensoría")
    assert tab.add_follow_up() is None
    line = tab.form.errors["kind"]
    assert line.isVisibleTo(editor) and line.text() == REQUIRED
    assert tab.pending == []

    tab.kind.setCurrentIndex(tab.kind.findData("letter_sent"))
    assert not line.isVisibleTo(editor)
    entry = tab.add_follow_up()
    assert entry is not None and entry.kind is FollowUpKind.LETTER_SENT
    assert tab.kind.currentIndex() == -1  # the next step is chosen anew, like its other fields
