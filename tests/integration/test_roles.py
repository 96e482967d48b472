"""Changing a member's role through the real server: promotion, demotion (a new epoch), the
demoted member's writes refused by the server and by every other member, the last admin kept;
the stale-epoch window closed (a device that missed a removal re-seals at the new epoch); and
an operator's new space whose setup was cut off, finished by the next sync."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from desktop.domain.records import Organization, edit
from sync.client.engine import LastAdmin, OwnRole, SyncEngine
from sync.client.transport import Offline, ServerRefused, Transport
from sync.crypto.envelope import open_record, read_header, seal_record
from sync.crypto.errors import CryptoError, CryptoErrorCode
from sync.protocol import ErrorCode, Role
from tests.helpers.server_process import run_cli
from tests.integration.conftest import Device, Server, network_of, organization


def _db(server: Server) -> sqlite3.Connection:
    return sqlite3.connect(server.data_dir / "minga-server.sqlite3", timeout=30)


def _id(device: Device) -> str:
    keys = device.state.device_keys()
    assert keys is not None
    return keys.device_id


def _server_role(server: Server, space: str, device: Device) -> str:
    with _db(server) as db:
        (role,) = db.execute(
            "SELECT role FROM member WHERE space_id = ? AND device_id = ?", (space, _id(device))
        ).fetchone()
    return str(role)


def _name(device: Device, record: str) -> str:
    found = device.records.require(record)
    assert isinstance(found, Organization)
    return found.name


def _statement_role(device: Device, space: str, member: Device) -> Role | None:
    keyring, _pins = device.engine._keyring()
    found = keyring.logs[space].latest.member(_id(member))
    return None if found is None else found.role


def test_promote_demote_and_promote_back(server: Server, make_device: Any) -> None:
    space, (admin, alba, badu) = network_of(server, make_device, 3)
    org = organization(space, "Written by Badu while an editor")
    badu.records.save(org)
    for device in (badu, admin, alba):
        device.sync()

    # Promotion: same epoch, and Alba may now administer (invite) on the server too.
    assert admin.engine.change_role(space, _id(alba), Role.ADMIN) == 1
    assert _server_role(server, space, alba) == "admin"
    alba.sync()
    assert _statement_role(alba, space, alba) is Role.ADMIN
    assert alba.engine.invite(space, Role.READER)

    # Demotion: a new epoch, wrapped to everyone (Badu still reads).
    assert admin.engine.change_role(space, _id(badu), Role.READER) == 2
    assert _server_role(server, space, badu) == "reader"
    for device in (alba, badu):
        device.sync()
        assert _statement_role(device, space, badu) is Role.READER
    news = organization(space, "Written after the demotion")
    admin.records.save(news)
    admin.sync()
    badu.sync()
    assert _name(badu, news.id) == "Written after the demotion"  # reads epoch 2

    # An honest client: its edit is refused by the server and stays here, dirty.
    badu.records.save(edit(badu.records.require(org.id), name="Edited as a reader"))
    report = badu.engine.sync_once()
    assert [(r.record, r.code) for r in report.rejected] == [(org.id, ErrorCode.ROLE_FORBIDDEN)]
    alba.sync()
    assert _name(alba, org.id) == "Written by Badu while an editor"

    # A dishonest one, with the server's help: its epoch-2 envelope reaches the others, who
    # refuse it (the statement of epoch 2 does not make it a writer) and apply nothing.
    keyring, _pins = badu.engine._keyring()
    key2 = keyring.space_key(space, 2)
    assert key2 is not None
    forged = seal_record(
        {"id": org.id, "space_id": space, "name": "Forged"},
        space=space,
        record=org.id,
        revision=2,
        base=1,
        epoch=2,
        space_key=key2,
        author=badu.state.device_keys(),  # type: ignore[arg-type]
    )
    with _db(server) as db:
        db.execute("UPDATE space SET last_seq = last_seq + 1 WHERE id = ?", (space,))
        (seq,) = db.execute("SELECT last_seq FROM space WHERE id = ?", (space,)).fetchone()
        db.execute(
            "UPDATE record SET blob = ?, revision = 2, seq = ?, author_id = ? WHERE record_id = ?",
            (forged, seq, _id(badu), org.id),
        )
    refused = alba.engine.sync_once().refused
    assert [(r.record, r.code) for r in refused] == [(org.id, CryptoErrorCode.UNKNOWN_SIGNER.value)]
    assert _name(alba, org.id) == "Written by Badu while an editor"


def test_promoted_back_the_kept_edit_goes_through(server: Server, make_device: Any) -> None:
    space, (admin, badu) = network_of(server, make_device, 2)
    org = organization(space, "First")
    admin.records.save(org)
    admin.sync()
    badu.sync()
    assert admin.engine.change_role(space, _id(badu), Role.READER) == 2
    badu.sync()
    badu.records.save(edit(badu.records.require(org.id), name="Kept while a reader"))
    rejected = badu.engine.sync_once().rejected
    assert [r.code for r in rejected] == [ErrorCode.ROLE_FORBIDDEN]

    assert admin.engine.change_role(space, _id(badu), Role.EDITOR) == 2  # same epoch
    assert _server_role(server, space, badu) == "editor"
    report = badu.sync()
    assert report.pushed == 1
    admin.sync()
    assert _name(admin, org.id) == "Kept while a reader"


def test_the_last_admin_cannot_be_demoted(server: Server, make_device: Any) -> None:
    space, (admin, alba) = network_of(server, make_device, 2)
    before = len(admin.state.statements(space))
    with pytest.raises(LastAdmin):
        admin.engine.change_role(space, _id(admin), Role.EDITOR)
    assert len(admin.state.statements(space)) == before  # nothing was issued
    assert _server_role(server, space, admin) == "admin"
    # The server refuses it as well, for a client that would not check.
    with pytest.raises(ServerRefused) as refused:
        admin.engine._authorized(
            lambda token: admin.engine.transport.put_member(space, _id(admin), Role.EDITOR, token)
        )
    assert (refused.value.status, refused.value.code) == (409, ErrorCode.LAST_ADMIN)

    # With a second admin, the first may step down, by the other's hand: the new epoch's key
    # must be wrapped by someone who stays an admin.
    admin.engine.change_role(space, _id(alba), Role.ADMIN)
    with pytest.raises(OwnRole):
        admin.engine.change_role(space, _id(admin), Role.EDITOR)
    alba.sync()
    assert alba.engine.change_role(space, _id(admin), Role.EDITOR) == 2
    assert _server_role(server, space, admin) == "editor"
    admin.sync()
    assert _statement_role(admin, space, admin) is Role.EDITOR
    with pytest.raises(LastAdmin):
        alba.engine.change_role(space, _id(alba), Role.READER)


def test_a_device_that_missed_a_removal_reseals_at_the_new_epoch(
    server: Server, make_device: Any
) -> None:
    space, (admin, badu, chidi) = network_of(server, make_device, 3)
    org = organization(space, "Before")
    admin.records.save(org)
    for device in (admin, badu, chidi):
        device.sync()

    assert admin.engine.remove_member(space, _id(chidi)) == 2
    # Badu has not polled since: it still seals at epoch 1, which Chidi holds.
    badu.records.save(edit(badu.records.require(org.id), name="After the removal"))
    report = badu.engine.sync_once()
    assert report.rejected == [] and report.refused == []
    assert report.pushed == 1
    with _db(server) as db:
        blob, revision = db.execute(
            "SELECT blob, revision FROM record WHERE record_id = ?", (org.id,)
        ).fetchone()
    assert read_header(bytes(blob))[0].epoch == 2
    assert badu.state.outbox() == []

    admin.sync()
    assert _name(admin, org.id) == "After the removal"

    # Chidi is out of the space, and even given the blob and the new statements it holds no
    # key for epoch 2.
    assert chidi.engine.sync_once().lost_spaces == [space]
    keyring, _pins = chidi.engine._keyring()
    with _db(server) as db:
        for (statement,) in db.execute(
            "SELECT blob FROM membership_statement WHERE space_id = ? AND version > ? "
            "ORDER BY version",
            (space, keyring.logs[space].latest.version),
        ):
            keyring.logs[space].accept(bytes(statement))
    with pytest.raises(CryptoError) as unreadable:
        open_record(bytes(blob), space=space, record=org.id, revision=revision, keys=keyring)
    assert unreadable.value.code is CryptoErrorCode.KEY_UNAVAILABLE
    assert _name(chidi, org.id) == "Before"


class _Killed(Exception):
    """Stands for the process dying at that point: nothing after it runs."""


def test_killed_after_the_stale_entry_is_dropped_the_edit_is_sealed_again(
    server: Server, make_device: Any
) -> None:
    space, (admin, badu, chidi) = network_of(server, make_device, 3)
    org = organization(space, "Before")
    admin.records.save(org)
    for device in (admin, badu, chidi):
        device.sync()
    admin.engine.remove_member(space, _id(chidi))
    badu.records.save(edit(badu.records.require(org.id), name="Survives the crash"))

    drop = badu.state.drop_outbox

    def drop_then_die(mutation_id: str) -> None:
        drop(mutation_id)
        raise _Killed()

    badu.state.drop_outbox = drop_then_die  # type: ignore[method-assign]
    with pytest.raises(_Killed):
        badu.engine.sync_once()
    del badu.state.drop_outbox
    assert badu.state.outbox() == []
    assert badu.records.require(org.id).dirty  # the edit waits, unsent

    restarted = SyncEngine(badu.state, Transport(server.url))
    try:
        report = restarted.sync_once()
    finally:
        restarted.transport.close()
    assert (report.pushed, report.rejected) == (1, [])
    with _db(server) as db:
        (blob,) = db.execute("SELECT blob FROM record WHERE record_id = ?", (org.id,)).fetchone()
    assert read_header(bytes(blob))[0].epoch == 2
    admin.sync()
    assert _name(admin, org.id) == "Survives the crash"


def test_without_a_newer_key_the_edit_waits_and_nothing_loops(
    server: Server, make_device: Any
) -> None:
    space, (admin, badu) = network_of(server, make_device, 2)
    org = organization(space, "Before")
    admin.records.save(org)
    admin.sync()
    badu.sync()
    # An admin cut off after starting epoch 2 on the server, before any wrap or statement.
    with _db(server) as db:
        db.execute("UPDATE space SET epoch = 2 WHERE id = ?", (space,))
    badu.records.save(edit(badu.records.require(org.id), name="Waits for the key"))
    report = badu.engine.sync_once()
    assert report.awaiting_key == [space]
    assert (report.pushed, report.rejected) == (0, [])
    # One push; statements and wraps asked for after the rejection and again for the page's
    # epoch. A round after round would cost five more each.
    assert report.requests == 5
    assert badu.state.outbox() == [] and badu.records.require(org.id).dirty


def test_an_operators_new_space_cut_off_halfway_is_started_by_the_next_sync(
    server: Server, make_device: Any
) -> None:
    result = run_cli(server.data_dir, "invite", "--new-space")
    assert result.returncode == 0, result.stderr
    admin: Device = make_device("admin")
    (space, role), *_ = admin.engine.enroll(result.stdout.strip().splitlines()[-1]).spaces
    assert role is Role.ADMIN

    put_statement = admin.engine.transport.put_statement

    def cut(*_args: Any) -> None:
        raise Offline("cut after the wrap went out")

    admin.engine.transport.put_statement = cut  # type: ignore[method-assign,assignment]
    with pytest.raises(Offline):
        admin.engine.sync_once(discover=True)
    admin.engine.transport.put_statement = put_statement  # type: ignore[method-assign]
    assert admin.state.statements(space) == []
    with _db(server) as db:  # the wrap landed, the statement did not
        assert db.execute("SELECT epoch, statement_version FROM space").fetchone() == (1, 0)

    report = admin.sync()  # the same engine: discovery was not finished, so it runs again
    assert report.awaiting_key == []
    assert len(admin.state.statements(space)) == 1
    org = organization(space, "First record")
    admin.records.save(org)
    assert admin.sync().pushed == 1
    member: Device = make_device("member")
    member.engine.enroll(admin.engine.invite(space, Role.EDITOR))
    admin.engine.admit(space, admin.engine.pending_members(space))
    member.sync()
    assert _name(member, org.id) == "First record"


def test_admin_changes_retried_after_lost_answers_finish_without_a_fork(
    server: Server, make_device: Any
) -> None:
    space, (admin, alba, badu) = network_of(server, make_device, 3)
    for device in (admin, alba, badu):
        device.sync()
    put_statement = admin.engine.transport.put_statement

    def stored_but_answer_lost(*args: Any) -> None:
        put_statement(*args)
        raise Offline("the answer was lost")

    admin.engine.transport.put_statement = stored_but_answer_lost  # type: ignore[method-assign,assignment]
    with pytest.raises(Offline):  # a promotion: the statement went, the server's role did not
        admin.engine.change_role(space, _id(alba), Role.ADMIN)
    assert _server_role(server, space, alba) == "editor"
    with pytest.raises(Offline):
        admin.engine.remove_member(space, _id(badu))
    admin.engine.transport.put_statement = put_statement  # type: ignore[method-assign]
    # The removal read the promotion back from the server first; its own answer was lost.
    assert len(admin.state.statements(space)) == 3

    assert admin.engine.change_role(space, _id(alba), Role.ADMIN) == 2
    assert _server_role(server, space, alba) == "admin"
    assert admin.engine.remove_member(space, _id(badu)) == 2
    with _db(server) as db:
        assert db.execute("SELECT statement_version, epoch FROM space").fetchone() == (4, 2)
    assert len(admin.state.statements(space)) == 4
    org = organization(space, "After the retries")
    admin.records.save(org)
    admin.sync()
    alba.sync()
    assert _name(alba, org.id) == "After the retries"
    assert _statement_role(alba, space, alba) is Role.ADMIN
    assert badu.engine.sync_once().lost_spaces == [space]
