"""A space's genesis statement is trusted on first use; the joiner is shown the creating admin's
fingerprint to compare. Against an honest server it is the real admin's; when the server hands a
new joiner a genesis (and a key) it made up, it is the impostor's, so the person can tell, and
refusing it forgets the space here for good. The attacker is tests/helpers/hostile_server.py."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from sync.client.engine import FirstUse, split_invite
from sync.crypto.keys import DeviceKeys
from sync.crypto.spaces import Member, MembershipStatement, new_space_key, wrap_space_key
from sync.protocol import Role
from tests.helpers.hostile_server import Exchange, HostileServer
from tests.integration.conftest import Device, Server, network_of, space_record
from tests.integration.test_malicious_server import behind, device_id


@pytest.fixture
def hostile(server: Server) -> Iterator[HostileServer]:
    with HostileServer(server.url) as relay:
        yield relay


def fingerprint(device: Device) -> str:
    keys = device.state.device_keys()
    assert keys is not None
    return str(keys.public.fingerprint)


def test_an_honest_join_shows_the_real_admins_fingerprint_until_confirmed(
    server: Server, make_device: Any
) -> None:
    space, (admin, alba) = network_of(server, make_device, 2, confirm=False)

    report = alba.sync()

    expected = FirstUse(space, device_id(admin), fingerprint(admin))
    assert report.trusted_spaces == [expected]
    assert alba.state.spaces_to_confirm() == [expected]
    # The admin made the space here: nothing to compare.
    assert admin.sync().trusted_spaces == [] and admin.state.spaces_to_confirm() == []
    # Kept until the person answers; reported once, not on every sync.
    assert alba.sync().trusted_spaces == []
    assert alba.state.spaces_to_confirm() == [expected]

    alba.engine.confirm_space(space)
    assert alba.state.spaces_to_confirm() == []
    assert alba.sync().trusted_spaces == []
    assert alba.state.statements(space) != []


def test_a_genesis_made_up_by_the_server_shows_another_fingerprint_and_can_be_refused(
    server: Server, make_device: Any, hostile: HostileServer
) -> None:
    admin = make_device("admin")
    admin.engine.enroll(server.operator_invite())
    space = admin.engine.create_space()
    admin.records.save(space_record(space))
    admin.sync()
    joiner = behind(make_device("joiner"), hostile.url)
    # The server's code alone, as an older app or an operator hands it out: without the
    # statement commitment (tests/integration/test_insider.py), only the fingerprint tells.
    code, _anchor = split_invite(admin.engine.invite(space, Role.EDITOR))
    joiner.engine.enroll(code)
    admin.engine.admit(space, admin.engine.pending_members(space))
    joiner_keys = joiner.state.device_keys()
    assert joiner_keys is not None

    # The server's own admin key, a genesis naming it and the joiner, and a key wrapped to
    # the joiner: everything a joiner can check verifies, since nothing is chained yet.
    impostor = DeviceKeys.generate()
    forged = MembershipStatement.issue(
        space=space,
        version=1,
        epoch=1,
        previous=bytes(32),
        members=[Member(impostor.public, Role.ADMIN), Member(joiner_keys.public, Role.EDITOR)],
        issuer=impostor,
    ).blob
    forged_wrap = wrap_space_key(
        new_space_key(), space=space, epoch=1, recipient=joiner_keys.public, issuer=impostor
    )

    def substitute(exchange: Exchange) -> dict[str, Any] | None:
        answer = copy.deepcopy(exchange.answer)
        assert answer is not None
        if exchange.route == f"/v1/spaces/{space}/statements":
            answer["statements"] = [{"version": 1, "statement": forged}]
            answer["more"] = False
            return answer
        if exchange.route == f"/v1/spaces/{space}/keys":
            answer["wraps"] = [{"epoch": 1, "issuer": impostor.device_id, "wrap": forged_wrap}]
            return answer
        return None

    hostile.rewrites.append(substitute)
    report = joiner.engine.sync_once(discover=True)

    assert hostile.tampered > 0
    shown = FirstUse(space, impostor.device_id, str(impostor.public.fingerprint))
    assert report.trusted_spaces == [shown]
    assert shown.fingerprint != fingerprint(admin)  # what the person compares, digit by digit
    assert joiner.state.spaces_to_confirm() == [shown]
    assert joiner.state.statements(space) == [forged]

    # "Does not match": the space's statements and keys are forgotten and never taken up again,
    # even though the server still lists it and still serves the forgery.
    joiner.engine.refuse_space(space)
    assert joiner.state.spaces_to_confirm() == []
    assert joiner.state.refused_spaces() == {space}
    assert (joiner.state.statements(space), joiner.state.wraps(), joiner.state.spaces()) == (
        [],
        [],
        [],
    )
    served = len(hostile.answers("/statements"))
    again = joiner.engine.sync_once(discover=True)
    assert again.trusted_spaces == [] and again.refused == []
    assert joiner.state.spaces() == [] and joiner.state.wraps() == []
    assert len(hostile.answers("/statements")) == served  # not even asked about
