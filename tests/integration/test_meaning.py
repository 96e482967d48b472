"""No edit lost by meaning, through the real server with three profiles (issue 14).

Text merges that would repeat a moved paragraph or bring back a deleted one become conflicts;
deletes of incidents and what they took are one decision; old conflicts are resolved with the
current value in view; records of a newer format are kept, sealed, and opened after an upgrade.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from desktop.domain.dates import PartialDate
from desktop.domain.fields import CODES, FieldSpec, Merge
from desktop.domain.records import (
    _TYPE_OF_CLASS,
    RECORD_TYPES,
    Act,
    FollowUp,
    FollowUpKind,
    Incident,
    Organization,
    Person,
    PersonKind,
    Record,
    RecordType,
    Source,
    edit,
)
from desktop.store.evidence import EvidenceStore
from sync.client.merge import MergeFlag
from sync.client.state import StoredConflict
from tests.integration.conftest import Device, Server, network_of, organization
from tests.integration.devices import make_with_files, opened
from tests.integration.test_courier import _carry, _device_id, _offline

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True


def _converge(devices: list[Device], rounds: int = 2) -> None:
    for _ in range(rounds):
        for device in devices:
            device.sync()


WITNESS = "Testimony of M.\n\nShe saw the police arrive at 3 am.\n\n"
ADDRESS = "She lives at Calle 5, house 12.\n\n"
CLOSING = "Her brother was taken away.\n\nReferred to the rapporteur.\n"


def _incident_with_narrative(space: str, devices: list[Device]) -> Incident:
    incident = Incident(space_id=space, title="Detention in Barrio Sur")
    incident = edit(incident, narrative=WITNESS + ADDRESS + CLOSING)
    devices[0].records.save(incident)
    _converge(devices, rounds=1)
    return incident


def test_a_paragraph_moved_to_two_places_is_a_conflict_on_every_device(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    incident = _incident_with_narrative(space, devices)
    top = ADDRESS + WITNESS + CLOSING
    end = WITNESS + CLOSING + "\n" + ADDRESS.rstrip("\n") + "\n"
    alba.records.save(edit(alba.records.require(incident.id), narrative=top))
    badu.records.save(edit(badu.records.require(incident.id), narrative=end))
    alba.sync()
    report = badu.sync()
    assert report.conflicts == 1
    [conflict] = badu.state.conflicts()
    assert (conflict.field, conflict.mine, conflict.theirs) == ("narrative", end, top)
    _converge(devices)
    for device in devices:
        assert device.records.require(incident.id).narrative.count("Calle 5") == 1


def test_a_paragraph_deleted_for_safety_does_not_come_back_with_a_move(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    incident = _incident_with_narrative(space, devices)
    alba.records.save(edit(alba.records.require(incident.id), narrative=WITNESS + CLOSING))
    moved = ADDRESS + WITNESS + CLOSING
    badu.records.save(edit(badu.records.require(incident.id), narrative=moved))
    alba.sync()
    badu.sync()
    _converge(devices)
    # Nobody chose yet: every device holds alba's deletion, badu's move waits in its conflict.
    [conflict] = badu.state.conflicts()
    assert (conflict.mine, conflict.theirs) == (moved, WITNESS + CLOSING)
    for device in devices:
        assert device.records.require(incident.id).narrative == WITNESS + CLOSING


def test_a_paragraph_deleted_for_safety_does_not_come_back_moved_and_touched(
    server: Server, make_device: Any
) -> None:
    """Badu moves the address to the top and adds the floor; counting lines saw only a new
    line there, and alba's deletion came back on every device (git merge-file does the same)."""
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    incident = _incident_with_narrative(space, devices)
    alba.records.save(edit(alba.records.require(incident.id), narrative=WITNESS + CLOSING))
    moved = "She lives at Calle 5, house 12, 2nd floor.\n" + WITNESS + CLOSING
    badu.records.save(edit(badu.records.require(incident.id), narrative=moved))
    alba.sync()
    assert badu.sync().conflicts == 1
    _converge(devices)
    [conflict] = badu.state.conflicts()
    assert (conflict.mine, conflict.theirs) == (moved, WITNESS + CLOSING)
    for device in devices:
        assert "Calle 5" not in device.records.require(incident.id).narrative


def _conflict_on_name(space: str, devices: list[Device]) -> tuple[Organization, StoredConflict]:
    """Alba and the admin rename one organization apart; the admin syncs second."""
    admin, alba, _badu = devices
    org = organization(space, "Casa Abierta")
    admin.records.save(org)
    _converge(devices, rounds=1)
    admin.records.save(edit(admin.records.require(org.id), name="Casa Abierta Norte"))
    alba.records.save(edit(alba.records.require(org.id), name="Casa Abierta del Sur"))
    alba.sync()
    assert admin.sync().conflicts == 1
    [conflict] = admin.state.conflicts()
    return org, conflict


def test_resolving_an_old_conflict_never_overwrites_a_later_edit_unseen(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    org, conflict = _conflict_on_name(space, devices)
    assert (conflict.mine, conflict.theirs) == ("Casa Abierta Norte", "Casa Abierta del Sur")
    assert conflict.theirs_author == alba.state.device_keys().device_id  # type: ignore[union-attr]
    # Badu, who saw only alba's name, sets a third one; the admin takes it in cleanly.
    badu.sync()
    badu.records.save(edit(badu.records.require(org.id), name="Casa Abierta (Norte y Sur)"))
    badu.sync()
    admin.sync()
    [moved] = admin.state.conflicts()
    assert moved.moved_since and moved.current == "Casa Abierta (Norte y Sur)"
    # The person picks "mine": it is weighed against badu's name, which they had not seen.
    assert admin.state.resolve_conflict(moved.id, moved.mine) == "moved"
    [again] = admin.state.conflicts()
    assert (again.mine, again.theirs) == ("Casa Abierta Norte", "Casa Abierta (Norte y Sur)")
    assert not again.moved_since
    # Who wrote what it says now is shown as for any theirs (r14: it was left blank).
    assert again.theirs_author == badu.state.device_keys().device_id  # type: ignore[union-attr]
    _converge(devices)
    assert {d.records.require(org.id).name for d in devices} == {"Casa Abierta (Norte y Sur)"}
    # Now chosen with every value in view: it goes everywhere.
    assert admin.state.resolve_conflict(again.id, again.mine) == "settled"
    _converge(devices)
    assert {d.records.require(org.id).name for d in devices} == {"Casa Abierta Norte"}
    assert all(d.state.conflicts() == [] for d in devices)


def test_a_choice_on_long_text_merges_with_what_was_added_since(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    incident = _incident_with_narrative(space, devices)
    admin.records.save(
        edit(admin.records.require(incident.id), narrative=WITNESS + ADDRESS + "Taken at dawn.\n")
    )
    alba.records.save(
        edit(alba.records.require(incident.id), narrative=WITNESS + ADDRESS + "Taken at 4.\n")
    )
    alba.sync()
    admin.sync()
    [conflict] = admin.state.conflicts()
    badu.sync()
    badu.records.save(
        edit(
            badu.records.require(incident.id),
            narrative="Case 14/2026.\n\n" + WITNESS + ADDRESS + "Taken at 4.\n",
        )
    )
    badu.sync()
    admin.sync()
    assert admin.state.resolve_conflict(conflict.id, conflict.mine) == "merged"
    _converge(devices)
    expected = "Case 14/2026.\n\n" + WITNESS + ADDRESS + "Taken at dawn.\n"
    assert {d.records.require(incident.id).narrative for d in devices} == {expected}


def test_a_second_conflict_on_a_field_keeps_every_value_not_chosen(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    org, _first = _conflict_on_name(space, devices)
    # Without opening the dialog, the admin renames it again by hand; badu renames it too.
    admin.sync()
    badu.sync()
    admin.records.save(edit(admin.records.require(org.id), name="Casa Abierta A"))
    badu.records.save(edit(badu.records.require(org.id), name="Casa Abierta B"))
    badu.sync()
    admin.sync()
    [second] = admin.state.conflicts()
    assert (second.mine, second.theirs) == ("Casa Abierta A", "Casa Abierta B")
    assert [o.value for o in second.others] == ["Casa Abierta Norte", "Casa Abierta del Sur"]
    assert second.others[1].author == alba.state.device_keys().device_id  # type: ignore[union-attr]
    assert admin.state.resolve_conflict(second.id, second.others[0].value) == "settled"
    _converge(devices)
    assert {d.records.require(org.id).name for d in devices} == {"Casa Abierta Norte"}


# --- a delete and everything it took are one decision -----------------------------------------


def _incident_with_children(space: str, devices: list[Device]) -> tuple[Incident, list[str]]:
    """An incident with an act, a source and a follow-up, synced to every device."""
    victim = Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="M.")
    incident = edit(Incident(space_id=space, title="Eviction at Barrio Sur"), narrative=WITNESS)
    children: list[Record] = [
        Act(space_id=space, incident_id=incident.id, victim_id=victim.id, act_type="death_threat"),
        Source(
            space_id=space,
            incident_id=incident.id,
            source_type="direct_testimony",
            reliability="reliable",
            language="es",
        ),
        FollowUp(
            space_id=space,
            incident_id=incident.id,
            kind=FollowUpKind.LETTER_SENT,
            occurred_on=PartialDate(2026, 4, 2),
            counterpart="Defensoría del Pueblo",
            summary="Letter asking for protection measures.",
        ),
    ]
    devices[0].records.save_all([victim, incident, *children])
    _converge(devices, rounds=1)
    return incident, [child.id for child in children]


def _notes(device: Device, record: str) -> set[str]:
    return {c.kind for c in device.state.conflicts() if c.record == record and c.field is None}


def _all_there(devices: list[Device], incident: str, children: list[str]) -> None:
    for device in devices:
        assert device.records.get(incident) is not None, device.name
        for child in children:
            assert device.records.get(child) is not None, (device.name, child)
    assert devices[0].snapshot() == devices[1].snapshot() == devices[2].snapshot()
    assert all(device.records.dirty_count() == 0 for device in devices)


def _no_orphans(device: Device) -> None:
    with device.profile.engine.connect() as connection:
        orphans = connection.execute(
            text(
                "SELECT c.id FROM records c JOIN records p ON p.id = c.parent_id "
                "WHERE c.deleted = 0 AND p.deleted = 1"
            )
        ).all()
    assert orphans == [], device.name


@pytest.mark.parametrize("deleter_first", [True, False])
def test_an_edit_beats_a_delete_and_brings_back_everything_it_took(
    server: Server, make_device: Any, deleter_first: bool
) -> None:
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    alba.records.delete(incident.id)  # its act, source and follow-up go with it
    added = WITNESS + "A neighbour filmed it.\n"
    badu.records.save(edit(badu.records.require(incident.id), narrative=added))
    for device in (alba, badu) if deleter_first else (badu, alba):
        device.sync()
    _converge(devices, rounds=3)
    _all_there(devices, incident.id, children)
    assert {d.records.require(incident.id).narrative for d in devices} == {added}  # type: ignore[attr-defined]
    # Both sides are told: the one who deleted as clearly as the one who edited.
    assert _notes(alba, incident.id) & {MergeFlag.RESTORED.value, MergeFlag.EDITED_ELSEWHERE.value}
    if deleter_first:
        assert MergeFlag.DELETED_ELSEWHERE.value in _notes(badu, incident.id)
    for device in devices:
        _no_orphans(device)


@pytest.mark.parametrize("change", ["edit an act", "add a follow-up", "add a source"])
def test_a_change_under_a_deleted_incident_brings_it_back_with_everything(
    server: Server, make_device: Any, change: str
) -> None:
    space, devices = network_of(server, make_device, 3)
    _admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    alba.records.delete(incident.id)
    if change == "edit an act":
        act = badu.records.require(children[0])
        badu.records.save(edit(act, notes="He was threatened again on 3 May."))
    elif change == "add a follow-up":
        later = FollowUp(
            space_id=space,
            incident_id=incident.id,
            kind=FollowUpKind.LETTER_SENT,
            occurred_on=PartialDate(2026, 5, 3),
            counterpart="Ombudsman",
            summary="Second letter, after the threats.",
        )
        badu.records.save(later)
        children.append(later.id)
    else:
        source = Source(
            space_id=space,
            incident_id=incident.id,
            source_type="direct_testimony",
            reliability="reliable",
            language="fr",
        )
        badu.records.save(source)
        children.append(source.id)
    alba.sync()
    badu.sync()
    _converge(devices, rounds=3)
    _all_there(devices, incident.id, children)
    assert MergeFlag.RESTORED.value in _notes(alba, incident.id)
    assert _notes(badu, incident.id) or _notes(
        badu, children[-1] if change != "edit an act" else children[0]
    )
    for device in devices:
        _no_orphans(device)


# --- records of a newer format -------------------------------------------------------------------


def _save_as_newer_minga(device: Device, content: dict[str, Any]) -> None:
    """What a newer Minga's store holds after an edit: its own fields and shapes, dirty."""
    stored = json.dumps({**content, "revision": 0, "dirty": True}, sort_keys=True)
    with device.profile.engine.begin() as connection:
        connection.execute(
            text("UPDATE record_contents SET content = :c WHERE id = :i"),
            {"c": stored, "i": content["id"]},
        )
        connection.execute(text("UPDATE records SET dirty = 1 WHERE id = :i"), {"i": content["id"]})


def _sealed_content(device: Device, record: str) -> dict[str, Any]:
    local = device.state.local_record("", record)
    assert local is not None and local.content is not None
    return local.content


def test_fields_of_a_newer_format_are_kept_and_carried_through_edits_here(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    newer, alba, badu = devices
    org = organization(space, "Casa Abierta", country="hn")
    newer.records.save(org)
    _converge(devices, rounds=1)
    # A newer Minga adds a field this one does not know, and says its schema is 2.
    content = {**_sealed_content(newer, org.id), "schema": 2, "motto": "Nadie se queda fuera"}
    _save_as_newer_minga(newer, content)
    newer.sync()
    alba.sync()
    # This version opens it, and keeps what it does not know as it came.
    alba.records.save(edit(alba.records.require(org.id), name="Casa Abierta Sur"))
    alba.sync()
    badu.sync()
    for device in (alba, badu):
        held = _sealed_content(device, org.id)
        assert (held["motto"], held["schema"], held["name"]) == (
            "Nadie se queda fuera",
            2,
            "Casa Abierta Sur",
        )
    assert all(not device.state.conflicts() for device in devices)


def test_a_newer_field_nested_past_every_reader_is_refused_not_a_stop_for_good(
    server: Server, make_device: Any
) -> None:
    """A member's app (hostile, or a newer one gone wrong) saves an organization with a field
    this version does not know, lists nested 1,000 deep. msgpack opens it; json, storing the
    unknown field, does not: every member's sync raised RecursionError at that page, again at
    every sync, and nothing written after it ever arrived (rev14)."""
    space, devices = network_of(server, make_device, 3)
    hostile, alba, badu = devices
    org = organization(space, "Casa Abierta")
    hostile.records.save(org)
    _converge(devices, rounds=1)
    deep: Any = "x"
    for _ in range(1000):
        deep = [deep]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # the hostile app's own store reads it back to send it
    try:
        content = {**_sealed_content(hostile, org.id), "schema": 2, "annex": deep}
        _save_as_newer_minga(hostile, content)
        assert hostile.sync().pushed == 1
    finally:
        sys.setrecursionlimit(limit)
    later = organization(space, "Casa Norte")
    badu.records.save(later)
    for device in (badu, alba):
        report = device.engine.sync_once(discover=True)  # Device.sync admits no refusal
        assert [(r.record, r.code) for r in report.refused] == [(org.id, "bad_content")]
        assert device.records.require(later.id).name == "Casa Norte"  # type: ignore[attr-defined]
        assert device.records.require(org.id).name == "Casa Abierta"  # type: ignore[attr-defined]
        assert device.sync().refused == []  # once: the cursor moved past it


#: Organization schema 2 of a "newer Minga": ``country`` became a list of countries.
@dataclass(frozen=True, slots=True, kw_only=True)
class OrganizationV2(Organization):
    country: tuple[str, ...] = ()  # type: ignore[assignment]


def _upgrade(monkeypatch: pytest.MonkeyPatch) -> None:
    """Install the "newer Minga" on every device of this process: organization schema 2."""
    old = RECORD_TYPES["organization"]
    fields = tuple(
        FieldSpec("country", CODES, Merge.SET) if f.name == "country" else f for f in old.fields
    )
    upgraded = RecordType(
        "organization",
        OrganizationV2,
        2,
        fields,
        upgrades={
            1: lambda d: {**d, "schema": 2, "country": [d["country"]] if d["country"] else []}
        },
    )
    monkeypatch.setitem(RECORD_TYPES, "organization", upgraded)
    monkeypatch.setitem(_TYPE_OF_CLASS, OrganizationV2, upgraded)


def test_a_record_this_version_cannot_open_is_kept_sealed_and_opened_after_an_upgrade(
    server: Server, make_device: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    space, devices = network_of(server, make_device, 3)
    newer, alba, badu = devices
    org = organization(space, "Casa Abierta", country="hn", description="Shelter.\n")
    newer.records.save(org)
    _converge(devices, rounds=1)
    # Alba edits it offline; a newer Minga meanwhile saves it in a shape this one cannot read.
    alba.records.save(edit(alba.records.require(org.id), description="Shelter.\nOpen at night.\n"))
    content = {**_sealed_content(newer, org.id), "schema": 2, "country": ["hn", "gt"]}
    _save_as_newer_minga(newer, content)
    newer.sync()
    for _ in range(3):
        report = alba.sync()
        assert report.pushed == 0  # the edit waits: sending it would only meet that version again
        notes = [c for c in alba.state.conflicts() if c.record == org.id]
        assert [n.kind for n in notes] == ["unreadable_format"]  # one, not one per sync
    assert alba.state.sealed_title(org.id) == "Casa Abierta"
    assert alba.records.require(org.id).dirty  # kept, not lost
    badu.sync()
    assert [c.kind for c in badu.state.conflicts()] == ["unreadable_format"]
    assert badu.records.require(org.id).country == "hn"  # what it held, untouched

    # Updated: the sealed version opens from the store, the waiting edit merges with it.
    _upgrade(monkeypatch)
    requests_before = len(alba.sent)
    report = alba.sync()
    assert report.reopened == 1 and report.pushed == 1
    assert len(alba.sent) - requests_before <= 4  # no sync from the start
    badu.sync()
    newer.sync()
    for device in devices:
        record = device.records.require(org.id)
        assert record.country == ("hn", "gt")  # type: ignore[attr-defined]
        assert record.description == "Shelter.\nOpen at night.\n"  # type: ignore[attr-defined]
        assert device.state.conflicts() == []
        assert device.records.dirty_count() == 0


def test_a_device_reached_only_by_bundles_opens_a_sealed_record_after_an_upgrade(
    server: Server, make_device: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offline device edits a record a newer Minga then saves in a shape it cannot read;
    the courier brings it that version (kept sealed, the edit held). Updated, the offline device
    never syncs, and only a sync opened sealed versions: it stayed "needs a newer Minga" and its
    edit never left it, bundle after bundle (rev14)."""
    space, devices = network_of(server, make_device, 3)
    newer, courier, offline = devices
    for device in devices:
        device.sync()
    org = organization(space, "Casa Abierta", country="hn", description="Shelter.\n")
    newer.records.save(org)
    newer.sync()
    courier.sync()
    _offline(offline)
    offline_id = _device_id(offline)
    _carry(offline, courier, tmp_path / "o0.mbundle")
    _carry(courier, offline, tmp_path / "c0.mbundle", courier_for=offline_id)
    held = offline.records.require(org.id)
    offline.records.save(edit(held, description="Shelter.\nOpen at night.\n"))
    content = {**_sealed_content(newer, org.id), "schema": 2, "country": ["hn", "gt"]}
    _save_as_newer_minga(newer, content)
    newer.sync()
    courier.sync()
    _carry(courier, offline, tmp_path / "c1.mbundle", courier_for=offline_id)
    assert offline.state.sealed_title(org.id) == "Casa Abierta"
    _upgrade(monkeypatch)
    for number in range(2):
        _carry(offline, courier, tmp_path / f"o{number + 1}.mbundle")
        courier.sync()
        newer.sync()
        _carry(courier, offline, tmp_path / f"c{number + 2}.mbundle", courier_for=offline_id)
    for device in devices:
        record = device.records.require(org.id)
        assert record.country == ("hn", "gt"), device.name  # type: ignore[attr-defined]
        assert record.description == "Shelter.\nOpen at night.\n", device.name  # type: ignore[attr-defined]
        assert device.state.conflicts() == [], device.name
        assert device.records.dirty_count() == 0, device.name


def test_a_file_attached_under_a_deleted_incident_brings_it_back_and_travels(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, devices = network_of(server, make_with_files(make_device), 3)
    _admin, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    alba.records.delete(incident.id)
    photo = tmp_path / "desalojo.jpg"
    photo.write_bytes(os.urandom(70_000))
    held = badu.records.require(incident.id)
    assert isinstance(held, Incident)
    evidence = EvidenceStore.of(badu.profile).import_file(held, photo, actor="Badu")
    alba.sync()
    badu.sync()
    _converge(devices, rounds=3)
    _all_there(devices, incident.id, [*children, evidence.id])
    assert opened(alba, evidence.id) == photo.read_bytes()
    assert MergeFlag.RESTORED.value in _notes(alba, incident.id)
    for device in devices:
        _no_orphans(device)


#: Incident schema 2 of a "newer Minga": ``country`` became a list of countries.
@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentV2(Incident):
    country: tuple[str, ...] = ()  # type: ignore[assignment]


def _upgrade_incidents(monkeypatch: pytest.MonkeyPatch) -> None:
    old = RECORD_TYPES["incident"]
    fields = tuple(
        FieldSpec("country", CODES, Merge.SET) if f.name == "country" else f for f in old.fields
    )
    upgraded = RecordType(
        "incident",
        IncidentV2,
        2,
        fields,
        upgrades={
            1: lambda d: {**d, "schema": 2, "country": [d["country"]] if d["country"] else []}
        },
    )
    monkeypatch.setitem(RECORD_TYPES, "incident", upgraded)
    monkeypatch.setitem(_TYPE_OF_CLASS, IncidentV2, upgraded)


@pytest.mark.parametrize("deleted", ["after it was sealed", "before it arrived"])
def test_an_incident_deleted_while_its_newer_version_is_sealed_keeps_what_is_under_it(
    server: Server, make_device: Any, monkeypatch: pytest.MonkeyPatch, deleted: str
) -> None:
    """A newer Minga saves an incident in a shape this version cannot read (countries as a
    list). Alba, on this version, deletes the incident, after that version reached her or
    offline before. An edit beats a deletion; but the deletions of its act, source and
    follow-up went out and were taken (rev14): every device lost what was under an incident
    that stays. Now, deleted after: the whole decision waits on alba's device; deleted before
    (its push meets the sealed version): the incident is back on alba as she last read it, she
    is told, and what her deletion took comes back everywhere at once."""
    space, devices = network_of(server, make_device, 3)
    newer, alba, badu = devices
    incident, children = _incident_with_children(space, devices)
    if deleted == "before it arrived":
        alba.records.delete(incident.id)
    content = {**_sealed_content(newer, incident.id), "schema": 2, "country": ["hn", "gt"]}
    _save_as_newer_minga(newer, content)
    newer.sync()
    alba.sync()
    assert alba.state.sealed_title(incident.id) == "Eviction at Barrio Sur"
    if deleted == "after it was sealed":
        alba.records.delete(incident.id)
    _converge(devices, rounds=2)
    for device in (newer, badu):
        for child in children:
            assert device.records.get(child) is not None, (device.name, child)
    if deleted == "after it was sealed":
        # The one decision waits whole on alba's device, nothing of it sent.
        assert alba.records.dirty_count() == 1 + len(children)
    else:
        for device in (alba, badu):  # the two on this version: as they last read it
            assert device.records.get(incident.id) is not None, device.name
            assert all(device.records.get(child) is not None for child in children)
            assert device.records.dirty_count() == 0, device.name
        assert alba.snapshot() == badu.snapshot()
        assert MergeFlag.EDITED_ELSEWHERE.value in _notes(alba, incident.id)

    # Updated: the newer version's edit beats the deletion, and what it took comes back.
    _upgrade_incidents(monkeypatch)
    assert alba.sync().reopened == 1
    _converge(devices, rounds=2)
    _all_there(devices, incident.id, children)
    assert {d.records.require(incident.id).country for d in devices} == {("hn", "gt")}  # type: ignore[attr-defined]
    assert _notes(alba, incident.id) & {
        MergeFlag.RESTORED.value,
        MergeFlag.EDITED_ELSEWHERE.value,
    }
    for device in devices:
        _no_orphans(device)
