"""The message line several jobs share: each takes back only what it said itself."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.ui.forms import MessageLabel


def test_a_job_takes_back_only_its_own_message(app: QApplication, qtbot: QtBot) -> None:
    line = MessageLabel()
    qtbot.addWidget(line)
    line.show()

    line.say("The list could not be read.", source="list")
    line.withdraw("list")
    assert line.text() == "" and not line.isVisible()

    line.say("The list could not be read.", source="list")
    line.say("The profile is damaged.")  # another job, after: the list's news is gone anyway
    line.withdraw("list")
    assert line.text() == "The profile is damaged." and line.isVisible()

    line.say("Downloading…", "hint", source="download")
    line.withdraw("list")
    assert line.text() == "Downloading…"
    line.withdraw("download")
    assert line.text() == "" and line.source is None
