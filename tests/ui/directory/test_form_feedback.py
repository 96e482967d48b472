"""Errors that help in the directory's forms: the summary above Save names the fields to look
at, a field's message goes once that field is edited, and a name's limit shows while typing."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot

from desktop.domain.records import NAME_LIMIT, PersonKind
from desktop.domain.translation import set_language
from desktop.store.profile import Profile
from desktop.ui.directory.forms import OrganizationForm, PersonForm, RecordForm, WorkingGroupForm
from desktop.ui.forms import LengthHint

from .conftest import open_page


def _open(qtbot: QtBot, form: RecordForm) -> RecordForm:
    qtbot.addWidget(form)
    form.show()
    qtbot.waitExposed(form)
    return form


def _save(form: RecordForm) -> None:
    form.buttons.button(QDialogButtonBox.StandardButton.Save).click()


def test_the_summary_names_the_fields_and_each_message_goes_once_its_field_is_fixed(
    app: QApplication, qtbot: QtBot, profile: Profile, space_id: str
) -> None:
    form = _open(qtbot, PersonForm(profile, space_id))
    assert isinstance(form, PersonForm)
    form.kind.setCurrentIndex(form.kind.findData(PersonKind.GROUP.value))
    _save(form)
    assert form.message.isVisible()
    assert form.message.text() == "Not saved: look at the fields Name and Number of people."
    assert form.errors["name"].isVisible() and form.errors["headcount"].isVisible()
    assert form.result() == 0  # nothing stored, the form stays open

    form.name.setText("Comunidad Nueva Esperanza")  # fixed: its message goes at once
    assert not form.errors["name"].isVisible()
    assert form.errors["headcount"].isVisible()
    assert form.message.text() == "Not saved: look at the field Number of people."

    form.headcount.setText("120")
    assert not form.errors["headcount"].isVisible()
    assert not form.message.isVisible()


def test_working_group_and_organization_summaries_name_the_field(
    app: QApplication, qtbot: QtBot, profile: Profile, space_id: str
) -> None:
    for form_class in (WorkingGroupForm, OrganizationForm):
        form = _open(qtbot, form_class(profile, space_id))
        _save(form)
        assert form.message.text() == "Not saved: look at the field Name."
        assert form.errors["name"].text() == "This field is required."
        name = form.fields["name"]
        name.setText("Mesa de tierras")  # type: ignore[attr-defined]
        assert not form.errors["name"].isVisible() and not form.message.isVisible()


def test_the_name_limit_shows_while_typing(
    app: QApplication, qtbot: QtBot, profile: Profile, space_id: str
) -> None:
    for form_class in (OrganizationForm, PersonForm, WorkingGroupForm):
        form = _open(qtbot, form_class(profile, space_id))
        hint = form.findChild(LengthHint, "lengthHint")
        assert hint is not None
        name = form.fields["name"]
        name.setText("a" * 100)  # type: ignore[attr-defined]
        assert not hint.isVisible()
        name.setText("a" * 170)  # type: ignore[attr-defined]
        assert hint.isVisible() and hint.text() == f"170 of {NAME_LIMIT} characters"
        assert hint.property("role") == "hint"
        name.setText("a" * (NAME_LIMIT + 1))  # type: ignore[attr-defined]
        assert hint.property("role") == "error"


def test_the_summary_speaks_arabic(
    app: QApplication, qtbot: QtBot, profile: Profile, space_id: str
) -> None:
    set_language("ar")
    try:
        form = _open(qtbot, WorkingGroupForm(profile, space_id))
        _save(form)
        text = form.message.text()
        assert "Not saved" not in text and "Name" not in text
        assert form.field_labels()["name"] in text
    finally:
        set_language("en")


def test_the_import_report_rows_are_as_tall_as_their_reasons(
    app: QApplication, qtbot: QtBot, profile: Profile, space_id: str, tmp_path: Path
) -> None:
    # Measured before the dialog was laid out, a one-line reason made a row the whole table
    # tall; each row now fits its reasons at the column's real width.
    page = open_page(qtbot, profile)
    organizations = page.show_list("organization")
    qtbot.waitUntil(lambda: organizations.space_id is not None)
    path = tmp_path / "organizations.csv"
    path.write_text(
        'name,acronym,country\nColectivo Bueno,CB,co\n"Unclosed quote,PS\n', encoding="utf-8"
    )
    organizations.import_from(path)
    qtbot.waitUntil(lambda: organizations.report_dialog is not None, timeout=10_000)
    report = organizations.report_dialog
    assert report is not None
    qtbot.waitExposed(report)
    qtbot.wait(100)
    table = report.rows
    assert table.rowCount() == 1
    line = table.fontMetrics().lineSpacing()
    width = table.columnWidth(1)
    text = table.item(0, 1).text()
    needed = table.fontMetrics().boundingRect(0, 0, width - 8, 10_000, 0x1000, text).height()
    assert needed <= table.rowHeight(0) <= needed + 2 * line, (table.rowHeight(0), needed)
