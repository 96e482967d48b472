"""Shares sealed to trusted members travel by sync, through the real server, and two of them
bring the person back in after a forgotten passphrase; re-issued shares retire the old ones on
every holder's computer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from desktop.store.errors import WrongRecoveryKey
from desktop.store.profile import Profile, unlock
from desktop.store.records import RecordStore
from desktop.store.shared_recovery import (
    SharesRefused,
    issue_shares,
    open_share,
    retire_issued,
    seal_to_members,
    shares_held,
    unlock_with_shares,
)
from desktop.store.sync_state import ProfileSyncState
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from sync.crypto.keys import DeviceKeys, DevicePublicKeys
from tests.integration.conftest import Device, Server, network_of


def _keys(device: Device) -> DeviceKeys:
    keys = device.state.device_keys()
    assert keys is not None
    return keys


def _member_keys(owner: Device, space: str, holders: list[Device]) -> list[DevicePublicKeys]:
    """The holders' keys as the owner's verified statement lists them (not the server's word)."""
    keyring, _pins = owner.engine._keyring()
    latest = keyring.logs[space].latest
    found = []
    for holder in holders:
        member = latest.member(_keys(holder).device_id)
        assert member is not None
        found.append(member.keys)
    return found


def _reopened(device: Device, profile: Profile, server: Server) -> Device:
    state = ProfileSyncState(profile.engine)
    return Device(
        device.name,
        profile,
        RecordStore(profile.engine),
        state,
        SyncEngine(state, Transport(server.url)),
    )


def test_shares_sealed_to_members_travel_by_sync_and_two_bring_the_owner_back(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, alba, badu, chidi) = network_of(server, make_device, 4)
    for device in (admin, alba, badu, chidi):
        device.sync()
    holders = [admin, badu, chidi]

    issued = issue_shares(alba.profile, 2, 3)
    sealed = seal_to_members(
        alba.profile,
        issued,
        space=space,
        owner="Alba",
        holders=_member_keys(alba, space, holders),
    )
    alba.sync()
    words = {}
    for holder in holders:
        holder.sync()
        held = shares_held(holder.profile.engine, _keys(holder))
        assert [share.owner for share in held] == ["Alba"]
        words[holder.name] = open_share(held[0], _keys(holder))
        # The others' shares reached this computer too, and stay shut to it.
        for other in sealed:
            if other.holder_device != _keys(holder).device_id:
                with pytest.raises(WrongRecoveryKey):
                    open_share(holder.records.require(other.id), _keys(holder))  # type: ignore[arg-type]
    assert sorted(words.values()) == sorted(issued.mnemonics)

    # Alba forgot her passphrase. Badu and Chidi read her their words; she types them.
    folder = alba.profile.folder
    alba.engine.transport.close()
    alba.profile.close()
    with pytest.raises(SharesRefused):
        unlock_with_shares(folder, [words["member2"]], "Alba's new passphrase")
    back = unlock_with_shares(folder, [words["member2"], words["member3"]], "Alba's new passphrase")
    alba = _reopened(alba, back, server)
    try:
        # Re-issue (say Chidi left the network): new shares to Admin and Badu only, the old set
        # retired everywhere.
        renewed = issue_shares(back, 2, 2)
        assert retire_issued(back, keep=renewed.share_set.identifier) == 3
        seal_to_members(
            back,
            renewed,
            space=space,
            owner="Alba",
            holders=_member_keys(alba, space, [admin, badu]),
        )
        alba.sync()
        for holder in holders:
            holder.sync()
        assert shares_held(chidi.profile.engine, _keys(chidi)) == []
        new_words = [
            open_share(shares_held(h.profile.engine, _keys(h))[0], _keys(h)) for h in (admin, badu)
        ]
    finally:
        alba.engine.transport.close()
        back.close()
    with pytest.raises(SharesRefused) as refusal:
        unlock_with_shares(folder, [words["member2"], words["member3"]], "yet another passphrase")
    assert refusal.value.reason == "retired"
    unlock_with_shares(folder, new_words, "yet another passphrase").close()
    unlock(folder, "yet another passphrase").close()
