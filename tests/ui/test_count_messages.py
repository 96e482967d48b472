"""The interface's counts beside a noun take the count's plural form in each language: the
length hint under a limited field (Arabic says "120 حرفًا" but "200 حرف")."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from desktop.domain.translation import set_language
from desktop.ui.forms import LengthHint
from desktop.ui.sync_messages import sync_error_message
from sync.client.transport import ServerRefused
from sync.protocol import ErrorCode


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


@pytest.mark.parametrize(
    ("language", "seconds", "expected"),
    [
        ("en", 30, "The server asks to wait a little. Try again in a minute."),
        ("en", 61, "The server asks to wait. Try again in 2 minutes."),
        ("en", 120 * 60, "The server asks to wait. Try again in 120 minutes."),
        ("en", 120 * 60 + 1, "The server asks to wait. Try again in 3 hours."),
        ("ar", 5 * 3600, "يطلب الخادم الانتظار. حاول مجددًا بعد 5 ساعات."),
        ("es", 24 * 3600, "El servidor pide esperar. Inténtelo de nuevo en 24 horas."),
        # A year (a hostile or broken server): not "525600 minutes", a day's limit and who
        # can say why.
        (
            "en",
            365 * 24 * 3600,
            "The server asks to wait more than a day. Try again later, or ask your "
            "network's administrator why.",
        ),
        (
            "fr",
            10**12,
            "Le serveur demande de patienter plus d’un jour. Réessayez plus tard, ou demandez "
            "pourquoi à l’administrateur de votre réseau.",
        ),
    ],
)
def test_a_servers_wait_is_told_in_units_a_person_can_use(
    language: str, seconds: float, expected: str
) -> None:
    set_language(language)
    try:
        refused = ServerRefused(429, ErrorCode.RATE_LIMITED, retry_after=seconds)
        assert sync_error_message(refused) == expected
    finally:
        set_language("en")
