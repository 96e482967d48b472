"""Issue 14, rule 3 of "Deletes" (sync/ENGINE.md) attacked through the real server with three
devices: what came back with its parent unchanged (``came_back_unchanged``) goes with another
deletion of it, but never with an edit someone made, nor with a conflict somebody has not
decided yet."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from desktop.domain.network_records import Material
from desktop.domain.records import Membership, MembershipRole, Person, WorkingGroup, edit
from desktop.store.came_back import CAME_BACK
from desktop.store.materials import MaterialStore
from desktop.store.sync_state import sealed_content
from sync.client.transport import Offline, Transport, TransportError
from tests.helpers.server_process import free_port
from tests.integration.conftest import Device, Server, network_of
from tests.integration.devices import make_with_files
from tests.integration.test_meaning import _converge
from tests.integration.test_meaning_cascades import (
    _BACK,
    _directory_delete,
    _group_with_member,
    _material_with_file,
    _notes,
    _nothing_unreachable,
    _opens,
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


def test_rule_3_and_rule_1_settle_and_take_nothing_back_and_forth(
    server: Server, make_device: Any
) -> None:
    """Fault seed 10135's case (editor first) run on: once settled, more syncs change nothing
    anywhere (no record's revision moves, nothing waits to be sent): rule 3 takes the
    membership and nothing brings it or Rosa back to be taken again. Then the admin, who was
    offline through all of it, corrects Rosa's name: her deletion is beaten, and the
    membership rule 3 took comes back with her on every device, and stays."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, person, membership = _group_with_member(space, devices)
    offline = admin.engine.transport
    admin.engine.transport = Transport(f"http://127.0.0.1:{free_port()}")
    _directory_delete(alba, group.id)
    alba.sync()
    _directory_delete(alba, person.id)
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    badu.sync()
    alba.sync()
    _converge([alba, badu], rounds=2)
    settled = {device.name: device.snapshot() for device in (alba, badu)}
    _converge([alba, badu], rounds=3)
    for device in (alba, badu):
        assert device.snapshot() == settled[device.name], device.name
        assert device.records.dirty_count() == 0, device.name
        assert device.records.get(membership) is None, device.name
    admin.engine.transport.close()
    admin.engine.transport = offline
    admin.records.save(edit(admin.records.require(person.id), name="Rosa Quispe"))
    _converge(devices, rounds=3)
    settled = {device.name: device.snapshot() for device in devices}
    _converge(devices, rounds=2)
    for device in devices:
        assert device.snapshot() == settled[device.name], device.name
        assert device.records.dirty_count() == 0, device.name
        back = device.records.get(person.id)
        assert isinstance(back, Person) and back.name == "Rosa Quispe", device.name
        assert isinstance(device.records.get(membership), Membership), device.name
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        _nothing_unreachable(device)


def _seal_extras(device: Device, record: str, extras: dict[str, Any]) -> None:
    """A member's own app: what it seals beside a record's fields, written straight into its
    store and sent as an edit (the honest app never writes these)."""
    with device.profile.engine.begin() as connection:
        connection.execute(text("DELETE FROM record_extras WHERE record_id = :r"), {"r": record})
        connection.execute(
            text("INSERT INTO record_extras (record_id, fields) VALUES (:r, :f)"),
            {"r": record, "f": json.dumps(extras)},
        )
        connection.execute(text("UPDATE records SET dirty = 1 WHERE id = :r"), {"r": record})


@pytest.mark.parametrize(
    "junk",
    [12345, "x" * 31, {"a": "b" * 32}, "y" * 100_000],
    ids=["number", "short", "object", "huge"],
)
def test_a_mark_of_no_mark_s_shape_from_a_member_s_app_is_read_past_and_never_sealed_back(
    server: Server, make_device: Any, junk: Any
) -> None:
    """Badu's app seals junk as the membership's ``came_back_unchanged``: every device opens
    the membership (no "needs a newer Minga"), keeps no mark, and an honest edit seals none
    back; Rosa deleted then takes the membership with her, as any deletion does."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    _group, person, membership = _group_with_member(space, devices)
    _seal_extras(badu, membership, {CAME_BACK: junk})
    _converge(devices, rounds=2)
    for device in (admin, alba):
        assert isinstance(device.records.get(membership), Membership), device.name
        assert not device.state.conflicts(), device.name
        with device.profile.engine.connect() as connection:
            extras = connection.scalar(
                text("SELECT fields FROM record_extras WHERE record_id = :r"), {"r": membership}
            )
        assert extras is None or CAME_BACK not in extras, device.name
    held = alba.records.require(membership)
    assert isinstance(held, Membership)
    alba.records.save(edit(held, role=MembershipRole.EDITOR))
    with alba.profile.engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT c.content, e.fields FROM record_contents c LEFT JOIN record_extras e "
                "ON e.record_id = c.id WHERE c.id = :r"
            ),
            {"r": membership},
        ).one()
    assert CAME_BACK not in sealed_content(row.content, row.fields)  # what alba's edit seals
    _directory_delete(alba, person.id)
    _converge(devices, rounds=2)
    for device in devices:
        assert device.records.get(person.id) is None, device.name
        assert device.records.get(membership) is None, device.name
        assert device.records.dirty_count() == 0, device.name


def test_a_membership_removed_alone_while_its_group_came_back_elsewhere_stays_removed(
    server: Server, make_device: Any
) -> None:
    """Alba deletes the group; badu, who had not seen it, edits the group, which comes back
    with the membership, unchanged but marked. The admin, offline since before either, removes
    Rosa from the group (the membership alone): a deliberate deletion that nobody edited
    against, for the membership came back as it was. It stays removed on every device, and
    the group and Rosa stay. Before (rev-back), the mark made the returned membership differ
    from the admin's base, so it counted as an edit elsewhere and undid the removal."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, person, membership = _group_with_member(space, devices)
    admin.records.delete(membership)  # removed from the group, by itself; not synced yet
    _directory_delete(alba, group.id)
    alba.sync()
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    badu.sync()  # the group back, and the membership with it, marked
    admin.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert device.records.get(membership) is None, device.name
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        assert isinstance(device.records.get(person.id), Person), device.name
        assert device.records.dirty_count() == 0, device.name
        _nothing_unreachable(device)
    assert not _notes(admin, membership), "nobody edited what the admin removed"


def test_a_membership_edited_after_it_came_back_and_sent_before_rosa_s_deletion_keeps_her(
    server: Server, make_device: Any
) -> None:
    """The editor-first twin of ``test_a_membership_edited_after_it_came_back_brings_its_
    deleted_person_back``: the admin's edit of the returned membership reaches the server
    before alba sends Rosa's deletion. Alba then meets the edited membership (its mark
    stale) live under the Rosa she deleted: an edit beats the deletion, Rosa comes back with
    it on every device and alba is told."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    group, person, membership = _group_with_member(space, devices)
    _directory_delete(alba, group.id)
    alba.sync()
    _directory_delete(alba, person.id)
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    badu.sync()
    admin.sync()
    came_back = admin.records.require(membership)
    assert isinstance(came_back, Membership)
    admin.records.save(edit(came_back, role=MembershipRole.EDITOR))
    admin.sync()  # the edit first
    alba.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(person.id), Person), device.name
        kept = device.records.get(membership)
        assert isinstance(kept, Membership) and kept.role == MembershipRole.EDITOR, device.name
        assert device.records.dirty_count() == 0, device.name
        _nothing_unreachable(device)
    assert _notes(alba, person.id) & _BACK


def test_a_file_added_under_a_material_that_came_back_unchanged_brings_it_back_again(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """The nested case: alba deletes the group (its material and file go); badu edits the
    group, and the material and its file come back with it, unchanged, marked. The admin adds
    a second file to that material; alba, who had not seen it, deletes the group again. The
    added file is an addition under the material (rule 1): the material and the group come
    back again with both files, on every device, whoever syncs first; rule 3 takes nothing."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    admin, alba, badu = devices
    material, file, data = _material_with_file(space, devices, tmp_path / "in")
    group = material.working_group_id
    MaterialStore.of(alba.profile).delete_with_files(group)
    alba.sync()
    badu.records.save(edit(badu.records.require(group), description="Cuenca alta"))
    _converge(devices, rounds=2)
    assert isinstance(alba.records.get(material.id), Material)
    with alba.profile.engine.connect() as connection:
        marked = connection.scalar(
            text("SELECT fields FROM record_extras WHERE record_id = :r"), {"r": material.id}
        )
    assert marked is not None and CAME_BACK in marked  # back with the group, unchanged
    (tmp_path / "in" / "acta.bin").write_bytes(b"acta " * 2000)
    added = MaterialStore.of(admin.profile).import_file(
        admin.records.require(material.id), tmp_path / "in" / "acta.bin"
    )
    MaterialStore.of(alba.profile).delete_with_files(group)
    alba.sync()
    admin.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert isinstance(device.records.get(group), WorkingGroup), device.name
        assert isinstance(device.records.get(material.id), Material), device.name
        files = {f.id for f in MaterialStore.of(device.profile).files(material.id)}
        assert files == {file.id, added.id}, device.name
        _opens(device, file.id, data)
        assert device.records.dirty_count() == 0, device.name
        _nothing_unreachable(device)


def _second_answer_lost(device: Device) -> None:
    """In the device's next sync, the server stores the second request that carries changes
    but its answer never comes back (the link drops on the way down)."""
    transport = device.engine.transport
    send = transport.sync
    pushes: list[int] = []

    def sync(request: Any, *args: Any, **kwargs: Any) -> Any:
        answer = send(request, *args, **kwargs)
        if request.push:
            pushes.append(len(request.push))
            if len(pushes) == 2:
                transport.sync = send  # type: ignore[method-assign]
                raise Offline("cut on the way down")
        return answer

    transport.sync = sync  # type: ignore[method-assign]


@pytest.mark.parametrize("rosa_first", [True, False], ids=["rosa-first", "badu-first"])
def test_a_return_whose_answer_was_lost_then_taken_by_rule_3_settles_as_the_deletion(
    server: Server, make_device: Any, rosa_first: bool
) -> None:
    """Badu brings the group back with the membership; the server stores it but the answer is
    lost, so badu's next sync sends it again. Meanwhile Rosa's deletion (alba's) reaches the
    server, and rule 3 takes the membership on badu while its return is still unanswered
    there (or, badu-first, badu resends before pulling Rosa's deletion). Whoever syncs
    first, it ends as the seed-10135 case: the group back, Rosa and the membership gone on
    every device, nothing left to send."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    group, person, membership = _group_with_member(space, devices)
    _directory_delete(alba, group.id)
    alba.sync()
    _directory_delete(alba, person.id)
    badu.records.save(edit(badu.records.require(group.id), description="Cuenca alta"))
    _second_answer_lost(badu)
    with contextlib.suppress(TransportError):
        badu.engine.sync_once(discover=True)
    assert {entry.record for entry in badu.state.outbox()} >= {group.id, membership}
    for device in (alba, badu) if rosa_first else (badu, alba):
        device.sync()
    _converge(devices, rounds=3)
    for device in devices:
        back = device.records.require(group.id)
        assert isinstance(back, WorkingGroup) and back.description == "Cuenca alta"
        assert device.records.get(person.id) is None, device.name
        assert device.records.get(membership) is None, device.name
        assert device.records.dirty_count() == 0, device.name
        _nothing_unreachable(device)
