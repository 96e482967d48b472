"""Sync settings from the one schema: a malformed proxy is refused with the expected form, and a
certificate pin saved in Settings reaches the transport: a server showing another certificate
is refused during the handshake, with words that say why."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from desktop.store.sync_state import ProfileSyncState
from desktop.ui.main_window import MainWindow
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.sync.link import connection_settings
from tests.helpers.tls import self_signed
from tests.ui.sync.conftest import join_through_page, sync_page


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """A TLS endpoint on 127.0.0.1 with a certificate nobody pinned (the handshake is the test)."""
    certificate = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert, certificate.key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_proxy_and_pin_become_connection_settings() -> None:
    pin = ":".join(["AB"] * 32)
    settings = connection_settings(
        {"sync_proxy": " socks5h://127.0.0.1:9050 ", "sync_certificate_pin": pin}
    )
    assert settings.proxy == "socks5h://127.0.0.1:9050"
    assert settings.pinned_sha256 == "ab" * 32
    empty = connection_settings({"sync_proxy": "", "sync_certificate_pin": ""})
    assert (empty.proxy, empty.pinned_sha256) == (None, None)


def test_a_pin_saved_in_settings_refuses_another_certificate(
    unlocked: MainWindow, qtbot: QtBot, tls_server: str
) -> None:
    unlocked.open_settings()
    dialog = unlocked.findChild(SettingsDialog)
    assert dialog is not None
    proxy = dialog.editors["sync_proxy"]
    pin = dialog.editors["sync_certificate_pin"]
    assert isinstance(proxy, QLineEdit) and isinstance(pin, QLineEdit)
    proxy.setText("ftp://127.0.0.1:21")
    dialog.save()
    assert "https://host:port or socks5h://host:port" in dialog.message.text()
    proxy.setText("")
    pin.setText("00" * 32)
    with qtbot.waitSignal(dialog.saved, timeout=5_000):
        dialog.save()
    assert unlocked.session.settings["sync_certificate_pin"] == "00" * 32

    page = sync_page(unlocked, qtbot)
    join_through_page(qtbot, page, tls_server, "AAAA-BBBB-CCCC-DDDD")
    qtbot.waitUntil(lambda: "not the one pinned" in page.join_message.text(), timeout=10_000)
    profile = unlocked.session.profile
    assert profile is not None and ProfileSyncState(profile.engine).device_keys() is None
