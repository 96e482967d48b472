"""The directory as a person uses it: forms, validation, links, search, lazy lists, CSV in and out.

Everything runs against a real encrypted profile; the page's jobs run on the real workers.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot

from desktop.domain.network_records import Material, Note
from desktop.domain.records import (
    Membership,
    MembershipRole,
    Organization,
    Person,
    PersonKind,
    WorkingGroup,
)
from desktop.domain.translation import set_language
from desktop.store.profile import Profile
from desktop.store.records import RecordQuery, RecordStore
from desktop.store.search import fold
from desktop.store.spaces import local_spaces
from desktop.ui.directory import DirectoryPage
from desktop.ui.directory.forms import (
    MembershipDialog,
    MessageDialog,
    OrganizationForm,
    PersonForm,
)
from desktop.ui.directory.model import CHUNK
from desktop.ui.directory.page import DirectoryList
from desktop.ui.lists import select_row
from tests.helpers.records import file_without_bytes
from tests.ui.directory.conftest import open_page

WAIT = 10_000


def click_save(qtbot: QtBot, buttons: QDialogButtonBox) -> None:
    button = buttons.button(QDialogButtonBox.StandardButton.Save)
    assert button is not None and button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def wait_for_rows(qtbot: QtBot, directory_list: DirectoryList, count: int) -> None:
    qtbot.waitUntil(
        lambda: not directory_list.model.busy and directory_list.model.total == count,
        timeout=WAIT,
    )


def wait_for_search(qtbot: QtBot, directory_list: DirectoryList, text: str, count: int) -> None:
    """Wait past the search box's debounce until the list shows ``text``'s ``count`` rows."""
    model = directory_list.model
    qtbot.waitUntil(
        lambda: model.query.text == text and not model.busy and model.total == count,
        timeout=WAIT,
    )


def select(qtbot: QtBot, directory_list: DirectoryList, label: str) -> None:
    model = directory_list.model

    def rows() -> list[int]:
        return [n for n in range(model.rowCount()) if model.row_at(n).label == label]

    # A change in another tab refreshes this list: wait for it to be read again.
    qtbot.waitUntil(lambda: not model.busy and bool(rows()), timeout=WAIT)
    select_row(directory_list.view, rows()[0])
    qtbot.waitUntil(
        lambda: (
            directory_list.detail.detail is not None
            and directory_list.detail.heading.text() == label
        ),
        timeout=WAIT,
    )


def test_an_empty_directory_says_so_and_starts_with_an_organization(
    qtbot: QtBot, page: DirectoryPage
) -> None:
    assert page.is_empty and page.stack.currentWidget() is page.empty_state
    assert page.title.text() == "The network's directory"
    assert "import" in page.text.text()
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    form = page.lists["organization"].form
    assert isinstance(form, OrganizationForm)
    form.name.setText("Colectivo Tierra Viva")
    click_save(qtbot, form.buttons)
    qtbot.waitUntil(lambda: page.is_empty is False, timeout=WAIT)
    assert page.stack.currentWidget() is page.tabs
    assert page.tabs.currentWidget() is page.lists["organization"]
    wait_for_rows(qtbot, page.lists["organization"], 1)


def test_create_edit_and_delete_an_organization(
    qtbot: QtBot, page: DirectoryPage, store: RecordStore
) -> None:
    organizations = page.show_list("organization")
    qtbot.mouseClick(organizations.new_button, Qt.MouseButton.LeftButton)
    form = organizations.form
    assert isinstance(form, OrganizationForm) and form.isVisible()

    click_save(qtbot, form.buttons)  # nothing typed yet
    assert form.errors["name"].isVisible()
    form.name.setText("Colectivo Tierra Viva")
    form.email.setText("not-an-address")
    form.country.setCurrentIndex(form.country.findData("co"))
    click_save(qtbot, form.buttons)
    assert not form.errors["name"].isVisible()
    assert form.errors["email"].isVisible()
    assert "not-an-address" in form.errors["email"].text()
    assert store.count(RecordQuery("organization")) == 0  # nothing saved while invalid

    form.email.setText("contacto@tierraviva.org")
    click_save(qtbot, form.buttons)
    wait_for_rows(qtbot, organizations, 1)
    qtbot.waitUntil(lambda: organizations.detail.heading.text() == "Colectivo Tierra Viva")
    assert organizations.detail.fact_texts()["Country"] == "Colombia"
    assert organizations.count_label.text() == "1 organization"

    qtbot.mouseClick(organizations.detail.edit_button, Qt.MouseButton.LeftButton)
    edit_form = organizations.form
    assert isinstance(edit_form, OrganizationForm) and edit_form is not form
    assert edit_form.name.text() == "Colectivo Tierra Viva"
    edit_form.acronym.setText("CTV")
    click_save(qtbot, edit_form.buttons)
    qtbot.waitUntil(lambda: organizations.detail.fact_texts().get("Acronym") == "CTV")
    saved = store.page(RecordQuery("organization"))
    assert len(saved) == 1
    stored = store.require(saved[0].id)
    assert isinstance(stored, Organization) and stored.acronym == "CTV"

    qtbot.mouseClick(organizations.detail.delete_button, Qt.MouseButton.LeftButton)
    box = organizations.confirmation
    assert isinstance(box, MessageDialog) and "Colectivo Tierra Viva" in box.text()
    cancel = box.buttons.button(QDialogButtonBox.StandardButton.Cancel)
    assert cancel is not None and cancel.isDefault()
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    assert store.count(RecordQuery("organization")) == 1  # cancelled: still there

    qtbot.mouseClick(organizations.detail.delete_button, Qt.MouseButton.LeftButton)
    box = organizations.confirmation
    assert box is not None and box.action_button is not None
    assert box.action_button.text() == "Delete"
    qtbot.mouseClick(box.action_button, Qt.MouseButton.LeftButton)
    wait_for_rows(qtbot, organizations, 0)
    assert store.count(RecordQuery("organization")) == 0
    assert organizations.detail.detail is None


def test_a_group_needs_a_headcount_and_an_individual_has_none(
    qtbot: QtBot, page: DirectoryPage, store: RecordStore
) -> None:
    people = page.show_list("person")
    form = people.open_form(None)
    assert isinstance(form, PersonForm)
    assert not form.headcount.isEnabled()  # an individual has no headcount
    form.kind.setCurrentIndex(form.kind.findData(PersonKind.GROUP.value))
    assert form.headcount.isEnabled()
    form.name.setText("Comunidad de Vereda El Porvenir")
    click_save(qtbot, form.buttons)
    assert form.errors["headcount"].isVisible()
    assert "estimate" in form.errors["headcount"].text()
    form.headcount.setText("240")
    click_save(qtbot, form.buttons)
    wait_for_rows(qtbot, people, 1)
    qtbot.waitUntil(lambda: people.detail.fact_texts().get("Number of people") == "240")
    assert people.model.data(people.model.index(0, 1)) == "Group of people"
    person = store.require(people.model.row_at(0).id)
    assert isinstance(person, Person) and person.headcount == 240


def test_link_a_person_to_an_organization_and_a_working_group(
    qtbot: QtBot, page: DirectoryPage, store: RecordStore, space_id: str
) -> None:
    store.save_all(
        [
            Organization(space_id=space_id, name="Red de Mujeres por el Agua", country="bo"),
            WorkingGroup(space_id=space_id, name="Corporate capture"),
            Person(space_id=space_id, name="Ana Quispe", country="bo"),
        ]
    )
    for directory_list in page.lists.values():
        directory_list.refresh()
        wait_for_rows(qtbot, directory_list, 1)

    people = page.show_list("person")
    select(qtbot, people, "Ana Quispe")
    assert people.detail.groups.texts() == []
    qtbot.mouseClick(people.detail.edit_button, Qt.MouseButton.LeftButton)
    form = people.form
    assert isinstance(form, PersonForm)
    qtbot.mouseClick(form.choose_organization, Qt.MouseButton.LeftButton)
    picker_dialog = form._organization_dialog
    assert picker_dialog is not None
    picker_dialog.picker.search.setText("mujeres agua")
    qtbot.waitUntil(lambda: picker_dialog.picker.chosen() is not None, timeout=WAIT)
    picker_dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert form.organization_name.text() == "Red de Mujeres por el Agua"
    click_save(qtbot, form.buttons)
    qtbot.waitUntil(
        lambda: people.detail.fact_texts().get("Organization") == "Red de Mujeres por el Agua",
        timeout=WAIT,
    )

    qtbot.mouseClick(people.detail.groups.add_button, Qt.MouseButton.LeftButton)
    dialog = people.membership_dialog
    assert isinstance(dialog, MembershipDialog)
    qtbot.waitUntil(lambda: dialog.picker.chosen() is not None, timeout=WAIT)
    dialog.role.setCurrentIndex(dialog.role.findData(MembershipRole.EDITOR.value))
    click_save(qtbot, dialog.buttons)
    qtbot.waitUntil(
        lambda: people.detail.groups.texts() == ["Corporate capture — Editor"], timeout=WAIT
    )

    organizations = page.show_list("organization")
    select(qtbot, organizations, "Red de Mujeres por el Agua")
    assert organizations.detail.people.texts() == ["Ana Quispe"]

    groups = page.show_list("working_group")
    select(qtbot, groups, "Corporate capture")
    assert groups.detail.people.texts() == ["Ana Quispe — Editor"]
    # The organization joins from the group's side.
    qtbot.mouseClick(groups.detail.organizations.add_button, Qt.MouseButton.LeftButton)
    dialog = groups.membership_dialog
    assert isinstance(dialog, MembershipDialog)
    qtbot.waitUntil(lambda: dialog.picker.chosen() is not None, timeout=WAIT)
    click_save(qtbot, dialog.buttons)
    qtbot.waitUntil(
        lambda: groups.detail.organizations.texts() == ["Red de Mujeres por el Agua — Reader"],
        timeout=WAIT,
    )
    organizations = page.show_list("organization")
    select(qtbot, organizations, "Red de Mujeres por el Agua")
    qtbot.waitUntil(
        lambda: organizations.detail.groups.texts() == ["Corporate capture — Reader"],
        timeout=WAIT,
    )

    # Adding the same member twice is refused with a message, and stores nothing.
    qtbot.mouseClick(organizations.detail.groups.add_button, Qt.MouseButton.LeftButton)
    again = organizations.membership_dialog
    assert isinstance(again, MembershipDialog)
    qtbot.waitUntil(lambda: again.picker.chosen() is not None, timeout=WAIT)
    click_save(qtbot, again.buttons)
    qtbot.waitUntil(lambda: again.message.isVisible(), timeout=WAIT)
    assert "already" in again.message.text()
    again.reject()

    # Leaving the group removes the membership on both sides.
    organizations.detail.groups.list.setCurrentRow(0)
    qtbot.mouseClick(organizations.detail.groups.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: organizations.detail.groups.texts() == [], timeout=WAIT)
    group_id = store.page(RecordQuery("working_group"))[0].id
    remaining = store.children(group_id, "membership")
    assert [m.person_id for m in remaining if isinstance(m, Membership)] == [
        store.page(RecordQuery("person"))[0].id
    ]


def test_search_ignores_accents_and_arabic_harakat(
    qtbot: QtBot, page: DirectoryPage, store: RecordStore, space_id: str
) -> None:
    store.save_all(
        [
            Organization(space_id=space_id, name="Asociación Indígena del Cauca", country="co"),
            Organization(space_id=space_id, name="جَمْعِيَّةُ الدِّفَاعِ عَنِ الأَرْضِ", country="eg"),
            Organization(space_id=space_id, name="Observatoire des Droits", country="fr"),
        ]
    )
    organizations = page.show_list("organization")
    organizations.refresh()
    wait_for_rows(qtbot, organizations, 3)

    qtbot.keyClicks(organizations.search, "indigena")
    wait_for_search(qtbot, organizations, "indigena", 1)
    assert organizations.model.row_at(0).label == "Asociación Indígena del Cauca"

    organizations.search.clear()
    organizations.search.setText("جمعية الدفاع")  # typed through an input method
    wait_for_search(qtbot, organizations, "جمعية الدفاع", 1)
    assert organizations.model.row_at(0).label.startswith("جَمْعِيَّةُ")

    organizations.search.clear()
    wait_for_search(qtbot, organizations, "", 3)
    organizations.country.setCurrentIndex(organizations.country.findData("fr"))
    wait_for_rows(qtbot, organizations, 1)
    assert organizations.model.row_at(0).label == "Observatoire des Droits"


def test_a_thousand_organizations_load_in_chunks(
    app: QApplication, qtbot: QtBot, profile: Profile, store: RecordStore, space_id: str
) -> None:
    store.save_all(
        [Organization(space_id=space_id, name=f"Organization {n:04d}") for n in range(1000)]
    )
    page = open_page(qtbot, profile)
    organizations = page.show_list("organization")
    model = organizations.model
    assert model.total == 1000
    assert model.rowCount() == CHUNK  # only the first chunk was read
    assert model.row_at(0).label == "Organization 0000"
    assert organizations.count_label.text() == "1,000 organizations"

    organizations.view.scrollToBottom()  # the view asks for the next chunk at the end
    qtbot.waitUntil(lambda: model.rowCount() == 2 * CHUNK and not model.busy, timeout=WAIT)
    assert model.row_at(CHUNK).label == f"Organization {CHUNK:04d}"
    assert model.canFetchMore(QModelIndex())


ORGANIZATIONS_CSV = """name,acronym,country,email,website,objectives
Red de Mujeres por el Agua,RMA,bo,,,
Bad Mail Collective,,co,not-an-address,,
Colectivo Tierra Viva,CTV,Colombia,,,
,NONAME,co,,,
"""


def test_csv_import_reports_each_bad_line_and_imports_nothing_until_fixed(
    qtbot: QtBot, page: DirectoryPage, store: RecordStore, tmp_path: Path
) -> None:
    organizations = page.show_list("organization")
    path = tmp_path / "organizations.csv"
    path.write_text(ORGANIZATIONS_CSV + '"Unclosed quote,PS\n', encoding="utf-8")
    organizations.import_from(path)
    qtbot.waitUntil(lambda: organizations.report_dialog is not None, timeout=WAIT)
    report = organizations.report_dialog
    assert report is not None and report.isVisible()
    assert report.summary.text() == (
        "Nothing was imported: 3 lines need fixing. Fix them in the file and import the file again."
    )
    assert report.rejected_summary.text() == (
        "The other 2 rows are fine: they will be imported with the corrected file."
    )
    lines = report.rejected_lines()
    assert [line for line, _reasons in lines] == ["3", "5", "6"]
    assert "not-an-address" in lines[0][1]
    assert lines[1][1]  # the nameless row says why
    assert "quotation mark" in lines[2][1] and "never closed" in lines[2][1]
    assert store.count(RecordQuery("organization")) == 0
    report.close()

    path.write_text(
        "\n".join(ORGANIZATIONS_CSV.splitlines()[:2] + ORGANIZATIONS_CSV.splitlines()[3:4]),
        encoding="utf-8",
    )
    organizations.report_dialog = None
    organizations.import_from(path)
    qtbot.waitUntil(lambda: organizations.report_dialog is not None, timeout=WAIT)
    report = organizations.report_dialog
    assert report is not None
    assert report.summary.text() == "2 organizations were imported."
    wait_for_rows(qtbot, organizations, 2)
    report.close()

    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"name,colour\nX,blue\n")
    organizations.import_from(broken)
    qtbot.waitUntil(lambda: organizations.notice is not None, timeout=WAIT)
    notice = organizations.notice
    assert notice is not None and "colour" in notice.text()
    assert "Nothing was imported" in notice.text()
    assert store.count(RecordQuery("organization")) == 2


def test_people_import_links_them_to_organizations(
    qtbot: QtBot, page: DirectoryPage, store: RecordStore, space_id: str, tmp_path: Path
) -> None:
    store.save(Organization(space_id=space_id, name="Colectivo Tierra Viva"))
    path = tmp_path / "people.csv"
    path.write_text(
        "name,kind,headcount,organization\n"
        "Ana Quispe,individual,,Colectivo Tierra Viva\n"
        "Vereda El Porvenir,group,,\n",
        encoding="utf-8",
    )
    people = page.show_list("person")
    people.import_from(path)
    qtbot.waitUntil(lambda: people.report_dialog is not None, timeout=WAIT)
    assert people.report_dialog is not None
    assert people.report_dialog.summary.text().startswith("Nothing was imported: 1 line")
    [(line, reasons)] = people.report_dialog.rejected_lines()
    assert line == "3" and "estimate" in reasons
    people.report_dialog.close()
    people.report_dialog = None
    path.write_text(
        "name,kind,headcount,organization\nAna Quispe,individual,,Colectivo Tierra Viva\n",
        encoding="utf-8",
    )
    people.import_from(path)
    qtbot.waitUntil(lambda: people.report_dialog is not None, timeout=WAIT)
    assert people.report_dialog.summary.text() == "1 person or group was imported."
    wait_for_rows(qtbot, people, 1)
    select(qtbot, people, "Ana Quispe")
    assert people.detail.fact_texts()["Organization"] == "Colectivo Tierra Viva"


def test_export_writes_the_filtered_list(
    qtbot: QtBot, page: DirectoryPage, store: RecordStore, space_id: str, tmp_path: Path
) -> None:
    store.save_all(
        [
            Organization(space_id=space_id, name="Colectivo Tierra Viva", country="co"),
            Organization(space_id=space_id, name="Red de Mujeres por el Agua", country="bo"),
            Organization(space_id=space_id, name="Asociación Campesina", country="co"),
        ]
    )
    organizations = page.show_list("organization")
    organizations.country.setCurrentIndex(organizations.country.findData("co"))
    wait_for_rows(qtbot, organizations, 2)

    target = tmp_path / "out" / "organizations.csv"
    target.parent.mkdir()
    organizations.export_to(target, "csv")
    qtbot.waitUntil(lambda: "exported" in organizations.count_label.text(), timeout=WAIT)
    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["name"] for row in rows) == ["Asociación Campesina", "Colectivo Tierra Viva"]
    assert {row["country"] for row in rows} == {"co"}
    # The path is a left-to-right isolate: in Arabic its "/" would otherwise jump to the far end.
    assert organizations.count_label.text() == f"2 records exported to \u2066{target}\u2069"
    assert list(target.parent.iterdir()) == [target]  # no partial file left beside it

    as_json = tmp_path / "out" / "organizations.json"
    organizations.export_to(as_json, "json")
    qtbot.waitUntil(lambda: as_json.exists(), timeout=WAIT)
    assert len(json.loads(as_json.read_text(encoding="utf-8"))) == 2

    organizations.export_to(tmp_path / "missing-folder" / "x.csv", "csv")
    qtbot.waitUntil(lambda: organizations.message.isVisible(), timeout=WAIT)
    assert "could not be written" in organizations.message.text()


def test_arabic_mirrors_the_page_and_translates_labels_and_countries(
    qtbot: QtBot, page: DirectoryPage, store: RecordStore, space_id: str
) -> None:
    store.save(Organization(space_id=space_id, name="Colectivo Tierra Viva", country="co"))
    organizations = page.show_list("organization")
    organizations.refresh()
    wait_for_rows(qtbot, organizations, 1)
    english_tab = page.tabs.tabText(0)
    try:
        set_language("ar")
        # Qt posts the language change to every window: it arrives on the next event loop turn.
        qtbot.waitUntil(lambda: page.tabs.tabText(0) == "المنظمات", timeout=WAIT)
        assert page.layoutDirection() == Qt.LayoutDirection.RightToLeft
        assert organizations.model.data(organizations.model.index(0, 1)) == "كولومبيا"
        combo = organizations.country
        labels = [combo.itemText(n) for n in range(1, combo.count())]
        assert "كولومبيا" in labels
        assert organizations.count_label.text() == "منظمة واحدة"
        assert labels == sorted(labels, key=fold)  # sorted by their Arabic labels
        assert organizations.search.placeholderText() != ""
        assert organizations.new_button.text() != "New organization…"
        # Choosing a row works right to left too (QTableView.selectRow does not).
        select(qtbot, organizations, "Colectivo Tierra Viva")
        assert organizations.detail.fact_texts()["البلد"] == "كولومبيا"
    finally:
        set_language("en")
    qtbot.waitUntil(lambda: page.tabs.tabText(0) == english_tab, timeout=WAIT)
    assert page.layoutDirection() == Qt.LayoutDirection.LeftToRight


def test_tear_down_at_lock_drops_rows_and_closes_dialogs(
    qtbot: QtBot, page: DirectoryPage, store: RecordStore, space_id: str
) -> None:
    store.save(Organization(space_id=space_id, name="Colectivo Tierra Viva"))
    organizations = page.show_list("organization")
    organizations.refresh()
    wait_for_rows(qtbot, organizations, 1)
    select(qtbot, organizations, "Colectivo Tierra Viva")
    form = organizations.open_form(organizations.detail.detail)
    assert form is not None and form.isVisible()
    page.tear_down()
    assert organizations.model.rowCount() == 0
    assert organizations.detail.detail is None
    assert organizations.form is None or not organizations.form.isVisible()


def test_the_question_before_a_deletion_names_what_goes_and_nothing_else(
    qtbot: QtBot, page: DirectoryPage, store: RecordStore, space_id: str
) -> None:
    """rev-nest: the question said "its memberships" and "their files" whether or not there
    were any. It now counts what the deletion takes, and leaves out what is not there."""
    alone = Person(space_id=space_id, name="Ana Quispe")
    member = Person(space_id=space_id, name="Rosa Mamani")
    group = WorkingGroup(space_id=space_id, name="Corporate capture")
    empty = WorkingGroup(space_id=space_id, name="Water defenders")
    materials = [
        Material(space_id=space_id, working_group_id=group.id, title=t, material_type="toolkit")
        for t in ("Field guide", "Legal brief")
    ]
    files = [file_without_bytes(materials[0], f"{n}.pdf") for n in ("a", "b", "c")]
    membership = Membership(space_id=space_id, working_group_id=group.id, person_id=member.id)
    store.save_all([alone, member, group, empty, *materials, *files, membership])
    for directory_list in page.lists.values():
        directory_list.refresh()

    def question(record_type: str, label: str) -> str:
        directory_list = page.show_list(record_type)
        select(qtbot, directory_list, label)
        qtbot.mouseClick(directory_list.detail.delete_button, Qt.MouseButton.LeftButton)
        box = directory_list.confirmation
        assert isinstance(box, MessageDialog)
        text = box.text()
        box.reject()
        return text

    assert question("person", "Ana Quispe") == (
        "Delete “Ana Quispe” from the directory? This cannot be undone."
    )
    assert question("person", "Rosa Mamani") == (
        "Delete “Rosa Mamani” from the directory? Its membership in a working group goes "
        "with it. This cannot be undone."
    )
    assert question("working_group", "Water defenders") == (
        "Delete “Water defenders” from the directory? This cannot be undone."
    )
    assert question("working_group", "Corporate capture") == (
        "Delete “Corporate capture” from the directory? Its member's membership goes with it. "
        "Its 2 materials go with it. The 3 files of its materials are erased from this "
        "computer. This cannot be undone."
    )


def test_the_question_before_a_group_s_deletion_counts_its_notes(
    qtbot: QtBot, page: DirectoryPage, store: RecordStore, space_id: str
) -> None:
    """rev-nest: a group's deletion takes the notes on it and on its materials, shared or the
    person's own (``CASCADES``); the question says so, in every language."""
    group = WorkingGroup(space_id=space_id, name="Corporate capture")
    material = Material(
        space_id=space_id, working_group_id=group.id, title="Field guide", material_type="toolkit"
    )
    own = local_spaces(store).only_me.id
    notes = [
        Note(space_id=space_id, working_group_id=group.id, body="Next meeting"),
        Note(space_id=own, material_id=material.id, page=1, body="Ask about page 2"),
    ]
    store.save_all([group, material, *notes])
    groups = page.show_list("working_group")
    groups.refresh()
    select(qtbot, groups, "Corporate capture")
    page.window().resize(1024, 680)
    said = {}
    try:
        for language in ("en", "ar"):
            set_language(language)
            qtbot.mouseClick(groups.detail.delete_button, Qt.MouseButton.LeftButton)
            box = groups.confirmation
            assert isinstance(box, MessageDialog)
            said[language] = box.text()
            box.grab().save(f"/tmp/rev-nest-question-{language}.png")  # looked at
            box.reject()
    finally:
        set_language("en")
    assert said["en"] == (
        "Delete “Corporate capture” from the directory? Its material goes with it. "
        "The 2 notes on it and on its materials go with it. This cannot be undone."
    )
    assert "تُحذف معه ملاحظتان عليه أو على مواده." in said["ar"]
    store.delete(group.id)  # as the page does: they go with it
    assert all(store.get(note.id) is None for note in notes)
