"""Fixtures for the Incidents screens: a real profile (fast KDF) and the page shown on it.

Files for evidence are made here: a PNG through QImage, a PDF written by hand with plain text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from desktop.store.profile import Profile
from desktop.ui.incidents.editor import IncidentEditor
from desktop.ui.incidents.page import IncidentsPage
from desktop.ui.incidents.parts import Confirmation
from tests.helpers import pdf
from tests.helpers.profiles import new_profile


@pytest.fixture
def profile(app: QApplication, tmp_path: Path) -> Iterator[Profile]:
    profile, _key = new_profile(tmp_path / "profile")
    yield profile
    profile.close()


@pytest.fixture
def page(profile: Profile, qtbot: QtBot) -> IncidentsPage:
    page = IncidentsPage(profile)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.model.total is not None)
    return page


def open_new_editor(page: IncidentsPage, qtbot: QtBot) -> IncidentEditor:
    with qtbot.waitSignal(page.editor_opened, timeout=5_000) as opened:
        page.new_action.trigger()
    editor = opened.args[0]
    assert isinstance(editor, IncidentEditor)
    qtbot.waitExposed(editor)
    return editor


def open_editor(page: IncidentsPage, qtbot: QtBot, incident_id: str) -> IncidentEditor:
    with qtbot.waitSignal(page.editor_opened, timeout=5_000) as opened:
        page.open_incident(incident_id)
    editor = opened.args[0]
    qtbot.waitExposed(editor)
    return editor


def answer(qtbot: QtBot, parent: QWidget, *, confirm: bool) -> None:
    """Answer the confirmation ``parent`` just opened: go ahead, or keep editing."""
    boxes: list[Confirmation] = []

    def shown() -> bool:
        boxes[:] = [b for b in parent.findChildren(Confirmation) if b.isVisible()]
        return bool(boxes)

    qtbot.waitUntil(shown)
    button = boxes[0].action_button if confirm else boxes[0].keep_button
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def make_png(path: Path) -> Path:
    image = QImage(64, 48, QImage.Format.Format_RGB32)
    image.fill(QColor("#2f5d50"))
    assert image.save(str(path), "PNG")
    return path


def make_pdf(path: Path, text: str) -> Path:
    """A one-page PDF whose text stream holds ``text`` uncompressed, so its bytes show it."""
    return pdf.make_pdf(path, [text])
