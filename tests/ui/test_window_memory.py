"""The window remembers where the person was: the section, after a lock and after a restart, and
its size (kept inside the encrypted profile, restored at unlock)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.ui.main_window import MainWindow

from .conftest import show_window, unlock_through_screen


def test_unlock_returns_to_the_section_and_size_of_before(
    app: QApplication, qtbot: QtBot, folder: Path, recovery_key: str, unlocked: MainWindow
) -> None:
    window = unlocked
    assert window.workspace is not None
    window.workspace.show_section("alerts")
    window.resize(760, 560)
    qtbot.waitUntil(
        lambda: (
            window.session.profile is not None
            and window.session.profile.settings.get("window_size") == "760x560"
        ),
        timeout=5_000,
    )
    window.lock()
    qtbot.waitUntil(lambda: not window.is_unlocked, timeout=5_000)
    unlock_through_screen(qtbot, window)
    assert window.workspace is not None
    assert window.workspace.current_section.key == "alerts"  # not back to Directory

    # A new start: the window opens at the default size, then takes the remembered one.
    window.close()
    again = show_window(qtbot, folder)
    assert (again.width(), again.height()) == (1024, 680)
    unlock_through_screen(qtbot, again)
    assert again.workspace is not None
    assert again.workspace.current_section.key == "alerts"
    assert (again.width(), again.height()) == (760, 560)
