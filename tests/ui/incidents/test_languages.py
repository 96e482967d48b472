"""A source's language chooser names every language in each interface language.

Babel 2.18 has no locale data for Aymara; the chooser once raised building its list, so
"Add a source" crashed the editor.
"""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.domain.translation import set_language
from desktop.ui.incidents.fields import SOURCE_LANGUAGES, LanguageCombo

EXPECTED_AYMARA = {"en": "Aymara", "es": "Aimara", "fr": "Aymara", "ar": "الأيمارا"}


@pytest.mark.parametrize("language", ["en", "es", "fr", "ar"])
def test_every_source_language_has_a_name(app: QApplication, qtbot: QtBot, language: str) -> None:
    set_language(language)
    combo = LanguageCombo()
    qtbot.addWidget(combo)
    names = {combo.itemData(i): combo.itemText(i) for i in range(1, combo.count())}
    assert set(names) == set(SOURCE_LANGUAGES)
    assert all(name and name != code for code, name in names.items())
    assert names["ay"] == EXPECTED_AYMARA[language]
    combo.set_code("ay")
    assert combo.code() == "ay"
