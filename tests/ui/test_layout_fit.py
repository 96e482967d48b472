"""Nothing clipped: every section and dialog, in the four languages, at the default window size.

A demo network (organizations, people, groups, incidents, alerts, materials) fills the profile;
each section is shown with its first record chosen and its detail open, then each dialog is
opened. Every label, button, header, combo box, placeholder and visible cell must fit, measured
from font metrics (``tests.helpers.fit``). The check is proven able to fail on a planted label.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QWidget
from pytestqt.qtbot import QtBot

from desktop.domain.translation import set_language
from desktop.store.profile import KdfParameters
from desktop.ui.lists import ID_ROLE, select_row
from desktop.ui.main_window import MainWindow
from tests.helpers.fit import Clipped, clipped_texts

from .conftest import demo_profile, show_window, unlock_through_screen

LANGUAGES = ("en", "es", "fr", "ar")
WAIT = 10_000
DEFAULT_SIZE = (1024, 680)
WIDE_SIZE = (1366, 768)


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_profile(tmp_path_factory, "fit", incidents=40)


def _settle(qtbot: QtBot, ms: int = 150) -> None:
    qtbot.wait(ms)


#: Set to a folder to keep a screenshot of each screen checked (what the person sees).
SCREENSHOTS = os.environ.get("MINGA_SCREENSHOTS")
_LANGUAGE = ["en"]


def _report(where: str, found: list[Clipped]) -> list[str]:
    return [f"{where}: {item}" for item in found]


def _look(where: str, widget: QWidget) -> list[str]:
    """What is clipped in ``widget``; its screenshot kept when asked for."""
    if SCREENSHOTS:
        name = re.sub(r"[^a-z0-9]+", "-", where.lower()).strip("-")
        widget.grab().save(str(Path(SCREENSHOTS) / f"{name}-{_LANGUAGE[0]}.png"))
    return _report(where, clipped_texts(widget))


def new_dialogs(qtbot: QtBot, opener: Callable[[], object]) -> list[QDialog]:
    """The dialogs shown by ``opener`` (none shown before it), once they have settled."""
    before = {w for w in QApplication.topLevelWidgets() if w.isVisible()}
    opener()
    found: list[QDialog] = []

    def shown() -> bool:
        found[:] = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, QDialog) and w.isVisible() and w not in before
        ]
        return bool(found)

    qtbot.waitUntil(shown, timeout=WAIT)
    _settle(qtbot, 300)
    return found


def _check_dialog(
    qtbot: QtBot, where: str, opener: Callable[[], object], problems: list[str]
) -> QDialog:
    dialog = new_dialogs(qtbot, opener)[0]
    problems += _look(where, dialog)
    return dialog


def close_dialog(dialog: QDialog, qtbot: QtBot) -> None:
    dialog.reject()
    dialog.close()
    _settle(qtbot)


def _first_row(qtbot: QtBot, page: QWidget) -> str | None:
    view = page.table  # type: ignore[attr-defined]
    model = view.model()
    qtbot.waitUntil(lambda: model.total is not None and not model.busy, timeout=WAIT)
    if not model.rowCount():
        return None
    select_row(view, 0)
    value = model.index(0, 0).data(ID_ROLE)
    return str(value)


def open_first_alert(qtbot: QtBot, workspace: Any) -> tuple[Any, Any]:
    """The alerts section shown and its first alert opened: the page and the alert's detail,
    once its bundle is loaded."""
    workspace.show_section("alerts")
    alerts = workspace.page("alerts")
    alert_id = _first_row(qtbot, alerts)
    assert alert_id is not None
    with qtbot.waitSignal(alerts.alert_opened, timeout=WAIT) as opened:
        alerts.open_alert(alert_id)
    detail = opened.args[0]
    qtbot.waitUntil(lambda: detail.bundle is not None, timeout=WAIT)
    return alerts, detail


@pytest.mark.parametrize("language", LANGUAGES)
def test_nothing_is_clipped_at_the_default_size(
    app: QApplication, qtbot: QtBot, demo_folder: Path, language: str
) -> None:
    set_language(language)
    _LANGUAGE[0] = language
    window = show_window(qtbot, demo_folder)
    assert (window.width(), window.height()) == DEFAULT_SIZE
    problems: list[str] = []
    _settle(qtbot, 300)
    problems += _look("unlock screen", window)
    unlock_through_screen(qtbot, window)
    set_language(language)  # the demo profile's own language is English
    # The profile remembers the size the previous language's run left (1366×768): back to the
    # default, the size every screen is checked at first.
    window.resize(*DEFAULT_SIZE)
    workspace = window.workspace
    assert workspace is not None
    _settle(qtbot, 500)

    # Every section, its first record chosen and shown beside the list.
    workspace.show_section("directory")
    directory = workspace.page("directory")
    for record_type in ("organization", "person", "working_group"):
        directory_list = directory.show_list(record_type)  # type: ignore[attr-defined]
        _first_row(qtbot, directory_list)
        qtbot.waitUntil(lambda d=directory_list: d.detail.detail is not None, timeout=WAIT)
        _settle(qtbot, 300)
        problems += _look(f"directory/{record_type}", window)

    workspace.show_section("incidents")
    incidents = workspace.page("incidents")
    _first_row(qtbot, incidents)
    _settle(qtbot, 300)
    problems += _look("incidents", window)

    workspace.show_section("working_groups")
    groups = workspace.page("working_groups")
    group_id = _first_row(qtbot, groups)
    assert group_id is not None
    with qtbot.waitSignal(groups.group_opened, timeout=WAIT):  # type: ignore[attr-defined]
        groups.open_group(group_id)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: groups.group.bundle is not None, timeout=WAIT)  # type: ignore[attr-defined]
    _settle(qtbot, 300)
    problems += _look("working groups", window)
    groups.show_objectives()  # type: ignore[attr-defined]
    _settle(qtbot, 800)
    problems += _look("shared objectives", window)

    alerts, detail = open_first_alert(qtbot, workspace)
    _settle(qtbot, 300)
    problems += _look("alerts", window)
    letter = _check_dialog(qtbot, "letter dialog", detail.add_letter, problems)
    close_dialog(letter, qtbot)
    alerts.new_alert()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: alerts.form is not None, timeout=WAIT)  # type: ignore[attr-defined]
    _settle(qtbot, 300)
    problems += _look("new alert", window)

    workspace.show_section("sync")
    _settle(qtbot, 500)
    problems += _look("sync", window)

    # The other common size: every section again at 1366×768 (records still open).
    window.resize(*WIDE_SIZE)
    for key in ("directory", "incidents", "working_groups", "alerts", "sync"):
        workspace.show_section(key)
        _settle(qtbot, 300)
        problems += _look(f"{key} at 1366x768", window)
    window.resize(*DEFAULT_SIZE)
    _settle(qtbot, 200)

    # The dialogs.
    for where, opener in (
        ("settings", window.open_settings),
        ("change passphrase", window.open_change_passphrase),
    ):
        close_dialog(_check_dialog(qtbot, where, opener, problems), qtbot)
    workspace.show_section("directory")
    for record_type in ("organization", "person", "working_group"):
        directory_list = directory.show_list(record_type)  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda d=directory_list: d.space_id is not None, timeout=WAIT)
        form = _check_dialog(
            qtbot, f"new {record_type}", lambda d=directory_list: d.open_form(None), problems
        )
        close_dialog(form, qtbot)
    workspace.show_section("incidents")
    editor = _check_dialog(qtbot, "incident editor", incidents.new_incident, problems)  # type: ignore[attr-defined]
    tabs = editor.tabs  # type: ignore[attr-defined]
    for index in range(1, tabs.count()):
        tabs.setCurrentIndex(index)
        _settle(qtbot, 200)
        # The tab's number in the name: an Arabic tab name has no letter a-z to name a file by.
        problems += _look(f"incident editor/{index} {tabs.tabText(index)}", editor)
    close_dialog(editor, qtbot)

    window.lock()
    qtbot.waitUntil(lambda: not window.is_unlocked, timeout=WAIT)
    assert problems == [], f"{len(problems)} clipped in {language}:\n" + "\n".join(problems)


def test_the_check_sees_a_clipped_label(app: QApplication, qtbot: QtBot) -> None:
    # A check that never finds anything would pass vacuously: plant a label too narrow.
    window = QWidget()
    qtbot.addWidget(window)
    label = QLabel("A sentence much too long for thirty pixels", window)
    label.setGeometry(0, 0, 30, 20)
    fitting = QLabel("Fits", window)
    fitting.setGeometry(0, 30, 200, 20)
    fitting.setAlignment(Qt.AlignmentFlag.AlignLeft)
    window.resize(300, 100)
    window.show()
    qtbot.waitExposed(window)
    found = clipped_texts(window)
    assert [item.text for item in found] == ["A sentence much too long for thirty pixels"]


def test_a_main_window_opens_at_the_default_size(
    app: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    window = MainWindow(tmp_path / "fresh", kdf=KdfParameters.fast_for_tests())
    qtbot.addWidget(window)
    assert (window.width(), window.height()) == DEFAULT_SIZE
