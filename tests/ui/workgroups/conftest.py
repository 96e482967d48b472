"""Fixtures for the Working groups screen: a group with members (PDFs: tests.helpers.pdf)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.domain.records import Membership, Organization, Person, WorkingGroup
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.workgroups.page import GroupView, WorkingGroupsPage
from tests.helpers.pdf import make_pdf
from tests.helpers.profiles import new_profile

__all__ = ["make_pdf"]


@pytest.fixture
def profile(app: QApplication, tmp_path: Path) -> Iterator[Profile]:
    profile, _key = new_profile(tmp_path / "profile")
    store = RecordStore(profile.engine)
    space = local_spaces(store).network.id
    group = WorkingGroup(space_id=space, name="Tierra y vivienda", description="Land and housing")
    member = Person(space_id=space, name="Amina Diallo")
    organization = Organization(space_id=space, name="Colectivo Tierra Viva")
    store.save_all(
        [
            group,
            member,
            organization,
            Membership(space_id=space, working_group_id=group.id, person_id=member.id),
            Membership(space_id=space, working_group_id=group.id, organization_id=organization.id),
        ]
    )
    yield profile
    profile.close()


@pytest.fixture
def page(profile: Profile, qtbot: QtBot) -> WorkingGroupsPage:
    page = WorkingGroupsPage(profile)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    return page


@pytest.fixture
def group(page: WorkingGroupsPage, qtbot: QtBot) -> GroupView:
    with qtbot.waitSignal(page.group_opened, timeout=5_000) as opened:
        page.view.clicked.emit(page.model.index(0, 0))
    view = opened.args[0]
    assert isinstance(view, GroupView)
    qtbot.waitUntil(lambda: view.bundle is not None)
    return view
