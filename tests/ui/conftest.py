"""Fixtures for the window tests: a prepared application, profiles made fast, a shown window.

Profiles are real (SQLCipher, Argon2id) with the store's floor parameters, so each takes ~0.1 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.app import prepare_application
from desktop.domain.translation import set_language
from desktop.store.demo import fill_profile
from desktop.store.profile import KdfParameters, create_profile
from desktop.ui.main_window import MainWindow

PASSPHRASE = "seven quiet rivers cross the valley"


@pytest.fixture
def app(qapp: QApplication) -> Iterator[QApplication]:
    prepare_application(qapp)
    set_language("en")
    yield qapp
    set_language("en")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "profile"


@pytest.fixture
def recovery_key(folder: Path) -> str:
    """An existing profile (passphrase ``PASSPHRASE``); its recovery key."""
    profile, key = create_profile(folder, PASSPHRASE, kdf=KdfParameters.fast_for_tests())
    profile.close()
    return key


def demo_profile(tmp_path_factory: pytest.TempPathFactory, name: str, incidents: int) -> Path:
    """A profile filled with the demo network and ``incidents`` incidents, for a module's
    screens to share (made once: filling it takes seconds)."""
    folder = tmp_path_factory.mktemp(name) / "profile"
    profile, _key = create_profile(folder, PASSPHRASE, kdf=KdfParameters.fast_for_tests())
    try:
        fill_profile(profile, incidents=incidents)
    finally:
        profile.close()
    return folder


def show_window(qtbot: QtBot, folder: Path) -> MainWindow:
    window = MainWindow(folder, kdf=KdfParameters.fast_for_tests())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def window(app: QApplication, qtbot: QtBot, folder: Path) -> MainWindow:
    return show_window(qtbot, folder)


def unlock_through_screen(qtbot: QtBot, window: MainWindow, passphrase: str = PASSPHRASE) -> None:
    assert window.gate is not None and window.gate.unlock_screen is not None
    screen = window.gate.unlock_screen
    screen.passphrase.setText(passphrase)
    qtbot.mouseClick(screen.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=10_000)


@pytest.fixture
def unlocked(app: QApplication, qtbot: QtBot, folder: Path, recovery_key: str) -> MainWindow:
    window = show_window(qtbot, folder)
    unlock_through_screen(qtbot, window)
    return window


@pytest.fixture
def locked(app: QApplication, qtbot: QtBot, folder: Path, recovery_key: str) -> MainWindow:
    """A window on an existing profile, showing the unlock screen."""
    return show_window(qtbot, folder)
