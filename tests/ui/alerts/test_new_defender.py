"""A defender not yet in the directory is added from the alert form without leaving it: stored
as a person of the directory (its network space, the store's own validation), ticked in the
alert, and saved with it; the form's errors name their field, go once it is fixed, and the
title's limit shows while typing."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from desktop.domain.network_records import Alert
from desktop.domain.record_base import TITLE_LIMIT
from desktop.domain.records import Person, PersonKind
from desktop.domain.translation import set_language
from desktop.store.records import RecordQuery, RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.alerts.forms import NewDefenderDialog
from desktop.ui.alerts.page import AlertsPage
from desktop.ui.forms import LengthHint

from .test_alerts_page import _new_form, plain


def _people(page: AlertsPage) -> list[Person]:
    store = RecordStore(page.profile.engine)
    found = [store.get(row.id) for row in store.page(RecordQuery("person"), 0, 50)]
    return [p for p in found if isinstance(p, Person)]


def test_a_new_defender_is_added_to_the_directory_and_ticked_in_the_alert(
    page: AlertsPage, qtbot: QtBot
) -> None:
    form = _new_form(page, qtbot)
    assert form.new_defender_button.isEnabled()
    before = form.defenders.count()
    qtbot.mouseClick(form.new_defender_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.defender_dialog is not None and page.defender_dialog.isVisible())
    dialog = page.defender_dialog
    assert isinstance(dialog, NewDefenderDialog)
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)

    save.click()  # neither a name nor an alias: refused here, nothing stored
    assert dialog.message.text() == "Not saved: look at the field Name."
    assert dialog.isVisible() and len(_people(page)) == 1
    dialog.name.setText("Berta Cáceres Flores")
    assert not dialog.message.isVisible()
    dialog.country.setCurrentIndex(dialog.country.findData("hn"))
    with qtbot.waitSignal(dialog.finished, timeout=5_000):
        save.click()

    # Stored as the directory stores a person: in the network's space, of its own kind.
    added = [p for p in _people(page) if p.name == "Berta Cáceres Flores"]
    assert len(added) == 1
    person = added[0]
    network = local_spaces(RecordStore(page.profile.engine)).network.id
    assert (person.space_id, person.kind, person.country) == (network, PersonKind.INDIVIDUAL, "hn")
    # Listed in the alert form, ticked, the form still open with what was typed.
    assert page.form is form and form.isVisible()
    assert form.defenders.count() == before + 1
    assert person.id in form.checked_defenders()

    form.title.setText("Amenazas contra Berta Cáceres")
    form.threat.setCurrentIndex(form.threat.findData("death_threat"))
    form.country.setCurrentIndex(form.country.findData("hn"))
    form.urgency.setCurrentIndex(form.urgency.findData("immediate"))
    with qtbot.waitSignal(page.alert_saved, timeout=5_000) as saved:
        form.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    alert = RecordStore(page.profile.engine).require(saved.args[0])
    assert isinstance(alert, Alert) and alert.defenders == (person.id,)


def test_the_new_defender_dialog_speaks_four_languages(page: AlertsPage, qtbot: QtBot) -> None:
    form = _new_form(page, qtbot)
    english = form.new_defender_button.text()
    dialog = page.new_defender(form, "0" * 32)
    titles = {"en": dialog.windowTitle()}
    try:
        for language in ("es", "fr", "ar"):
            set_language(language)
            qtbot.waitUntil(lambda: dialog.windowTitle() not in titles.values())
            titles[language] = dialog.windowTitle()
            assert form.new_defender_button.text() != english
            assert dialog.intro.text() and dialog.labels["alias"].text() != "Alias"
    finally:
        set_language("en")
    assert len(set(titles.values())) == 4, titles


def test_alert_form_errors_name_the_field_clear_once_fixed_and_the_title_limit_shows(
    page: AlertsPage, qtbot: QtBot
) -> None:
    form = _new_form(page, qtbot)
    form.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    summary = form.message.text()
    assert summary.startswith("Not saved: look at the fields Title, ")
    for name in ("title", "threat_type", "country", "urgency"):
        line = form.findChild(type(form.message), f"error_{name}")
        assert line is not None and line.isVisible(), name
    form.title.setText("Amenazas contra Rosa")
    assert not form.findChild(type(form.message), "error_title").isVisible()
    assert "Title" not in form.message.text() and form.message.isVisible()

    hint = form.findChild(LengthHint, "lengthHint")
    assert hint is not None and not hint.isVisible()
    form.title.setText("x" * (TITLE_LIMIT - 10))
    assert hint.isVisible()
    assert hint.text() == f"{TITLE_LIMIT - 10} of {TITLE_LIMIT} characters"


def test_the_defenders_concerned_are_listed_the_arabic_way(page: AlertsPage, qtbot: QtBot) -> None:
    store = RecordStore(page.profile.engine)
    network = local_spaces(store).network.id
    second = store.save(Person(space_id=network, name="Yeison Caicedo Riascos"))
    form = _new_form(page, qtbot)
    form.add_defender(second.id, "Yeison Caicedo Riascos")
    form.defenders.item(0).setCheckState(Qt.CheckState.Checked)
    form.title.setText("Amenazas")
    form.threat.setCurrentIndex(form.threat.findData("death_threat"))
    form.country.setCurrentIndex(form.country.findData("co"))
    form.urgency.setCurrentIndex(form.urgency.findData("high"))
    with qtbot.waitSignal(page.alert_opened, timeout=5_000) as opened:
        form.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    detail = opened.args[0]
    qtbot.waitUntil(lambda: detail.bundle is not None)
    assert plain(detail.defenders.text()).endswith("Rosa Gutiérrez and Yeison Caicedo Riascos")
    set_language("ar")
    try:
        qtbot.waitUntil(lambda: "Defenders" not in detail.defenders.text())
        text = plain(detail.defenders.text())
        # Arabic joins with its own "و", not an English ", " that reads backwards there.
        assert "Rosa Gutiérrez وYeison Caicedo Riascos" in text, text
    finally:
        set_language("en")


def test_the_defenders_list_keeps_its_rows_in_french_at_the_default_size(
    page: AlertsPage, qtbot: QtBot
) -> None:
    # In French at 1024×680 the form was squeezed until the list showed a row and a half;
    # now the form scrolls and the list keeps six rows, errors shown or not.
    page.resize(1024 - 220, 680 - 60)
    set_language("fr")
    try:
        form = _new_form(page, qtbot)
        form.buttons.button(QDialogButtonBox.StandardButton.Save).click()
        qtbot.wait(200)
        line = form.defenders.fontMetrics().lineSpacing()
        assert form.defenders.height() >= 6 * line, (form.defenders.height(), line)
        # The summary, beside Save where the person clicked, is in view, whole.
        qtbot.waitUntil(
            lambda: (
                form.message.visibleRegion().boundingRect().height() >= form.message.height() - 1
            )
        )
    finally:
        set_language("en")


def test_with_no_alert_the_empty_state_has_the_whole_width(page: AlertsPage, qtbot: QtBot) -> None:
    # Beside "Choose an alert to see the network's response." the empty state wrapped word by
    # word in a narrow column; alone, it has the page.
    assert page.model.total == 0
    assert page.views.currentWidget() is page.empty
    assert page.side is not None and not page.side.isVisible()
    form = _new_form(page, qtbot)  # "Start the first alert" opens the form beside it
    assert page.side.isVisible() and form.isVisible()
    form.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: not page.side.isVisible())


def test_two_people_of_the_same_name_are_told_apart(page: AlertsPage, qtbot: QtBot) -> None:
    store = RecordStore(page.profile.engine)
    store.save(Person(space_id=local_spaces(store).network.id, name="Rosa Gutiérrez", country="gt"))
    form = _new_form(page, qtbot)
    names = sorted(form.defenders.item(n).text() for n in range(form.defenders.count()))
    assert names == ["Rosa Gutiérrez (Guatemala)", "Rosa Gutiérrez (Honduras)"]
