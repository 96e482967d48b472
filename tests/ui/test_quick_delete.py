"""Quick delete from the window (toolbar and shortcut) and from the unlock screen without the
passphrase; afterwards the first-start screen, no profile file, nothing opens (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from desktop.domain.records import Incident, new_id
from desktop.store.profile import (
    KdfParameters,
    ProfileNotFound,
    create_profile,
    unlock,
    unlock_with_recovery_key,
)
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from desktop.ui.main_window import MainWindow
from desktop.ui.quick_delete import QuickDeleteDialog, unsent_changes
from sync.crypto.keys import DeviceKeys
from tests.ui.conftest import PASSPHRASE, show_window, unlock_through_screen


def _dialog(window: MainWindow, qtbot: QtBot) -> QuickDeleteDialog:
    qtbot.waitUntil(lambda: window.quick_delete_dialog is not None)
    dialog = window.quick_delete_dialog
    assert isinstance(dialog, QuickDeleteDialog)
    return dialog


def _gone(window: MainWindow, folder: Path, recovery_key: str, qtbot: QtBot) -> None:
    assert not folder.exists() or list(folder.rglob("*")) == []
    assert not window.is_unlocked
    assert window.gate is not None and window.gate.create_screen is not None  # first start
    assert window.gate.unlock_screen is None
    with pytest.raises(ProfileNotFound):
        unlock(folder, PASSPHRASE)
    with pytest.raises(ProfileNotFound):
        unlock_with_recovery_key(folder, recovery_key, "another passphrase long enough")
    assert not window.quick_delete_action.isEnabled()  # nothing left to delete


def test_from_the_toolbar_says_what_is_unsent_and_deletes(
    unlocked: MainWindow, qtbot: QtBot, folder: Path, recovery_key: str
) -> None:
    profile = unlocked.session.profile
    assert profile is not None
    RecordStore(profile.engine).save_all(
        [Incident(space_id=new_id(), title=f"Not yet sent {n}") for n in range(3)]
    )
    button = unlocked.toolbar.widgetForAction(unlocked.quick_delete_action)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = _dialog(unlocked, qtbot)
    # Not enrolled: everything exists only here, and it says so.
    assert "not connected to a server" in dialog.loss.text()
    assert dialog.cancel_button.isDefault() and not dialog.delete_button.isDefault()
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    assert profile.closed
    _gone(unlocked, folder, recovery_key, qtbot)


def test_cancel_deletes_nothing(unlocked: MainWindow, qtbot: QtBot, folder: Path) -> None:
    unlocked.quick_delete_action.trigger()
    dialog = _dialog(unlocked, qtbot)
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert unlocked.is_unlocked
    unlocked.lock()
    unlock(folder, PASSPHRASE).close()


def test_the_count_of_unsent_changes_when_synced(app, qtbot: QtBot, folder: Path) -> None:
    # Without a window: an enrolled window would start syncing with a server that is not there.
    profile, _key = create_profile(folder, PASSPHRASE, kdf=KdfParameters.fast_for_tests())
    try:
        ProfileSyncState(profile.engine).save_enrollment(
            "https://sync.example", DeviceKeys.generate()
        )
        assert unsent_changes(profile.engine) == 0
        RecordStore(profile.engine).save_all(
            [Incident(space_id=new_id(), title=f"Unsent {n}") for n in range(2)]
        )
        dialog = QuickDeleteDialog(unsent_changes(profile.engine))
        qtbot.addWidget(dialog)
        assert dialog.loss.text() == "2 changes have not reached the server and will be lost."
        assert QuickDeleteDialog(0).loss.text() == (
            "Every change you saved has reached the server."
        )
    finally:
        profile.close()


def test_the_shortcut_the_person_set_works_unlocked_and_locked(
    app, qtbot: QtBot, folder: Path
) -> None:
    profile, recovery_key = create_profile(folder, PASSPHRASE, kdf=KdfParameters.fast_for_tests())
    profile.settings.set("quick_delete_shortcut", "Ctrl+Alt+K")
    profile.close()
    window = show_window(qtbot, folder)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    assert window.gate is not None and window.gate.unlock_screen is not None
    assert window.quick_delete_action.shortcut() == QKeySequence("Ctrl+Alt+K")
    QTest.keyClick(
        window.gate.unlock_screen.passphrase,
        Qt.Key.Key_K,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier,
    )
    dialog = _dialog(window, qtbot)
    assert "cannot tell how many" in dialog.loss.text()
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    _gone(window, folder, recovery_key, qtbot)


def test_from_the_unlock_screen_without_the_passphrase(
    locked: MainWindow, qtbot: QtBot, folder: Path, recovery_key: str
) -> None:
    assert locked.gate is not None and locked.gate.unlock_screen is not None
    screen = locked.gate.unlock_screen
    assert screen.quick_delete_button.isVisible()
    qtbot.mouseClick(screen.quick_delete_button, Qt.MouseButton.LeftButton)
    dialog = _dialog(locked, qtbot)
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    _gone(locked, folder, recovery_key, qtbot)


def test_after_the_number_of_wrong_passphrases_the_person_set(
    app, qtbot: QtBot, folder: Path
) -> None:
    profile, recovery_key = create_profile(folder, PASSPHRASE, kdf=KdfParameters.fast_for_tests())
    profile.settings.set("quick_delete_after_wrong_passphrases", 3)
    profile.close()
    window = show_window(qtbot, folder)
    # Two wrong, then the right one: the count starts again.
    for _ in range(2):
        _wrong(window, qtbot)
    unlock_through_screen(qtbot, window)
    window.lock()
    for _ in range(2):
        _wrong(window, qtbot)
        assert (folder / "profile.json").exists()
    _wrong(window, qtbot, last=True)
    qtbot.waitUntil(lambda: window.gate is not None and window.gate.create_screen is not None)
    _gone(window, folder, recovery_key, qtbot)


def test_wrong_passphrases_delete_nothing_when_the_setting_is_off(
    locked: MainWindow, qtbot: QtBot, folder: Path
) -> None:
    for _ in range(6):
        _wrong(locked, qtbot)
    assert (folder / "profile.json").exists()
    unlock(folder, PASSPHRASE).close()


def _wrong(window: MainWindow, qtbot: QtBot, *, last: bool = False) -> None:
    assert window.gate is not None and window.gate.unlock_screen is not None
    screen = window.gate.unlock_screen
    screen.passphrase.setText("not the passphrase at all")
    qtbot.mouseClick(screen.unlock_button, Qt.MouseButton.LeftButton)
    if not last:  # the last one replaces the unlock screen with the first-start screen
        qtbot.waitUntil(lambda: not screen.working, timeout=10_000)
