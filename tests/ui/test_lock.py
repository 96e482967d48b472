"""Locking: the shortcut, the toolbar action and idleness all close the store and clear the views.

A seized unlocked laptop must show the unlock screen and hold no key and no copied record text.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.store.profile import KdfParameters, create_profile
from desktop.ui.main_window import MainWindow
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.workspace import Workspace
from tests.ui.conftest import PASSPHRASE, show_window, unlock_through_screen


def assert_locked_and_cleared(window: MainWindow, qtbot: QtBot) -> None:
    assert not window.is_unlocked
    assert window.workspace is None
    qtbot.waitUntil(lambda: window.findChildren(Workspace) == [])  # deleted, not just hidden
    assert window.gate is not None and window.gate.unlock_screen is not None
    assert window.screens.currentWidget() is window.gate
    assert window.gate.unlock_screen.passphrase.text() == ""
    assert window.status.lock_state.text() == "Locked"
    assert window.windowTitle() == "Minga — locked"
    assert not window.lock_action.isEnabled()


def test_the_lock_shortcut_locks_at_once(unlocked: MainWindow, qtbot: QtBot) -> None:
    profile = unlocked.session.profile
    assert profile is not None and not profile.closed
    unlocked.activateWindow()
    qtbot.waitUntil(unlocked.isActiveWindow)
    assert unlocked.workspace is not None
    QTest.keyClick(unlocked.workspace.navigation, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not unlocked.is_unlocked, timeout=2_000)
    assert profile.closed
    assert_locked_and_cleared(unlocked, qtbot)


def test_the_toolbar_action_locks_and_closes_open_dialogs(
    unlocked: MainWindow, qtbot: QtBot
) -> None:
    profile = unlocked.session.profile
    assert profile is not None
    unlocked.settings_action.trigger()
    qtbot.waitUntil(lambda: unlocked.findChild(SettingsDialog) is not None)
    button = unlocked.toolbar.widgetForAction(unlocked.lock_action)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert profile.closed
    qtbot.waitUntil(lambda: unlocked.findChild(SettingsDialog) is None)
    assert_locked_and_cleared(unlocked, qtbot)


def test_locking_takes_back_text_minga_copied(unlocked: MainWindow, qtbot: QtBot) -> None:
    clipboard = QGuiApplication.clipboard()
    unlocked.session.clipboard.copy("Incident 14: eviction at the river settlement")
    assert clipboard.text() == "Incident 14: eviction at the river settlement"
    unlocked.lock()
    assert clipboard.text() == ""


def test_locking_leaves_a_persons_own_clipboard_alone(unlocked: MainWindow, qtbot: QtBot) -> None:
    clipboard = QGuiApplication.clipboard()
    unlocked.session.clipboard.copy("Incident 14: eviction at the river settlement")
    clipboard.setText("a shopping list copied from another program")
    unlocked.lock()
    assert clipboard.text() == "a shopping list copied from another program"


def test_auto_lock_follows_the_setting_and_waits_for_idleness(
    app: QApplication, qtbot: QtBot, folder
) -> None:
    profile, _key = create_profile(folder, PASSPHRASE, kdf=KdfParameters.fast_for_tests())
    profile.settings.set("auto_lock_minutes", 2)
    profile.close()
    window = show_window(qtbot, folder)
    unlock_through_screen(qtbot, window)

    watch = window.session.idle_watch
    assert watch.active
    assert watch.timer.interval() == 2 * 60_000
    assert window.status.auto_lock.text() == "Locks after 2 idle minutes"
    opened = window.session.profile
    assert opened is not None

    # Shorten the same timer (no two-minute sleep); activity keeps pushing the lock away.
    watch.timer.setInterval(300)
    watch.timer.start()
    assert window.workspace is not None
    for _ in range(8):
        QTest.keyClick(window.workspace.navigation, Qt.Key.Key_Down)
        qtbot.wait(80)
    assert window.is_unlocked

    # Then nobody touches anything: it locks by itself.
    qtbot.waitUntil(lambda: not window.is_unlocked, timeout=3_000)
    assert opened.closed
    assert not watch.active
    assert_locked_and_cleared(window, qtbot)


def test_the_shortcut_also_locks_from_inside_a_dialog(unlocked: MainWindow, qtbot: QtBot) -> None:
    profile = unlocked.session.profile
    assert profile is not None
    unlocked.settings_action.trigger()
    dialog = unlocked.findChild(SettingsDialog)
    assert dialog is not None
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    QTest.keyClick(
        dialog.editors["auto_lock_minutes"], Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier
    )
    qtbot.waitUntil(lambda: profile.closed, timeout=2_000)
    qtbot.waitUntil(lambda: unlocked.findChild(SettingsDialog) is None)
    assert_locked_and_cleared(unlocked, qtbot)
