"""Issue 13: a malicious server, alone or with an insider, against real engines and the real
server process behind tests/helpers/hostile_server.py. Each finding of the review is reproduced
and now refused: the role the server lists at admission, a chain without the statement an
invite commits to, edits sent into a network nobody confirmed, and a removed admin's branch of
the membership served to a member who missed its removal and to a later joiner."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from desktop.store.sync_state import SpaceAccess, space_access
from sync.crypto.errors import CryptoErrorCode
from sync.crypto.keys import DeviceKeys
from sync.crypto.spaces import (
    Member,
    MembershipLog,
    MembershipStatement,
    SpaceKeyring,
    new_space_key,
    wrap_space_key,
)
from sync.protocol import Role
from tests.helpers.hostile_server import ColludingAdmin, Exchange, HostileServer
from tests.integration.conftest import Device, Server, network_of, organization, space_record
from tests.integration.test_malicious_server import behind, device_id, latest_statement

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True


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


# --- nothing sent before trust (finding 2) ---------------------------------------------------


def test_edits_in_a_network_nobody_confirmed_stay_here_until_it_is_confirmed(
    server: Server, make_device: Any
) -> None:
    space, (admin, alba) = network_of(server, make_device, 2, confirm=False)
    alba.sync()
    assert [first.space for first in alba.state.spaces_to_confirm()] == [space]
    assert space_access(alba.profile.engine, space) is SpaceAccess.HELD
    admin.records.save(organization(space, "Casa Abierta"))
    admin.sync()
    written = alba.records.save(organization(space, "Refugio del Norte"))

    report = alba.sync()
    # Pulled: what others share arrives. Held: nothing sealed, nothing pushed.
    assert report.held_spaces == [space] and report.pushed == 0
    assert alba.state.outbox() == []
    names = {row[2].get("name") for row in alba.snapshot().values() if row[2]}  # type: ignore[index]
    assert "Casa Abierta" in names
    admin.sync()
    assert admin.records.get(written.id) is None  # the server never had it

    alba.engine.confirm_space(space)
    assert space_access(alba.profile.engine, space) is SpaceAccess.WRITE
    report = alba.sync()
    assert report.held_spaces == [] and report.pushed == 1
    admin.sync()
    arrived = admin.records.get(written.id)
    assert arrived is not None and getattr(arrived, "name", None) == "Refugio del Norte"


# --- a removed admin and the server fork the membership (finding 1) ----------------------------


def space_key_of(device: Device, space: str) -> bytes:
    """The current key of ``space`` as ``device`` holds it (re-verified from its store)."""
    keys = device.state.device_keys()
    assert keys is not None
    ring = SpaceKeyring(keys)
    ring.add_log(MembershipLog.from_blobs(device.state.statements(space)))
    for wrap in device.state.wraps():
        if wrap.space == space:
            ring.add_wrap(space, wrap.epoch, wrap.wrap, wrap.issuer)
    current = ring.current_key(space)
    assert current is not None
    return current[1]


def insider_network(
    server: Server, make_device: Any
) -> tuple[str, Device, Device, Device, Device, ColludingAdmin]:
    """Admin A, a second admin R, members M and H; then A removes R. R's laptop (its keys,
    statements and key from before the removal) is in the server's hands."""
    space, (admin, removed, member, honest) = network_of(server, make_device, 4)
    admin.engine.change_role(space, device_id(removed), Role.ADMIN)
    for device in (admin, removed, member, honest):
        device.sync()
    keys = removed.state.device_keys()
    assert keys is not None
    insider = ColludingAdmin(keys, removed.state.statements(space), space_key_of(removed, space))
    admin.engine.remove_member(space, device_id(removed))
    honest.sync()  # the honest member has the real removal before anything forged is around
    return space, admin, removed, member, honest, insider


def fork_codes(report: Any) -> set[str]:
    return {refusal.code for refusal in report.refused}


def test_a_member_shown_a_removed_admins_branch_learns_of_it_from_an_honest_record(
    server: Server, make_device: Any, hostile: HostileServer
) -> None:
    space, admin, _removed, member, honest, insider = insider_network(server, make_device)
    behind(member, hostile.url)
    forged = insider.fork()  # version v+1: R keeps itself, a new epoch under a key R chose
    hostile.rewrites.append(insider.rewrite_for(device_id(member)))

    # The finding, reproduced: the member missed the real v+1 and takes R's instead.
    report = member.engine.sync_once(discover=True)
    assert report.refused == [] and report.forked_spaces == []
    assert member.state.statements(space)[-1] == forged.blob
    assert space_key_of(member, space) == insider.space_key
    # What it writes now is sealed with R's key: the window R and the server still have.
    leaked = member.records.save(organization(space, "Written inside the window"))
    assert member.engine.sync_once().pushed == 1
    blob = next(e for e in hostile.answers("/v1/sync") if e.request and e.request.get("push"))
    sealed = blob.request["push"][0]["blob"]  # type: ignore[index]
    assert insider.opens(sealed)

    # An honest member writes under the real v+1 (A removed R).
    honest.records.save(organization(space, "Written by an honest member"))
    honest_report = honest.engine.sync_once()
    assert honest_report.pushed == 1
    # The honest member meets the member's record sealed under the forged statement.
    assert space in honest_report.forked_spaces or space in honest.state.forked_spaces()

    # First contact with the honest member's record: the fork is seen, reported, kept.
    report = member.engine.sync_once()
    assert space in report.forked_spaces
    assert CryptoErrorCode.MEMBERSHIP_FORK.value in fork_codes(report)
    assert space in member.state.forked_spaces()
    assert space_access(member.profile.engine, space) is SpaceAccess.HELD
    # From then on nothing is sealed with R's key: edits stay on the member's computer.
    member.records.save(organization(space, "After the fork was seen"))
    pushes = len(hostile.answers("/v1/sync"))
    report = member.engine.sync_once()
    assert report.pushed == 0 and report.held_spaces == [space]
    assert member.state.outbox() == []
    later = [e for e in hostile.answers("/v1/sync")[pushes:] if e.request and e.request.get("push")]
    assert later == []
    # The safety numbers differ: what members compare out of band shows the fork too.
    assert member.engine.safety_number(space) != admin.engine.safety_number(space)
    assert leaked.id
    # The honest member compares its number with the admin's: equal, so it keeps its copy
    # and sends again; the member shown the fork would forget its copy and rejoin.
    assert honest.engine.safety_number(space) == admin.engine.safety_number(space)
    honest.engine.keep_forked(space)
    assert space not in honest.state.forked_spaces()
    honest.records.save(organization(space, "After comparing safety numbers"))
    assert honest.engine.sync_once().pushed == 1


def test_a_later_joiner_given_the_forged_branch_refuses_it(
    server: Server, make_device: Any, hostile: HostileServer
) -> None:
    space, admin, _removed, _member, _honest, insider = insider_network(server, make_device)
    joiner = behind(make_device("joiner"), hostile.url)
    joiner.engine.enroll(admin.engine.invite(space, Role.EDITOR))  # commits to the real v+1
    pending = admin.engine.pending_members(space)
    admin.engine.admit(space, pending)
    keys = joiner.state.device_keys()
    assert keys is not None
    # R's branch: its own v+1, then v+2 admitting the joiner, wrapped with keys R chose. The
    # genesis is the real admin's, so its fingerprint check would pass.
    insider.fork()
    insider.fork(add={keys.device_id: (keys.public, Role.EDITOR)}, rotate=False)
    hostile.rewrites.append(insider.rewrite_for(keys.device_id))

    report = joiner.engine.sync_once(discover=True)
    assert hostile.tampered > 0
    assert [(r.space, r.code) for r in report.refused] == [(space, "anchor_missing")]
    assert joiner.state.statements(space) == [] and joiner.state.wraps() == []
    assert report.trusted_spaces == []

    hostile.rewrites.clear()
    report = joiner.engine.sync_once(discover=True)
    assert report.refused == []
    assert joiner.state.statements(space) == admin.state.statements(space)


def test_admission_can_start_a_new_key_so_a_newcomer_reads_nothing_older(
    server: Server, make_device: Any
) -> None:
    """Finding 8: a newcomer handed the current key reads everything sealed earlier in the
    epoch. With a new key at admission it reads only what is written from then on."""
    admin, space = admin_with_space(server, make_device)
    before = admin.records.save(organization(space, "Written before the newcomer came"))
    admin.sync()
    joiner = make_device("joiner")
    joiner.engine.enroll(admin.engine.invite(space, Role.EDITOR))
    admin.engine.admit(space, admin.engine.pending_members(space), new_epoch=True)
    assert latest_statement(admin, space).epoch == 2
    after = admin.records.save(organization(space, "Written after"))
    admin.sync()

    report = joiner.engine.sync_once(discover=True)
    assert report.unreadable >= 1  # the record sealed at epoch 1
    assert joiner.records.get(before.id) is None
    assert joiner.records.get(after.id) is not None


def test_a_second_key_for_a_held_epoch_is_refused_and_reported(
    server: Server, make_device: Any, hostile: HostileServer
) -> None:
    """Finding 4: the removed admin (an admin of epoch 1) wraps another key for epoch 1 to a
    member, which the server slips into its key answer. The statement commits to the real
    key: the wrap is refused by name and the member keeps the key it had."""
    space, _admin, removed, member, _honest, insider = insider_network(server, make_device)
    behind(member, hostile.url)
    member.sync()  # the real removal: epoch 2
    held_before = space_key_of(member, space)
    keys = member.state.device_keys()
    assert keys is not None
    other = wrap_space_key(
        new_space_key(), space=space, epoch=1, recipient=keys.public, issuer=insider.keys
    )

    def slip(exchange: Exchange) -> dict[str, Any] | None:
        if exchange.route != f"/v1/spaces/{space}/keys" or exchange.method != "GET":
            return None
        answer = copy.deepcopy(exchange.answer)
        assert answer is not None
        answer["wraps"].append({"epoch": 1, "issuer": device_id(removed), "wrap": other})
        return answer

    hostile.rewrites.append(slip)
    wraps_before = member.state.wraps()
    # A page announcing a newer epoch makes the engine ask for wraps.
    hostile.rewrites.append(announce_statement_epoch(space))
    report = member.engine.sync_once()
    assert hostile.tampered > 0
    assert (space, CryptoErrorCode.KEY_MISMATCH.value) in {
        (r.space, r.code) for r in report.refused
    }
    assert member.state.wraps() == wraps_before
    assert space_key_of(member, space) == held_before


def announce_statement_epoch(space: str) -> Any:
    """Sync pages claim a newer epoch than held, so the engine fetches statements and wraps."""

    def rewrite(exchange: Exchange) -> dict[str, Any] | None:
        if exchange.route != "/v1/sync":
            return None
        answer = copy.deepcopy(exchange.answer)
        assert answer is not None
        page = answer["spaces"].get(space)
        if page is None or "epoch" not in page:
            return None
        page["epoch"] = page["epoch"] + 1
        return answer

    return rewrite
