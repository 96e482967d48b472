"""The fork card: the space's safety number, "keep" only once the admin's digits are typed."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.ui.sync.trust import ForkCard
from sync.crypto.keys import DeviceKeys


def test_keeping_a_forked_network_needs_the_admins_safety_number_typed(qtbot: QtBot) -> None:
    safety = str(DeviceKeys.generate().public.fingerprint)
    card = ForkCard("space-1", "Red del Sur", safety)
    qtbot.addWidget(card)
    assert "Red del Sur" in card.warning.text()
    assert card.safety.text().split() == safety.split()
    kept: list[str] = []
    card.kept.connect(kept.append)
    assert not card.keep_button.isEnabled()
    card.typed.setText(safety[:-1])
    assert not card.keep_button.isEnabled()
    card.typed.setText(safety)
    assert card.keep_button.isEnabled()
    qtbot.mouseClick(card.keep_button, Qt.MouseButton.LeftButton)
    assert kept == ["space-1"]
