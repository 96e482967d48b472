"""Role changes in signed statements: a promotion takes effect in the same epoch, a demotion
must start a new one (authority is per epoch), and after it the demoted device's new writes
and wraps are refused while what it wrote before still opens."""

from __future__ import annotations

import pytest

from sync.crypto.envelope import open_record, seal_record
from sync.crypto.errors import CryptoError, CryptoErrorCode
from sync.crypto.keys import DeviceKeys
from sync.crypto.spaces import (
    Member,
    MembershipLog,
    MembershipStatement,
    SpaceKeyring,
    change_members,
    create_space,
    loses_rights,
    wrap_space_key,
)
from sync.protocol import Role

SPACE = "roles"


def _space() -> tuple[MembershipLog, SpaceKeyring, DeviceKeys, DeviceKeys, bytes]:
    """An admin (whose keyring is returned) and an editor, at epoch 1."""
    admin, editor = DeviceKeys.generate(), DeviceKeys.generate()
    created = create_space(SPACE, admin)
    log = MembershipLog(created.statement.blob)
    added = change_members(
        log,
        admin,
        space_key=created.space_key,
        add={editor.device_id: (editor.public, Role.EDITOR)},
    )
    log.accept(added.statement.blob)
    ring = SpaceKeyring(admin)
    ring.add_log(log)
    ring.add_wrap(SPACE, 1, created.wraps[admin.device_id])
    return log, ring, admin, editor, created.space_key


def _write(author: DeviceKeys, record: str, epoch: int, key: bytes, log: MembershipLog) -> bytes:
    """Sealed as the app does: format 2, bound to the latest statement the writer holds."""
    return seal_record(
        {"title": record},
        space=SPACE,
        record=record,
        revision=1,
        base=0,
        epoch=epoch,
        space_key=key,
        author=author,
        statement=(log.latest.version, log.latest.hash),
    )


def _open(ring: SpaceKeyring, blob: bytes, record: str) -> object:
    return open_record(blob, space=SPACE, record=record, revision=1, keys=ring).content


def test_which_changes_take_a_right_away() -> None:
    assert loses_rights(Role.ADMIN, Role.EDITOR) and loses_rights(Role.ADMIN, Role.READER)
    assert loses_rights(Role.EDITOR, Role.READER)
    assert not loses_rights(Role.READER, Role.EDITOR)
    assert not loses_rights(Role.EDITOR, Role.ADMIN) and not loses_rights(Role.ADMIN, Role.ADMIN)


def test_a_demotion_starts_a_new_epoch_and_refuses_the_demoted_writer_after_it() -> None:
    log, ring, admin, editor, key1 = _space()
    before = _write(editor, "before", 1, key1, log)
    demoted = change_members(log, admin, space_key=key1, roles={editor.device_id: Role.READER})
    assert demoted.statement.epoch == 2 and demoted.space_key != key1
    # A reader still reads: every member, the demoted one too, gets the new key.
    assert set(demoted.wraps) == {admin.device_id, editor.device_id}
    log.accept(demoted.statement.blob)
    ring.add_wrap(SPACE, 2, demoted.wraps[admin.device_id])

    after = _write(editor, "after", 2, demoted.space_key, log)
    with pytest.raises(CryptoError) as refused:
        _open(ring, after, "after")
    assert refused.value.code is CryptoErrorCode.UNKNOWN_SIGNER
    assert _open(ring, before, "before") == {"title": "before"}  # what it wrote then stands


def test_a_demotion_in_the_same_epoch_is_refused() -> None:
    log, _ring, admin, editor, _key = _space()
    current = log.latest
    members = [
        Member(m.keys, Role.READER if m.device == editor.device_id else m.role)
        for m in current.members
    ]
    same_epoch = MembershipStatement.issue(
        space=SPACE,
        version=current.version + 1,
        epoch=current.epoch,
        previous=current.hash,
        members=members,
        issuer=admin,
    )
    with pytest.raises(CryptoError) as refused:
        log.accept(same_epoch.blob)
    assert refused.value.code is CryptoErrorCode.MEMBERSHIP_INVALID


def test_a_promotion_takes_effect_in_the_same_epoch() -> None:
    log, ring, admin, _editor, key1 = _space()
    reader = DeviceKeys.generate()
    added = change_members(
        log, admin, space_key=key1, add={reader.device_id: (reader.public, Role.READER)}
    )
    log.accept(added.statement.blob)
    written = _write(reader, "by-reader", 1, key1, log)
    with pytest.raises(CryptoError):
        _open(ring, written, "by-reader")
    promoted = change_members(log, admin, space_key=key1, roles={reader.device_id: Role.EDITOR})
    assert promoted.statement.epoch == 1 and promoted.wraps == {}
    log.accept(promoted.statement.blob)
    assert _open(ring, written, "by-reader") == {"title": "by-reader"}


def test_a_demoted_admin_can_no_longer_issue_wraps_or_statements() -> None:
    log, _ring, admin, editor, key1 = _space()
    promoted = change_members(log, admin, space_key=key1, roles={editor.device_id: Role.ADMIN})
    log.accept(promoted.statement.blob)
    # The second admin demotes the first, which rotates.
    demoted = change_members(log, editor, space_key=key1, roles={admin.device_id: Role.EDITOR})
    assert demoted.statement.epoch == 2
    log.accept(demoted.statement.blob)
    ring = SpaceKeyring(editor)
    ring.add_log(log)
    forged = wrap_space_key(bytes(32), space=SPACE, epoch=2, recipient=editor.public, issuer=admin)
    with pytest.raises(CryptoError) as refused:
        ring.add_wrap(SPACE, 2, forged)
    assert refused.value.code is CryptoErrorCode.UNKNOWN_SIGNER
    with pytest.raises(CryptoError) as refused:
        log.accept(
            change_members(
                log, admin, space_key=demoted.space_key, roles={admin.device_id: Role.ADMIN}
            ).statement.blob
        )
    assert refused.value.code is CryptoErrorCode.UNKNOWN_SIGNER


def test_tenure_starts_at_the_epoch_of_the_last_return_of_a_right() -> None:
    """``tenure_epoch``: from which epoch a device has held a right without a break up to the
    latest statement (what a bundle's version must be sealed at or after, PROTOCOL.md §12.3).
    A removed and re-added editor's keys of the epochs before its removal fall outside it."""
    log, _ring, admin, editor, key = _space()
    reader = DeviceKeys.generate()
    assert (log.tenure_epoch(admin.device_id), log.tenure_epoch(editor.device_id)) == (1, 1)
    assert log.tenure_epoch(admin.device_id, admin=True) == 1
    assert log.tenure_epoch(editor.device_id, admin=True) is None
    added = change_members(
        log, admin, space_key=key, add={reader.device_id: (reader.public, Role.READER)}
    )
    log.accept(added.statement.blob)
    assert log.tenure_epoch(reader.device_id) is None  # a member, but no writer
    removed = change_members(log, admin, space_key=key, remove=[editor.device_id])
    log.accept(removed.statement.blob)
    assert log.latest.epoch == 2
    assert log.tenure_epoch(editor.device_id) is None
    back = change_members(
        log,
        admin,
        space_key=removed.space_key,
        add={editor.device_id: (editor.public, Role.EDITOR)},
    )
    log.accept(back.statement.blob)
    assert log.latest.epoch == 2
    assert log.tenure_epoch(editor.device_id) == 2  # epoch 1's key was held while removed
    promoted = change_members(
        log, admin, space_key=removed.space_key, roles={reader.device_id: Role.EDITOR}
    )
    log.accept(promoted.statement.blob)
    assert log.tenure_epoch(reader.device_id) == 2  # a promotion takes effect in its epoch
    demoted = change_members(
        log, admin, space_key=removed.space_key, roles={reader.device_id: Role.READER}
    )
    log.accept(demoted.statement.blob)
    assert log.latest.epoch == 3
    assert log.tenure_epoch(reader.device_id) is None
    assert (log.tenure_epoch(admin.device_id), log.tenure_epoch(editor.device_id)) == (1, 2)
