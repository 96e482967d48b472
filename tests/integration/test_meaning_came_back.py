"""Issue 14, rule 3 of "Deletes" (sync/ENGINE.md) attacked through the real server with three
devices: what came back with its parent unchanged (``came_back_unchanged``) goes with another
deletion of it, but never with an edit someone made, nor with a conflict somebody has not
decided yet."""

from __future__ import annotations

import contextlib
from typing import Any

from desktop.domain.records import Membership, MembershipRole, Person, WorkingGroup, edit
from desktop.store.came_back import CAME_BACK
from sync.client.transport import Offline, TransportError
from tests.integration.conftest import Device, Server, network_of
from tests.integration.test_meaning import _converge
from tests.integration.test_meaning_cascades import (
    _BACK,
    _directory_delete,
    _group_with_member,
    _notes,
    _nothing_unreachable,
)


def test_a_membership_that_came_back_over_an_undecided_edit_is_not_taken_by_rule_3(
    server: Server, make_device: Any
) -> None:
    """Badu makes Rosa an editor of the group and syncs; the admin, offline since before,
    makes her an administrator of it. Alba deletes the group (its membership goes), then Rosa; badu,
    who had not seen it, edits the group, which comes back with the membership as badu last
    had it (editor), marked come back unchanged. The admin then meets the membership back
    and Rosa's deletion in one sync: editor against administrator is a conflict for the admin to
    decide, the record holds badu's value meanwhile, which is what the mark vouches for. Rule
    3 must not take the membership with Rosa's deletion: the admin's choice is an edit made
    under her, and an edit beats a deletion (she comes back, the conflict stays to decide)."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, person, membership = _group_with_member(space, devices)
    mine = admin.records.require(membership)
    assert isinstance(mine, Membership)
    admin.records.save(edit(mine, role=MembershipRole.ADMIN))  # not synced yet
    theirs = badu.records.require(membership)
    assert isinstance(theirs, Membership)
    badu.records.save(edit(theirs, role=MembershipRole.EDITOR))
    badu.sync()
    alba.sync()
    _directory_delete(alba, group.id)
    alba.sync()
    _directory_delete(alba, person.id)  # nothing of hers left to take here
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    badu.sync()  # the group back, and the membership with it (editor), marked
    alba.sync()  # Rosa's deletion goes; alba's rule 3 takes the membership
    admin.sync()  # admin against editor, and Rosa's deletion
    kept = admin.records.get(membership)
    assert isinstance(kept, Membership), "the admin's edit went with Rosa's deletion"
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(person.id), Person), device.name
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        assert isinstance(device.records.get(membership), Membership), device.name
        _nothing_unreachable(device)
    asked = {
        (c.mine, c.theirs)
        for c in admin.state.conflicts()
        if c.record == membership and c.field == "role"
    }
    held = admin.records.require(membership)
    assert isinstance(held, Membership)
    values = {MembershipRole.ADMIN.value, MembershipRole.EDITOR.value}
    assert values <= {str(v) for pair in asked for v in pair} | {held.role.value}, asked
    assert all(CAME_BACK not in str(c.field) for d in devices for c in d.state.conflicts())
    assert _notes(alba, person.id) & _BACK, "alba, who deleted Rosa, is told she is back"


def _second_push_lost(device: Device) -> None:
    """In the device's next sync, the second request that carries changes never reaches the
    server (the link drops on the way up): what the first round's answer made it decide stays
    here, unsent, as after a cut."""
    transport = device.engine.transport
    send = transport.sync
    pushes: list[int] = []

    def sync(request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.push:
            pushes.append(len(request.push))
            if len(pushes) == 2:
                transport.sync = send  # type: ignore[method-assign]
                raise Offline("cut on the way up")
        return send(request, *args, **kwargs)

    transport.sync = sync  # type: ignore[method-assign]


def test_two_devices_bringing_a_membership_back_as_each_last_had_it_ask_nothing_of_the_mark(
    server: Server, make_device: Any
) -> None:
    """Badu makes Rosa an editor and syncs; the admin, offline since before, still holds her
    as a reader. Alba deletes the group. The admin and badu both edit the group, and both
    bring it back over the deletion with the membership as each last had it, marked come back
    unchanged, each mark the digest of another content; the admin's push is cut, so badu's
    goes first and the admin's meets it. The marks are bookkeeping: however the two contents
    merge, nobody is asked to choose between two digests, and the result is no mark that
    vouches for a content nobody brought back."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, _person, membership = _group_with_member(space, devices)
    theirs = badu.records.require(membership)
    assert isinstance(theirs, Membership)
    badu.records.save(edit(theirs, role=MembershipRole.EDITOR))
    badu.sync()
    alba.sync()
    _directory_delete(alba, group.id)
    alba.sync()
    admin.records.save(edit(admin.records.require(group.id), name="Agua y tierra"))
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    _second_push_lost(admin)
    with contextlib.suppress(TransportError):
        admin.engine.sync_once(discover=True)  # back here as the admin had it, unsent
    assert isinstance(admin.records.get(membership), Membership)
    badu.sync()  # back there as badu had it, sent first
    _converge(devices, rounds=3)
    for device in devices:
        assert not [c for c in device.state.conflicts() if c.field == CAME_BACK], (
            f"{device.name} is asked to choose between two marks"
        )
        assert isinstance(device.records.get(membership), Membership), device.name
        _nothing_unreachable(device)
