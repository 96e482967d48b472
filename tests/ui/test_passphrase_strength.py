"""Creating and changing a passphrase: a strength hint (zxcvbn) as it is typed, in words and
with advice when weak, and a "Show passphrases" toggle that masks them again when unticked."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from desktop.domain.translation import set_language
from desktop.ui.change_passphrase import ChangePassphraseDialog
from desktop.ui.main_window import MainWindow

from .conftest import show_window


def test_creating_a_profile_shows_strength_and_can_show_the_passphrase(
    app: QApplication, qtbot: QtBot, folder: Path
) -> None:
    window = show_window(qtbot, folder)
    assert window.gate is not None and window.gate.create_screen is not None
    screen = window.gate.create_screen
    assert screen.strength.text() == ""  # nothing typed, nothing said
    screen.passphrase.setText("password123")
    assert screen.strength.text().startswith("Strength: very weak")
    assert "Add a few more words" in screen.strength.text()
    screen.passphrase.setText("seven quiet rivers cross the valley at dawn")
    assert screen.strength.text() == "Strength: very strong"

    masked = QLineEdit.EchoMode.Password
    assert screen.passphrase.echoMode() == masked and screen.repeat.echoMode() == masked
    screen.show_passphrases.setChecked(True)
    assert screen.passphrase.echoMode() == QLineEdit.EchoMode.Normal
    assert screen.repeat.echoMode() == QLineEdit.EchoMode.Normal
    screen.show_passphrases.setChecked(False)
    assert screen.passphrase.echoMode() == masked

    set_language("fr")
    try:
        qtbot.waitUntil(lambda: screen.strength.text() == "Force : très forte")
    finally:
        set_language("en")


def test_changing_the_passphrase_rates_the_new_one(
    app: QApplication, qtbot: QtBot, unlocked: MainWindow
) -> None:
    profile = unlocked.session.profile
    assert profile is not None
    dialog = ChangePassphraseDialog(profile, unlocked)
    qtbot.addWidget(dialog)
    dialog.new.setText("qwerty")
    assert dialog.strength.text().startswith("Strength: very weak")
    dialog.current.setText("typed")
    dialog.show_passphrases.setChecked(True)
    for field in (dialog.current, dialog.new, dialog.repeat):
        assert field.echoMode() == QLineEdit.EchoMode.Normal
