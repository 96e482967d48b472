"""rev-dels: a person's own notes (``Cascade.own_apart``) on two devices of theirs, sharing a
space other than the parent's, while the parent is deleted, edited and restored elsewhere.
Through the real server: every value anyone saved is current, in a visible conflict, or was
deliberately chosen against."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sqlalchemy import select

from desktop.domain.network_records import Note, ReadingPosition
from desktop.domain.records import Space, SpaceKind, edit
from desktop.store.conflict_marks import records_in_conflict
from desktop.store.schema import UNSENT_KEPT, SyncConflictRow
from desktop.store.spaces import local_spaces
from desktop.store.sync_state import TAKEN_WITH_PARENT
from sync.client.bundles import export_bundle, import_bundle
from sync.client.merge import MergeFlag
from sync.client.state import StoredConflict
from sync.client.transport import Transport
from sync.protocol import Role
from tests.helpers.server_process import free_port
from tests.integration.conftest import Device, Server, network_of
from tests.integration.test_meaning import _converge
from tests.integration.test_meaning_cascades import _directory_delete, _notes
from tests.integration.test_meaning_notes import _group_with_material, _live, _no_note_unreached


def _device_id(device: Device) -> str:
    keys = device.state.device_keys()
    assert keys is not None
    return keys.device_id


def _personal_space(admin: Device, members: list[Device]) -> str:
    """A space of one person's devices (as their synced "only me"), other than the group's."""
    space = admin.engine.create_space()
    admin.records.save(Space(id=space, space_id=space, name="Mine", kind=SpaceKind.NETWORK))
    for member in members:
        admin.engine._authorized(
            lambda token, m=member: admin.engine.transport.put_member(
                space, _device_id(m), Role.EDITOR, token
            )
        )
    pending = admin.engine.pending_members(space)
    admin.engine.admit(space, [dataclasses.replace(p, role=Role.EDITOR) for p in pending])
    admin.sync()
    for member in members:
        member.sync()
        member.engine.confirm_space(space)
    return space


def _values(device: Device, record: str) -> set[str]:
    """The note's body here and every value a conflict on it keeps."""
    found: set[str] = set()
    note = device.records.get(record)
    if isinstance(note, Note):
        found.add(note.body)
    for conflict in device.state.conflicts():
        if conflict.record == record:
            values = [conflict.mine, conflict.theirs, conflict.current]
            values += [other.value for other in conflict.others]
            found |= {str(v) for v in values if v is not None}
    return found


def _position(device: Device, space: str, material: str, page: int) -> str:
    record = device.records.save(ReadingPosition(space_id=space, material_id=material, page=page))
    return record.id


def _page(device: Device, position: str) -> int:
    record = device.records.require(position)
    assert isinstance(record, ReadingPosition)
    return record.page


def test_an_own_note_edited_on_the_second_device_while_dropped_on_the_first_comes_back_edited(
    server: Server, make_device: Any
) -> None:
    """Alba's note is in her personal space on alba and alba2. Alba2 edits it offline; badu
    deletes the group; alba drops the note (its deletion goes out); alba2 then meets both.
    The admin's edit from before the deletion brings the group back: alba2's edit is on both
    of alba's devices, or in a conflict there — never lost."""
    space, devices = network_of(server, make_device, 4)
    admin, alba, alba2, badu = devices
    mine = _personal_space(admin, [alba, alba2])
    group, material = _group_with_material(space, devices)
    note = alba.records.save(
        Note(space_id=mine, material_id=material.id, page=2, body="Mi duda: página 3.")
    )
    _converge(devices, rounds=1)
    assert _live(alba2, note.id)
    alba2.records.save(edit(alba2.records.require(note.id), body="Resuelta: ver anexo B."))
    _directory_delete(badu, group.id)
    badu.sync()
    admin.records.save(edit(admin.records.require(group.id), description="Cuenca alta"))
    alba.sync()
    assert not _live(alba, note.id)
    alba2.sync()
    alba.sync()
    admin.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert _live(device, group.id) and _live(device, material.id), device.name
        _no_note_unreached(device)
    for device in (alba, alba2):
        assert "Resuelta: ver anexo B." in _values(device, note.id), (
            device.name,
            _values(device, note.id),
            _notes(device, note.id),
        )


def _delete_while_admin_edits(devices: list[Device], group: str, description: str) -> None:
    """Badu deletes the group and syncs; the admin had edited it before it saw that."""
    admin, _alba, _alba2, badu = devices
    admin.records.save(edit(admin.records.require(group), description=description))
    _directory_delete(badu, group)
    badu.sync()


def test_a_group_deleted_restored_deleted_again_and_restored_brings_own_notes_back_each_time(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 4)
    admin, alba, alba2, _badu = devices
    mine = _personal_space(admin, [alba, alba2])
    group, material = _group_with_material(space, devices)
    note = alba.records.save(
        Note(space_id=mine, material_id=material.id, page=2, body="Primera lectura.")
    )
    position = _position(alba2, mine, material.id, 4)
    _converge(devices, rounds=1)
    for round_ in range(2):
        _delete_while_admin_edits(devices, group.id, f"Vuelta {round_}")
        for device in (alba, alba2):
            device.sync()
            assert not _live(device, note.id) and not _live(device, position), device.name
            _no_note_unreached(device)
        # Alba2 reads on offline? No: the material is gone there. The admin's edit beats it.
        admin.sync()
        _converge(devices, rounds=3)
        for device in devices:
            assert _live(device, group.id) and _live(device, material.id), (round_, device.name)
            _no_note_unreached(device)
        for device in (alba, alba2):
            back = device.records.require(note.id)
            assert isinstance(back, Note), device.name
            assert back.body == ("Primera lectura." if round_ == 0 else "Segunda lectura.")
            assert _page(device, position) == 4 + round_, device.name
        # Between the rounds alba edits her note and alba2 reads on.
        alba.records.save(edit(alba.records.require(note.id), body="Segunda lectura."))
        alba2.records.save(edit(alba2.records.require(position), page=5))
        _converge(devices, rounds=1)


def test_a_reading_position_moved_on_the_second_device_after_the_first_dropped_it(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 4)
    admin, alba, alba2, _badu = devices
    mine = _personal_space(admin, [alba, alba2])
    group, material = _group_with_material(space, devices)
    position = _position(alba, mine, material.id, 3)
    _converge(devices, rounds=1)
    alba2.records.save(edit(alba2.records.require(position), page=11))  # offline
    _delete_while_admin_edits(devices, group.id, "Cuenca alta")
    alba.sync()
    assert not _live(alba, position)
    alba2.sync()
    assert not _live(alba2, position)
    assert TAKEN_WITH_PARENT in _notes(alba2, position)
    admin.sync()
    _converge(devices, rounds=3)
    for device in (alba, alba2):
        assert _page(device, position) == 11, device.name
        _no_note_unreached(device)


def test_an_own_note_edited_offline_on_the_second_device_meets_its_drop_by_bundle(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Alba2 is offline and edits alba's note; badu deletes the group, alba drops the note and
    carries both deletions to alba2 on a stick: alba2 drops the note too, its edit never sent,
    kept only as what the drop took. The admin's edit from before brings the group back and
    alba the note with it, as she held it: alba2's edit must not be lost under that. Before,
    alba's version was merged over alba2's dropped note and the edit was nowhere."""
    space, devices = network_of(server, make_device, 4)
    admin, alba, alba2, _badu = devices
    mine = _personal_space(admin, [alba, alba2])
    group, material = _group_with_material(space, devices)
    note = alba.records.save(
        Note(space_id=mine, material_id=material.id, page=2, body="Mi duda: página 3.")
    )
    _converge(devices, rounds=1)
    online = alba2.engine.transport
    alba2.engine.transport = Transport(f"http://127.0.0.1:{free_port()}")
    alba2.records.save(edit(alba2.records.require(note.id), body="Resuelta: ver anexo B."))
    _delete_while_admin_edits(devices, group.id, "Cuenca alta")
    alba.sync()
    assert not _live(alba, note.id)
    stick = tmp_path / "to-alba2.mb"
    export_bundle(alba.engine, stick)
    assert import_bundle(alba2.engine, stick).problem is None
    assert not _live(alba2, group.id) and not _live(alba2, note.id)
    _no_note_unreached(alba2)
    alba2.engine.transport.close()
    alba2.engine.transport = online
    admin.sync()
    alba.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert _live(device, group.id) and _live(device, material.id), device.name
        _no_note_unreached(device)
    # Alba2, whose edit it was, holds it: current, or a conflict the person decides there
    # (mine, against what alba brought back).
    assert "Resuelta: ver anexo B." in _values(alba2, note.id), _values(alba2, note.id)
    assert "Mi duda: página 3." in _values(alba2, note.id)


def test_an_own_note_on_the_group_alone_is_dropped_and_comes_back_with_it(
    server: Server, make_device: Any
) -> None:
    """A note naming the group only (its field read from the content, not the parent
    column), in alba's "only me" space, never synced: dropped when the group's deletion
    arrives, and back as it was with the group."""
    space, devices = network_of(server, make_device, 4)
    admin, alba, _alba2, _badu = devices
    group, material = _group_with_material(space, devices)
    only_me = local_spaces(alba.records).only_me.id
    note = alba.records.save(Note(space_id=only_me, working_group_id=group.id, body="Acta."))
    _delete_while_admin_edits(devices, group.id, "Cuenca alta")
    alba.sync()
    assert not _live(alba, group.id) and not _live(alba, note.id)
    assert TAKEN_WITH_PARENT in _notes(alba, note.id)
    _no_note_unreached(alba)
    admin.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert _live(device, group.id) and _live(device, material.id), device.name
        _no_note_unreached(device)
    back = alba.records.require(note.id)
    assert isinstance(back, Note) and back.body == "Acta."
    assert not _notes(alba, note.id)


def test_a_note_in_another_shared_space_neither_blocks_nor_loses_under_a_deletion(
    server: Server, make_device: Any
) -> None:
    """A member puts a note on the group's material in another space she shares with alba (not
    the group's: the screens never do; a hostile or future app could). It is *own apart*: the
    group's deletion drops it on both, it brings nothing back; alba's edit made while the group
    was deleted elsewhere is not lost, and the note comes back with the group."""
    space, devices = network_of(server, make_device, 4)
    admin, alba, alba2, badu = devices
    other = _personal_space(admin, [alba, badu])
    group, material = _group_with_material(space, devices)
    note = badu.records.save(Note(space_id=other, material_id=material.id, body="Apartado."))
    _converge(devices, rounds=2)
    alba.records.save(edit(alba.records.require(note.id), body="Apartado, revisado."))
    admin.records.save(edit(admin.records.require(group.id), description="Cuenca alta"))
    _directory_delete(alba2, group.id)
    alba2.sync()
    badu.sync()
    alba.sync()
    badu.sync()
    for device in (alba, alba2, badu):
        assert not _live(device, group.id), device.name  # nothing brought it back
        _no_note_unreached(device)
    admin.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert _live(device, group.id) and _live(device, material.id), device.name
        _no_note_unreached(device)
    for device in (alba, badu):
        assert "Apartado, revisado." in _values(device, note.id), device.name


def _taken_note(device: Device, record: str) -> StoredConflict:
    (taken,) = (
        c for c in device.state.conflicts() if c.record == record and c.kind == TAKEN_WITH_PARENT
    )
    return taken


def test_an_unsent_edit_is_not_lost_when_its_taken_with_parent_note_is_dismissed(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Alba2 edits her note offline; the group's deletion reaches it on a stick, before the
    edit went out, and drops the note with a "taken with its parent" note holding the edit
    never sent, and her reading position (in her "only me" space, on alba2 alone) with one
    holding nothing unsent. Alba reads both and presses "Understood". The admin's edit from
    before brings the group back, and alba the note with it as she held it: alba2's edit must
    then be a visible conflict on alba2, not lost. Before, dismissing the note dismissed the
    edit in it, alba's version came back over it and the edit was nowhere. The reading
    position just goes from the list and comes back as it was, with nothing to settle."""
    space, devices = network_of(server, make_device, 4)
    admin, alba, alba2, _badu = devices
    mine = _personal_space(admin, [alba, alba2])
    group, material = _group_with_material(space, devices)
    note = alba.records.save(
        Note(space_id=mine, material_id=material.id, page=2, body="Mi duda: página 3.")
    )
    _converge(devices, rounds=1)
    position = _position(alba2, local_spaces(alba2.records).only_me.id, material.id, 6)
    online = alba2.engine.transport
    alba2.engine.transport = Transport(f"http://127.0.0.1:{free_port()}")
    alba2.records.save(edit(alba2.records.require(note.id), body="Resuelta: ver anexo B."))
    _delete_while_admin_edits(devices, group.id, "Cuenca alta")
    alba.sync()
    assert not _live(alba, note.id)
    stick = tmp_path / "to-alba2.mb"
    export_bundle(alba.engine, stick)
    assert import_bundle(alba2.engine, stick).problem is None
    assert not _live(alba2, group.id) and not _live(alba2, note.id)
    assert not _live(alba2, position)
    # One note on each, saying what happened: taken with the group ("deleted elsewhere, your
    # version kept", from the note's deletion met before the drop, would no longer be true).
    assert _notes(alba2, note.id) == {TAKEN_WITH_PARENT} == _notes(alba2, position)
    taken = _taken_note(alba2, note.id)
    assert isinstance(taken.mine, dict) and taken.mine["body"] == "Resuelta: ver anexo B."
    assert _taken_note(alba2, position).mine is None
    # Alba reads both notes and dismisses them: they leave the list and mark no record.
    for record in (note.id, position):
        assert alba2.state.resolve_conflict(_taken_note(alba2, record).id) == "settled"
        assert not _notes(alba2, record)
    assert not records_in_conflict(alba2.profile.engine, [note.id, position])
    alba2.engine.transport.close()
    alba2.engine.transport = online
    admin.sync()
    alba.sync()
    _converge(devices, rounds=3)
    for device in devices:
        assert _live(device, group.id) and _live(device, material.id), device.name
        _no_note_unreached(device)
    # The edit is a conflict on alba2, where it was typed: mine against what alba brought back.
    (kept,) = (c for c in alba2.state.conflicts() if c.record == note.id and c.field)
    assert (kept.field, kept.mine, kept.theirs) == (
        "body",
        "Resuelta: ver anexo B.",
        "Mi duda: página 3.",
    )
    assert records_in_conflict(alba2.profile.engine, [note.id]) == {note.id}
    # And no note of its own saying alba2 deleted it while someone else edited it: her device
    # dropped it, and the group's note says what came back.
    assert not _notes(alba2, note.id) & {flag.value for flag in MergeFlag}, _notes(alba2, note.id)
    # The position, which held nothing unsent, is back as it was: nothing to settle.
    assert _page(alba2, position) == 6
    assert not [c for c in alba2.state.conflicts() if c.record == position]
    # Kept as mine, the edit goes to both of alba's devices.
    assert alba2.state.resolve_conflict(kept.id, kept.mine) == "settled"
    _converge(devices, rounds=2)
    for device in (alba, alba2):
        back = device.records.require(note.id)
        assert isinstance(back, Note) and back.body == "Resuelta: ver anexo B.", device.name
        assert TAKEN_WITH_PARENT not in _notes(device, note.id), device.name
    assert not [c for c in alba2.state.conflicts() if c.record == note.id and c.field]
    # Nothing kept apart is left once the note is back.
    with alba2.profile.engine.connect() as connection:
        assert not connection.execute(
            select(SyncConflictRow).where(SyncConflictRow.kind == UNSENT_KEPT)
        ).all()


def test_an_unsent_edit_is_kept_when_its_taken_with_parent_note_is_dismissed_twice(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """As above, but "Understood" is pressed twice for the one note (a double click, or the
    Sync page's list and an open dialog both showing it, the second press on a note already
    read): the second press must decide nothing either. Before (rev-back), it found the row
    kept apart (``UNSENT_KEPT``), took it for a plain note read, and deleted it: alba's
    version came back over the edit without a word."""
    space, devices = network_of(server, make_device, 4)
    admin, alba, alba2, _badu = devices
    mine = _personal_space(admin, [alba, alba2])
    group, material = _group_with_material(space, devices)
    note = alba.records.save(
        Note(space_id=mine, material_id=material.id, page=2, body="Mi duda: página 3.")
    )
    _converge(devices, rounds=1)
    online = alba2.engine.transport
    alba2.engine.transport = Transport(f"http://127.0.0.1:{free_port()}")
    alba2.records.save(edit(alba2.records.require(note.id), body="Resuelta: ver anexo B."))
    _delete_while_admin_edits(devices, group.id, "Cuenca alta")
    alba.sync()
    stick = tmp_path / "to-alba2.mb"
    export_bundle(alba.engine, stick)
    assert import_bundle(alba2.engine, stick).problem is None
    taken = _taken_note(alba2, note.id)
    assert isinstance(taken.mine, dict) and taken.mine["body"] == "Resuelta: ver anexo B."
    assert alba2.state.resolve_conflict(taken.id) == "settled"
    assert alba2.state.resolve_conflict(taken.id) == "settled"  # the same note, again
    assert not _notes(alba2, note.id)
    alba2.engine.transport.close()
    alba2.engine.transport = online
    admin.sync()
    alba.sync()
    _converge(devices, rounds=3)
    assert "Resuelta: ver anexo B." in _values(alba2, note.id)
    (kept,) = (c for c in alba2.state.conflicts() if c.record == note.id and c.field)
    assert (kept.mine, kept.theirs) == ("Resuelta: ver anexo B.", "Mi duda: página 3.")
