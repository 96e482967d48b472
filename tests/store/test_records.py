"""The records repository: every type stored and read back exactly, lists filtered in SQL."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from desktop.domain.dates import PartialDate
from desktop.domain.network_records import Material
from desktop.domain.records import (
    Incident,
    IncidentKind,
    IncidentStatus,
    Membership,
    Organization,
    Person,
    PersonKind,
    WorkingGroup,
    edit,
    mark_synced,
    new_id,
    record_type,
)
from desktop.domain.translation import set_language
from desktop.store.profile import Profile
from desktop.store.records import InvalidRecord, RecordNotFound, RecordQuery, RecordStore
from tests.domain.conftest import TODAY
from tests.domain.test_records import sound_records
from tests.helpers.profiles import files_containing, new_profile
from tests.helpers.records import file_without_bytes


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    set_language("en")
    profile, _ = new_profile(tmp_path / "p")
    yield profile
    profile.close()


@pytest.fixture
def store(profile: Profile) -> RecordStore:
    return RecordStore(profile.engine)


def test_every_type_round_trips_exactly(store: RecordStore) -> None:
    records = sound_records(new_id())
    for record in records:
        store.save(record, today=TODAY)
    for record in records:
        assert store.get(record.id) == record
    assert {record_type(r).name for r in records} >= {
        "space",
        "organization",
        "person",
        "working_group",
        "membership",
        "incident",
        "act",
        "source",
        "evidence",
        "follow_up",
    }
    incident = next(r for r in records if isinstance(r, Incident))
    assert [r.id for r in store.children(incident.id, "act")] == [
        r.id for r in records if record_type(r).name == "act"
    ]
    assert store.dirty_count() == len(records)


def test_invalid_record_is_refused_and_nothing_is_saved(store: RecordStore) -> None:
    bad = Incident(space_id=new_id(), title="", latitude=123.0, longitude=0.0)
    with pytest.raises(InvalidRecord) as caught:
        store.save(bad, today=TODAY)
    assert {e.field for e in caught.value.errors} >= {"title", "latitude"}
    english = caught.value.user_message()
    set_language("fr")
    with pytest.raises(InvalidRecord) as in_french:
        store.save(bad, today=TODAY)
    assert in_french.value.user_message() != english
    assert "123" in in_french.value.user_message()
    assert store.get(bad.id) is None
    assert store.count(RecordQuery("incident")) == 0


def _incident(space: str, title: str, **fields: object) -> Incident:
    return Incident(space_id=space, title=title, **fields)  # type: ignore[arg-type]


@pytest.fixture
def incidents(store: RecordStore) -> dict[str, Incident]:
    space, other = new_id(), new_id()
    made = {
        "eviction": _incident(
            space,
            "Desalojo en San José",
            status=IncidentStatus.DOCUMENTED,
            country="co",
            start_date=PartialDate(2024, 3),
            rights=("housing",),
        ),
        "water": _incident(
            space,
            "Corte de agua en El Alto",
            status=IncidentStatus.DOCUMENTED,
            country="bo",
            start_date=PartialDate(2023, 11, 2),
            rights=("drinking_water",),
            narrative="La empresa cortó el agua a 300 familias.",
        ),
        "threat": _incident(
            space,
            "تهديد مدافعة عن الأرض",
            kind=IncidentKind.THREAT_TO_DEFENDER,
            start_date=PartialDate(2024),
            country="eg",
        ),
        "other_space": _incident(
            other,
            "Pollution of the river",
            status=IncidentStatus.DOCUMENTED,
            country="ng",
            start_date=PartialDate(2022, 6),
            end_date=PartialDate(2024, 1),
            rights=("drinking_water", "environment"),
        ),
    }
    for record in made.values():
        store.save(record, today=TODAY)
    return made


def _ids(store: RecordStore, query: RecordQuery, made: dict[str, Incident]) -> set[str]:
    by_id = {v.id: k for k, v in made.items()}
    return {by_id[row.id] for row in store.page(query)}


def test_filters_combine_in_sql(store: RecordStore, incidents: dict[str, Incident]) -> None:
    q = RecordQuery
    assert _ids(store, q("incident", statuses=["documented"]), incidents) == {
        "eviction",
        "water",
        "other_space",
    }
    assert _ids(store, q("incident", kinds=["threat_to_defender"]), incidents) == {"threat"}
    assert _ids(store, q("incident", countries=["bo", "ng"]), incidents) == {"water", "other_space"}
    assert _ids(store, q("incident", codes={"rights": ["drinking_water"]}), incidents) == {
        "water",
        "other_space",
    }
    space = incidents["eviction"].space_id
    assert _ids(
        store, q("incident", space_ids=[space], codes={"rights": ["drinking_water"]}), incidents
    ) == {"water"}
    # Date ranges overlap: a 2022–2024 pollution is still happening in 2023.
    in_2023 = q("incident", date_from=date(2023, 1, 1), date_to=date(2023, 12, 31))
    assert _ids(store, in_2023, incidents) == {"water", "other_space"}
    assert _ids(store, q("incident", text="agua familias"), incidents) == {"water"}
    assert _ids(store, q("incident", text="مدافعه"), incidents) == {"threat"}
    assert _ids(store, q("incident", text="agua", countries=["co"]), incidents) == set()
    assert _ids(store, q("incident", text="!!!"), incidents) == set()
    assert store.count(q("incident", statuses=["documented"])) == 3


def test_pages_are_stable_and_complete(store: RecordStore) -> None:
    space = new_id()
    for n in range(57):
        store.save(_incident(space, f"Incident {n % 7}"), today=TODAY)
    query = RecordQuery("incident", order_by="label", descending=True)
    seen = [row.id for offset in range(0, 57, 10) for row in store.page(query, offset, 10)]
    assert len(seen) == len(set(seen)) == 57
    labels = [row.label for row in store.page(query, 0, 100)]
    assert labels == sorted(labels, reverse=True)


def test_edit_reindexes_and_recodes(store: RecordStore, incidents: dict[str, Incident]) -> None:
    water = edit(incidents["water"], title="Corte de electricidad", rights=("health",))
    store.save(water, today=TODAY)
    assert _ids(store, RecordQuery("incident", text="agua"), incidents) == {"water"}  # narrative
    assert _ids(store, RecordQuery("incident", text="electricidad"), incidents) == {"water"}
    assert _ids(
        store, RecordQuery("incident", codes={"rights": ["drinking_water"]}), incidents
    ) == {"other_space"}


def test_delete_unsynced_is_gone_and_synced_leaves_an_empty_tombstone(
    profile: Profile, store: RecordStore
) -> None:
    records = sound_records(new_id())
    incident = next(r for r in records if isinstance(r, Incident))
    for record in records:
        store.save(mark_synced(record, 3) if record is incident else record, today=TODAY)
    store.delete(incident.id)
    assert store.get(incident.id) is None
    assert store.children(incident.id, "act") == []
    assert store.page(RecordQuery("incident", text="Porvenir")) == []
    with profile.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT r.id, r.deleted, r.dirty, c.content, r.label FROM records AS r "
                "LEFT JOIN record_contents AS c ON c.id = r.id WHERE r.id = :i"
            ),
            {"i": incident.id},
        ).all()
        children_left = connection.execute(
            text(
                "SELECT r.deleted, r.dirty, c.content IS NULL, b.id IS NOT NULL FROM records r "
                "LEFT JOIN record_contents c ON c.id = r.id "
                "LEFT JOIN record_bases b ON b.id = r.id WHERE r.parent_id = :i"
            ),
            {"i": incident.id},
        ).all()
    assert rows == [(incident.id, 1, 1, None, "")]  # waits in the outbox, holds nothing
    # Never synced, under an incident that was: deleted, nothing to send, no live content, and
    # their last content kept to come back if an edit elsewhere brings the incident back.
    assert children_left and set(children_left) == {(1, 0, 1, 1)}
    with pytest.raises(RecordNotFound):
        store.delete(incident.id)


def test_no_field_reaches_disk_in_plaintext(profile: Profile, store: RecordStore) -> None:
    canary = "CANARY-9c1e"
    for record in sound_records(new_id()):
        spec = record_type(record)
        changes = {
            f.name: f"{canary} {f.name} تجربة"
            for f in spec.fields
            if f.codec.kind == "text"
            and not f.name.endswith("_id")
            and f.name
            not in {
                "sha256",
                "country",
                "region",
                "act_type",
                "source_type",
                "reliability",
                "language",
                "media_type",
                "email",
                "website",
            }
        }
        store.save(replace(record, **changes), today=TODAY)
    with profile.engine.connect() as connection:
        stored = connection.execute(
            text("SELECT group_concat(content) FROM record_contents")
        ).scalar_one()
    assert stored.count(canary) > 10  # the scan below has something to find
    assert files_containing([profile.folder], canary) == []
    json.loads("[" + stored + "]")


def test_a_person_known_only_by_an_alias_is_listed_by_it(store: RecordStore) -> None:
    from desktop.domain.records import Person

    person = Person(space_id=new_id(), alias="La Maestra")
    store.save(person, today=TODAY)
    assert [row.label for row in store.page(RecordQuery("person"))] == ["La Maestra"]


def test_each_cascade_deletes_what_it_takes_in_one_transaction(
    profile: Profile, store: RecordStore
) -> None:
    """``CASCADES``: a material takes its files; a group, person or organization the
    memberships naming it; an organization's people untouched; one transaction, one
    ``deleted_alone`` row only for a child deleted by itself."""
    space = new_id()
    group = WorkingGroup(space_id=space, name="Agua")
    org = Organization(space_id=space, name="Colectivo")
    rosa = Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="Rosa", organization_id=org.id)
    tomas = Person(space_id=space, kind=PersonKind.INDIVIDUAL, name="Tomás")
    of_rosa = Membership(space_id=space, working_group_id=group.id, person_id=rosa.id)
    of_tomas = Membership(space_id=space, working_group_id=group.id, person_id=tomas.id)
    of_org = Membership(space_id=space, working_group_id=group.id, organization_id=org.id)
    material = Material(
        space_id=space, working_group_id=group.id, title="Guía", material_type="toolkit"
    )
    file = file_without_bytes(material, "a.txt")
    # The cascades nest: the group's deletion takes its other material and that one's file.
    second = Material(
        space_id=space, working_group_id=group.id, title="Mapa", material_type="toolkit"
    )
    second_file = file_without_bytes(second, "b.txt")
    everything = [group, org, rosa, tomas, of_rosa, of_tomas, of_org, material, file]
    everything += [second, second_file]
    store.save_all([mark_synced(record, 1) for record in everything])

    def tombstones() -> set[str]:
        with profile.engine.connect() as connection:
            return set(connection.scalars(text("SELECT id FROM records WHERE deleted = 1")))

    def alone() -> set[str]:
        with profile.engine.connect() as connection:
            return set(connection.scalars(text("SELECT record_id FROM deleted_alone")))

    store.delete(material.id)
    assert tombstones() == {material.id, file.id}
    store.delete(tomas.id)  # by ``person_id``, read from the content
    assert tombstones() == {material.id, file.id, tomas.id, of_tomas.id}
    store.delete(org.id)
    assert tombstones() == {material.id, file.id, tomas.id, of_tomas.id, org.id, of_org.id}
    # Its people stay as they were: no edit that would beat a deletion of one made elsewhere.
    kept = store.require(rosa.id)
    assert isinstance(kept, Person) and kept.organization_id == org.id and not kept.dirty
    # The material deleted by itself is its group's child: deleted alone.
    assert alone() == {material.id}
    store.delete(of_rosa.id)  # a membership removed by itself
    assert alone() == {material.id, of_rosa.id}
    store.delete(group.id)
    assert {second.id, second_file.id} <= tombstones()
    assert alone() == {material.id, of_rosa.id}
    assert store.children(group.id, "membership") == []
