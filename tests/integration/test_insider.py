"""Issue 13: a malicious server, alone or with an insider, against real engines and the real
server process behind tests/helpers/hostile_server.py. Each finding of the review is reproduced
and now refused: the role the server lists at admission, a chain without the statement an
invite commits to."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from sync.crypto.keys import DeviceKeys
from sync.crypto.spaces import Member, MembershipStatement, new_space_key, wrap_space_key
from sync.protocol import Role
from tests.helpers.hostile_server import Exchange, HostileServer
from tests.integration.conftest import Device, Server, space_record
from tests.integration.test_malicious_server import behind, device_id, latest_statement


@pytest.fixture
def hostile(server: Server) -> Iterator[HostileServer]:
    with HostileServer(server.url) as relay:
        yield relay


def admin_with_space(server: Server, make_device: Any, name: str = "admin") -> tuple[Device, str]:
    admin: Device = make_device(name)
    admin.engine.enroll(server.operator_invite())
    space = admin.engine.create_space()
    admin.records.save(space_record(space))
    admin.sync()
    return admin, space


def test_the_role_the_server_lists_is_ignored_at_admission(
    server: Server, make_device: Any, hostile: HostileServer
) -> None:
    """Finding 6: the server lists an invited editor as an admin; the admin's device admits
    it as the editor it invited, and the signed statement says so."""
    admin, space = admin_with_space(server, make_device)
    behind(admin, hostile.url)
    joiner = make_device("joiner")
    joiner.engine.enroll(admin.engine.invite(space, Role.EDITOR))

    def promote(exchange: Exchange) -> dict[str, Any] | None:
        if not exchange.route.endswith("/members") or exchange.method != "GET":
            return None
        answer = copy.deepcopy(exchange.answer)
        assert answer is not None
        for entry in answer["members"]:
            entry["role"] = Role.ADMIN.value
        return answer

    hostile.rewrites.append(promote)
    pending = admin.engine.pending_members(space)
    assert hostile.tampered > 0
    assert [(p.device, p.role) for p in pending] == [(device_id(joiner), Role.EDITOR)]
    admin.engine.admit(space, pending)
    member = latest_statement(admin, space).member(device_id(joiner))
    assert member is not None and member.role is Role.EDITOR
    # The invite's role is spent: a device the server lists next gets the least role.
    assert admin.state.invites(space) == []


def test_with_invites_of_several_roles_open_a_newcomer_gets_the_least(
    server: Server, make_device: Any
) -> None:
    admin, space = admin_with_space(server, make_device)
    codes = [admin.engine.invite(space, role) for role in (Role.ADMIN, Role.READER)]
    joiner = make_device("joiner")
    joiner.engine.enroll(codes[0])  # the admin invite; only the server knows which was used
    assert [p.role for p in admin.engine.pending_members(space)] == [Role.READER]


def test_a_joiner_refuses_a_chain_without_the_statement_its_invite_commits_to(
    server: Server, make_device: Any, hostile: HostileServer
) -> None:
    """The invite carries a commitment to the space's current statement: a genesis the server
    made up (or another network's chain) is refused and nothing of it is kept."""
    admin, space = admin_with_space(server, make_device)
    joiner = behind(make_device("joiner"), hostile.url)
    code = admin.engine.invite(space, Role.EDITOR)
    assert len(code.replace("-", "")) == 48  # 32 letters of the server's code, 16 of commitment
    joiner.engine.enroll(code)
    admin.engine.admit(space, admin.engine.pending_members(space))
    keys = joiner.state.device_keys()
    assert keys is not None

    impostor = DeviceKeys.generate()
    forged = MembershipStatement.issue(
        space=space,
        version=1,
        epoch=1,
        previous=bytes(32),
        members=[Member(impostor.public, Role.ADMIN), Member(keys.public, Role.EDITOR)],
        issuer=impostor,
    ).blob
    forged_wrap = wrap_space_key(
        new_space_key(), space=space, epoch=1, recipient=keys.public, issuer=impostor
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
    assert [(r.space, r.code) for r in report.refused] == [(space, "anchor_missing")]
    assert report.trusted_spaces == []
    assert (joiner.state.statements(space), joiner.state.wraps()) == ([], [])
    assert joiner.state.anchors() != {} and set(joiner.state.anchors().values()) == {None}

    # The server stops lying: the real chain contains the statement, and is taken up.
    hostile.rewrites.clear()
    report = joiner.engine.sync_once(discover=True)
    assert report.refused == []
    assert [first.space for first in report.trusted_spaces] == [space]
    assert joiner.state.statements(space) == admin.state.statements(space)
    assert set(joiner.state.anchors().values()) == {space}
