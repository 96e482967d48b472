"""Fixtures for the directory tests: a real profile, its store and network space, a shown page.

The page runs its reads and writes on the real job workers; tests wait for what a person sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.directory import DirectoryPage
from desktop.ui.jobs import drain_writes
from tests.helpers.profiles import new_profile


@pytest.fixture
def profile(tmp_path: Path) -> Iterator[Profile]:
    opened, _key = new_profile(tmp_path / "p")
    yield opened
    drain_writes(10)
    opened.close()


@pytest.fixture
def store(profile: Profile) -> RecordStore:
    return RecordStore(profile.engine)


@pytest.fixture
def space_id(store: RecordStore) -> str:
    return local_spaces(store).network.id


def open_page(qtbot: QtBot, profile: Profile) -> DirectoryPage:
    page = DirectoryPage(profile)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.spaces is not None and page.is_empty is not None, timeout=10_000)
    for directory_list in page.lists.values():
        qtbot.waitUntil(lambda d=directory_list: not d.model.busy, timeout=10_000)
    return page


@pytest.fixture
def page(app: QApplication, qtbot: QtBot, profile: Profile, space_id: str) -> DirectoryPage:
    return open_page(qtbot, profile)
