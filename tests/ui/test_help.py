"""Help at hand: F1 opens a short guide in the interface's language (locked or not), Help ▸
About shows the version, which is the one pyproject.toml releases."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop import __version__
from desktop.domain.translation import set_language
from desktop.ui.help import GUIDES, AboutDialog, GuideDialog
from desktop.ui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_is_the_released_one() -> None:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        assert tomllib.load(handle)["project"]["version"] == __version__


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", "five minutes"), ("es", "cinco minutos"), ("fr", "cinq minutes"), ("ar", "الأقسام")],
)
def test_f1_opens_the_guide_in_the_interface_language(
    app: QApplication, qtbot: QtBot, locked: MainWindow, language: str, words: str
) -> None:
    set_language(language)
    qtbot.keyClick(locked, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: locked.findChild(GuideDialog) is not None, timeout=5_000)
    guide = locked.findChild(GuideDialog)
    assert guide is not None and guide.isVisible()
    assert words in guide.browser.toPlainText()
    assert "**" not in guide.browser.toPlainText()  # rendered, not its source
    expected = (
        Qt.LayoutDirection.RightToLeft if language == "ar" else Qt.LayoutDirection.LeftToRight
    )
    assert guide.browser.layoutDirection() == expected
    # A second F1 brings the same guide forward rather than opening another.
    qtbot.keyClick(locked, Qt.Key.Key_F1)
    assert len(locked.findChildren(GuideDialog)) == 1


def test_every_language_has_its_guide() -> None:
    for language in ("en", "es", "fr", "ar"):
        assert (GUIDES / f"{language}.md").read_text(encoding="utf-8").startswith("# ")


def test_about_shows_the_version(app: QApplication, qtbot: QtBot, locked: MainWindow) -> None:
    locked.about_action.trigger()
    qtbot.waitUntil(lambda: locked.findChild(AboutDialog) is not None, timeout=5_000)
    about = locked.findChild(AboutDialog)
    assert about is not None
    assert __version__ in about.version.text()
    assert "Affero" in about.text.text()
