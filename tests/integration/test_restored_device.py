"""A profile restored from a backup continues as a new device, through the real server.

Alba's laptop is lost. Her backup is restored on a new computer: it holds no device keys, so
it cannot sync as her old device; it enrolls with a new invitation, the admin admits it and
removes the old device. Whatever she had not sent reaches the others; whatever the old laptop
had sent after the backup is not sent twice; the space lists one device for her, not two.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from desktop.domain.records import Organization, edit
from desktop.store.backup import restore_backup, write_backup
from desktop.store.profile import unlock
from desktop.store.records import RecordStore
from desktop.store.succession import predecessor
from desktop.store.sync_state import ProfileSyncState
from sync.client.engine import NotEnrolled, SyncEngine
from sync.client.transport import Transport
from sync.protocol import Role
from tests.helpers.profiles import PASSPHRASE
from tests.integration.conftest import Device, Server, network_of, organization


def _restore(backup: Path, folder: Path, server: Server) -> Device:
    restore_backup(backup, folder, PASSPHRASE)
    profile = unlock(folder, PASSPHRASE)
    state = ProfileSyncState(profile.engine)
    return Device(
        "restored",
        profile,
        RecordStore(profile.engine),
        state,
        SyncEngine(state, Transport(server.url)),
    )


def _device_id(device: Device) -> str:
    keys = device.state.device_keys()
    assert keys is not None
    return keys.device_id


def _members(device: Device, space: str) -> set[str]:
    keyring, _pins = device.engine._keyring()
    return {member.device for member in keyring.logs[space].latest.members}


def _server_rows(server: Server, record: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(server.data_dir / "minga-server.sqlite3", timeout=30) as db:
        return db.execute("SELECT revision FROM record WHERE record_id = ?", (record,)).fetchall()


def _applied_by(server: Server, device: str) -> int:
    with sqlite3.connect(server.data_dir / "minga-server.sqlite3", timeout=30) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM applied_mutation WHERE device_id = ?", (device,)
        ).fetchone()
    return int(count)


def _admit_and_remove_old(admin: Device, space: str, new: Device, old_id: str) -> None:
    pending = admin.engine.pending_members(space)
    assert [p.device for p in pending] == [_device_id(new)]
    # Fingerprint compared with the person, as the Network page asks; then admit, then remove.
    admin.engine.admit(space, pending)
    admin.engine.remove_member(space, old_id)


def test_unsent_edits_of_a_lost_laptop_reach_the_network_from_its_backup(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, alba) = network_of(server, make_device, 2)
    shared = organization(space, "Before")
    alba.records.save(shared)
    for device in (alba, admin, alba):
        device.sync()
    old_id = _device_id(alba)

    # Offline for days: an edit and a new record, never sent. A backup, then the laptop is lost.
    alba.records.save(edit(alba.records.require(shared.id), name="Edited offline"))
    fresh = organization(space, "Written offline")
    alba.records.save(fresh)
    backup = tmp_path / "alba.mingabackup"
    write_backup(alba.profile, backup)

    restored = _restore(backup, tmp_path / "new-laptop", server)
    try:
        # It is not the old device: no keys, so it cannot sync as her.
        assert restored.state.device_keys() is None
        try:
            restored.engine.sync_once()
        except NotEnrolled:
            pass
        else:  # pragma: no cover
            raise AssertionError("a restored profile synced as its old device")
        old = predecessor(restored.profile.engine)
        assert old is not None and old.device_id == old_id and old.server_url == server.url

        restored.engine.enroll(admin.engine.invite(space, Role.EDITOR))
        assert _device_id(restored) != old_id
        waiting = restored.engine.sync_once(discover=True)
        assert waiting.awaiting_key == [space] and waiting.pushed == 0
        _admit_and_remove_old(admin, space, restored, old_id)

        restored.sync()
        admin.sync()
        assert _members(admin, space) == {_device_id(admin), _device_id(restored)}
        found = admin.records.require(shared.id)
        assert isinstance(found, Organization) and found.name == "Edited offline"
        written = admin.records.require(fresh.id)
        assert isinstance(written, Organization) and written.name == "Written offline"
        assert _server_rows(server, fresh.id) == [(1,)]

        # The old laptop, found by whoever took it, no longer reads what is written now.
        later = organization(space, "After the removal")
        admin.records.save(later)
        admin.sync()
        stolen = alba.engine.sync_once(discover=True)
        assert space in stolen.lost_spaces or alba.records.get(later.id) is None
        assert alba.records.get(later.id) is None
        restored.sync()
        assert restored.records.require(later.id).name == "After the removal"  # type: ignore[attr-defined]
    finally:
        restored.engine.transport.close()
        restored.profile.close()


def test_edits_the_old_laptop_sent_after_the_backup_are_not_sent_twice(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, alba) = network_of(server, make_device, 2)
    shared = organization(space, "Before")
    alba.records.save(shared)
    for device in (alba, admin):
        device.sync()
    old_id = _device_id(alba)

    alba.records.save(edit(alba.records.require(shared.id), name="Edited before the backup"))
    fresh = organization(space, "New before the backup")
    alba.records.save(fresh)
    backup = tmp_path / "alba.mingabackup"
    write_backup(alba.profile, backup)
    # The old laptop still got to sync once after the backup, then it was lost.
    alba.sync()
    revisions = (_server_rows(server, shared.id), _server_rows(server, fresh.id))
    assert revisions == ([(2,)], [(1,)])

    restored = _restore(backup, tmp_path / "new-laptop", server)
    try:
        restored.engine.enroll(admin.engine.invite(space, Role.EDITOR))
        restored.engine.sync_once(discover=True)
        _admit_and_remove_old(admin, space, restored, old_id)
        report = restored.sync()
        admin.sync()
        # The same edits, re-sealed by the new device, met themselves: nothing new was stored.
        assert (_server_rows(server, shared.id), _server_rows(server, fresh.id)) == revisions
        assert _applied_by(server, _device_id(restored)) == 0
        assert report.conflicts == 0
        for record in (shared.id, fresh.id):
            assert restored.records.require(record) == admin.records.require(record)
        with restored.profile.engine.connect() as connection:
            from sqlalchemy import text

            assert connection.scalar(text("SELECT count(*) FROM records WHERE dirty = 1")) == 0
        assert _members(restored, space) == {_device_id(admin), _device_id(restored)}
    finally:
        restored.engine.transport.close()
        restored.profile.close()


def test_a_sole_admin_restored_from_backup_hands_the_space_over_to_itself(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    from desktop.store.succession import hand_over

    space, (admin, alba) = network_of(server, make_device, 2)
    shared = organization(space, "Before")
    admin.records.save(shared)
    for device in (admin, alba):
        device.sync()
    old_id = _device_id(admin)
    # The only admin edits offline, backs up, and loses the laptop.
    admin.records.save(edit(admin.records.require(shared.id), name="Edited by the admin offline"))
    backup = tmp_path / "admin.mingabackup"
    write_backup(admin.profile, backup)

    restored = _restore(backup, tmp_path / "new-laptop", server)
    try:
        old = predecessor(restored.profile.engine)
        assert old is not None and old.administered == (space,)
        assert restored.state.device_keys() is None
        done = hand_over(restored.profile.engine, Transport(server.url), restored.engine)
        assert done.spaces == (space,) and done.new_device == _device_id(restored) != old_id
        restored.sync()
        alba.sync()
        # One admin, the new device; the old one is gone from the space and from the keys.
        keyring, _pins = alba.engine._keyring()
        latest = keyring.logs[space].latest
        assert {m.device for m in latest.members} == {_device_id(alba), _device_id(restored)}
        member = latest.member(_device_id(restored))
        assert member is not None and member.role is Role.ADMIN
        found = alba.records.require(shared.id)
        assert isinstance(found, Organization) and found.name == "Edited by the admin offline"
        # It administers: it can invite (and so admit) again.
        assert restored.engine.invite(space, Role.EDITOR)
        later = organization(space, "After the hand-over")
        alba.records.save(later)
        alba.sync()
        admin.engine.sync_once(discover=True)
        assert admin.records.get(later.id) is None
        restored.sync()
        assert restored.records.get(later.id) is not None
        # The old keys were kept only for this: gone now, and a second run does nothing.
        again = predecessor(restored.profile.engine)
        assert again is not None and again.administered == ()
        assert (
            hand_over(restored.profile.engine, Transport(server.url), restored.engine).spaces == ()
        )
    finally:
        restored.engine.transport.close()
        restored.profile.close()
