"""Creating and changing a passphrase: a strength hint (zxcvbn) as it is typed, in words and
with advice when weak, and a "Show passphrases" toggle that masks them again when unticked."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from desktop.domain.translation import _, set_language
from desktop.ui.change_passphrase import ChangePassphraseDialog
from desktop.ui.forms import PassphraseStrength
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
        # French typography: a narrow no-break space before the colon (GLOSSARY.fr.md).
        qtbot.waitUntil(lambda: screen.strength.text() == "Force\u202f: très forte")
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


def test_the_rating_and_the_advice_read_as_two_sentences(
    app: QApplication, qtbot: QtBot, folder: Path
) -> None:
    # "Strength: very weak Add a few more words…" ran the rating into the advice (seen on the
    # first-start screen in four languages): the advice starts its own line.
    window = show_window(qtbot, folder)
    assert window.gate is not None and window.gate.create_screen is not None
    screen = window.gate.create_screen
    for language in ("en", "es", "fr", "ar"):
        set_language(language)
        screen.passphrase.clear()
        screen.passphrase.setText("rivers")
        rating, _newline, advice = screen.strength.text().partition("\n")
        assert screen.strength.score is not None and screen.strength.score < 3
        assert rating == _(PassphraseStrength.WORDS[screen.strength.score]), language
        assert advice.strip() and not advice[0].islower(), language
    set_language("en")
