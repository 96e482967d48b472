"""Settings → Change passphrase with a new encryption key (issue 13, finding 3): the profile is
re-keyed, the new recovery key is shown once and must be ticked as written down, and afterwards
the old passphrase and the old recovery key open nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.store.profile import (
    WrongPassphrase,
    WrongRecoveryKey,
    unlock,
    unlock_with_recovery_key,
)
from desktop.ui.change_passphrase import ChangePassphraseDialog
from desktop.ui.main_window import MainWindow
from tests.ui.conftest import PASSPHRASE, unlock_through_screen

NEW = "a longer and newer passphrase"


def test_change_passphrase_with_a_new_key_and_recovery_key(
    unlocked: MainWindow, qtbot: QtBot, folder: Path, recovery_key: str
) -> None:
    unlocked.passphrase_action.trigger()
    dialog = unlocked.findChild(ChangePassphraseDialog)
    assert dialog is not None and dialog.isVisible()
    assert not dialog.fresh_keys.isChecked()  # a plain change stays the default
    dialog.fresh_keys.setChecked(True)
    dialog.current.setText(PASSPHRASE)
    dialog.new.setText(NEW)
    dialog.repeat.setText(NEW)
    with qtbot.waitSignal(dialog.changed, timeout=60_000):
        qtbot.mouseClick(dialog.change_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.key_label.isVisible(), timeout=10_000)
    shown = dialog.key_label.text().replace("\n", "-")
    assert shown and shown != recovery_key
    assert not dialog.current.isVisible()
    dialog.resize(1024, 680)
    dialog.grab().save("/tmp/i13-rekey-dialog.png")

    # Not closed before the person ticks that the key is written down.
    qtbot.mouseClick(dialog.change_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "Write down" in dialog.message.text()
    dialog.written_down.setChecked(True)
    qtbot.mouseClick(dialog.change_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: unlocked.findChild(ChangePassphraseDialog) is None)

    unlocked.lock()
    with pytest.raises(WrongPassphrase):
        unlock(folder, PASSPHRASE)
    with pytest.raises(WrongRecoveryKey):
        unlock_with_recovery_key(folder, recovery_key, "one more passphrase for this")
    unlock_with_recovery_key(folder, shown, "one more passphrase for this").close()
    unlock_through_screen(qtbot, unlocked, "one more passphrase for this")
    assert unlocked.is_unlocked
