"""A reader in a space is not offered editing its directory records, nor new records when the
network space is one it only reads; an editor's records in another space stay editable. Roles come
from real signed statements stored in the profile."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.domain.records import Organization, SpaceKind
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.ui.directory.detail import DetailPanel
from sync.protocol import Role
from tests.ui.directory.conftest import open_page
from tests.ui.directory.test_directory import WAIT, select
from tests.ui.sync.spaces import member_of_space


def shown(qtbot: QtBot, detail: DetailPanel, name: str) -> None:
    qtbot.waitUntil(
        lambda: detail.detail is not None and detail.heading.text() == name, timeout=WAIT
    )


def test_a_reader_cannot_edit_records_of_a_space_it_only_reads(
    app: QApplication, qtbot: QtBot, profile: Profile
) -> None:
    store = RecordStore(profile.engine)
    # The network's space, synced, where this device is a reader; another where it edits.
    network = store.save(member_of_space(profile, Role.READER))
    edited = store.save(member_of_space(profile, Role.EDITOR, SpaceKind.ORGANIZATION))
    store.save(Organization(space_id=network.id, name="Colectivo Tierra"))
    store.save(Organization(space_id=edited.id, name="Defensoras del Agua"))

    page = open_page(qtbot, profile)
    assert page.spaces is not None and page.spaces.network.id == network.id
    organizations = page.show_list("organization")
    assert not organizations.new_button.isEnabled()
    assert "reader" in organizations.new_button.toolTip()
    assert organizations.open_form(None) is None
    assert "reader" in organizations.message.text()

    detail = organizations.detail
    select(qtbot, organizations, "Colectivo Tierra")
    shown(qtbot, detail, "Colectivo Tierra")
    assert detail.read_only.isVisible() and "reader" in detail.read_only.text()
    assert not detail.edit_button.isEnabled() and not detail.delete_button.isEnabled()
    assert detail.groups.add_button is not None and not detail.groups.add_button.isEnabled()
    assert detail.detail is not None
    assert organizations.open_form(detail.detail) is None and organizations.form is None

    select(qtbot, organizations, "Defensoras del Agua")
    shown(qtbot, detail, "Defensoras del Agua")
    assert detail.read_only.isHidden()
    assert detail.edit_button.isEnabled() and detail.delete_button.isEnabled()
    assert detail.groups.add_button.isEnabled()
    assert detail.detail is not None
    form = organizations.open_form(detail.detail)
    assert form is not None and form.isVisible()
    form.reject()


def test_a_removed_member_is_told_its_changes_would_reach_nobody(
    app: QApplication, qtbot: QtBot, profile: Profile
) -> None:
    store = RecordStore(profile.engine)
    network = store.save(member_of_space(profile, None))
    store.save(Organization(space_id=network.id, name="Colectivo Tierra"))
    page = open_page(qtbot, profile)
    organizations = page.show_list("organization")
    select(qtbot, organizations, "Colectivo Tierra")
    shown(qtbot, organizations.detail, "Colectivo Tierra")
    assert "no longer a member" in organizations.detail.read_only.text()
    assert not organizations.detail.edit_button.isEnabled()
