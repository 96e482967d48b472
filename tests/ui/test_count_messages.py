"""The interface's counts beside a noun take the count's plural form in each language: the
length hint under a limited field (Arabic says "120 حرفًا" but "200 حرف")."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from desktop.domain.translation import set_language
from desktop.ui.forms import LengthHint


@pytest.mark.parametrize(
    ("language", "limit", "expected"),
    [
        ("en", 120, "100 of 120 characters"),
        ("ar", 120, "100 من 120 حرفًا"),
        ("ar", 200, "180 من 200 حرف"),
        ("ar", 5, "4 من 5 أحرف"),
        ("fr", 200, "180 sur 200 caractères"),
    ],
)
def test_the_length_hint_agrees_with_its_limit(
    app: QApplication, qtbot: QtBot, language: str, limit: int, expected: str
) -> None:
    set_language(language)
    edit = QLineEdit()
    qtbot.addWidget(edit)
    hint = LengthHint(edit, limit)
    qtbot.addWidget(hint)
    edit.setText("x" * (limit - (20 if limit > 100 else 1)))
    assert hint.text() == expected
