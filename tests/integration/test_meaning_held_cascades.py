"""A deletion held for a newer Minga holds what it took, for every cascade (issue 14).

A newer Minga saves a material, a working group, a person or an organization in a shape this
version cannot read (it is kept sealed here, "needs a newer Minga"). Alba, on this version,
then deletes it: its deletion waits on her device (it would only meet the newer version), and
what it took must wait with it, one decision. Built first for incidents only (``CHILD_TYPES``):
a material's files, a group's materials, memberships and their files, a person's or an
organization's memberships went out alone and took, on every device, what was under a record
the newer version's edit keeps. Through the real server with three devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from desktop.domain.fields import CODES, FieldSpec, Merge
from desktop.domain.network_records import Material, MaterialFile, Note
from desktop.domain.records import (
    _TYPE_OF_CLASS,
    RECORD_TYPES,
    Incident,
    Membership,
    MembershipRole,
    Organization,
    Person,
    PersonKind,
    RecordType,
    WorkingGroup,
    edit,
)
from desktop.store.spaces import local_spaces
from sync.client.transport import Offline, Transport
from tests.helpers.records import file_without_bytes
from tests.integration.conftest import Device, Server, network_of
from tests.integration.test_meaning import _converge, _save_as_newer_minga, _sealed_content
from tests.integration.test_meaning_cascades import (
    _BACK,
    _directory_delete,
    _notes,
    _nothing_unreachable,
)
from tests.integration.test_meaning_deleted_in_flight import (
    CutsFirstPush,
    _outbox,
    _pushes,
    _source,
)
from tests.integration.test_meaning_deletes_review import SOURCES, CutsSecondBatch, small_batches


def _family(space: str, devices: list[Device]) -> dict[str, list[str]]:
    """Two groups, a material with two files in the first, an organization that is a member
    of the second, a person who is a member of both: synced to every device.
    Returns what each parent's deletion takes, the parent first."""
    group = WorkingGroup(space_id=space, name="Agua")
    other = WorkingGroup(space_id=space, name="Tierra")
    material = Material(
        space_id=space, working_group_id=group.id, title="Mapa de pozos", material_type="toolkit"
    )
    files = [file_without_bytes(material, f"{n}.txt") for n in range(2)]
    org = Organization(space_id=space, name="Casa Abierta")
    person = Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="Rosa")
    memberships = [
        Membership(space_id=space, working_group_id=g.id, person_id=person.id)
        for g in (group, other)
    ]
    by_org = Membership(space_id=space, working_group_id=other.id, organization_id=org.id)
    devices[0].records.save_all([group, other, material, *files, org, person, *memberships, by_org])
    _converge(devices, rounds=1)
    return {
        "material": [material.id, *(f.id for f in files)],
        "working_group": [group.id, material.id, *(f.id for f in files), memberships[0].id],
        "person": [person.id, *(m.id for m in memberships)],
        "organization": [org.id, by_org.id],
    }


def _unreadable(device: Device, record: str) -> None:
    """What a newer Minga saves: a field this version knows, in a shape it cannot read."""
    content = _sealed_content(device, record)
    field = "title" if content["type"] == "material" else "name"
    _save_as_newer_minga(device, {**content, "schema": 2, field: [content[field], "2"]})


@pytest.mark.parametrize("parent", ["material", "working_group", "person", "organization"])
def test_a_deletion_held_for_a_newer_minga_holds_what_it_took_in_every_cascade(
    server: Server, make_device: Any, parent: str
) -> None:
    space, devices = network_of(server, make_device, 3)
    newer, alba, badu = devices
    taken = _family(space, devices)[parent]
    record = taken[0]
    _unreadable(newer, record)
    newer.sync()
    alba.sync()
    assert alba.state.sealed_title(record) is not None
    _directory_delete(alba, record)  # the directory's delete: everything under it goes
    assert all(alba.records.get(r) is None for r in taken)
    _converge(devices, rounds=2)
    # Nothing of the decision went out: everything under the record the newer edit keeps is
    # still there on the other two devices, and the whole deletion waits on alba's.
    for device in (newer, badu):
        for child in taken[1:]:
            assert device.records.get(child) is not None, (device.name, child)
        _nothing_unreachable(device)
    assert alba.records.dirty_count() == len(taken)
    assert not alba.state.pending_changes([space], 100)
    _nothing_unreachable(alba)


@pytest.mark.parametrize("parent", ["working_group", "person"])
def test_a_deletion_waiting_for_a_change_in_flight_holds_all_it_took(
    server: Server, make_device: Any, parent: str
) -> None:
    """A change under the record is sealed and sent without an answer (a cut), then the record
    is deleted: its deletion waits for that answer (``_deletions_waiting``), and so must every
    other deletion it took, to go in one push with it. Built for an incident's children only:
    the group's membership, its material's other file, the person's other membership went in
    the first push alone, and a person's deletion did not wait at all for a membership in
    flight (its ``parent_id`` names the group): the server held the person deleted and the
    membership live, which the next device to pull brings back "restored"."""
    space, devices = network_of(server, make_device, 3)
    admin, alba, _badu = devices
    family = _family(space, devices)
    taken = family[parent]
    flying = taken[2] if parent == "working_group" else taken[1]  # a file; a membership
    held = admin.records.require(flying)
    admin.records.save(
        edit(held, filename="pozos-2026.txt")
        if isinstance(held, MaterialFile)
        else edit(held, role=MembershipRole.EDITOR)
    )
    url = admin.engine.transport.base_url
    admin.engine.transport = CutsFirstPush(url, admin.engine.transport.observer, applied=False)
    with pytest.raises(Offline):
        admin.engine.sync_once()
    assert flying in _outbox(admin)
    _directory_delete(admin, taken[0])
    admin.sent.clear()
    admin.sync()
    [whole] = [push for push in _pushes(admin) if push.get(taken[0])]
    assert {r: whole.get(r) for r in taken} == dict.fromkeys(taken, True), whole
    assert alba.sync().restored == 0
    for _ in range(2):
        for device in devices:
            assert device.sync().restored == 0, device.name
    for device in devices:
        for record in taken:
            assert device.records.get(record) is None, (device.name, record)
        assert device.records.dirty_count() == 0, device.name
        _nothing_unreachable(device)


@pytest.mark.parametrize("parent", ["person", "organization"])
def test_a_person_s_deletion_split_by_a_cut_never_leaves_a_membership_naming_them_live(
    server: Server, make_device: Any, parent: str
) -> None:
    """Alba deletes a person (or an organization) who is a member of a group, and an incident
    with its sources: more deletions than the first batch holds (``SOURCES`` over ``FIRST``, as
    2,100 over ``LEAD``'s 1,024 by default). The sync
    is cut after the first batch reached the server. The membership's deletion was ordered
    under its group (its ``parent_id``), the person's under the person: the person's id sorts
    first, the group's last, so the first batch held the person's deletion and not the
    membership's. A peer pulling then found the person deleted and a membership naming them
    live, and brought the person back "restored" on every device, though nobody had changed
    anything after the deletion."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    group = WorkingGroup(id="f" * 32, space_id=space, name="Agua")
    if parent == "person":
        named: Person | Organization = Person(
            id="0" * 32, space_id=space, kind=PersonKind.INDIVIDUAL, name="Rosa"
        )
        membership = Membership(space_id=space, working_group_id=group.id, person_id=named.id)
    else:
        named = Organization(id="0" * 32, space_id=space, name="Casa Abierta")
        membership = Membership(space_id=space, working_group_id=group.id, organization_id=named.id)
    incident = Incident(space_id=space, title="Eviction at Barrio Sur", place="Barrio Sur")
    sources = [_source(space, incident.id, f"Testimony {n}") for n in range(SOURCES)]
    alba.records.save_all([group, named, membership, incident, *sources])
    _converge(devices, rounds=1)
    _directory_delete(alba, named.id)
    alba.records.delete(incident.id)
    small_batches(alba)
    url = alba.engine.transport.base_url
    observer = alba.engine.transport.observer
    alba.engine.transport = alba.engine.batches.transport = CutsSecondBatch(url, observer=observer)
    with pytest.raises(Offline):
        alba.engine.sync_once()
    assert alba.engine.batches.transport.batches == 2
    # A peer pulling between: what it holds is whole or not yet there, never half.
    assert badu.sync().restored == 0
    _nothing_unreachable(badu)
    alba.engine.transport = alba.engine.batches.transport = Transport(url, observer=observer)
    _converge(devices, rounds=2)
    for device in devices:
        assert device.records.get(named.id) is None, device.name
        assert device.records.get(membership.id) is None, device.name
        assert isinstance(device.records.get(group.id), WorkingGroup), device.name
        assert device.state.conflicts() == [], device.name
        _nothing_unreachable(device)


def test_a_deletion_taking_a_record_held_for_a_newer_minga_waits_whole(
    server: Server, make_device: Any
) -> None:
    """The other way round: the record a newer Minga changed is under the one deleted. A
    newer Minga saves a group's material in a shape this version cannot read; alba deletes the
    group (its materials and their files with it). The material's deletion waits (it would
    only meet the newer version), and so must the group's: sent alone, the server held a
    deleted group with a live material under it, and every other device brought the group back
    "restored", though the deleting device's decision had not gone out whole."""
    space, devices = network_of(server, make_device, 3)
    newer, alba, badu = devices
    group, material, *files = _family(space, devices)["working_group"][:4]
    _unreadable(newer, material)
    newer.sync()
    alba.sync()
    assert alba.state.sealed_title(material) is not None
    _directory_delete(alba, group)
    _converge(devices, rounds=2)
    for device in (newer, badu):
        # (the newer Minga's own store holds the material as it saved it, unread here)
        kept = (group, *files) if device is newer else (group, material, *files)
        for record in kept:
            assert device.records.get(record) is not None, (device.name, record)
        assert not _notes(device, group) & _BACK, device.name
        _nothing_unreachable(device)
    assert not alba.state.pending_changes([space], 100)
    _nothing_unreachable(alba)


@pytest.mark.parametrize("group_first", [True, False], ids=["group-first", "person-first"])
@pytest.mark.parametrize("sealed", ["working_group", "person"])
def test_a_deletion_held_for_a_newer_minga_holds_the_other_parent_of_what_it_took(
    server: Server, make_device: Any, sealed: str, group_first: bool
) -> None:
    """rev-dels: alba deletes a group and a person who is a member of it; the newest version of
    one of them is sealed here (held, with the membership). The membership names both: held
    with one, it must hold the other's deletion too. Before, that deletion went out alone and
    the server held a live membership naming a deleted person (or group): every other device
    brought it back, "restored", though nobody had changed anything of it."""
    space, devices = network_of(server, make_device, 3)
    newer, alba, _badu = devices
    family = _family(space, devices)
    group, person = family["working_group"][0], family["person"][0]
    _unreadable(newer, group if sealed == "working_group" else person)
    newer.sync()
    alba.sync()
    for record in (group, person) if group_first else (person, group):
        _directory_delete(alba, record)
    _converge(devices, rounds=2)
    # Her decision stands here, and nowhere was anything of it brought back.
    assert alba.records.get(person) is None and alba.records.get(group) is None
    for device in devices:
        _nothing_unreachable(device)
        for record in (group, person):
            assert not _notes(device, record) & _BACK, (device.name, record)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkingGroupV2(WorkingGroup):
    """Working group schema 2 of a "newer Minga": ``objectives`` kept, ``description`` a list."""

    description: tuple[str, ...] = ()  # type: ignore[assignment]


def _upgrade_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    old = RECORD_TYPES["working_group"]
    fields = tuple(
        FieldSpec("description", CODES, Merge.SET) if f.name == "description" else f
        for f in old.fields
    )
    upgraded = RecordType(
        "working_group",
        WorkingGroupV2,
        2,
        fields,
        upgrades={
            1: lambda d: (
                {**d, "schema": 2, "description": [d["description"]]}
                if d["description"]
                else {**d, "schema": 2, "description": []}
            )
        },
    )
    monkeypatch.setitem(RECORD_TYPES, "working_group", upgraded)
    monkeypatch.setitem(_TYPE_OF_CLASS, WorkingGroupV2, upgraded)


def test_a_group_deleted_while_held_for_a_newer_minga_comes_back_whole_after_the_upgrade(
    server: Server, make_device: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rev-dels: alba deletes a group a newer Minga edited (held here, with its material, file,
    memberships, and her own note on the material, dropped), and a member of it. After she
    updates, the newer edit beats her group's deletion: the group comes back with all it took,
    her own note too; the person's deletion and the membership naming them stay hers."""
    space, devices = network_of(server, make_device, 3)
    newer, alba, _badu = devices
    family = _family(space, devices)
    group, person = family["working_group"][0], family["person"][0]
    material = family["material"][0]
    only_me = local_spaces(alba.records).only_me.id
    own = alba.records.save(Note(space_id=only_me, material_id=material, body="Pozo 3 seco."))
    content = _sealed_content(newer, group)
    _save_as_newer_minga(newer, {**content, "schema": 2, "description": ["Norte", "Sur"]})
    newer.sync()
    alba.sync()
    _directory_delete(alba, group)
    _directory_delete(alba, person)
    assert alba.records.get(own.id) is None
    _converge(devices, rounds=2)
    _upgrade_groups(monkeypatch)
    assert alba.sync().reopened == 1
    _converge(devices, rounds=3)
    back = [r for r in family["working_group"] if r != family["person"][1]]
    for device in devices:
        for record in back:
            assert device.records.get(record) is not None, (device.name, record)
        assert device.records.get(person) is None, device.name
        for membership in family["person"][1:]:
            assert device.records.get(membership) is None, (device.name, membership)
        _nothing_unreachable(device)
    note = alba.records.require(own.id)
    assert isinstance(note, Note) and note.body == "Pozo 3 seco."
    assert _notes(alba, group) & _BACK
