"""Run-time language switching (Arabic mirrored) and the settings dialog built from the schema.

Expected words come from the compiled catalogues, and must be Arabic script, not English kept.
"""

from __future__ import annotations

import gettext
import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QComboBox, QDialogButtonBox, QSpinBox
from pytestqt.qtbot import QtBot

from desktop.domain.settings import SHOWN_SETTINGS as SETTINGS
from desktop.domain.translation import DOMAIN, catalogue_dir, current_language, set_language
from desktop.store.profile import (
    KdfParameters,
    create_profile,
    read_device_hints,
    unlock,
)
from desktop.ui.jobs import drain_writes
from desktop.ui.language import first_language, system_language
from desktop.ui.main_window import MainWindow
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.workspace import SECTIONS
from tests.ui.conftest import PASSPHRASE, unlock_through_screen

ARABIC_LETTERS = re.compile(r"[\u0621-\u064A]")


def catalogue(language: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, localedir=str(catalogue_dir()), languages=[language])


def arabic(message: str) -> str:
    text = catalogue("ar").gettext(message)
    assert ARABIC_LETTERS.search(text), f"{message!r} has no Arabic translation"
    return text


def test_switching_to_arabic_mirrors_and_retranslates_the_open_window(
    unlocked: MainWindow, qtbot: QtBot
) -> None:
    assert unlocked.workspace is not None
    template = catalogue("ar").gettext("{section} — Minga")
    expected_title = template.format(section=arabic("Directory"))

    set_language("ar")
    qtbot.waitUntil(lambda: unlocked.windowTitle() == expected_title)

    assert QApplication.layoutDirection() == Qt.LayoutDirection.RightToLeft
    assert unlocked.layoutDirection() == Qt.LayoutDirection.RightToLeft
    assert unlocked.workspace.navigation.layoutDirection() == Qt.LayoutDirection.RightToLeft
    assert unlocked.workspace.navigation_labels() == [arabic(s.label) for s in SECTIONS]
    page = unlocked.workspace.pages.currentWidget()
    assert page.title.text() == arabic(SECTIONS[0].empty_title)  # type: ignore[attr-defined]
    assert unlocked.lock_action.text() == arabic("&Lock")
    assert ARABIC_LETTERS.search(unlocked.status.lock_state.text())
    assert ARABIC_LETTERS.search(unlocked.status.auto_lock.text())
    assert ARABIC_LETTERS.search(unlocked.status.network.text())

    # Qt's own strings follow, from the bundled qtbase catalogue.
    unlocked.settings_action.trigger()
    dialog = unlocked.findChild(SettingsDialog)
    assert dialog is not None
    cancel = dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel)
    assert cancel is not None and ARABIC_LETTERS.search(cancel.text()), cancel.text()
    assert dialog.windowTitle() == arabic("Settings")
    dialog.reject()

    # And back, without a restart.
    set_language("en")
    qtbot.waitUntil(lambda: unlocked.windowTitle() == "Directory — Minga")
    assert QApplication.layoutDirection() == Qt.LayoutDirection.LeftToRight
    assert unlocked.workspace.navigation_labels()[0] == "Directory"


def test_the_unlock_screen_language_applies_at_once_and_is_kept_in_the_profile(
    locked: MainWindow, qtbot: QtBot, folder: Path
) -> None:
    assert locked.gate is not None and locked.gate.unlock_screen is not None
    selector = locked.gate.language
    index = selector.findData("ar")
    selector.setCurrentIndex(index)
    selector.activated.emit(index)  # what a click on the item sends

    screen = locked.gate.unlock_screen
    qtbot.waitUntil(lambda: screen.title.text() == arabic("Unlock Minga"))
    assert QApplication.layoutDirection() == Qt.LayoutDirection.RightToLeft
    assert locked.windowTitle() == catalogue("ar").gettext("Minga — locked")
    assert ARABIC_LETTERS.search(locked.windowTitle())

    unlock_through_screen(qtbot, locked)
    assert current_language() == "ar"
    assert drain_writes(5.0)
    assert read_device_hints(folder)["language"] == "ar"
    profile = locked.session.profile
    assert profile is not None and profile.settings.get("language") == "ar"
    # The next start speaks Arabic before anyone types a passphrase.
    assert first_language(folder) == "ar"


def test_the_first_language_comes_from_flag_then_hint_then_system(folder: Path) -> None:
    assert first_language(folder) == system_language()
    profile, _key = create_profile(
        folder, PASSPHRASE, kdf=KdfParameters.fast_for_tests(), language="es"
    )
    profile.close()
    assert first_language(folder) == "es"
    assert first_language(folder, "fr") == "fr"


def test_the_settings_dialog_is_built_from_the_declared_schema(
    unlocked: MainWindow, qtbot: QtBot
) -> None:
    unlocked.settings_action.trigger()
    dialog = unlocked.findChild(SettingsDialog)
    assert dialog is not None
    assert list(dialog.editors) == [s.key for s in SETTINGS]
    for setting in SETTINGS:
        editor = dialog.editors[setting.key]
        label, help_text = dialog._labels[setting.key]
        assert label.text() == setting.label
        assert help_text.text() == setting.description
        if setting.kind == "int":
            assert isinstance(editor, QSpinBox)
            assert (editor.minimum(), editor.maximum()) == (setting.minimum, setting.maximum)
        elif setting.kind == "choice":
            assert isinstance(editor, QComboBox)
            assert [editor.itemData(i) for i in range(editor.count())] == list(setting.choices)
    dialog.reject()


def test_settings_are_saved_in_the_encrypted_profile_and_survive_a_lock(
    unlocked: MainWindow, qtbot: QtBot, folder: Path
) -> None:
    unlocked.settings_action.trigger()
    dialog = unlocked.findChild(SettingsDialog)
    assert dialog is not None
    language = dialog.editors["language"]
    minutes = dialog.editors["auto_lock_minutes"]
    assert isinstance(language, QComboBox) and isinstance(minutes, QSpinBox)
    assert minutes.value() == 10 and language.currentData() == "en"
    language.setCurrentIndex(language.findData("fr"))
    minutes.setValue(3)
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    with qtbot.waitSignal(dialog.saved, timeout=5_000) as saved:
        qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert saved.args == [{"language": "fr", "auto_lock_minutes": 3}]
    qtbot.waitUntil(lambda: unlocked.findChild(SettingsDialog) is None)

    french = catalogue("fr")
    assert current_language() == "fr"
    qtbot.waitUntil(
        lambda: (
            unlocked.windowTitle()
            == french.gettext("{section} — Minga").format(section=french.gettext("Directory"))
        )
    )
    assert unlocked.session.idle_watch.timer.interval() == 3 * 60_000
    assert unlocked.status.auto_lock.text() == french.ngettext(
        "Locks after {count} idle minute", "Locks after {count} idle minutes", 3
    ).format(count=3)

    unlocked.lock()
    # Inside the encrypted database, not beside it in the clear.
    for path in folder.glob("minga.db*"):
        assert b"auto_lock_minutes" not in path.read_bytes()
    stored = unlock(folder, PASSPHRASE)
    try:
        assert stored.settings.get("auto_lock_minutes") == 3
        assert stored.settings.get("language") == "fr"
    finally:
        stored.close()

    # A fresh start in English: unlocking brings the person's settings back.
    set_language("en")
    unlock_through_screen(qtbot, unlocked)
    assert current_language() == "fr"
    assert unlocked.session.idle_watch.timer.interval() == 3 * 60_000


def test_the_command_line_language_wins_for_the_run_and_the_profile_keeps_its_own(
    app: QApplication, qtbot: QtBot, folder: Path
) -> None:
    profile, _key = create_profile(
        folder, PASSPHRASE, kdf=KdfParameters.fast_for_tests(), language="fr"
    )
    profile.settings.set("language", "fr")
    profile.close()
    # What `minga --language es` does: the gate starts in Spanish, the window is told why.
    set_language(first_language(folder, "es"))
    window = MainWindow(folder, kdf=KdfParameters.fast_for_tests(), language="es")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)

    unlock_through_screen(qtbot, window)
    assert current_language() == "es"  # not the profile's French
    assert drain_writes(5.0)
    window.lock()
    stored = unlock(folder, PASSPHRASE)
    try:
        assert stored.settings.get("language") == "fr"  # nothing changed in the profile
    finally:
        stored.close()
    assert read_device_hints(folder)["language"] == "fr"

    unlock_through_screen(qtbot, window)  # a second unlock in the same run: still Spanish
    assert current_language() == "es"

    # Choosing in the settings is the person's own change: it applies and is stored.
    window.settings_action.trigger()
    dialog = window.findChild(SettingsDialog)
    assert dialog is not None
    language = dialog.editors["language"]
    assert isinstance(language, QComboBox) and language.currentData() == "fr"
    language.setCurrentIndex(language.findData("ar"))
    with qtbot.waitSignal(dialog.saved, timeout=5_000):
        dialog.save()
    assert current_language() == "ar"
    window.lock()
    unlock_through_screen(qtbot, window)
    assert current_language() == "ar"
