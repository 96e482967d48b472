"""Create, unlock, recover and change the passphrase through the real screens and the real store.

Each test drives widgets as a person would and checks what the person (or the disk) would see.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QLineEdit
from pytestqt.qtbot import QtBot

from desktop.store.profile import (
    WeakPassphrase,
    WrongPassphrase,
    WrongRecoveryKey,
    profile_exists,
    unlock,
)
from desktop.ui.change_passphrase import ChangePassphraseDialog
from desktop.ui.main_window import MainWindow
from desktop.ui.sections import SECTION_PAGES
from desktop.ui.workspace import SECTIONS, EmptyState
from tests.ui.conftest import PASSPHRASE, unlock_through_screen

RECOVERY_KEY_SHAPE = re.compile(r"^[A-Z2-7]{5}(-[A-Z2-7]{1,5})+$")


def folder_snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file's content digest and modification time, to prove nothing was written."""
    return {
        str(path.relative_to(folder)): (
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mtime_ns,
        )
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def visible_texts(window: MainWindow) -> list[str]:
    return [w.text() for w in window.findChildren(QLabel)] + [
        w.text() for w in window.findChildren(QLineEdit)
    ]


def test_create_profile_shows_the_recovery_key_once_after_a_confirmation(
    window: MainWindow, qtbot: QtBot, folder: Path
) -> None:
    assert window.gate is not None and window.gate.create_screen is not None
    screen = window.gate.create_screen

    # Two different passphrases: a clear message and no profile on disk.
    screen.passphrase.setText(PASSPHRASE)
    screen.repeat.setText(PASSPHRASE + " typo")
    qtbot.mouseClick(screen.create_button, Qt.MouseButton.LeftButton)
    assert screen.message.isVisible()
    assert "not the same" in screen.message.text()
    assert not profile_exists(folder)

    # Too short: the store's own message.
    screen.passphrase.setText("short")
    screen.repeat.setText("short")
    qtbot.mouseClick(screen.create_button, Qt.MouseButton.LeftButton)
    assert screen.message.text() == WeakPassphrase().user_message()

    # The window keeps running while Argon2id works: a UI timer ticks during the creation.
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(5)
    screen.passphrase.setText(PASSPHRASE)
    screen.repeat.setText(PASSPHRASE)
    qtbot.mouseClick(screen.create_button, Qt.MouseButton.LeftButton)
    assert not screen.create_button.isEnabled()
    assert screen.busy.isVisible()
    assert screen.passphrase.text() == ""  # the passphrase does not linger in the field
    qtbot.waitUntil(lambda: screen.showing_recovery_key, timeout=10_000)
    timer.stop()
    assert len(ticks) >= 2
    assert profile_exists(folder)

    shown = screen.key_label.text()
    key = shown.replace("\n", "-")
    assert RECOVERY_KEY_SHAPE.match(key), shown
    assert not window.is_unlocked
    sheet = screen.recovery_sheet().toPlainText()  # what "Print…" sends to the printer
    assert "Minga recovery key" in sheet
    assert all(row in sheet for row in shown.splitlines())

    # Continue is refused until the person confirms the key is written down.
    assert not screen.continue_button.isEnabled()
    screen.confirm_recovery_key()
    assert not window.is_unlocked and screen.showing_recovery_key
    screen.written_down.setChecked(True)
    assert screen.continue_button.isEnabled()
    qtbot.mouseClick(screen.continue_button, Qt.MouseButton.LeftButton)

    assert window.is_unlocked
    assert window.workspace is not None
    first_row = shown.splitlines()[0]
    qtbot.waitUntil(lambda: not any(first_row in text for text in visible_texts(window)))
    # The key shown was the real one: it opens the profile.
    window.lock()
    from desktop.store.profile import unlock_with_recovery_key

    unlock_with_recovery_key(folder, key, "a brand new passphrase here").close()


def test_unlock_opens_the_workspace(unlocked: MainWindow) -> None:
    assert unlocked.workspace is not None
    assert unlocked.workspace.navigation_labels() == [
        "Directory",
        "Incidents",
        "Working groups",
        "Alerts",
        "Sync",
    ]
    assert unlocked.status.lock_state.text().startswith("Unlocked since")
    assert unlocked.windowTitle() == "Directory — Minga"
    assert unlocked.lock_action.isEnabled()


def test_every_section_opens_its_page_or_says_what_will_be_there(
    unlocked: MainWindow, qtbot: QtBot
) -> None:
    assert unlocked.workspace is not None
    for section in SECTIONS:
        unlocked.workspace.show_section(section.key)
        page = unlocked.workspace.pages.currentWidget()
        if section.key in SECTION_PAGES:
            # A section with its own page shows it, not the placeholder.
            assert not isinstance(page, EmptyState)
        else:
            assert isinstance(page, EmptyState)
            assert page.title.text() == section.empty_title
            assert len(page.text.text()) > 40
        assert unlocked.windowTitle() == f"{section.label} — Minga"


def test_a_wrong_passphrase_says_so_and_touches_nothing(
    locked: MainWindow, qtbot: QtBot, folder: Path
) -> None:
    window = locked
    before = folder_snapshot(folder)
    assert window.gate is not None and window.gate.unlock_screen is not None
    screen = window.gate.unlock_screen
    screen.passphrase.setText("not the passphrase at all")
    qtbot.mouseClick(screen.unlock_button, Qt.MouseButton.LeftButton)
    assert not screen.unlock_button.isEnabled()
    qtbot.waitUntil(lambda: screen.message.isVisible(), timeout=10_000)

    assert screen.message.text() == WrongPassphrase().user_message()
    assert not window.is_unlocked
    assert screen.unlock_button.isEnabled() and not screen.busy.isVisible()
    assert screen.passphrase.text() == ""
    assert folder_snapshot(folder) == before

    unlock_through_screen(qtbot, window)
    assert window.is_unlocked


def test_recovery_key_unlocks_and_sets_a_new_passphrase(
    locked: MainWindow, qtbot: QtBot, folder: Path, recovery_key: str
) -> None:
    window = locked
    assert window.gate is not None and window.gate.unlock_screen is not None
    screen = window.gate.unlock_screen
    qtbot.mouseClick(screen.forgot_button, Qt.MouseButton.LeftButton)
    assert screen.pages.currentWidget() is screen.recovery_page

    # A key that is well formed but not this profile's.
    other = "-".join(["AAAAA"] * 10 + ["AAA"])
    screen.recovery_key.setText(other)
    screen.new_passphrase.setText("the river remembers everything")
    screen.repeat.setText("the river remembers everything")
    qtbot.mouseClick(screen.recover_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.recovery_message.isVisible(), timeout=10_000)
    assert not window.is_unlocked
    assert screen.recovery_message.text() in {
        WrongRecoveryKey().user_message(),
        *(cls().user_message() for cls in WrongRecoveryKey.__subclasses__()),
    }

    # The real key, typed in lower case with spaces, as people do.
    screen.recovery_key.setText(recovery_key.lower().replace("-", " "))
    screen.new_passphrase.setText("the river remembers everything")
    screen.repeat.setText("the river remembers everything")
    qtbot.mouseClick(screen.recover_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=10_000)

    window.lock()
    with pytest.raises(WrongPassphrase):
        unlock(folder, PASSPHRASE)
    unlock_through_screen(qtbot, window, "the river remembers everything")
    assert window.is_unlocked


def test_change_passphrase(unlocked: MainWindow, qtbot: QtBot, folder: Path) -> None:
    unlocked.passphrase_action.trigger()
    dialog = unlocked.findChild(ChangePassphraseDialog)
    assert dialog is not None and dialog.isVisible()

    dialog.current.setText("not my passphrase")
    dialog.new.setText("a longer and newer passphrase")
    dialog.repeat.setText("a longer and newer passphrase")
    qtbot.mouseClick(dialog.change_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.message.isVisible(), timeout=10_000)
    assert dialog.message.text() == WrongPassphrase().user_message()

    dialog.current.setText(PASSPHRASE)
    dialog.new.setText("a longer and newer passphrase")
    dialog.repeat.setText("a longer and newer passphrase")
    with qtbot.waitSignal(dialog.changed, timeout=10_000):
        qtbot.mouseClick(dialog.change_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: unlocked.findChild(ChangePassphraseDialog) is None)
    assert "passphrase was changed" in unlocked.status.currentMessage()

    unlocked.lock()
    with pytest.raises(WrongPassphrase):
        unlock(folder, PASSPHRASE)
    unlock_through_screen(qtbot, unlocked, "a longer and newer passphrase")


def test_the_window_opens_on_unlock_when_a_profile_exists(locked: MainWindow) -> None:
    window = locked
    assert window.gate is not None
    assert window.gate.unlock_screen is not None and window.gate.create_screen is None
    assert window.windowTitle() == "Minga — locked"
    assert not window.lock_action.isEnabled()
    assert window.status.lock_state.text() == "Locked"
