"""Enrollment and login against a real server: clear errors, nothing kept from a failed attempt,
an unknown or expired token renewed by a fresh challenge, an unreachable server is Offline."""

from __future__ import annotations

from typing import Any

import pytest

from sync.client.engine import NotEnrolled
from sync.client.transport import Offline, ServerRefused, Transport
from tests.helpers.server_process import free_port
from tests.integration.conftest import Server, network_of


def test_a_bad_invite_is_refused_and_leaves_no_keys(server: Server, make_device: Any) -> None:
    device = make_device("newcomer")
    with pytest.raises(ServerRefused) as refused:
        device.engine.enroll("AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH")
    assert (refused.value.status, refused.value.code) == (403, "invite_invalid")
    assert device.state.device_keys() is None
    with pytest.raises(NotEnrolled):
        device.engine.sync_once()
    enrollment = device.engine.enroll(server.operator_invite())  # the code is still usable
    assert device.state.device_keys() is not None
    assert enrollment.device == device.state.device_keys().device_id  # type: ignore[union-attr]
    assert device.state.server_url() == server.url


def test_an_invalid_token_is_renewed_once(server: Server, make_device: Any) -> None:
    _space, (admin, _member) = network_of(server, make_device, 2)
    admin.sync()
    admin.engine._token = "x" * 43  # revoked or expired on the server, still cached here
    admin.engine._token_until = float("inf")
    report = admin.engine.sync_once()
    assert report.refused == [] and report.lost_spaces == []
    assert report.requests == 4  # the refused sync, challenge, token, the sync again


def test_an_unreachable_server_is_offline(make_device: Any) -> None:
    transport = Transport(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Offline):
        transport.call("GET", "/v1/info")
