"""A reader in an alert's space sees it but is not offered changing it (the server would refuse
the push and the change would wait unsent forever); an editor is. A new alert is never offered a
space this device only reads. Roles come from real signed statements stored in the profile."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot

from desktop.domain.dates import PartialDate
from desktop.domain.network_records import Alert, AlertStatus
from desktop.domain.records import Organization, Person, Space, SpaceKind
from desktop.domain.translation import set_language
from desktop.store.profile import Profile
from desktop.store.records import RecordQuery, RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.alerts.page import AlertDetail, AlertsPage
from sync.protocol import Role
from tests.helpers.profiles import new_profile
from tests.ui.sync.spaces import member_of_space

WAIT = 5_000


def _profile(tmp_path: Path, network_role: Role | None) -> Profile:
    """A profile whose network space is a synced one where this device is ``network_role``
    (``None``: removed from it), with a defender and an organization in it."""
    profile, _key = new_profile(tmp_path / "profile")
    store = RecordStore(profile.engine)
    network = store.save(member_of_space(profile, network_role))
    assert local_spaces(store).network.id == network.id
    store.save_all(
        [
            Person(space_id=network.id, name="Rosa Gutiérrez", country="hn"),
            Organization(space_id=network.id, name="Colectivo Tierra Viva", country="co"),
        ]
    )
    return profile


@pytest.fixture
def reader(app: QApplication, tmp_path: Path) -> Iterator[Profile]:
    profile = _profile(tmp_path, Role.READER)
    yield profile
    profile.close()


def _organization(profile: Profile, role: Role, name: str) -> Space:
    space = replace(member_of_space(profile, role, SpaceKind.ORGANIZATION), name=name)
    RecordStore(profile.engine).save(space)
    return space


def _alert(profile: Profile, space_id: str, title: str) -> Alert:
    store = RecordStore(profile.engine)
    (person,) = store.page(RecordQuery("person"))
    alert = Alert(
        space_id=space_id,
        title=title,
        defenders=(person.id,),
        threat_type="death_threat",
        occurred_on=PartialDate.parse("2025-06-01"),
        country="hn",
    )
    store.save(alert)
    return alert


def _page(profile: Profile, qtbot: QtBot) -> AlertsPage:
    page = AlertsPage(profile)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.model.total is not None, timeout=WAIT)
    return page


def _open(page: AlertsPage, qtbot: QtBot, alert_id: str) -> AlertDetail:
    with qtbot.waitSignal(page.alert_opened, timeout=WAIT) as opened:
        page.open_alert(alert_id)
    detail = opened.args[0]
    assert isinstance(detail, AlertDetail)
    qtbot.waitUntil(lambda: detail.bundle is not None, timeout=WAIT)
    return detail


def _changing(detail: AlertDetail) -> list[object]:
    return [
        detail.status,
        detail.status_button,
        detail.add_letter_button,
        detail.organization,
        detail.signed_by,
        detail.sign_button,
        detail.mechanism,
        detail.refer_button,
        detail.action_text,
        detail.action_button,
    ]


def test_a_reader_sees_an_alert_but_cannot_change_it_and_an_editor_can(
    reader: Profile, qtbot: QtBot
) -> None:
    store = RecordStore(reader.engine)
    network = local_spaces(store).network.id
    read = _alert(reader, network, "Amenazas contra Rosa")
    own = _organization(reader, Role.EDITOR, "Colectivo Tierra Viva")
    edited = _alert(reader, own.id, "Desalojo en El Salado")
    page = _page(reader, qtbot)

    detail = _open(page, qtbot, read.id)
    assert detail.read_only.isVisible() and "reader" in detail.read_only.text()
    for widget in _changing(detail):
        assert not widget.isEnabled(), widget  # type: ignore[attr-defined]
    assert "reader" in detail.sign_button.toolTip()
    # The paths the buttons would take are refused too, and say why.
    detail.signed_by.setText("Ana")
    detail.sign()
    detail.status.setCurrentIndex(detail.status.findData("closed"))
    detail.change_status()
    detail.add_letter()
    assert detail.letter_dialog is None
    qtbot.waitUntil(lambda: detail.message.isVisible(), timeout=WAIT)
    assert "reader" in detail.message.text()
    qtbot.wait(50)
    assert store.children(read.id, "sign_on") == []
    kept = store.require(read.id)
    assert isinstance(kept, Alert) and kept.status is AlertStatus.RECEIVED

    # An alert of a space where this device edits: everything is offered, and saves.
    detail = _open(page, qtbot, edited.id)
    assert detail.read_only.isHidden()
    for widget in _changing(detail):
        assert widget.isEnabled(), widget  # type: ignore[attr-defined]
    detail.signed_by.setText("Ana")
    detail.organization.setCurrentIndex(0)  # nothing is chosen for the person
    with qtbot.waitSignal(detail.loaded, timeout=WAIT):
        qtbot.mouseClick(detail.sign_button, Qt.MouseButton.LeftButton)
    assert len(store.children(edited.id, "sign_on")) == 1
    assert detail.read_only.isHidden() and detail.sign_button.isEnabled()


def test_a_new_alert_never_offers_a_space_this_device_only_reads(
    reader: Profile, qtbot: QtBot
) -> None:
    store = RecordStore(reader.engine)
    _organization(reader, Role.READER, "Red de Abogadas")
    own = _organization(reader, Role.EDITOR, "Colectivo Tierra Viva")
    page = _page(reader, qtbot)
    qtbot.waitUntil(lambda: page.new_button.isEnabled(), timeout=WAIT)

    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.form is not None and page.form.isVisible(), timeout=WAIT)
    form = page.form
    assert form is not None
    offered = [form.space.itemData(i) for i in range(form.space.count())]
    assert offered == [own.id]  # neither the network nor the organization it only reads
    form.title.setText("Amenazas contra Rosa")
    form.defenders.item(0).setCheckState(Qt.CheckState.Checked)
    form.threat.setCurrentIndex(form.threat.findData("death_threat"))
    form.country.setCurrentIndex(form.country.findData("hn"))
    form.urgency.setCurrentIndex(form.urgency.findData("high"))  # nothing chosen for the person
    with qtbot.waitSignal(page.alert_saved, timeout=WAIT) as saved:
        form.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    alert = store.require(str(saved.args[0]))
    assert alert.space_id == own.id


def test_no_writable_space_means_no_new_alert_and_the_reason(reader: Profile, qtbot: QtBot) -> None:
    page = _page(reader, qtbot)
    qtbot.waitUntil(lambda: "reader" in page.new_button.toolTip(), timeout=WAIT)
    assert not page.new_button.isEnabled()
    page.new_alert()  # a path around the button: no form, the reason instead
    qtbot.waitUntil(lambda: page.message.isVisible(), timeout=WAIT)
    assert "reader" in page.message.text()
    assert page.form is None

    set_language("fr")  # the reason follows the interface's language
    try:
        page.retranslate()
        assert page.new_button.toolTip().startswith("Vous êtes lecteur dans cet espace")
    finally:
        set_language("en")


def test_a_removed_member_is_told_its_changes_would_reach_nobody(
    app: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    profile = _profile(tmp_path, None)
    try:
        alert = _alert(profile, local_spaces(RecordStore(profile.engine)).network.id, "Amenazas")
        page = _page(profile, qtbot)
        detail = _open(page, qtbot, alert.id)
        assert "no longer a member" in detail.read_only.text()
        assert not detail.sign_button.isEnabled() and not detail.action_button.isEnabled()
        qtbot.waitUntil(lambda: "no longer a member" in page.new_button.toolTip(), timeout=WAIT)
        assert not page.new_button.isEnabled()
    finally:
        page.close()
        profile.close()
