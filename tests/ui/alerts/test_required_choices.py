"""Nothing chosen for the person: a new alert's threat, country and urgency, the organization
signing and a referral's mechanism start empty with a prompt, and saving without choosing says
which choice is missing (by the field's name) and stores nothing."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from desktop.domain.translation import set_language
from desktop.store.records import RecordQuery, RecordStore
from desktop.ui.alerts.page import AlertsPage

from .test_alerts_page import _create_alert, _new_form


def test_a_new_alert_chooses_nothing_for_the_person(page: AlertsPage, qtbot: QtBot) -> None:
    form = _new_form(page, qtbot)
    for combo, prompt in (
        (form.threat, "Choose the threat or attack…"),
        (form.country, "Choose a country…"),
        (form.urgency, "Choose how urgent it is…"),
    ):
        assert combo.currentIndex() == -1 and combo.currentData() is None
        assert combo.placeholderText() == prompt
    form.title.setText("Amenazas contra Rosa")
    form.defenders.item(0).setCheckState(Qt.CheckState.Checked)
    form.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert form.message.text() == (
        "Not saved: look at the fields Threat or attack, Country, and Urgency."
    )
    for name in ("threat_type", "country", "urgency"):
        line = form.findChild(type(form.message), f"error_{name}")
        assert line is not None and line.text() == "Choose a value from the list."
    assert RecordStore(page.profile.engine).page(RecordQuery("alert"), 0, 5) == []

    # Once chosen, the same form saves, with what the person chose.
    form.threat.setCurrentIndex(form.threat.findData("death_threat"))
    form.country.setCurrentIndex(form.country.findData("hn"))
    form.urgency.setCurrentIndex(form.urgency.findData("medium"))
    with qtbot.waitSignal(page.alert_saved, timeout=5_000) as saved:
        form.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    alert = RecordStore(page.profile.engine).require(saved.args[0])
    assert (alert.threat_type, alert.country, alert.urgency.value) == (  # type: ignore[attr-defined]
        "death_threat",
        "hn",
        "medium",
    )


def test_the_prompts_are_translated(page: AlertsPage, qtbot: QtBot) -> None:
    form = _new_form(page, qtbot)
    set_language("es")
    try:
        qtbot.waitUntil(lambda: form.country.placeholderText() == "Elija un país…")
        assert form.country.currentIndex() == -1  # a new language chooses nothing either
    finally:
        set_language("en")


def test_signing_and_referring_choose_nothing_for_the_person(
    page: AlertsPage, qtbot: QtBot
) -> None:
    detail = _create_alert(page, qtbot)
    assert detail.organization.currentIndex() == -1
    assert detail.organization.placeholderText() == "Choose the organization signing…"
    assert detail.mechanism.currentIndex() == -1
    detail.refer()
    qtbot.waitUntil(lambda: detail.message.isVisible())
    assert detail.message.text() == "Protection mechanism: Choose a value from the list."
    assert RecordStore(page.profile.engine).children(detail.alert_id, "referral") == []


def test_a_letter_is_a_letter_or_a_petition_as_the_person_says(
    page: AlertsPage, qtbot: QtBot
) -> None:
    detail = _create_alert(page, qtbot)
    detail.add_letter()
    qtbot.waitUntil(lambda: detail.letter_dialog is not None and detail.letter_dialog.isVisible())
    dialog = detail.letter_dialog
    assert dialog is not None
    assert dialog.kind.currentIndex() == -1 and dialog.kind.currentData() is None
    assert dialog.kind.placeholderText() == "Choose a kind…"
    dialog.title.setText("Carta por Rosa")
    dialog.text.setPlainText("Exigimos su protección.")
    dialog.save_button.click()
    assert "Kind: Choose a value from the list." in dialog.message.text().splitlines()
    assert dialog.isVisible()
    assert RecordStore(page.profile.engine).children(detail.alert_id, "letter") == []
