"""Drafts: what a person typed in an open editor survives the lock and comes back after unlock.

Real window, real profile, real lock (Ctrl+L): the draft is written into the profile before its
engine closes, offered after unlocking, and reopened, discarded or removed by saving.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from desktop.domain.records import Act, Incident, Organization, Person
from desktop.store.drafts import Draft, DraftStore
from desktop.store.records import RecordQuery, RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.directory import DirectoryPage
from desktop.ui.directory.forms import OrganizationForm, PersonForm, RecordForm
from desktop.ui.incidents.editor import IncidentEditor
from desktop.ui.incidents.page import IncidentsPage
from desktop.ui.incidents.parts import ActCard, Confirmation
from desktop.ui.jobs import drain_writes
from desktop.ui.main_window import DraftOffer, MainWindow
from sync.protocol import Role
from tests.ui.conftest import show_window, unlock_through_screen
from tests.ui.sync.spaces import member_of_space

NARRATIVE = "Llegaron de noche.\nوصلوا ليلاً — 40 familias desalojadas"


def _lock_with_shortcut(window: MainWindow, qtbot: QtBot, focus: QWidget) -> None:
    # Shortcuts reach the active window only, as with a person at the keyboard.
    focus.window().activateWindow()
    qtbot.waitUntil(focus.window().isActiveWindow)
    focus.setFocus()
    QTest.keyClick(focus, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.is_unlocked, timeout=5_000)


def _drafts(window: MainWindow) -> list[Draft]:
    profile = window.session.profile
    assert profile is not None
    assert drain_writes(10)
    return DraftStore(profile.engine).all()


def _offer(window: MainWindow, qtbot: QtBot) -> DraftOffer:
    qtbot.waitUntil(lambda: window.draft_offer is not None and window.draft_offer.isVisible())
    offer = window.draft_offer
    assert offer is not None
    return offer


def _incidents(window: MainWindow) -> IncidentsPage:
    assert window.workspace is not None
    page = window.workspace.page("incidents")
    assert isinstance(page, IncidentsPage)
    return page


def _directory(window: MainWindow, qtbot: QtBot) -> DirectoryPage:
    assert window.workspace is not None
    window.workspace.show_section("directory")
    page = window.workspace.page("directory")
    assert isinstance(page, DirectoryPage)
    qtbot.waitUntil(lambda: page.spaces is not None, timeout=10_000)
    return page


def test_an_incident_typed_before_the_lock_is_reopened_and_saved(
    unlocked: MainWindow, qtbot: QtBot
) -> None:
    assert unlocked.workspace is not None
    unlocked.workspace.show_section("incidents")
    page = _incidents(unlocked)
    with qtbot.waitSignal(page.editor_opened, timeout=5_000) as opened:
        page.new_incident()
    editor = opened.args[0]
    assert isinstance(editor, IncidentEditor)
    qtbot.waitExposed(editor)
    QTest.keyClicks(editor.event_tab.title, "Desalojo en Vereda El Porvenir")
    editor.event_tab.kind.set_code("violation")
    # Typed as a person would (QTest types ASCII only), then the rest as an input method would.
    QTest.keyClicks(editor.event_tab.narrative, NARRATIVE[:17])
    editor.event_tab.narrative.insertPlainText(NARRATIVE[17:])
    # Not a number: the incident could not be saved, the draft must keep it all the same.
    QTest.keyClicks(editor.event_tab.latitude, "doce sur")
    editor.event_tab.rights.set_codes(("housing",))
    editor.tabs.setCurrentIndex(1)
    act = editor.acts.add_act()
    act.notes.setPlainText("Nota del acto")

    _lock_with_shortcut(unlocked, qtbot, editor.event_tab.narrative)
    assert page.editor is None or not editor.isVisible()
    unlock_through_screen(qtbot, unlocked)

    offer = _offer(unlocked, qtbot)
    assert offer.question.text() == (
        "You were editing the incident “Desalojo en Vereda El Porvenir” when Minga locked. "
        "Reopen it?"
    )
    [kept] = _drafts(unlocked)
    assert kept.editor == "incident" and kept.is_new
    page = _incidents(unlocked)  # a new workspace after the lock
    with qtbot.waitSignal(page.editor_opened, timeout=5_000) as opened:
        qtbot.mouseClick(offer.reopen_button, Qt.MouseButton.LeftButton)
    reopened = opened.args[0]
    assert isinstance(reopened, IncidentEditor) and reopened is not editor
    assert reopened.incident.id == kept.record_id  # the same incident, still to be created
    assert reopened.event_tab.title.text() == "Desalojo en Vereda El Porvenir"
    assert reopened.event_tab.narrative.toPlainText() == NARRATIVE
    assert reopened.event_tab.latitude.text() == "doce sur"
    assert reopened.event_tab.rights.codes() == ("housing",)
    assert reopened.tabs.currentIndex() == 1
    [card] = reopened.acts.cards
    assert isinstance(card, ActCard) and card.notes.toPlainText() == "Nota del acto"

    # Still invalid: saving shows the problem and the draft stays.
    reopened.save()
    assert reopened.summary.isVisible()
    assert [d.id for d in _drafts(unlocked)] == [kept.id]
    reopened.event_tab.latitude.setText("")
    reopened.acts.remove(card)
    with qtbot.waitSignal(reopened.saved, timeout=10_000):
        reopened.save()
    assert _drafts(unlocked) == []
    profile = unlocked.session.profile
    assert profile is not None
    saved = RecordStore(profile.engine).require(kept.record_id or "")
    assert isinstance(saved, Incident) and saved.narrative == NARRATIVE


def test_directory_forms_discard_reopen_and_cancel(unlocked: MainWindow, qtbot: QtBot) -> None:
    page = _directory(unlocked, qtbot)
    form = page.lists["organization"].open_form(None)
    assert isinstance(form, OrganizationForm)
    qtbot.waitExposed(form)
    QTest.keyClicks(form.name, "Red de Mujeres por el Agua")
    form.description.setPlainText("Se reúnen los martes")
    _lock_with_shortcut(unlocked, qtbot, form.name)
    unlock_through_screen(qtbot, unlocked)

    offer = _offer(unlocked, qtbot)
    assert "the organization “Red de Mujeres por el Agua”" in offer.question.text()
    qtbot.mouseClick(offer.discard_button, Qt.MouseButton.LeftButton)
    assert _drafts(unlocked) == []
    assert unlocked.draft_offer is None
    assert all(not f.isVisible() for f in unlocked.findChildren(RecordForm))

    # A person form with a name typed, and an untouched organization form: only one is kept.
    page = _directory(unlocked, qtbot)
    person = page.lists["person"].open_form(None)
    assert isinstance(person, PersonForm)
    qtbot.waitExposed(person)
    QTest.keyClicks(person.name, "Ana Quispe")
    person.notes.setPlainText("Pidió no ser nombrada")
    person.set_organization(("org-1", "Red de Mujeres"))
    _lock_with_shortcut(unlocked, qtbot, person.notes)
    unlock_through_screen(qtbot, unlocked)

    offer = _offer(unlocked, qtbot)
    [kept] = _drafts(unlocked)
    assert kept.editor == "person" and kept.record_id is None
    qtbot.mouseClick(offer.reopen_button, Qt.MouseButton.LeftButton)
    page = _directory(unlocked, qtbot)
    people = page.lists["person"]
    qtbot.waitUntil(lambda: people.form is not None and people.form.isVisible())
    reopened = people.form
    assert isinstance(reopened, PersonForm)
    assert reopened.name.text() == "Ana Quispe"
    assert reopened.notes.toPlainText() == "Pidió no ser nombrada"
    assert reopened.organization_id() == "org-1"

    # Locking again keeps it again, under the same id: one draft, not two.
    _lock_with_shortcut(unlocked, qtbot, reopened.name)
    unlock_through_screen(qtbot, unlocked)
    offer = _offer(unlocked, qtbot)
    assert [d.id for d in _drafts(unlocked)] == [kept.id]
    qtbot.mouseClick(offer.reopen_button, Qt.MouseButton.LeftButton)
    people = _directory(unlocked, qtbot).lists["person"]
    qtbot.waitUntil(lambda: people.form is not None and people.form.isVisible())
    form = people.form
    assert form is not None and form.name.text() == "Ana Quispe"  # type: ignore[attr-defined]
    form.reject()  # Cancel: the person chose to throw it away
    assert _drafts(unlocked) == []


def test_a_saved_directory_draft_leaves_nothing_behind(unlocked: MainWindow, qtbot: QtBot) -> None:
    page = _directory(unlocked, qtbot)
    form = page.lists["organization"].open_form(None)
    assert isinstance(form, OrganizationForm)
    QTest.keyClicks(form.name, "Colectivo Tierra")
    _lock_with_shortcut(unlocked, qtbot, form.name)
    unlock_through_screen(qtbot, unlocked)
    offer = _offer(unlocked, qtbot)
    qtbot.mouseClick(offer.reopen_button, Qt.MouseButton.LeftButton)
    organizations = _directory(unlocked, qtbot).lists["organization"]
    qtbot.waitUntil(lambda: organizations.form is not None and organizations.form.isVisible())
    reopened = organizations.form
    assert isinstance(reopened, OrganizationForm)
    with qtbot.waitSignal(reopened.saved, timeout=10_000):
        reopened.save()
    assert _drafts(unlocked) == []
    profile = unlocked.session.profile
    assert profile is not None
    [row] = RecordStore(profile.engine).page(RecordQuery("organization"), 0, 10)
    saved = RecordStore(profile.engine).require(row.id)
    assert isinstance(saved, Organization) and saved.name == "Colectivo Tierra"


def test_an_untouched_editor_keeps_no_draft(unlocked: MainWindow, qtbot: QtBot) -> None:
    page = _directory(unlocked, qtbot)
    form = page.lists["working_group"].open_form(None)
    assert form is not None
    qtbot.waitExposed(form)
    _lock_with_shortcut(unlocked, qtbot, form)
    unlock_through_screen(qtbot, unlocked)
    qtbot.wait(200)  # the drafts are read on a worker: give it the time to find none
    assert unlocked.draft_offer is None
    assert _drafts(unlocked) == []


def test_closing_minga_with_an_editor_open_keeps_its_draft(
    unlocked: MainWindow, qtbot: QtBot, folder: Path
) -> None:
    page = _directory(unlocked, qtbot)
    form = page.lists["working_group"].open_form(None)
    assert form is not None
    QTest.keyClicks(form.fields["name"], "Captura corporativa")
    unlocked.close()  # quitting locks first, and the lock keeps the draft
    assert not unlocked.is_unlocked

    again = show_window(qtbot, folder)
    unlock_through_screen(qtbot, again)
    offer = _offer(again, qtbot)
    assert "the working group “Captura corporativa”" in offer.question.text()
    qtbot.mouseClick(offer.reopen_button, Qt.MouseButton.LeftButton)
    groups = _directory(again, qtbot).lists["working_group"]
    qtbot.waitUntil(lambda: groups.form is not None and groups.form.isVisible())
    reopened = groups.form
    assert reopened is not None
    name = reopened.fields["name"]
    assert isinstance(name, QLineEdit) and name.text() == "Captura corporativa"


def test_a_saved_incident_edited_before_the_lock_reopens_over_its_saved_parts(
    unlocked: MainWindow, qtbot: QtBot
) -> None:
    profile = unlocked.session.profile
    assert profile is not None
    store = RecordStore(profile.engine)
    space_id = local_spaces(store).only_me.id
    victim = Person(space_id=space_id, name="Rosa Mamani")
    incident = Incident(space_id=space_id, title="Quema de cultivos", narrative="Antes")
    act = Act(
        space_id=space_id,
        incident_id=incident.id,
        victim_id=victim.id,
        act_type="water_cut_off",
        notes="Quemaron",
    )
    store.save_all([victim, incident, act])

    page = _incidents(unlocked)
    with qtbot.waitSignal(page.editor_opened, timeout=5_000) as opened:
        page.open_incident(incident.id)
    editor = opened.args[0]
    assert isinstance(editor, IncidentEditor)
    qtbot.waitExposed(editor)
    editor.event_tab.narrative.setPlainText("Antes y después")
    [card] = editor.acts.cards
    assert isinstance(card, ActCard)
    card.notes.setPlainText("Quemaron la chacra")
    # Typed under the timeline, not yet added to it: kept as typed too.
    editor.follow_ups.summary.setPlainText("Lo contó su hija")
    _lock_with_shortcut(unlocked, qtbot, editor.event_tab.narrative)
    unlock_through_screen(qtbot, unlocked)

    offer = _offer(unlocked, qtbot)
    assert "the incident “Quema de cultivos”" in offer.question.text()
    page = _incidents(unlocked)
    with qtbot.waitSignal(page.editor_opened, timeout=5_000) as opened:
        qtbot.mouseClick(offer.reopen_button, Qt.MouseButton.LeftButton)
    reopened = opened.args[0]
    assert isinstance(reopened, IncidentEditor) and not reopened.bundle.is_new
    assert reopened.event_tab.narrative.toPlainText() == "Antes y después"
    [card] = reopened.acts.cards
    assert isinstance(card, ActCard)
    assert card.original is not None and card.original.id == act.id  # edits the saved act
    assert card.victim.party is not None and card.victim.party.id == victim.id
    assert card.notes.toPlainText() == "Quemaron la chacra"
    assert reopened.follow_ups.summary.toPlainText() == "Lo contó su hija"

    # Discard in the editor: the draft goes, the saved incident stays as it was.
    reopened.reject()
    boxes = [b for b in reopened.findChildren(Confirmation) if b.isVisible()]
    assert boxes, "discarding changes asks first"
    qtbot.mouseClick(boxes[0].action_button, Qt.MouseButton.LeftButton)
    assert _drafts(unlocked) == []
    kept = store.require(incident.id)
    assert isinstance(kept, Incident) and kept.narrative == "Antes"


def test_a_draft_reopened_where_this_device_now_only_reads_cannot_be_saved(
    unlocked: MainWindow, qtbot: QtBot
) -> None:
    profile = unlocked.session.profile
    assert profile is not None
    store = RecordStore(profile.engine)
    # Typed while an editor; by the next unlock an admin has made this device a reader.
    network = store.save(member_of_space(profile, Role.READER))
    typed = OrganizationForm(profile, network.id, None)
    typed.name.setText("Colectivo Tierra Viva")
    draft = typed.draft()
    typed.deleteLater()
    assert draft is not None
    DraftStore(profile.engine).save(draft)

    _directory(unlocked, qtbot)
    unlocked.reopen_draft(draft)
    qtbot.waitUntil(
        lambda: any(f.isVisible() for f in unlocked.findChildren(OrganizationForm)),
        timeout=10_000,
    )
    [form] = [f for f in unlocked.findChildren(OrganizationForm) if f.isVisible()]
    assert form.name.text() == "Colectivo Tierra Viva"  # the text is there to read and copy
    save = form.buttons.button(QDialogButtonBox.StandardButton.Save)
    assert not save.isEnabled() and "reader" in form.message.text()
    form.save()  # a shortcut or a stale click stores nothing
    assert drain_writes(10)
    assert store.count(RecordQuery("organization")) == 0
    assert [d.id for d in _drafts(unlocked)] == [draft.id]
