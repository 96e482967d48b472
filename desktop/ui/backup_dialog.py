"""Backups from the app: one now (with a progress bar, on a worker), automatic ones to a folder,
and the way to shared recovery. The backup itself is ``desktop.store.backup``'s."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.translation import _, format_number, ngettext
from desktop.store.backup import (
    SUFFIX,
    BackupSummary,
    backup_into_folder,
    backup_name,
    backups_in,
    write_backup,
)
from desktop.store.profile import Profile
from desktop.ui.bidi import left_to_right
from desktop.ui.forms import (
    JobProgress,
    MessageLabel,
    failure_message,
    grow_to_fit,
    heading,
    hold_window_size_hints,
    paragraph,
)
from desktop.ui.jobs import Job, JobState, run_job


def describe_backup(summary: BackupSummary) -> str:
    files = ngettext("{count} file", "{count} files", summary.attachments).format(
        count=format_number(summary.attachments)
    )
    return _("{size} MB: the database and {files}.").format(
        size=format_number(round(summary.size / 1_000_000, 1)), files=files
    )


def backup_due(
    folder: Path, every_hours: int, now: float | None = None, profile_id: str | None = None
) -> bool:
    """Whether ``folder`` is there and its newest automatic backup (of ``profile_id``: a
    colleague's on the same stick does not count) is older than allowed."""
    if not folder.is_dir():
        return False  # the USB stick is not plugged in: try again later
    found = backups_in(folder, profile_id)
    if not found:
        return True
    age = (now if now is not None else time.time()) - found[-1].stat().st_mtime
    return age >= every_hours * 3600


class BackupScheduler(QObject):
    """Writes an automatic backup when one is due, checked every few minutes while unlocked.

    Signals:
        written(str): the path of a backup just written.
        failed(str): why an automatic backup could not be written (translated).
    """

    written = Signal(str)
    failed = Signal(str)
    CHECK_MS = 5 * 60 * 1000

    def __init__(self, profile: Profile, settings: dict[str, Any], parent: QObject) -> None:
        super().__init__(parent)
        self._profile = profile
        self.settings = settings
        self._job: Job | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(self.CHECK_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()
        # A first look soon after unlocking, not at once: unlocking has enough to do.
        QTimer.singleShot(60_000, self.check)

    def stop(self) -> None:
        self.timer.stop()
        if self._job is not None:
            self._job.cancel()

    def check(self) -> bool:
        """Start a backup if one is due; True if one was started."""
        folder_text = str(self.settings.get("backup_folder") or "")
        if not folder_text or self._job is not None or self._profile.closed:
            return False
        folder = Path(folder_text).expanduser()
        every = int(self.settings.get("backup_every_hours") or 24)
        if not backup_due(folder, every, profile_id=self._profile.key_file.profile_id):
            return False
        keep = int(self.settings.get("backup_keep") or 5)
        profile = self._profile

        def back_up(_state: JobState) -> str:
            return str(backup_into_folder(profile, folder, keep))

        self._job = run_job(self, back_up, on_success=self._written, on_failure=self._failed)
        return True

    def _written(self, path: object) -> None:
        self._job = None
        self.written.emit(str(path))

    def _failed(self, error: BaseException) -> None:
        self._job = None
        self.failed.emit(failure_message(error))


class BackupDialog(QDialog):
    """Back up now to a file the person picks; choose the folder for automatic backups.

    Signals:
        settings_changed(dict): the automatic-backup settings just saved.
        share_requested(): the person asked to share their recovery with trusted people.
        held_requested(): the person asked to see the shares they hold for others.
    """

    settings_changed = Signal(dict)
    share_requested = Signal()
    held_requested = Signal()

    def __init__(
        self, profile: Profile, settings: dict[str, Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("backupDialog")
        self.profile = profile
        self.destination: Path | None = None

        self.title = heading(self)
        self.intro = paragraph(self)

        self.now_box = QGroupBox(self)
        self.destination_label = paragraph(self.now_box)
        self.choose_button = QPushButton(self.now_box)
        self.choose_button.clicked.connect(self.choose_destination)
        self.back_up_button = QPushButton(self.now_box)
        self.back_up_button.setDefault(True)
        self.back_up_button.setEnabled(False)
        self.back_up_button.clicked.connect(self.back_up)
        self.progress = JobProgress(self.now_box)
        self.result_label = paragraph(self.now_box)
        self.result_label.hide()
        self.message = MessageLabel(self.now_box)
        now_buttons = QHBoxLayout()
        now_buttons.addWidget(self.choose_button)
        now_buttons.addStretch(1)
        now_buttons.addWidget(self.back_up_button)
        now_layout = QVBoxLayout(self.now_box)
        now_layout.addWidget(self.destination_label)
        now_layout.addLayout(now_buttons)
        now_layout.addWidget(self.progress)
        now_layout.addWidget(self.result_label)
        now_layout.addWidget(self.message)

        self.auto_box = QGroupBox(self)
        self.auto_intro = paragraph(self.auto_box)
        self.folder = QLineEdit(self.auto_box)
        self.folder.setText(str(settings.get("backup_folder") or ""))
        self.folder.setReadOnly(True)
        self.folder_button = QPushButton(self.auto_box)
        self.folder_button.clicked.connect(self.choose_folder)
        self.folder_clear = QPushButton(self.auto_box)
        self.folder_clear.clicked.connect(lambda: self._set_folder(""))
        self.every = QSpinBox(self.auto_box)
        self.every.setRange(1, 720)
        self.every.setValue(int(settings.get("backup_every_hours") or 24))
        self.keep = QSpinBox(self.auto_box)
        self.keep.setRange(1, 50)
        self.keep.setValue(int(settings.get("backup_keep") or 5))
        self.every.valueChanged.connect(self._save_schedule)
        self.keep.valueChanged.connect(self._save_schedule)
        self.folder_label = QLabel(self.auto_box)
        self.folder_label.setBuddy(self.folder_button)
        self.every_label = QLabel(self.auto_box)
        self.every_label.setBuddy(self.every)
        self.keep_label = QLabel(self.auto_box)
        self.keep_label.setBuddy(self.keep)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.folder_button)
        folder_row.addWidget(self.folder_clear)
        auto_form = QFormLayout()
        auto_form.addRow(self.folder_label, folder_row)
        auto_form.addRow(self.every_label, self.every)
        auto_form.addRow(self.keep_label, self.keep)
        self.auto_status = paragraph(self.auto_box)
        auto_layout = QVBoxLayout(self.auto_box)
        auto_layout.addWidget(self.auto_intro)
        auto_layout.addLayout(auto_form)
        auto_layout.addWidget(self.auto_status)

        self.share_box = QGroupBox(self)
        self.share_intro = paragraph(self.share_box)
        self.share_button = QPushButton(self.share_box)
        self.share_button.clicked.connect(self.share_requested)
        self.held_button = QPushButton(self.share_box)
        self.held_button.clicked.connect(self.held_requested)
        share_buttons = QHBoxLayout()
        share_buttons.addWidget(self.share_button)
        share_buttons.addWidget(self.held_button)
        share_buttons.addStretch(1)
        share_layout = QVBoxLayout(self.share_box)
        share_layout.addWidget(self.share_intro)
        share_layout.addLayout(share_buttons)

        self.close_button = QPushButton(self)
        self.close_button.clicked.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.intro)
        layout.addWidget(self.now_box)
        layout.addWidget(self.auto_box)
        layout.addWidget(self.share_box)
        layout.addStretch(1)
        layout.addLayout(bottom)
        self.retranslate()
        hold_window_size_hints(self, 720)

    # -- back up now --------------------------------------------------------------------------

    def choose_destination(self) -> None:
        suggested = Path.home() / backup_name(datetime.now(UTC))
        chosen, _filter = QFileDialog.getSaveFileName(
            self,
            _("Save the backup as"),
            str(suggested),
            _("Minga backups (*{suffix})").format(suffix=SUFFIX),
        )
        if chosen:
            path = Path(chosen)
            if path.suffix != SUFFIX:
                path = path.with_name(path.name + SUFFIX)
            self.set_destination(path)

    def set_destination(self, path: Path) -> None:
        self.destination = path
        self.back_up_button.setEnabled(True)
        self.retranslate()

    def back_up(self) -> None:
        if self.destination is None or self.working:
            return
        destination, profile = self.destination, self.profile
        self.message.clear_message()
        self.result_label.hide()

        def run(state: JobState) -> BackupSummary:
            return write_backup(profile, destination, lambda done, total: state.report(done, total))

        self.progress.run(
            run, on_success=self._backed_up, on_failure=self._failed, stays_when_done=True
        )
        grow_to_fit(self)
        self.back_up_button.setEnabled(False)
        self.choose_button.setEnabled(False)

    def _backed_up(self, summary: BackupSummary) -> None:
        self.choose_button.setEnabled(True)
        self.result_label.setText(
            _("Backup written to {path}. {details} Keep it away from this computer.").format(
                path=left_to_right(str(self.destination)), details=describe_backup(summary)
            )
        )
        self.result_label.show()
        grow_to_fit(self)

    def _failed(self, error: BaseException) -> None:
        self.choose_button.setEnabled(True)
        self.back_up_button.setEnabled(self.destination is not None)
        if isinstance(error, OSError):
            # A full or unplugged USB stick, a folder without write permission.
            self.message.say(
                _(
                    "The backup could not be written to {path}: {reason}. Nothing was left there."
                ).format(path=left_to_right(str(self.destination)), reason=error.strerror or error)
            )
            return
        self.message.say(failure_message(error))

    @property
    def working(self) -> bool:
        return self.progress.running

    # -- automatic backups ----------------------------------------------------------------------

    def choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(
            self, _("Folder for automatic backups"), self.folder.text() or str(Path.home())
        )
        if chosen:
            self._set_folder(chosen)

    def _set_folder(self, folder: str) -> None:
        self.folder.setText(folder)
        self._save_schedule()

    def _save_schedule(self) -> None:
        changes = {
            "backup_folder": self.folder.text(),
            "backup_every_hours": self.every.value(),
            "backup_keep": self.keep.value(),
        }
        profile = self.profile

        def save(_state: JobState) -> dict[str, Any]:
            for key, value in changes.items():
                profile.settings.set(key, value)
            return changes

        run_job(self, save, writes=True, on_success=self.settings_changed.emit)
        self._show_auto_status()

    def _show_auto_status(self) -> None:
        text = self.folder.text()
        if not text:
            self.auto_status.setText(_("Automatic backups are off."))
            return
        folder = Path(text)
        if not folder.is_dir():
            self.auto_status.setText(
                _(
                    "The folder is not there now (is the USB stick plugged in?). Minga will "
                    "back up when it is."
                )
            )
            return
        found = backups_in(folder, self.profile.key_file.profile_id)
        if not found:
            self.auto_status.setText(_("No automatic backup there yet; the first comes soon."))
            return
        newest = datetime.fromtimestamp(found[-1].stat().st_mtime)
        self.auto_status.setText(
            ngettext(
                "{count} backup there; the newest from {moment}.",
                "{count} backups there; the newest from {moment}.",
                len(found),
            ).format(count=format_number(len(found)), moment=newest.strftime("%Y-%m-%d %H:%M"))
        )

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def retranslate(self) -> None:
        self.setWindowTitle(_("Backups and recovery"))
        self.title.setText(_("Backups and recovery"))
        self.intro.setText(
            _(
                "A backup is one encrypted file holding everything in this profile, including "
                "what has not reached the server yet. It opens with your passphrase or your "
                "recovery key as they are today. You can keep working while it is written."
            )
        )
        self.now_box.setTitle(_("Back up now"))
        self.destination_label.setText(
            _("Save to: {path}").format(path=left_to_right(str(self.destination)))
            if self.destination is not None
            else _("Choose where to save the backup, for instance on a USB stick.")
        )
        self.choose_button.setText(_("&Choose file…"))
        self.back_up_button.setText(_("&Back up"))
        self.auto_box.setTitle(_("Automatic backups"))
        self.auto_intro.setText(
            _(
                "Minga can also back up on its own, while unlocked, to a folder you pick; when "
                "it is a USB stick, whenever the stick is plugged in."
            )
        )
        self.folder_label.setText(_("&Folder:"))
        self.folder_button.setText(_("Choose &folder…"))
        self.folder_clear.setText(_("&Off"))
        self.every_label.setText(_("Back up &every (hours):"))
        self.keep_label.setText(_("&Keep the newest:"))
        self._show_auto_status()
        self.share_box.setTitle(_("Recovery shared among trusted people"))
        self.share_intro.setText(
            _(
                "If you forget your passphrase and lose your recovery key, a few people you "
                "trust can help you back in together: each holds one share, and no single "
                "share reveals anything."
            )
        )
        self.share_button.setText(_("&Share my recovery…"))
        self.held_button.setText(_("Shares I &hold for others…"))
        self.close_button.setText(_("Close"))
