"""A profile that is a member of a space with a given role, as sync would leave it: enrolled, with
the space's real signed statements stored (no server needed to read a role back)."""

from __future__ import annotations

from desktop.domain.records import Space, SpaceKind, new_id
from desktop.store.profile import Profile
from desktop.store.sync_state import ProfileSyncState
from sync.crypto.keys import DeviceKeys
from sync.crypto.spaces import MembershipLog, change_members, create_space
from sync.protocol import Role


def member_of_space(
    profile: Profile, role: Role | None, kind: SpaceKind = SpaceKind.NETWORK
) -> Space:
    """A space another admin made, with this profile's device added as ``role``, then removed
    again when ``role`` is None. Returns the space's record (not saved)."""
    state = ProfileSyncState(profile.engine)
    me = state.device_keys()
    if me is None:
        me = DeviceKeys.generate()
        state.save_enrollment("https://minga.invalid", me)
    admin = DeviceKeys.generate()
    space = new_id()
    genesis = create_space(space, admin)
    log = MembershipLog(genesis.statement.blob)
    added = change_members(
        log,
        admin,
        space_key=genesis.space_key,
        add={me.device_id: (me.public, role or Role.EDITOR)},
    )
    log.accept(added.statement.blob)
    blobs = [genesis.statement.blob, added.statement.blob]
    if role is None:
        removed = change_members(log, admin, space_key=added.space_key, remove=[me.device_id])
        blobs.append(removed.statement.blob)
    state.add_statements(space, blobs)
    return Space(
        id=space,
        space_id=space,
        name="Red del Sur",
        kind=kind,
        organization_id=new_id() if kind is SpaceKind.ORGANIZATION else None,
    )
