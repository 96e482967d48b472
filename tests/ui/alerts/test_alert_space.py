"""A new alert is saved in the space chosen for it: the network's, or one organization's own.

Who can read an alert, and so who can answer it, follows from its space; its letters follow it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from desktop.domain.network_records import Alert
from desktop.domain.records import Space, SpaceKind, new_id
from desktop.store.records import RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.alerts.page import AlertDetail, AlertsPage
from tests.ui.alerts.test_alerts_page import _fill_alert, _new_form


def _organization_space(store: RecordStore, name: str) -> Space:
    space_id = new_id()
    space = Space(
        id=space_id,
        space_id=space_id,
        name=name,
        kind=SpaceKind.ORGANIZATION,
        organization_id=new_id(),
    )
    store.save(space)
    return space


def test_the_form_offers_the_network_then_each_organization_never_only_me(
    page: AlertsPage, qtbot: QtBot
) -> None:
    store = RecordStore(page.profile.engine)
    own = _organization_space(store, "Colectivo Tierra Viva")
    spaces = local_spaces(store)
    form = _new_form(page, qtbot)
    offered = [form.space.itemData(i) for i in range(form.space.count())]
    assert offered == [spaces.network.id, own.id]
    assert spaces.only_me.id not in offered
    assert form.space.currentText() == "The whole network"
    assert form.space.itemText(1) == "Colectivo Tierra Viva (organization only)"


def test_an_alert_and_its_letter_go_into_the_space_chosen(page: AlertsPage, qtbot: QtBot) -> None:
    store = RecordStore(page.profile.engine)
    own = _organization_space(store, "Colectivo Tierra Viva")
    form = _new_form(page, qtbot)
    _fill_alert(form, qtbot)
    form.space.setCurrentIndex(form.space.findData(own.id))
    with qtbot.waitSignal(page.alert_opened, timeout=5_000) as opened:
        form.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    detail = opened.args[0]
    assert isinstance(detail, AlertDetail)
    qtbot.waitUntil(lambda: detail.bundle is not None)
    alert = store.get(detail.alert_id)
    assert isinstance(alert, Alert) and alert.space_id == own.id

    qtbot.mouseClick(detail.add_letter_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: detail.letter_dialog is not None and detail.letter_dialog.isVisible())
    dialog = detail.letter_dialog
    assert dialog is not None
    dialog.kind.setCurrentIndex(dialog.kind.findData("letter"))
    dialog.title.setText("Carta")
    dialog.text.setPlainText("Exigimos protección.")
    with qtbot.waitSignal(detail.loaded, timeout=5_000):
        dialog.save_button.click()
    (letter,) = store.children(detail.alert_id, "letter")
    assert letter.space_id == own.id
