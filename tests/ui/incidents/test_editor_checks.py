"""What the editor refuses and what it never leaves behind: bad input, decrypted files, Arabic.

Validation messages sit next to their fields; evidence opens from memory only.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.domain.translation import _, set_language
from desktop.store.profile import Profile
from desktop.store.records import RecordQuery, RecordStore
from desktop.ui.incidents.page import IncidentsPage
from desktop.ui.incidents.parts import ActCard
from desktop.ui.incidents.viewer import EvidenceViewer
from tests.helpers.profiles import canary_encodings, files_containing
from tests.ui.incidents.conftest import make_pdf, make_png, open_new_editor

# Made at run time, so no source file or shell history holds it.
CANARY = "Canary" + secrets.token_hex(8)


def recent_files_containing(root: Path, since: float, text: str) -> list[str]:
    """Files under ``root`` written since ``since`` that hold ``text`` in any encoding."""
    needles = canary_encodings(text)
    found = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            try:
                if not path.is_file() or path.stat().st_mtime < since:
                    continue
                data = path.read_bytes()
            except OSError:
                continue  # sockets, files gone meanwhile
            if any(needle in data for needle in needles):
                found.append(str(path))
    return found


def test_bad_dates_and_coordinates_are_shown_next_to_their_fields(
    page: IncidentsPage, profile: Profile, qtbot: QtBot
) -> None:
    editor = open_new_editor(page, qtbot)
    qtbot.keyClicks(editor.event_tab.title, "Water cut off in the upper valley")
    editor.event_tab.kind.set_code("violation")
    qtbot.keyClicks(editor.event_tab.start, "2024-13")
    qtbot.keyClicks(editor.event_tab.end, "2023")
    qtbot.keyClicks(editor.event_tab.latitude, "95")
    qtbot.keyClicks(editor.event_tab.longitude, "-200")
    card = editor.acts.add_act()
    assert isinstance(card, ActCard)
    card.act_type.set_code("water_cut_off")
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)

    errors = editor.event_tab.form.errors
    assert errors["start_date"].isVisibleTo(editor)
    assert "The month must be between 1 and 12; got 13." in errors["start_date"].text()
    assert "Latitude must be between -90 and 90; got 95." in errors["latitude"].text()
    assert "Longitude must be between -180 and 180; got -200." in errors["longitude"].text()
    assert card.form.errors["victim_id"].text() == "Name the victim or choose a person."
    assert not errors["title"].isVisibleTo(editor)
    assert editor.summary.isVisibleTo(editor)
    assert "This incident was not saved: 4 things need your attention." in editor.summary.text()
    assert "Event, Acts" in editor.summary.text()

    # Fixed, it saves; nothing was written before.
    store = RecordStore(profile.engine)
    assert store.count(RecordQuery("incident")) == 0
    editor.event_tab.start.setText("2024-03-02")
    editor.event_tab.end.clear()
    editor.event_tab.latitude.setText("-12,05")  # a decimal comma is read too
    editor.event_tab.longitude.setText("-77.04")
    editor.acts.remove(card)
    with qtbot.waitSignal(editor.saved, timeout=5_000):
        editor.save_action.trigger()
    (row,) = store.page(RecordQuery("incident"))
    incident = store.require(row.id)
    assert (incident.latitude, incident.longitude) == (-12.05, -77.04)  # type: ignore[attr-defined]


def test_a_documented_incident_needs_its_date_and_country(
    page: IncidentsPage, qtbot: QtBot
) -> None:
    editor = open_new_editor(page, qtbot)
    qtbot.keyClicks(editor.event_tab.title, "Defender followed after the hearing")
    editor.event_tab.kind.set_code("threat_to_defender")
    editor.event_tab.status.set_code("documented")
    editor.save()
    errors = editor.event_tab.form.errors
    assert errors["start_date"].text() and errors["country"].text()
    assert not errors["rights"].text()  # a threat to a defender names no right


def test_evidence_opens_from_memory_and_no_decrypted_copy_exists(
    page: IncidentsPage, profile: Profile, qtbot: QtBot, tmp_path: Path
) -> None:
    started = time.time() - 1
    originals = tmp_path / "originals"
    originals.mkdir()
    pdf = make_pdf(originals / "complaint.pdf", CANARY)
    photo = make_png(originals / "spill.png")
    editor = open_new_editor(page, qtbot)
    qtbot.keyClicks(editor.event_tab.title, "Spill at the river intake")
    editor.evidence.import_files([pdf, photo])
    qtbot.waitUntil(lambda: len(editor.bundle.evidence) == 2, timeout=5_000)
    # The originals go; from here on only Minga's sealed copy holds the text.
    pdf.unlink()
    photo.unlink()

    editor.evidence.select_evidence(editor.bundle.evidence[0].id)
    editor.evidence.view_evidence()
    qtbot.waitUntil(lambda: isinstance(editor.evidence.viewer, EvidenceViewer), timeout=5_000)
    viewer = editor.evidence.viewer
    assert viewer is not None and viewer.document is not None
    qtbot.waitUntil(lambda: viewer.document.pageCount() == 1)
    assert CANARY in viewer.page_text(0)
    assert editor.evidence.selected_evidence().custody[-1].action == "viewed"  # type: ignore[union-attr]
    assert files_containing([profile.folder, tmp_path], CANARY) == []
    assert recent_files_containing(Path(tempfile.gettempdir()), started, CANARY) == []
    viewer.reject()
    qtbot.waitUntil(lambda: editor.evidence.viewer is None)

    editor.evidence.select_evidence(editor.bundle.evidence[1].id)
    editor.evidence.view_evidence()
    qtbot.waitUntil(lambda: isinstance(editor.evidence.viewer, EvidenceViewer), timeout=5_000)
    assert editor.evidence.viewer is not None and editor.evidence.viewer.image is not None
    assert (editor.evidence.viewer.image.width(), editor.evidence.viewer.image.height()) == (64, 48)
    editor.evidence.viewer.reject()

    exported = tmp_path / "exported.pdf"
    editor.evidence.select_evidence(editor.bundle.evidence[0].id)
    editor.evidence.export_evidence(exported)
    custody = editor.evidence.custody_table
    # The log gains the export once the file is written and the record saved.
    qtbot.waitUntil(lambda: custody.rowCount() == 3, timeout=5_000)
    assert custody.item(2, 2).text() == "Exported" and custody.item(2, 3).text() == "exported.pdf"
    assert CANARY.encode() in exported.read_bytes()  # the person chose to take it out


def test_the_editor_in_arabic_is_right_to_left_and_translated(
    page: IncidentsPage, qtbot: QtBot, tmp_path: Path
) -> None:
    set_language("ar")
    try:
        editor = open_new_editor(page, qtbot)
        assert editor.layoutDirection() == Qt.LayoutDirection.RightToLeft
        assert editor.tabs.tabText(0) == _("Event") == "الواقعة"
        assert editor.save_button.text() == "حفظ"
        # Each example date isolated left to right, or bidi would show "15-03-2024".
        assert editor.event_tab.start.placeholderText() == (
            "\u20662024\u2069 أو \u20662024-03\u2069 أو \u20662024-03-15\u2069"
        )
        assert editor.event_tab.start.layoutDirection() == Qt.LayoutDirection.RightToLeft
        # Coordinates stay left to right, or "-12.05" would show its minus at the end.
        assert editor.event_tab.latitude.layoutDirection() == Qt.LayoutDirection.LeftToRight
        assert editor.event_tab.country.itemText(editor.event_tab.country.findData("eg")) == "مصر"
        assert page.heading.text() == "الحوادث"
        assert page.model.headerData(0, Qt.Orientation.Horizontal) == "العنوان"
        # The evidence list selects the new file and shows its custody, mirrored too.
        editor.evidence.import_files([make_png(tmp_path / "صورة.png")])
        qtbot.waitUntil(lambda: len(editor.bundle.evidence) == 1, timeout=5_000)
        assert editor.evidence.selected_evidence() is not None
        assert editor.evidence.custody_table.item(0, 2).text() == "استيراد إلى مينغا"
        assert editor.evidence.view_button.isEnabled()
        qtbot.keyClicks(editor.event_tab.start, "2024-13")
        editor.save()
        assert "13" in editor.event_tab.form.errors["start_date"].text()
        assert "The month" not in editor.event_tab.form.errors["start_date"].text()
        editor.reject()
    finally:
        set_language("en")


def test_the_arabic_report_keeps_the_arabic_text_and_withholds_names(
    app: QApplication, tmp_path: Path
) -> None:
    from desktop.domain.dates import PartialDate
    from desktop.domain.records import Act, Consent, ConsentLevel, Incident, Person
    from desktop.ui.incidents.bundle import IncidentBundle
    from desktop.ui.incidents.report import write_report
    from tests.ui.incidents.test_incident_editor import pdf_text

    set_language("ar")
    try:
        space = "0" * 32
        victim = Person(space_id=space, name="Amina Haddad", alias="أ. ح.")
        incident = Incident(
            space_id=space,
            title="قطع المياه عن حي الزيتون",
            country="jo",
            start_date=PartialDate(2024, 3),
            consents=(Consent(person_id=victim.id, level=ConsentLevel.SHARE_ANONYMOUSLY),),
        )
        act = Act(
            space_id=space, incident_id=incident.id, victim_id=victim.id, act_type="water_cut_off"
        )
        bundle = IncidentBundle(incident, acts=[act], parties={victim.id: victim})
        report = tmp_path / "تقرير.pdf"
        write_report(bundle, report)
        text = pdf_text(report)
        assert "قطع المياه عن حي الزيتون" in text
        assert "الأردن" in text  # the country's label in Arabic
        assert "أ. ح." in text and "Amina Haddad" not in text
    finally:
        set_language("en")
