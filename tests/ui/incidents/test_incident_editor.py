"""Recording an incident through the editor, finding it in the list, and its PDF report.

Real profile and store; the person's steps are typed and clicked into the real widgets.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtPdf import QPdfDocument
from pytestqt.qtbot import QtBot

from desktop.domain.records import Act, Evidence, Incident, Person
from desktop.store.profile import Profile
from desktop.store.records import RecordQuery, RecordStore
from desktop.ui.incidents.editor import IncidentEditor
from desktop.ui.incidents.page import IncidentsPage
from desktop.ui.incidents.parts import ActCard
from desktop.ui.lists import ID_ROLE
from tests.ui.incidents.conftest import answer, make_png, open_editor, open_new_editor

TITLE = "Forced eviction at the river settlement"


def pdf_text(path: Path) -> str:
    buffer = QBuffer()
    buffer.setData(QByteArray(path.read_bytes()))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    document = QPdfDocument()
    document.load(buffer)
    assert document.status() == QPdfDocument.Status.Ready
    text = "\n".join(document.getAllText(p).text() for p in range(document.pageCount()))
    document.close()
    return " ".join(text.split())  # lines wrap where the page ends them


def fill_event(editor: IncidentEditor, qtbot: QtBot) -> None:
    qtbot.keyClicks(editor.event_tab.title, TITLE)
    editor.event_tab.kind.set_code("violation")
    qtbot.keyClicks(editor.event_tab.start, "2024-03")
    editor.event_tab.country.set_code("co")
    editor.event_tab.region.set_code("co_ant")
    editor.event_tab.place.setText("Río Claro")  # QTest types ASCII only
    editor.event_tab.rights.set_codes(["housing", "protection_from_forced_eviction"])
    qtbot.keyClicks(editor.event_tab.narrative, "Families were removed at dawn without notice.")
    editor.event_tab.status.set_code("documented")


def add_act(editor: IncidentEditor, qtbot: QtBot) -> ActCard:
    card = editor.acts.add_act()
    assert isinstance(card, ActCard)
    qtbot.keyClicks(card.victim.line, "Rosa Quispe")
    card.victim.line.editingFinished.emit()
    card.act_type.set_code("forced_eviction")
    (row,) = card.involvements
    qtbot.keyClicks(row.perpetrator.line, "Minera Andina")
    row.perpetrator.line.editingFinished.emit()
    row.perpetrator_type.set_code("corporation")
    row.degree.set_code("direct")
    return card


def test_record_an_incident_find_it_and_export_its_report(
    page: IncidentsPage, profile: Profile, qtbot: QtBot, tmp_path: Path
) -> None:
    assert page.views.currentWidget() is page.no_incidents
    editor = open_new_editor(page, qtbot)
    fill_event(editor, qtbot)
    card = add_act(editor, qtbot)
    assert card.victim.party is not None and card.victim.party.new is not None
    # The victim now needs a consent recorded; the tab says so until it is.
    editor.tabs.setCurrentWidget(editor.consents)
    assert "Consent is not yet recorded for 1 person" in editor.consents.warning.text()
    (row,) = editor.consents.rows.values()
    row.level.set_code("share_anonymously")
    row.level.activated.emit(row.level.currentIndex())
    assert editor.consents.warning.isHidden()

    photo = make_png(tmp_path / "bulldozer.png")
    editor.tabs.setCurrentWidget(editor.evidence)
    editor.evidence.import_files([photo])
    qtbot.waitUntil(lambda: len(editor.bundle.evidence) == 1, timeout=5_000)
    assert editor.evidence.table.item(0, 0).text() == "bulldozer.png"
    assert len(editor.evidence.table.item(0, 3).text()) == 64
    assert editor.evidence.custody_table.rowCount() == 1

    with qtbot.waitSignal(editor.saved, timeout=5_000):
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)

    store = RecordStore(profile.engine)
    (incident_row,) = store.page(RecordQuery("incident"))
    incident = store.require(incident_row.id)
    assert isinstance(incident, Incident)
    assert incident.title == TITLE and incident.region == "co_ant"
    (act,) = store.children(incident.id, "act")
    assert isinstance(act, Act) and act.act_type == "forced_eviction"
    victim = store.require(act.victim_id)
    assert isinstance(victim, Person) and victim.name == "Rosa Quispe"
    (involvement,) = act.involvements
    perpetrator = store.require(involvement.perpetrator_id or "")
    assert isinstance(perpetrator, Person) and perpetrator.name == "Minera Andina"
    assert involvement.perpetrator_type == "corporation" and involvement.degree == "direct"
    (evidence,) = store.children(incident.id, "evidence")
    assert isinstance(evidence, Evidence) and evidence.filename == "bulldozer.png"
    assert incident.consent_of(victim.id) is not None

    # Found by searching, accents folded: "rio" finds "Río Claro".
    qtbot.keyClicks(page.filters.search, "rio claro")
    qtbot.waitUntil(lambda: page.model.total == 1 and page.model.loaded == 1, timeout=5_000)
    assert page.model.index(0, 0).data() == TITLE
    assert page.model.index(0, 2).data() == "Colombia"
    page.filters.search.clear()
    qtbot.keyClicks(page.filters.search, "nothing like this")
    qtbot.waitUntil(lambda: page.model.total == 0, timeout=5_000)
    assert page.views.currentWidget() is page.no_matches

    editor = open_editor(page, qtbot, incident.id)
    (card,) = editor.acts.cards
    assert isinstance(card, ActCard) and card.victim.line.text() == "Rosa Quispe"
    report = tmp_path / "report.pdf"
    editor.export_report(report)
    qtbot.waitUntil(report.exists, timeout=10_000)
    text = pdf_text(report)
    assert TITLE in text
    assert "Rosa Quispe" not in text  # consented to be documented anonymously only
    assert evidence.sha256 in text.replace(" ", "")  # a long hash wraps over lines
    editor.reject()


def test_deleting_an_incident_asks_first_then_removes_everything(
    page: IncidentsPage, profile: Profile, qtbot: QtBot, tmp_path: Path
) -> None:
    editor = open_new_editor(page, qtbot)
    qtbot.keyClicks(editor.event_tab.title, "Threats against the water committee")
    editor.event_tab.kind.set_code("threat_to_defender")
    editor.evidence.import_files([make_png(tmp_path / "letter.png")])
    qtbot.waitUntil(lambda: len(editor.bundle.evidence) == 1, timeout=5_000)
    with qtbot.waitSignal(editor.saved, timeout=5_000):
        editor.save_action.trigger()
    qtbot.waitUntil(lambda: page.model.loaded == 1)
    incident_id = page.model.index(0, 0).data(ID_ROLE)

    editor = open_editor(page, qtbot, incident_id)
    editor.confirm_delete()
    answer(qtbot, editor, confirm=False)
    assert editor.isVisible()
    editor.confirm_delete()
    with qtbot.waitSignal(editor.deleted, timeout=5_000):
        answer(qtbot, editor, confirm=True)
    qtbot.waitUntil(lambda: page.model.total == 0)
    store = RecordStore(profile.engine)
    assert store.get(incident_id) is None
    assert list((profile.folder / "attachments").glob("*.sealed")) == []


def test_discarding_changes_asks_and_leaves_nothing_behind(
    page: IncidentsPage, profile: Profile, qtbot: QtBot, tmp_path: Path
) -> None:
    editor = open_new_editor(page, qtbot)
    qtbot.keyClicks(editor.event_tab.title, "Notes I will not keep")
    editor.evidence.import_files([make_png(tmp_path / "draft.png")])
    qtbot.waitUntil(lambda: len(editor.bundle.evidence) == 1, timeout=5_000)
    qtbot.keyClick(editor.event_tab.title, Qt.Key.Key_Escape)
    answer(qtbot, editor, confirm=True)
    qtbot.waitUntil(lambda: page.editor is None)
    store = RecordStore(profile.engine)
    sealed = profile.folder / "attachments"
    qtbot.waitUntil(lambda: list(sealed.glob("*.sealed")) == [], timeout=5_000)
    assert store.count(RecordQuery("evidence")) == 0
    assert store.count(RecordQuery("incident")) == 0
