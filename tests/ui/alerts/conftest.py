"""Fixtures for the Alerts screen: a real profile with a defender and two organizations.

The page is shown on it, its list counted, so each test starts where a person would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.domain.records import Organization, Person
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.alerts.page import AlertsPage
from tests.helpers.profiles import new_profile


@pytest.fixture
def profile(app: QApplication, tmp_path: Path) -> Iterator[Profile]:
    profile, _key = new_profile(tmp_path / "profile")
    store = RecordStore(profile.engine)
    space = local_spaces(store).network.id
    store.save_all(
        [
            Person(space_id=space, name="Rosa Gutiérrez", country="hn"),
            Organization(space_id=space, name="Colectivo Tierra Viva", country="co"),
            Organization(space_id=space, name="جمعية الحق في الأرض", country="eg"),
        ]
    )
    yield profile
    profile.close()


@pytest.fixture
def page(profile: Profile, qtbot: QtBot) -> AlertsPage:
    page = AlertsPage(profile)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.model.total is not None)
    return page
