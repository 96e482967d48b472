"""The ways a device reaches the real server besides a direct HTTP link: through a SOCKS5 proxy
that resolves the server's name itself (as Tor does), and over TLS to a self-signed certificate
that the device pins. A proxy that is down is ``Offline`` with nothing lost; a malformed proxy
setting is refused where settings are validated; a wrong pin is ``CertificateMismatch`` before
any request is sent, and never retried."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.domain.records import Organization
from desktop.domain.settings import SETTINGS, SettingError
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from sync.client.engine import SyncEngine
from sync.client.transport import (
    CertificateMismatch,
    ConnectionSettings,
    Offline,
    Transport,
)
from tests.helpers.link import Link
from tests.helpers.profiles import new_profile
from tests.helpers.server_process import run_cli
from tests.helpers.socks_proxy import Socks5Proxy
from tests.helpers.tls import tls_server_process
from tests.integration.conftest import Device, Server, network_of, organization

#: A name only the test proxy can resolve (``.test`` is reserved, RFC 2606).
SERVER_NAME = "minga-sync.test"


def name_of(records: RecordStore, record: str) -> str:
    found = records.require(record)
    assert isinstance(found, Organization)
    return found.name


def through(device: Device, url: str, settings: ConnectionSettings) -> Device:
    """Route ``device``'s engine to ``url`` with ``settings`` (its keys and store stay)."""
    old = device.engine
    old.transport.close()
    device.engine = SyncEngine(device.state, Transport(url, settings, old.transport.observer))
    return device


# --- SOCKS5 -----------------------------------------------------------------------------------


def test_a_device_syncs_through_a_socks5_proxy_that_resolves_the_name(
    server: Server, make_device: Any
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(SERVER_NAME, server.process.port)  # this machine cannot resolve it
    with Socks5Proxy({SERVER_NAME: "127.0.0.1"}) as proxy:
        url = f"http://{SERVER_NAME}:{server.process.port}"
        through(member, url, ConnectionSettings(proxy=proxy.url))
        org = organization(space, "Reached through the proxy")
        admin.records.save(org)
        admin.sync()
        member.sync()
        assert name_of(member.records, org.id) == "Reached through the proxy"
        sent = organization(space, "Sent through the proxy")
        member.records.save(sent)
        assert member.sync().pushed == 1
        # Every connection carried the name, not an address; keep-alive kept it to one.
        assert proxy.requested == [(SERVER_NAME, server.process.port)]
        assert proxy.connections == 1
        assert member.engine.transport.traffic.requests > 0
    admin.sync()
    assert name_of(admin.records, sent.id) == "Sent through the proxy"


def test_a_proxy_that_is_down_is_offline_and_nothing_is_lost(
    server: Server, make_device: Any
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    member.sync()
    url = f"http://{SERVER_NAME}:{server.process.port}"
    org = organization(space, "Written while the proxy was down")
    member.records.save(org)
    with Socks5Proxy({SERVER_NAME: "127.0.0.1"}) as proxy:
        down = proxy.url
    # Nothing listens there any more (a Tor that is not running).
    through(member, url, ConnectionSettings(proxy=down, connect_timeout=5))
    with pytest.raises(Offline):
        member.engine.sync_once()
    assert member.records.require(org.id).dirty
    # A proxy that refuses the destination (unknown name) is the same: try later.
    with Socks5Proxy({}) as refusing:
        through(member, url, ConnectionSettings(proxy=refusing.url, connect_timeout=5))
        with pytest.raises(Offline):
            member.engine.sync_once()
        assert refusing.requested == [(SERVER_NAME, server.process.port)]
    assert member.records.require(org.id).dirty
    with Socks5Proxy({SERVER_NAME: "127.0.0.1"}) as proxy:
        through(member, url, ConnectionSettings(proxy=proxy.url))
        assert member.sync().pushed == 1
    assert not member.records.require(org.id).dirty
    admin.sync()
    assert name_of(admin.records, org.id) == "Written while the proxy was down"


@pytest.mark.parametrize(
    "value",
    [
        "127.0.0.1:9050",  # no scheme: requests would take it for a path
        "socks5://127.0.0.1:9050",  # names resolved locally: a clear-text DNS query
        "socks4://127.0.0.1:9050",
        "socks5h://127.0.0.1:port",
        "socks5h://127.0.0.1:9050/tor",
        "socks5h://user pass@127.0.0.1:9050",
    ],
)
def test_a_malformed_proxy_setting_is_refused_with_what_is_expected(value: str) -> None:
    (setting,) = [s for s in SETTINGS if s.key == "sync_proxy"]
    with pytest.raises(SettingError, match="socks5h://host:port"):
        setting.coerce(value)
    assert setting.coerce(" socks5h://127.0.0.1:9050 ") == "socks5h://127.0.0.1:9050"
    assert setting.coerce("") == ""


# --- TLS with a pinned certificate -------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Path, int, str]]:
    """`minga-server serve --ssl-certfile/--ssl-keyfile`: (data dir, port, certificate pin)."""
    data_dir = tmp_path / "tls-server"
    data_dir.mkdir()
    with tls_server_process(data_dir) as (process, certificate):
        yield data_dir, process.port, certificate.pin


def _device(folder: Path, url: str, pin: str) -> tuple[Profile, RecordStore, SyncEngine]:
    profile, _recovery = new_profile(folder)
    state = ProfileSyncState(profile.engine)
    engine = SyncEngine(state, Transport(url, ConnectionSettings(pinned_sha256=pin)))
    return profile, RecordStore(profile.engine), engine


def test_tls_with_the_pinned_certificate_syncs_and_a_wrong_pin_sends_nothing(
    tls_server: tuple[Path, int, str], tmp_path: Path
) -> None:
    data_dir, port, pin = tls_server
    invite = run_cli(data_dir, "invite").stdout.strip().splitlines()[-1]
    wrong = hashlib.sha256(b"another certificate").hexdigest()
    with Link(("127.0.0.1", port)) as link:
        profile, records, engine = _device(
            tmp_path / "device", link.url.replace("http:", "https:"), wrong
        )
        try:
            with pytest.raises(CertificateMismatch):
                engine.enroll(invite)
            # One connection, its handshake refused, no retry, no request sent.
            assert link.counts.connections == 1
            assert engine.transport.traffic.requests == 0
            assert engine.state.device_keys() is None
        finally:
            engine.transport.close()
            profile.close()

    # The same one-time invite still works: the refused enrollment never reached the server.
    profile, records, engine = _device(tmp_path / "pinned", f"https://127.0.0.1:{port}", pin)
    try:
        engine.enroll(invite)
        space = engine.create_space()
        org = organization(space, "Over TLS")
        records.save(org)
        report = engine.sync_once()
        assert report.pushed == 1 and report.refused == []
        assert not records.require(org.id).dirty

        # A pin that stops matching (a certificate swapped in between): refused, kept dirty.
        records.save(organization(space, "Not sent to an impostor"))
        state = engine.state
        engine.transport.close()
        engine = SyncEngine(
            state, Transport(f"https://127.0.0.1:{port}", ConnectionSettings(pinned_sha256=wrong))
        )
        with pytest.raises(CertificateMismatch):
            engine.sync_once()
        assert engine.transport.traffic.requests == 0
        assert len(state.pending_changes([space], 10)) == 1
    finally:
        engine.transport.close()
        profile.close()


def test_pinned_tls_through_a_socks5_proxy(
    tls_server: tuple[Path, int, str], tmp_path: Path
) -> None:
    """Tor and a pin together: the pin is checked on the TLS session inside the SOCKS tunnel."""
    data_dir, port, pin = tls_server
    invite = run_cli(data_dir, "invite").stdout.strip().splitlines()[-1]
    url = f"https://{SERVER_NAME}:{port}"
    wrong = hashlib.sha256(b"another certificate").hexdigest()
    with Socks5Proxy({SERVER_NAME: "127.0.0.1"}) as proxy:
        profile, records, engine = _device(tmp_path / "device", url, wrong)
        state = engine.state
        engine.transport.close()
        engine = SyncEngine(state, Transport(url, ConnectionSettings(proxy.url, wrong)))
        try:
            with pytest.raises(CertificateMismatch):
                engine.enroll(invite)
            assert engine.transport.traffic.requests == 0
            engine.transport.close()
            engine = SyncEngine(state, Transport(url, ConnectionSettings(proxy.url, pin)))
            engine.enroll(invite)
            space = engine.create_space()
            records.save(organization(space, "Over TLS inside the tunnel"))
            assert engine.sync_once().pushed == 1
            assert set(proxy.requested) == {(SERVER_NAME, port)}
            assert proxy.connections == 2  # the refused handshake, then one kept-alive session
        finally:
            engine.transport.close()
            profile.close()


def test_chunk_lanes_keep_the_proxy_and_the_pin_across_files(
    tls_server: tuple[Path, int, str],
) -> None:
    """Lanes kept open across one sync's files (issue 19) are the transport's siblings: every
    one goes through the proxy and checks the pin on its own handshake; kept connections are
    reused (no new tunnel per file), and a wrong pin refuses every lane before any request."""
    _data_dir, port, pin = tls_server
    url = f"https://{SERVER_NAME}:{port}"
    wrong = hashlib.sha256(b"another certificate").hexdigest()
    with Socks5Proxy({SERVER_NAME: "127.0.0.1"}) as proxy:
        transport = Transport(url, ConnectionSettings(proxy.url, pin))
        try:
            for _file in range(3):  # three files' windows on the kept lanes
                for lane in transport.lanes(4):
                    with lane.send_raw("GET", "/v1/info", "no-token-needed") as answer:
                        assert answer.status_code == 200
                        assert answer.content  # read whole: the connection goes back
            assert proxy.connections == 4  # one tunnel a lane, kept from file to file
            assert set(proxy.requested) == {(SERVER_NAME, port)}
        finally:
            transport.close()
        impostor = Transport(url, ConnectionSettings(proxy.url, wrong))
        try:
            for lane in impostor.lanes(4):
                with pytest.raises(CertificateMismatch):
                    lane.send_raw("GET", "/v1/info", "no-token-needed")
            assert impostor.traffic.requests == 0
        finally:
            impostor.close()
