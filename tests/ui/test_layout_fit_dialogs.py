"""Nothing clipped in the screens and dialogs ``test_layout_fit`` does not open, four languages.

The first-start screen (create a profile, with its strength hint), Help's guide and About,
Backups and recovery (and the recovery-sharing dialogs it opens), the quick-delete question, a
new defender from the alert form, the CSV import report of a file with an unclosed quote, and a
membership. Then the check is shown to see a real widget of a real dialog made too narrow.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)
from pytestqt.qtbot import QtBot

from desktop.domain.translation import set_language
from desktop.store.profile import KdfParameters
from desktop.ui.main_window import MainWindow
from tests.helpers.fit import clipped_texts

from .conftest import demo_profile, show_window, unlock_through_screen
from .test_layout_fit import (
    DEFAULT_SIZE,
    LANGUAGES,
    SCREENSHOTS,
    WAIT,
    _first_row,
    _look,
    close_dialog,
    new_dialogs,
)

#: A CSV whose third line opens a quotation mark and never closes it: nothing is imported, the
#: report names the line and says why (the longest reason the report shows).
UNCLOSED_QUOTE_CSV = 'name,country\nGood organization,PE\n"Unclosed quote,PS\nOther,CO\n'


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_profile(tmp_path_factory, "fit-dialogs", incidents=10)


def _open(qtbot: QtBot, opener: Callable[[], object]) -> QDialog:
    return new_dialogs(qtbot, opener)[-1]


def _check(qtbot: QtBot, where: str, opener: Callable[[], object], problems: list[str]) -> None:
    dialog = _open(qtbot, opener)
    problems += _look(where, dialog)
    close_dialog(dialog, qtbot)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_other_screens_and_dialogs_fit(
    app: QApplication, qtbot: QtBot, demo_folder: Path, tmp_path: Path, language: str
) -> None:
    set_language(language)
    import tests.ui.test_layout_fit as layout

    layout._LANGUAGE[0] = language
    problems: list[str] = []

    # The first start: no profile yet. A weak passphrase typed, shown, with its strength hint.
    first = show_window(qtbot, tmp_path / "fresh")
    assert (first.width(), first.height()) == DEFAULT_SIZE
    assert first.gate is not None and first.gate.create_screen is not None
    create = first.gate.create_screen
    qtbot.wait(300)
    problems += _look("create profile", first)
    create.passphrase.setText("rivers")
    create.repeat.setText("rivers")
    create.show_passphrases.setChecked(True)
    qtbot.wait(300)
    problems += _look("create profile typed", first)
    first.close()

    window = show_window(qtbot, demo_folder)
    unlock_through_screen(qtbot, window)
    set_language(language)
    window.resize(*DEFAULT_SIZE)
    qtbot.wait(300)

    _check(qtbot, "guide", window.open_guide, problems)
    _check(qtbot, "about", window.open_about, problems)
    backups = _open(qtbot, window.open_backups)
    problems += _look("backups", backups)
    for where, signal in (
        ("share recovery", backups.share_requested),  # type: ignore[attr-defined]
        ("shares held for others", backups.held_requested),  # type: ignore[attr-defined]
    ):
        _check(qtbot, where, signal.emit, problems)
    backups.reject()
    qtbot.wait(150)
    _check(qtbot, "quick delete", window.ask_quick_delete, problems)

    workspace = window.workspace
    assert workspace is not None
    workspace.show_section("alerts")
    alerts = workspace.page("alerts")
    _first_row(qtbot, alerts)
    alerts.new_alert()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: alerts.form is not None, timeout=WAIT)  # type: ignore[attr-defined]
    form = alerts.form  # type: ignore[attr-defined]
    _check(qtbot, "new defender", form.new_defender_wanted.emit, problems)

    workspace.show_section("directory")
    directory = workspace.page("directory")
    organizations = directory.show_list("organization")  # type: ignore[attr-defined]
    _first_row(qtbot, organizations)
    qtbot.waitUntil(lambda: organizations.detail.detail is not None, timeout=WAIT)
    bad = tmp_path / "organizations.csv"
    bad.write_text(UNCLOSED_QUOTE_CSV, encoding="utf-8")
    _check(qtbot, "csv import report", lambda: organizations.import_from(bad), problems)
    _check(
        qtbot,
        "membership",
        lambda: organizations.open_membership_dialog("working_group"),
        problems,
    )

    window.lock()
    qtbot.waitUntil(lambda: not window.is_unlocked, timeout=WAIT)
    assert problems == [], f"{len(problems)} clipped in {language}:\n" + "\n".join(problems)


def test_the_check_sees_a_real_dialogs_label_made_too_narrow(
    app: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    # Proof on a real dialog, not a planted label: About fits, until its version line is
    # squeezed to 30 px.
    window = MainWindow(tmp_path / "fresh", kdf=KdfParameters.fast_for_tests())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    about = window.open_about()
    qtbot.waitExposed(about)
    qtbot.wait(200)
    assert clipped_texts(about) == []
    version = about.version
    assert isinstance(version, QLabel) and version.text()
    version.setFixedWidth(30)
    qtbot.wait(200)
    assert [item.text for item in clipped_texts(about)] == [version.text()]
    if SCREENSHOTS:
        about.grab().save(str(Path(SCREENSHOTS) / "about-squeezed.png"))


def test_the_check_sees_a_wrapped_cell_cut_at_the_bottom(app: QApplication, qtbot: QtBot) -> None:
    # A table whose rows are tall for wrapped text (the CSV report) is measured up and down: a
    # reason that wraps into two lines fits a two-line row, one that needs five does not.
    table = QTableWidget(2, 1)
    qtbot.addWidget(table)
    table.setWordWrap(True)
    table.horizontalHeader().setStretchLastSection(True)
    table.resize(300, 200)
    short = "A quotation mark opens a cell on this line and is never closed."
    long = " ".join([short] * 3)
    table.setItem(0, 0, QTableWidgetItem(short))
    table.setItem(1, 0, QTableWidgetItem(long))
    table.show()
    qtbot.waitExposed(table)
    lines = table.fontMetrics().lineSpacing()
    table.setRowHeight(0, 2 * lines + 8)
    table.setRowHeight(1, 2 * lines + 8)
    qtbot.wait(50)
    assert [item.text for item in clipped_texts(table)] == [long]


def test_the_check_sees_an_empty_tables_header(app: QApplication, qtbot: QtBot) -> None:
    # An empty table's header is drawn, but its visibleRegion() may be empty: measured by what
    # its ancestors leave of it, its cut words are seen ("الإجراء" read "لإجرا" unreported).
    window = QWidget()
    qtbot.addWidget(window)
    table = QTableWidget(0, 2, window)
    table.setHorizontalHeaderLabels(["When", "A heading much too long"])
    table.horizontalHeader().resizeSection(1, 30)
    table.setGeometry(0, 0, 400, 200)
    window.resize(400, 200)
    window.show()
    qtbot.waitExposed(window)
    assert [item.text for item in clipped_texts(window)] == ["A heading much too long"]
