"""The Sync page's "Without internet" box: export and import courier bundles, and exchange them
with a computer next to this one (local network, found by mDNS or a typed address).

All file and network work runs on workers through the profile's ``SyncLink`` (so it never
overlaps a sync), with a progress bar; what is done and what was refused is said in words.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.commands.bundle import (
    download_note,
    export_summary,
    import_summary,
    problem_message,
    uncarriable_note,
)
from desktop.domain.translation import _
from desktop.lan import (
    BundleOffer,
    ExchangeFailed,
    Peer,
    browse,
    exchange_with,
    local_addresses,
    normalize_code,
    parse_address,
)
from desktop.ui.forms import JobProgress, LineStack, MessageLabel, WrappingCheckBox, grow_to_fit
from desktop.ui.jobs import Job, JobState, run_job
from desktop.ui.sync.link import SyncLink, sync_error_message
from sync.client.bundles import ExportReport, ImportReport, export_bundle, export_for, import_bundle
from sync.client.engine import NotEnrolled, SyncEngine

log = logging.getLogger(__name__)
BUNDLE_SUFFIX = ".mbundle"
#: Where an offer listens: every interface of this computer (tests use 127.0.0.1 only).
OFFER_HOST = "0.0.0.0"


def default_bundle_name() -> str:
    """No date, no name, nothing about the person: a random name (what a stick shows)."""
    return f"minga-{secrets.token_hex(3)}{BUNDLE_SUFFIX}"


def known_devices(link: SyncLink) -> list[str]:
    """Devices whose bundles this computer imported (so a bundle can be made for one)."""
    state = link.state
    with state._engine.connect() as connection:  # a read of bookkeeping only
        from sqlalchemy import select

        from desktop.store.schema import SyncBundlePeerRow, SyncCourierGrantRow

        peers = set(connection.scalars(select(SyncBundlePeerRow.device).distinct()))
        peers |= set(connection.scalars(select(SyncCourierGrantRow.device)))
    return sorted(peers)


def bundle_error_message(error: BaseException) -> str:
    if isinstance(error, NotEnrolled):
        return _("This computer is not part of a network yet: join one above first.")
    if isinstance(error, ExchangeFailed):
        return _(
            "The exchange with the other computer did not finish: {reason}. Nothing from it "
            "was applied; try again."
        ).format(reason=str(error))
    if isinstance(error, OSError):
        return _("The file could not be used: {reason}").format(reason=error.strerror or error)
    return sync_error_message(error)


class BundlePanel(QGroupBox):
    """Export, import and exchange bundles; ``changed`` is called after an import applied."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bundleBox")
        self.link: SyncLink | None = None
        self.changed: Callable[[], None] = lambda: None
        self._offer: BundleOffer | None = None
        self._workdir: Path | None = None
        self._last: tuple[str, Any] | None = None  # what the result line says, to retranslate

        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.for_label = QLabel(self)
        self.for_device = QComboBox(self)
        self.for_device.setObjectName("bundleForDevice")
        self.for_label.setBuddy(self.for_device)
        # Its words wrap: on one line they held the page wider than the window at 720x520.
        self.with_files = WrappingCheckBox(self)
        self.with_files.box.setObjectName("bundleWithFiles")
        form = QFormLayout()
        form.addRow(self.for_label, self.for_device)
        form.addRow("", self.with_files)
        self.export_button = QPushButton(self)
        self.export_button.setObjectName("bundleExport")
        self.export_button.clicked.connect(self.ask_export)
        self.import_button = QPushButton(self)
        self.import_button.setObjectName("bundleImport")
        self.import_button.clicked.connect(self.ask_import)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.import_button)

        self.nearby_intro = QLabel(self)
        self.nearby_intro.setWordWrap(True)
        self.offer_button = QPushButton(self)
        self.offer_button.setObjectName("bundleOffer")
        self.offer_button.clicked.connect(self.offer_nearby)
        self.find_button = QPushButton(self)
        self.find_button.setObjectName("bundleFind")
        self.find_button.clicked.connect(self.find_nearby)
        self.peers = QComboBox(self)
        self.peers.setObjectName("bundlePeers")
        self.address = QLineEdit(self)
        self.address.setObjectName("bundleAddress")
        self.address_label = QLabel(self)
        self.address_label.setBuddy(self.address)
        self.code = QLineEdit(self)
        self.code.setObjectName("bundleCode")
        self.code.setMaxLength(12)
        self.code.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        self.code_label = QLabel(self)
        self.code_label.setBuddy(self.code)
        self.exchange_button = QPushButton(self)
        self.exchange_button.setObjectName("bundleExchange")
        self.exchange_button.clicked.connect(self.exchange_nearby)
        nearby_buttons = QHBoxLayout()
        nearby_buttons.addStretch(1)
        nearby_buttons.addWidget(self.offer_button)
        nearby_buttons.addWidget(self.find_button)
        self.peers.hide()  # filled by Find nearby computers
        self.address.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        # The code on a row of its own: beside it, at the window's minimum size the address
        # had 126 px and cut its example ("for example 192.168.1.20:41234", 179 px).
        code_row = QHBoxLayout()
        code_row.addWidget(self.code)
        code_row.addWidget(self.exchange_button)
        code_row.addStretch(1)
        nearby_form = QFormLayout()
        nearby_form.addRow(self.address_label, self.address)
        nearby_form.addRow(self.code_label, code_row)
        exchange_row = QHBoxLayout()
        exchange_row.addWidget(self.peers, 1)

        self.progress = JobProgress(self)
        self.progress.setObjectName("bundleProgress")
        # A line for each fact (what was imported, what was left out), a Latin line apart even
        # in Arabic (LineStack).
        self.status = LineStack(self)
        self.status.setObjectName("bundleStatus")
        self.cancel_button = QPushButton(self)
        self.cancel_button.setObjectName("bundleCancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self.error = MessageLabel(self)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.nearby_intro)
        layout.addLayout(nearby_buttons)
        layout.addLayout(nearby_form)
        layout.addLayout(exchange_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.cancel_button)
        layout.addWidget(self.error)
        self.retranslate()

    # --- wiring -----------------------------------------------------------------------------

    def attach(self, link: SyncLink, changed: Callable[[], None]) -> None:
        self.link = link
        self.changed = changed
        self.refresh_devices()

    def tear_down(self) -> None:
        self.cancel()

    def refresh_devices(self) -> None:
        if self.link is None:
            return
        link = self.link
        run_job(self, lambda _state: known_devices(link), on_success=self._show_devices)

    def _show_devices(self, devices: Any) -> None:
        chosen = self.for_device.currentData()
        self.for_device.clear()
        self.for_device.addItem(_("Any computer (everything this one holds)"), None)
        for device in devices:
            self.for_device.addItem(_("Computer {device}").format(device=device[:8]), device)
        index = self.for_device.findData(chosen)
        self.for_device.setCurrentIndex(max(index, 0))

    # --- export and import ------------------------------------------------------------------

    def ask_export(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(
            self, _("Export a bundle"), default_bundle_name(), _("Minga bundles (*.mbundle)")
        )
        if path:
            self.export_to(Path(path))

    def ask_import(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, _("Import a bundle"), "", _("Minga bundles (*.mbundle);;All files (*)")
        )
        if path:
            self.import_from(Path(path))

    def export_to(self, path: Path) -> Job | None:
        device = self.for_device.currentData()
        files = self.with_files.isChecked()

        def export(state: JobState) -> tuple[ExportReport, str | None]:
            def progress(done: int, total: int) -> None:
                state.report(done, total, "")

            def call(engine: SyncEngine) -> tuple[ExportReport, str | None]:
                if device:
                    return export_for(engine, path, device, files=files, progress=progress)
                return export_bundle(engine, path, files=files, progress=progress), None

            assert self.link is not None
            return self.link.run(call)

        return self._start(_("Writing the bundle…"), export, self._exported)

    def import_from(self, path: Path) -> Job | None:
        def load(state: JobState) -> ImportReport:
            def progress(done: int, total: int) -> None:
                state.report(done, total, "")

            assert self.link is not None
            return self.link.run(lambda engine: import_bundle(engine, path, progress=progress))

        return self._start(_("Checking and merging the bundle…"), load, self._imported)

    def _exported(self, outcome: Any) -> None:
        report, reason = outcome
        self._finish(("exported", (report, reason)))

    def _imported(self, report: Any) -> None:
        self._finish(("imported", report))
        self.changed()
        self.refresh_devices()

    # --- nearby -------------------------------------------------------------------------------

    def offer_nearby(self) -> Job | None:
        """Wait for a computer next to this one to exchange bundles with."""
        workdir = self._fresh_workdir()
        ours, theirs = workdir / "ours.mbundle", workdir / "theirs.mbundle"
        addresses = local_addresses() if OFFER_HOST == "0.0.0.0" else [OFFER_HOST]

        def offer(state: JobState) -> tuple[ExportReport, ImportReport] | None:
            assert self.link is not None
            exported = self.link.run(lambda engine: export_bundle(engine, ours))
            self._offer = BundleOffer(ours, theirs, OFFER_HOST)
            try:
                if addresses:
                    try:
                        self._offer.advertise(addresses)
                    except Exception:  # zeroconf raises many kinds; the typed address still works
                        log.warning("could not announce the offer by mDNS", exc_info=True)
                port = self._offer.port
                where = ", ".join(f"{a}:{port}" for a in addresses) or f"…:{port}"
                shown = f"{where}\n{self._offer.code}"
                state.report(0, 0, shown)
                if not self._offer.serve_once(
                    lambda done, total: state.report(done, total, shown),
                    lambda: state.cancelled,
                ):
                    return None
            finally:
                self._offer.close()
            return exported, self.link.run(lambda engine: import_bundle(engine, theirs))

        return self._start(_("Preparing this computer's bundle…"), offer, self._exchanged)

    def find_nearby(self) -> Job | None:
        def find(_state: JobState) -> list[Peer]:
            return browse(3.0)

        return self._start(_("Looking for computers nearby…"), find, self._show_peers)

    def _show_peers(self, peers: Any) -> None:
        self._finish(None)
        self.peers.clear()
        for peer in peers:
            self.peers.addItem(f"{peer.name} ({peer.host}:{peer.port})", peer)
        self.peers.setVisible(bool(peers))
        self.status.setText(
            _("No computer nearby is offering a bundle. Type the address its screen shows.")
            if not peers
            else _("Choose the computer whose screen shows the same name, then Exchange.")
        )

    def exchange_nearby(self) -> Job | None:
        peer = parse_address(self.address.text()) if self.address.text().strip() else None
        if peer is None:
            peer = self.peers.currentData()
        if peer is None:
            self.error.say(_("Type the address the other computer shows, like 192.168.1.20:41234."))
            return None
        code = normalize_code(self.code.text())
        if code is None:
            self.error.say(_("Type the six-digit code the other computer shows."))
            return None
        workdir = self._fresh_workdir()
        ours, theirs = workdir / "ours.mbundle", workdir / "theirs.mbundle"

        def exchange(state: JobState) -> tuple[ExportReport, ImportReport]:
            assert self.link is not None
            exported = self.link.run(lambda engine: export_bundle(engine, ours))
            exchange_with(
                peer, code, ours, theirs, lambda done, total: state.report(done, total, "")
            )
            return exported, self.link.run(lambda engine: import_bundle(engine, theirs))

        return self._start(_("Exchanging bundles…"), exchange, self._exchanged)

    def _exchanged(self, outcome: Any) -> None:
        if outcome is None:
            self._finish(None)
            return
        # What this computer's bundle left out is said with what came in: the other computer
        # gets those records only from the server (a batch version without a sealed copy here).
        self._finish(("exchanged", outcome))
        self.changed()
        self.refresh_devices()

    # --- running ------------------------------------------------------------------------------

    def _start(
        self, message: str, function: Callable[[JobState], Any], done: Callable[[Any], None]
    ) -> Job | None:
        if self.link is None or self.progress.running:
            return None
        self.error.clear_message()
        self._set_busy(True)
        self.status.setText(message)
        return self.progress.run(
            function,
            on_success=done,
            on_failure=self._failed,
            on_note=self._offered,
            total_known=False,
        )

    def _offered(self, note: str) -> None:
        """An offer listens: the note is its address and code, for the other computer."""
        address, _newline, code = note.partition("\n")
        self.status.setText(
            _(
                "Waiting for the other computer. On it, choose Find nearby computers (or "
                "type this address: {address}) and type this code: {code}"
            ).format(address=address, code=code)
        )
        self.cancel_button.show()

    def _failed(self, error: BaseException) -> None:
        self._finish(None)
        self.error.say(bundle_error_message(error))

    def _finish(self, last: tuple[str, Any] | None) -> None:
        self._set_busy(False)
        self.cancel_button.hide()
        self._drop_workdir()
        self._last = last
        self._show_last()
        grow_to_fit(self.window())

    def cancel(self) -> None:
        self.progress.stop()
        if self._offer is not None:
            self._offer.close()
        self._finish(None)

    def _set_busy(self, busy: bool) -> None:
        for button in (
            self.export_button,
            self.import_button,
            self.offer_button,
            self.find_button,
            self.exchange_button,
        ):
            button.setEnabled(not busy)

    def _fresh_workdir(self) -> Path:
        self._drop_workdir()
        self._workdir = Path(tempfile.mkdtemp(prefix="minga-exchange-"))
        return self._workdir

    def _drop_workdir(self) -> None:
        if self._workdir is not None and not self.progress.running:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def _show_last(self) -> None:
        if self._last is None:
            self.status.setText("")
            return
        kind, value = self._last
        if kind == "exported":
            report, reason = value
            lines = [_("Bundle written: {summary}").format(summary=export_summary(report))]
            if uncarriable_note(report):
                lines.append(uncarriable_note(report))
            note = download_note(reason)
            if note:
                lines.append(note)
            self.status.setText("\n".join(lines))
            return
        left = ""
        if kind == "exchanged":
            exported, value = value
            left = uncarriable_note(exported)
        report = value
        if report.problem is not None:
            applied = report.records + report.merged + report.carried + report.own_returned
            # What verified before the damage was kept: say so only when there was some.
            lines = [import_summary(report)] if applied else []
            self.error.say(problem_message(report.problem, report.problem_item))
        else:
            lines = [
                _("Bundle imported from computer {device}: {summary}").format(
                    device=report.exporter[:8], summary=import_summary(report)
                )
            ]
        self.status.setText("\n".join([*lines, left] if left else lines))

    # --- language -----------------------------------------------------------------------------

    def retranslate(self) -> None:
        self.setTitle(_("Without internet: bundles"))
        self.intro.setText(
            _(
                "A bundle carries this computer's changes and the network's records to a "
                "computer without internet, on a USB stick or any file transfer, and back. "
                "Everything in it stays sealed: only members of the network can read it, and "
                "a damaged or altered bundle is refused."
            )
        )
        self.for_label.setText(_("&For:"))
        if self.for_device.count() == 0:
            self.for_device.addItem(_("Any computer (everything this one holds)"), None)
        else:
            self.for_device.setItemText(0, _("Any computer (everything this one holds)"))
        self.with_files.setText(
            _("Also the &files the records name (larger; this computer's new files always go)")
        )
        self.export_button.setText(_("&Export a bundle…"))
        self.import_button.setText(_("&Import a bundle…"))
        self.nearby_intro.setText(
            _(
                "Next to another computer, without internet: one offers, the other finds it "
                "on the local network (or types the address shown) and they exchange bundles."
            )
        )
        self.offer_button.setText(_("&Offer to a computer nearby"))
        self.find_button.setText(_("&Find nearby computers"))
        self.address_label.setText(_("&Address:"))
        self.address.setPlaceholderText(_("for example 192.168.1.20:41234"))
        self.code_label.setText(_("C&ode:"))
        self.exchange_button.setText(_("E&xchange"))
        self.cancel_button.setText(_("Cancel"))
        self._show_last()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
