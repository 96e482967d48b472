"""Each record type: a sound one validates clean, and each kind of mistake names its field."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from desktop.domain.dates import PartialDate
from desktop.domain.records import (
    RECORD_TYPES,
    Act,
    Confidentiality,
    Consent,
    ConsentLevel,
    CustodyEntry,
    Evidence,
    FollowUp,
    FollowUpKind,
    FrozenRecordError,
    Incident,
    IncidentKind,
    IncidentStatus,
    Involvement,
    Membership,
    MembershipRole,
    Organization,
    Person,
    PersonKind,
    Record,
    Source,
    Space,
    SpaceKind,
    WorkingGroup,
    append_custody,
    consent_errors,
    edit,
    mark_synced,
    new_id,
    people_needing_consent,
)
from desktop.domain.validation import FieldError

from .conftest import TODAY

SHA = "a" * 64


def codes(errors: list[FieldError]) -> set[tuple[str, str]]:
    return {(e.field, e.code) for e in errors}


def sound_records(space_id: str) -> list[Record]:
    """One well-formed record of every type, linked together as a real incident would be."""
    organization = Organization(
        space_id=space_id,
        name="Colectivo Tierra Viva",
        country="co",
        email="contacto@example.org",
        website="https://example.org",
        objectives=("land_housing_natural_resources",),
    )
    group = WorkingGroup(
        space_id=space_id, name="Land and housing", objectives=("economic_policy",)
    )
    community = Person(
        space_id=space_id, kind=PersonKind.GROUP, name="Vereda El Porvenir", headcount=120
    )
    leader = Person(space_id=space_id, name="Ana", alias="A.", organization_id=organization.id)
    incident = Incident(
        space_id=space_id,
        title="Eviction of Vereda El Porvenir",
        start_date=PartialDate(2024, 3),
        end_date=PartialDate(2024, 3, 20),
        country="co",
        region="co_cau",
        place="Vereda El Porvenir",
        latitude=2.44,
        longitude=-76.6,
        rights=("housing", "protection_from_forced_eviction"),
        status=IncidentStatus.DOCUMENTED,
        consents=(
            Consent(person_id=community.id, level=ConsentLevel.SHARE_ANONYMOUSLY),
            Consent(person_id=leader.id, level=ConsentLevel.DOCUMENT_ONLY),
        ),
    )
    return [
        Space(id=space_id, space_id=space_id, name="Tierra Viva", organization_id=organization.id),
        organization,
        group,
        Membership(space_id=space_id, working_group_id=group.id, organization_id=organization.id),
        community,
        leader,
        incident,
        Act(
            space_id=space_id,
            incident_id=incident.id,
            victim_id=community.id,
            act_type="forced_eviction",
            involvements=(
                Involvement(perpetrator_type="state_security_forces", degree="direct"),
                Involvement(
                    perpetrator_id=organization.id,
                    perpetrator_type="transnational_corporation",
                    degree="benefited",
                ),
            ),
        ),
        Act(
            space_id=space_id,
            incident_id=incident.id,
            victim_id=leader.id,
            act_type="death_threat",  # a threat against a defender is an act too
        ),
        Source(
            space_id=space_id,
            incident_id=incident.id,
            person_id=leader.id,
            source_type="direct_testimony",
            reliability="reliable",
            reported_on=PartialDate(2024, 3, 21),
            language="es",
        ),
        Evidence(
            space_id=space_id,
            incident_id=incident.id,
            attachment_ref=new_id(),
            sha256=SHA,
            filename="desalojo.jpg",
            size=2_400_000,
            media_type="image/jpeg",
            captured_at=datetime(2024, 3, 15, 9, 30, tzinfo=UTC),
            capture_metadata=(("gps", "2.44,-76.6"),),
            custody=(CustodyEntry(actor="Ana", action="imported"),),
        ),
        FollowUp(
            space_id=space_id,
            incident_id=incident.id,
            kind=FollowUpKind.LETTER_SENT,
            occurred_on=PartialDate(2024, 4, 2),
            counterpart="Defensoría del Pueblo",
            summary="Letter asking for protection measures.",
        ),
    ]


def test_every_type_has_a_sound_example(space_id: str) -> None:
    examples = sound_records(space_id)
    # Materials and alerts have theirs in test_network_records.py.
    here = {rt.cls for rt in RECORD_TYPES.values() if rt.cls.__module__ == "desktop.domain.records"}
    assert {type(r) for r in examples} == here
    for record in examples:
        assert record.validate(today=TODAY) == [], type(record).__name__


def test_new_records_have_random_ids_and_are_waiting_to_sync(space_id: str) -> None:
    a, b = Person(space_id=space_id, name="A"), Person(space_id=space_id, name="B")
    assert a.id != b.id and len(a.id) == 32
    assert a.revision == 0 and a.dirty
    assert a.created_at.tzinfo is not None and a.updated_at >= a.created_at


def test_required_fields_are_named(space_id: str) -> None:
    assert ("name", "required") in codes(Organization(space_id=space_id).validate())
    assert ("name", "required") in codes(Person(space_id=space_id, name="  ").validate())
    assert ("title", "required") in codes(Incident(space_id=space_id).validate())
    act = Act(space_id=space_id).validate()
    assert {("incident_id", "required"), ("victim_id", "required"), ("act_type", "required")} <= (
        codes(act)
    )
    source = Source(space_id=space_id, incident_id=new_id()).validate()
    assert {("source_type", "required"), ("reliability", "required")} <= codes(source)
    follow_up = FollowUp(space_id=space_id, incident_id=new_id()).validate()
    assert {("occurred_on", "required"), ("summary", "required")} <= codes(follow_up)
    message = Organization(space_id=space_id).validate()[0].message
    assert message == "This field is required."


def test_a_draft_needs_only_a_title_but_a_documented_incident_needs_more(space_id: str) -> None:
    draft = Incident(space_id=space_id, title="Water cut in the camp")
    assert draft.validate(today=TODAY) == []
    documented = replace(draft, status=IncidentStatus.DOCUMENTED)
    assert codes(documented.validate(today=TODAY)) == {
        ("start_date", "required"),
        ("country", "required"),
        ("rights", "required"),
    }
    capture = replace(
        documented,
        kind=IncidentKind.CORPORATE_CAPTURE,
        start_date=PartialDate(2023),
        country="hn",
    )
    assert codes(capture.validate(today=TODAY)) == {("capture_forms", "required")}
    assert replace(capture, capture_forms=("revolving_door",)).validate(today=TODAY) == []


def test_dates_in_the_future_or_reversed_are_refused(space_id: str) -> None:
    incident = Incident(
        space_id=space_id,
        title="x",
        start_date=PartialDate(2024, 5, 10),
        end_date=PartialDate(2024, 5, 1),
    )
    errors = incident.validate(today=TODAY)
    assert codes(errors) == {("end_date", "end_before_start")}
    assert errors[0].message == "The end (2024-05-01) is before the start (2024-05-10)."
    future = replace(incident, end_date=PartialDate(2026))
    assert codes(future.validate(today=TODAY)) == {("end_date", "in_future")}
    only_end = replace(incident, start_date=None)
    assert ("start_date", "required") in codes(only_end.validate(today=TODAY))


@pytest.mark.parametrize(
    ("latitude", "longitude", "expected"),
    [
        (91.0, 0.0, {("latitude", "out_of_range")}),
        (-90.5, 0.0, {("latitude", "out_of_range")}),
        (0.0, 180.01, {("longitude", "out_of_range")}),
        (float("nan"), 0.0, {("latitude", "out_of_range")}),
        (0.0, float("inf"), {("longitude", "out_of_range")}),
        (10.0, None, {("longitude", "required")}),
        (None, 10.0, {("latitude", "required")}),
        (90.0, -180.0, set()),
        (None, None, set()),
    ],
)
def test_coordinates_must_be_on_the_globe(
    space_id: str, latitude: float | None, longitude: float | None, expected: set[tuple[str, str]]
) -> None:
    incident = Incident(space_id=space_id, title="x", latitude=latitude, longitude=longitude)
    assert codes(incident.validate(today=TODAY)) == expected


def test_out_of_range_message_shows_the_value(space_id: str) -> None:
    incident = Incident(space_id=space_id, title="x", latitude=95.5, longitude=0.0)
    [error] = incident.validate(today=TODAY)
    assert error.message == "Latitude must be between -90 and 90; got 95.5."


def test_unknown_codes_and_misplaced_regions_are_refused(space_id: str) -> None:
    incident = Incident(
        space_id=space_id,
        title="x",
        country="co",
        region="gt_01",
        rights=("housing", "right_to_wifi", "housing"),
    )
    assert codes(incident.validate(today=TODAY)) == {
        ("region", "region_outside_country"),
        ("rights", "unknown_code"),
        ("rights", "duplicate"),
    }
    assert codes(replace(incident, country="co_cau", region="").validate(today=TODAY)) == {
        ("country", "unknown_code"),
        ("rights", "unknown_code"),
        ("rights", "duplicate"),
    }
    act = Act(
        space_id=space_id,
        incident_id=new_id(),
        victim_id=new_id(),
        act_type="housing",  # a right, not an act
        involvements=(Involvement(perpetrator_type="martians", degree=""),),
    )
    assert codes(act.validate(today=TODAY)) == {
        ("act_type", "unknown_code"),
        ("involvements[0].perpetrator_type", "unknown_code"),
        ("involvements[0].degree", "required"),
    }


def test_a_person_is_one_or_a_counted_group(space_id: str) -> None:
    group = Person(space_id=space_id, kind=PersonKind.GROUP, name="Families of the barrio")
    assert codes(group.validate()) == {("headcount", "required")}
    assert codes(replace(group, headcount=0).validate()) == {("headcount", "out_of_range")}
    one = Person(space_id=space_id, name="Ana", headcount=3)
    assert codes(one.validate()) == {("headcount", "not_applicable")}
    assert Person(space_id=space_id, alias="Witness 4").validate() == []


def test_membership_is_for_exactly_one_member(space_id: str) -> None:
    both = Membership(
        space_id=space_id,
        working_group_id=new_id(),
        person_id=new_id(),
        organization_id=new_id(),
        role=MembershipRole.EDITOR,
    )
    assert codes(both.validate()) == {("person_id", "required")}
    assert codes(replace(both, person_id=None, organization_id=None).validate()) == {
        ("person_id", "required")
    }


def test_a_space_lives_in_itself_and_names_what_it_shares(space_id: str) -> None:
    space = Space(id=space_id, space_id=space_id, name="WG", kind=SpaceKind.WORKING_GROUP)
    assert codes(space.validate()) == {("working_group_id", "required")}
    elsewhere = Space(space_id=space_id, name="Me", kind=SpaceKind.ONLY_ME)
    assert codes(elsewhere.validate()) == {("space_id", "invalid_reference")}


def test_bad_links_and_files_are_refused(space_id: str) -> None:
    evidence = Evidence(
        space_id=space_id,
        incident_id="not-an-id",
        attachment_ref="x",
        sha256="ABC",
        filename="f.pdf",
        size=-1,
        media_type="pdf",
        captured_at=datetime.now(UTC) + timedelta(days=30),
        capture_metadata=(("gps", "1,1"), ("gps", "2,2")),
        custody=(CustodyEntry(actor="", action="teleported"),),
    )
    assert codes(evidence.validate()) == {
        ("incident_id", "invalid_reference"),
        ("sha256", "invalid_digest"),
        ("size", "out_of_range"),
        ("media_type", "invalid_media_type"),
        ("captured_at", "in_future"),
        ("capture_metadata", "duplicate"),
        ("custody[0].actor", "required"),
        ("custody[0].action", "unknown_code"),
    }


def test_source_language_must_be_a_real_language(space_id: str) -> None:
    source = Source(
        space_id=space_id,
        incident_id=new_id(),
        source_type="eyewitness",
        reliability="doubtful",
        language="qu",  # Quechua: not a working language, still a language
    )
    assert source.validate(today=TODAY) == []
    assert codes(replace(source, language="xx").validate(today=TODAY)) == {
        ("language", "unknown_language")
    }


def test_organization_contact_details_are_checked(space_id: str) -> None:
    organization = Organization(
        space_id=space_id, name="X", email="not an address", website="example.org"
    )
    assert codes(organization.validate()) == {
        ("email", "invalid_email"),
        ("website", "invalid_url"),
    }


def test_long_titles_are_refused_with_the_limit(space_id: str) -> None:
    [error] = Incident(space_id=space_id, title="x" * 201).validate(today=TODAY)
    assert (error.field, error.code) == ("title", "too_long")
    assert error.message == "This can be at most 200 characters long; it has 201."


def test_edit_marks_dirty_and_stamps_but_keeps_identity(space_id: str) -> None:
    person = mark_synced(Person(space_id=space_id, name="Ana"), 4)
    assert not person.dirty and person.revision == 4
    later = person.updated_at + timedelta(minutes=5)
    edited = edit(person, name="Ana M.", now=later)
    assert (edited.name, edited.dirty, edited.updated_at) == ("Ana M.", True, later)
    assert (edited.id, edited.revision, edited.created_at) == (
        person.id,
        person.revision,
        person.created_at,
    )
    assert person.name == "Ana"  # the original is untouched: records are values
    with pytest.raises(FrozenRecordError):
        edit(person, id=new_id())
    with pytest.raises(FrozenRecordError):
        edit(person, revision=9)


def test_a_synced_follow_up_never_changes(space_id: str) -> None:
    entry = FollowUp(
        space_id=space_id,
        incident_id=new_id(),
        occurred_on=PartialDate(2024),
        summary="Call with the ombudsman",
    )
    assert edit(entry, summary="Call with the ombudsman's office").dirty  # not yet sent: fine
    with pytest.raises(FrozenRecordError):
        edit(mark_synced(entry, 1), summary="rewritten")


def test_custody_is_appended_and_earlier_entries_are_kept(space_id: str) -> None:
    evidence = next(r for r in sound_records(space_id) if isinstance(r, Evidence))
    later = append_custody(evidence, actor="Luis", action="handed_over", note="to the lawyer")
    assert later.custody[:-1] == evidence.custody
    assert (later.custody[-1].actor, later.custody[-1].action) == ("Luis", "handed_over")
    assert later.dirty and later.validate(today=TODAY) == []


def test_consent_is_required_for_every_victim_and_source_person(space_id: str) -> None:
    records = sound_records(space_id)
    incident = next(r for r in records if isinstance(r, Incident))
    acts = [r for r in records if isinstance(r, Act)]
    sources = [r for r in records if isinstance(r, Source)]
    assert consent_errors(incident, acts, sources) == []
    perpetrator = next(i.perpetrator_id for i in acts[0].involvements if i.perpetrator_id)
    assert perpetrator not in people_needing_consent(acts, sources)  # abusers are not asked

    witness = Source(
        space_id=space_id,
        incident_id=incident.id,
        person_id=new_id(),
        source_type="eyewitness",
        reliability="reliable",
    )
    unrelated = replace(witness, id=new_id(), incident_id=new_id(), person_id=new_id())
    [error] = consent_errors(incident, acts, [*sources, witness, unrelated])
    assert (error.field, error.code) == ("consents", "consent_missing")
    assert "1 person" in error.message
    without_any = replace(incident, consents=())
    [error] = consent_errors(without_any, acts, [*sources, witness])
    assert "3 people" in error.message


def test_consent_recorded_twice_is_an_error(space_id: str) -> None:
    person = new_id()
    incident = Incident(
        space_id=space_id,
        title="x",
        confidentiality=Confidentiality.RESTRICTED,
        consents=(Consent(person_id=person), Consent(person_id=person)),
    )
    assert codes(incident.validate(today=TODAY)) == {("consents[1].person_id", "duplicate")}


def test_bookkeeping_is_checked(space_id: str) -> None:
    person = Person(space_id=space_id, name="A")
    broken = replace(person, revision=-1, updated_at=person.created_at - timedelta(seconds=1))
    assert codes(broken.validate()) == {
        ("revision", "out_of_range"),
        ("updated_at", "before_creation"),
    }
    assert ("space_id", "invalid_reference") in codes(replace(person, space_id="x").validate())
