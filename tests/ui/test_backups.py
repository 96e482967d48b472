"""Backups, restore and shared recovery on screen, as a person uses them.

Back up from the window with a progress bar while the app stays usable; restore from the
first-start screen (a damaged backup refused by name, nothing written); unlock with shares.
Set ``MINGA_SCREENSHOTS=DIR`` to keep screenshots of each screen in English and Arabic.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from desktop.domain.translation import set_language
from desktop.store.backup import verify_backup, write_backup
from desktop.store.profile import KdfParameters, create_profile, unlock
from desktop.store.shared_recovery import issue_shares
from desktop.ui.backup_dialog import BackupDialog
from desktop.ui.main_window import MainWindow
from desktop.ui.shared_recovery import HeldSharesDialog, ShareRecoveryDialog
from tests.ui.conftest import PASSPHRASE, show_window


def shoot(widget: QWidget, name: str) -> None:
    folder = os.environ.get("MINGA_SCREENSHOTS")
    if folder:
        QApplication.processEvents()
        widget.grab().save(str(Path(folder) / f"{name}.png"))


def _open_backup_dialog(window: MainWindow) -> BackupDialog:
    shown = [d for d in window.findChildren(BackupDialog) if d.isVisible()]
    assert len(shown) == 1
    return shown[0]


def _backup_of(folder: Path, tmp_path: Path) -> Path:
    profile, _ = create_profile(folder, PASSPHRASE, kdf=KdfParameters.fast_for_tests())
    backup = tmp_path / "from-old-laptop.mingabackup"
    write_backup(profile, backup)
    profile.close()
    return backup


def test_back_up_from_the_window_with_a_progress_bar(
    unlocked: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    for language in ("en", "ar"):
        set_language(language)
        unlocked.backup_action.trigger()
        dialog = _open_backup_dialog(unlocked)
        assert dialog.layoutDirection() == (
            Qt.LayoutDirection.RightToLeft if language == "ar" else Qt.LayoutDirection.LeftToRight
        )
        destination = tmp_path / f"backup-{language}.mingabackup"
        dialog.set_destination(destination)
        qtbot.mouseClick(dialog.back_up_button, Qt.MouseButton.LeftButton)
        assert dialog.progress.isVisible()
        qtbot.waitUntil(lambda d=dialog: not d.working, timeout=30_000)
        assert dialog.progress.value() == 1000 and dialog.result_label.isVisible()
        assert str(destination) in dialog.result_label.text()
        shoot(dialog, f"i17-backup-{language}")
        assert verify_backup(destination, PASSPHRASE).profile_id
        dialog.close()
        dialog.deleteLater()
        QApplication.processEvents()
    set_language("en")


def test_automatic_backups_folder_is_saved_and_used(
    unlocked: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    unlocked.backup_action.trigger()
    dialog = _open_backup_dialog(unlocked)
    dialog._set_folder(str(stick))
    qtbot.waitUntil(lambda: unlocked.session.settings.get("backup_folder") == str(stick))
    assert unlocked.backups is not None and unlocked.backups.check()
    qtbot.waitUntil(lambda: len(list(stick.glob("minga-*.mingabackup"))) == 1, timeout=30_000)
    qtbot.waitUntil(lambda: unlocked.backups is not None and unlocked.backups._job is None)
    assert not unlocked.backups.check()  # not due again for a day
    verify_backup(next(stick.glob("*.mingabackup")), PASSPHRASE)


def test_restore_from_the_first_start_screen(
    app: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    backup = _backup_of(tmp_path / "old", tmp_path)
    folder = tmp_path / "new-computer" / "profile"
    window = show_window(qtbot, folder)
    gate = window.gate
    assert gate is not None and gate.create_screen is not None
    for language in ("ar", "en"):
        set_language(language)
        shoot(window, f"i17-first-start-{language}")
    qtbot.mouseClick(gate.create_screen.restore_button, Qt.MouseButton.LeftButton)
    screen = gate.restore_screen
    assert screen is not None and gate.cards.currentWidget() is screen

    # A damaged copy first: refused by its name, nothing written.
    damaged = tmp_path / "damaged.mingabackup"
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    screen.set_backup(damaged)
    screen.passphrase.setText(PASSPHRASE)
    qtbot.mouseClick(screen.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not screen.working and screen.message.isVisible(), timeout=20_000)
    assert "damaged.mingabackup" in screen.message.text()
    assert not folder.exists()

    for language in ("ar", "en"):
        set_language(language)
        screen.set_backup(backup)
        shoot(window, f"i17-restore-{language}")
    screen.passphrase.setText(PASSPHRASE)
    qtbot.mouseClick(screen.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.pages.currentWidget() is screen.done, timeout=20_000)
    for language in ("ar", "en"):
        set_language(language)
        shoot(window, f"i17-restored-{language}")
    qtbot.mouseClick(screen.continue_button, Qt.MouseButton.LeftButton)
    assert gate.unlock_screen is not None and gate.cards.currentWidget() is gate.unlock_screen
    gate.unlock_screen.passphrase.setText(PASSPHRASE)
    qtbot.mouseClick(gate.unlock_screen.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=10_000)


def test_unlock_with_shares_from_the_unlock_screen(
    app: QApplication, qtbot: QtBot, folder: Path
) -> None:
    profile, _ = create_profile(folder, PASSPHRASE, kdf=KdfParameters.fast_for_tests())
    issued = issue_shares(profile, 2, 3)
    profile.close()
    window = show_window(qtbot, folder)
    assert window.gate is not None and window.gate.unlock_screen is not None
    screen = window.gate.unlock_screen
    screen.show_recovery()
    qtbot.mouseClick(screen.shares_button, Qt.MouseButton.LeftButton)
    page = screen.shares_page
    assert screen.pages.currentWidget() is page
    page.shares.setPlainText(issued.mnemonics[0])
    page.new_passphrase.setText("a passphrase after the fire")
    page.repeat.setText("a passphrase after the fire")
    qtbot.mouseClick(page.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.message.isVisible(), timeout=10_000)
    assert "needs 2" in page.message.text() and not window.is_unlocked
    for language in ("ar", "en"):
        set_language(language)
        page.shares.setPlainText("\n\n".join(issued.mnemonics[1:]))
        shoot(window, f"i17-unlock-shares-{language}")
    page.new_passphrase.setText("a passphrase after the fire")
    page.repeat.setText("a passphrase after the fire")
    qtbot.mouseClick(page.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=10_000)
    window.lock()
    unlock(folder, "a passphrase after the fire").close()


def test_share_dialog_prints_the_shares_not_sealed(
    unlocked: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    profile = unlocked.session.profile
    assert profile is not None
    for language in ("ar", "en"):
        set_language(language)
        dialog = ShareRecoveryDialog(profile, unlocked)
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.count.setValue(5)
        dialog.threshold.setValue(3)
        shoot(dialog, f"i17-share-{language}")
        qtbot.mouseClick(dialog.make_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda d=dialog: d.pages.currentWidget() is d.words_page, timeout=10_000)
        assert dialog.issued is not None and len(dialog.issued.mnemonics) == 5
        assert dialog.issued.mnemonics[0].split()[0] in dialog.words.text()
        shoot(dialog, f"i17-share-words-{language}")
        assert "<h1>" in dialog.share_sheet().toHtml() or dialog.share_sheet().pageCount() >= 1
        dialog.accept()
    held = HeldSharesDialog(profile, unlocked)
    qtbot.addWidget(held)
    assert not held.show_button.isEnabled()  # nobody gave this profile a share


def test_a_restored_enrolled_profile_opens_on_the_sync_page_to_enroll_anew(
    app: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    from desktop.store.sync_state import ProfileSyncState
    from sync.crypto.keys import DeviceKeys

    old = create_profile(tmp_path / "old", PASSPHRASE, kdf=KdfParameters.fast_for_tests())[0]
    keys = DeviceKeys.generate()
    ProfileSyncState(old.engine).save_enrollment("https://minga.example.org", keys)
    backup = tmp_path / "enrolled.mingabackup"
    write_backup(old, backup)
    old.close()
    window = show_window(qtbot, tmp_path / "new" / "profile")
    assert window.gate is not None
    window.gate.show_restore()
    screen = window.gate.restore_screen
    assert screen is not None
    screen.set_backup(backup)
    screen.passphrase.setText(PASSPHRASE)
    qtbot.mouseClick(screen.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.pages.currentWidget() is screen.done, timeout=20_000)
    assert str(keys.public.fingerprint) in screen.next_text.text()
    qtbot.mouseClick(screen.continue_button, Qt.MouseButton.LeftButton)
    assert window.gate.unlock_screen is not None
    window.gate.unlock_screen.passphrase.setText(PASSPHRASE)
    qtbot.mouseClick(window.gate.unlock_screen.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.is_unlocked, timeout=10_000)
    qtbot.waitUntil(
        lambda: window.workspace is not None and window.workspace.current_section.key == "sync",
        timeout=10_000,
    )
    assert str(keys.public.fingerprint) in window.status.currentMessage()
    profile = window.session.profile
    assert profile is not None and ProfileSyncState(profile.engine).device_keys() is None


def test_a_destination_that_cannot_be_written_is_said_and_leaves_nothing(
    unlocked: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    unlocked.backup_action.trigger()
    dialog = _open_backup_dialog(unlocked)
    unplugged = tmp_path / "unplugged-stick" / "backup.mingabackup"
    dialog.set_destination(unplugged)
    qtbot.mouseClick(dialog.back_up_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.working, timeout=30_000)
    assert dialog.message.isVisible() and "could not be written" in dialog.message.text()
    assert not unplugged.parent.exists()
    profile = unlocked.session.profile
    assert profile is not None and not list(profile.folder.glob(".backup-*"))
