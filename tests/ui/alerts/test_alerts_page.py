"""Create an alert, add a letter in Arabic, sign it: what a member does when a defender is hit.

Each step goes through the widgets and the real encrypted store, and is read back from it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from desktop.domain.network_records import Alert, AlertStatus, AlertUrgency, Letter, SignOn
from desktop.store.records import RecordQuery, RecordStore
from desktop.ui.alerts.forms import AlertForm, LetterDialog
from desktop.ui.alerts.page import AlertDetail, AlertsPage


def plain(text: str) -> str:
    """What a person reads: without the direction isolates around each value."""
    return text.replace("\u2068", "").replace("\u2069", "")


def _new_form(page: AlertsPage, qtbot: QtBot) -> AlertForm:
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.form is not None and page.form.isVisible())
    assert page.form is not None
    return page.form


def _fill_alert(form: AlertForm, qtbot: QtBot) -> None:
    form.title.setText("Amenazas de muerte contra Rosa Gutiérrez")
    form.defenders.item(0).setCheckState(Qt.CheckState.Checked)
    form.threat.setCurrentIndex(form.threat.findData("death_threat"))
    form.country.setCurrentIndex(form.country.findData("hn"))
    form.occurred_on.setText("2025-06-01")
    form.urgency.setCurrentIndex(form.urgency.findData("immediate"))
    form.requested.setPlainText("Escribir al Ministerio de Seguridad.\nDifundir la alerta.")


def _create_alert(page: AlertsPage, qtbot: QtBot) -> AlertDetail:
    form = _new_form(page, qtbot)
    _fill_alert(form, qtbot)
    with qtbot.waitSignal(page.alert_opened, timeout=5_000) as opened:
        form.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    detail = opened.args[0]
    assert isinstance(detail, AlertDetail)
    qtbot.waitUntil(lambda: detail.bundle is not None)
    return detail


def test_create_an_alert_add_a_letter_in_arabic_and_sign_it(page: AlertsPage, qtbot: QtBot) -> None:
    store = RecordStore(page.profile.engine)
    detail = _create_alert(page, qtbot)

    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    assert page.model.index(0, 1).data() == "Immediate: life or liberty at risk"
    assert page.count_label.text() == "1 open alert"
    alert = store.get(detail.alert_id)
    assert isinstance(alert, Alert) and alert.urgency is AlertUrgency.IMMEDIATE
    assert alert.status is AlertStatus.RECEIVED and len(alert.defenders) == 1
    assert plain(detail.defenders.text()) == "Defenders concerned: Rosa Gutiérrez"

    # A letter in Arabic: the editor turns right to left as soon as Arabic is chosen.
    qtbot.mouseClick(detail.add_letter_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: detail.letter_dialog is not None and detail.letter_dialog.isVisible())
    dialog = detail.letter_dialog
    assert isinstance(dialog, LetterDialog)
    assert dialog.text.layoutDirection() == Qt.LayoutDirection.LeftToRight
    dialog.language.setCurrentIndex(dialog.language.findData("ar"))
    assert dialog.text.layoutDirection() == Qt.LayoutDirection.RightToLeft
    assert dialog.text.document().defaultTextOption().textDirection() == (
        Qt.LayoutDirection.RightToLeft
    )
    dialog.kind.setCurrentIndex(dialog.kind.findData("letter"))
    dialog.title.setText("رسالة تضامن مع المدافعة روزا")
    dialog.text.setPlainText("نطالب السلطات بضمان سلامتها.")
    dialog.drafted_by.setText("Salma")
    with qtbot.waitSignal(detail.loaded, timeout=5_000):
        dialog.save_button.click()
    assert detail.letters.count() == 1
    assert plain(detail.letters.item(0).text()) == (
        "العربية · Collective letter: رسالة تضامن مع المدافعة روزا (drafted by Salma)"
    )
    letters = store.children(detail.alert_id, "letter")
    assert len(letters) == 1 and isinstance(letters[0], Letter)
    assert letters[0].language == "ar" and letters[0].text == "نطالب السلطات بضمان سلامتها."

    # Sign for an organization: one sign-on record, counted once.
    assert detail.sign_count.text() == "0 organizations have signed"
    detail.organization.setCurrentIndex(detail.organization.findText("Colectivo Tierra Viva"))
    detail.signed_by.setText("Ana")
    with qtbot.waitSignal(detail.loaded, timeout=5_000):
        qtbot.mouseClick(detail.sign_button, Qt.MouseButton.LeftButton)
    assert detail.sign_count.text() == "1 organization has signed"
    assert plain(detail.signatures.item(0).text()).startswith(
        "Colectivo Tierra Viva — signed by Ana, "
    )
    assert "\u2068Ana\u2069" in detail.signatures.item(0).text()
    sign_ons = store.children(detail.alert_id, "sign_on")
    assert [type(s) for s in sign_ons] == [SignOn] and sign_ons[0].dirty


def test_an_alert_without_a_defender_is_not_saved_and_says_why(
    page: AlertsPage, qtbot: QtBot
) -> None:
    form = _new_form(page, qtbot)
    _fill_alert(form, qtbot)
    form.defenders.item(0).setCheckState(Qt.CheckState.Unchecked)
    form.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert form.message.isVisible()
    assert form.message.text() == "Not saved: look at the field Defenders concerned."
    line = form.findChild(type(form.message), "error_defenders")
    assert line is not None and line.text() == "Name at least one defender concerned."
    assert RecordStore(page.profile.engine).page(RecordQuery("alert"), 0, 5) == []


def test_a_signature_without_a_name_is_refused_and_nothing_is_stored(
    page: AlertsPage, qtbot: QtBot
) -> None:
    detail = _create_alert(page, qtbot)
    qtbot.mouseClick(detail.sign_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: detail.message.isVisible())
    # Nothing was chosen for the person: both missing choices are named.
    assert detail.message.text().splitlines() == [
        "Organization: Choose a record here.",
        "Signed by: This field is required.",
    ]
    assert RecordStore(page.profile.engine).children(detail.alert_id, "sign_on") == []


def test_a_closed_alert_leaves_the_open_list(page: AlertsPage, qtbot: QtBot) -> None:
    detail = _create_alert(page, qtbot)
    detail.status.setCurrentIndex(detail.status.findData("closed"))
    with qtbot.waitSignal(detail.loaded, timeout=5_000):
        detail.status_button.click()
    # A closed alert leaves the list of open ones.
    qtbot.waitUntil(lambda: page.model.total == 0 and page.model.rowCount() == 0)
    assert page.count_label.text() == "0 open alerts"
