"""The chain of custody's column headers fit their words in the four languages.

Seen in the Arabic screenshot at 1024×680: "الإجراء" (Action) was cut to "لإجرا", its column
sized before its header had words. The layout check did not report it: the empty table's header
has an empty ``visibleRegion`` although it is drawn, so it is measured here directly.
"""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from desktop.domain.translation import set_language
from desktop.ui.incidents.page import IncidentsPage
from tests.helpers.fit import _header

from .conftest import open_new_editor


@pytest.mark.parametrize("language", ["en", "es", "fr", "ar"])
def test_the_custody_headers_fit_their_words(
    page: IncidentsPage, qtbot: QtBot, language: str
) -> None:
    set_language(language)
    try:
        editor = open_new_editor(page, qtbot)
        editor.tabs.setCurrentWidget(editor.evidence)
        qtbot.wait(100)
        header = editor.evidence.custody_table.horizontalHeader()
        assert [item.text for item in _header(header)] == []
    finally:
        set_language("en")
