"""Materials, notes and alerts: sound records validate, mistakes name their field, logs stay logs.

The types are declared in their own module but must be in the one registry sync and store read.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import msgpack
import pytest

from desktop.domain.dates import PartialDate
from desktop.domain.fields import Merge
from desktop.domain.network_records import (
    OPEN_ALERT_STATUSES,
    Action,
    Alert,
    AlertStatus,
    AlertUrgency,
    Letter,
    LetterKind,
    Material,
    MaterialFile,
    Note,
    ReadingPosition,
    Referral,
    ReferralStatus,
    SignOn,
    signed_organizations,
)
from desktop.domain.records import (
    RECORD_TYPES,
    FrozenRecordError,
    Record,
    edit,
    from_dict,
    mark_synced,
    new_id,
    record_type,
    to_dict,
)
from desktop.domain.translation import set_language
from desktop.domain.validation import FieldError

from .conftest import TODAY


def codes(errors: list[FieldError]) -> set[tuple[str, str]]:
    return {(e.field, e.code) for e in errors}


def sound_records(space_id: str) -> list[Record]:
    """One well-formed record of every network type, linked as a real alert and group would be."""
    group_id, defender, organization = new_id(), new_id(), new_id()
    material = Material(
        space_id=space_id,
        working_group_id=group_id,
        title="Guía de protección colectiva",
        material_type="toolkit",
        language="es",
        objectives=("social_movements_defenders",),
        attachments=((new_id(), "guia.pdf"),),
        pinned=True,
    )
    alert = Alert(
        space_id=space_id,
        title="Criminalización de la lideresa Ana",
        defenders=(defender,),
        threat_type="judicial_harassment",
        occurred_on=PartialDate(2025, 5, 30),
        country="co",
        place="Popayán",
        urgency=AlertUrgency.IMMEDIATE,
        requested_actions="Write to the Attorney General.\nShare the statement.",
        incident_ids=(new_id(),),
    )
    return [
        material,
        Note(space_id=space_id, material_id=material.id, page=3, body="Ver sección 2."),
        ReadingPosition(space_id=space_id, material_id=material.id, page=12),
        alert,
        Letter(
            space_id=space_id,
            alert_id=alert.id,
            language="ar",
            kind=LetterKind.PETITION,
            title="عريضة تضامن",
            text="نطالب بوقف الملاحقة القضائية.",
            drafted_by="Salma",
        ),
        SignOn(
            space_id=space_id,
            alert_id=alert.id,
            organization_id=organization,
            signed_by="Ana",
            signed_on=PartialDate(2025, 6, 1),
        ),
        Referral(
            space_id=space_id,
            alert_id=alert.id,
            mechanism="iachr_precautionary_measures",
            status=ReferralStatus.SUBMITTED,
            submitted_on=PartialDate(2025, 6, 2),
        ),
        Action(
            space_id=space_id,
            alert_id=alert.id,
            summary="Called the embassy",
            done_by="Luis",
            occurred_on=PartialDate(2025, 6, 3),
        ),
        MaterialFile(
            space_id=space_id,
            material_id=material.id,
            working_group_id=group_id,
            attachment_ref=new_id(),
            filename="guia.pdf",
            sha256="ab" * 32,
            size=1024,
            media_type="application/pdf",
            attachment_chunks=("cd" * 32,),
        ),
    ]


def test_every_network_type_is_registered_and_has_a_sound_example(space_id: str) -> None:
    examples = sound_records(space_id)
    declared = {rt.cls for rt in RECORD_TYPES.values() if rt.cls.__module__ == Material.__module__}
    assert {type(r) for r in examples} == declared
    assert {record_type(r).name for r in examples} == {
        "material",
        "material_file",
        "note",
        "reading_position",
        "alert",
        "letter",
        "sign_on",
        "referral",
        "action",
    }
    for record in examples:
        assert record.validate(today=TODAY) == [], type(record).__name__


def test_merge_rules_fit_collective_work() -> None:
    assert RECORD_TYPES["sign_on"].append_only and RECORD_TYPES["action"].append_only
    assert not RECORD_TYPES["letter"].append_only
    assert RECORD_TYPES["letter"].field("text").merge is Merge.LINES
    assert RECORD_TYPES["alert"].field("defenders").merge is Merge.SET
    assert RECORD_TYPES["alert"].field("status").merge is Merge.VALUE
    assert RECORD_TYPES["material"].field("objectives").merge is Merge.SET


@pytest.mark.parametrize("index", range(8))
def test_round_trip_through_json_and_msgpack(space_id: str, index: int) -> None:
    record = sound_records(space_id)[index]
    data = to_dict(record)
    assert from_dict(json.loads(json.dumps(data))) == record
    assert from_dict(msgpack.unpackb(msgpack.packb(data))) == record


def test_an_alert_names_what_is_missing(space_id: str) -> None:
    errors = Alert(space_id=space_id).validate(today=TODAY)
    assert codes(errors) == {
        ("title", "required"),
        ("defenders", "required"),
        ("threat_type", "required"),
        ("occurred_on", "required"),
        ("country", "required"),
    }
    assert "Name at least one defender concerned." in [e.message for e in errors]
    set_language("es")
    spanish = Alert(space_id=space_id).validate(today=TODAY)
    assert "Nombre al menos a una persona defensora afectada." in [e.message for e in spanish]


def test_an_alert_refuses_unknown_threats_twice_named_defenders_and_a_future_date(
    space_id: str,
) -> None:
    alert = sound_records(space_id)[3]
    assert isinstance(alert, Alert)
    defender = alert.defenders[0]
    wrong = replace(
        alert,
        threat_type="forced_eviction",  # an act type, not a threat against a defender
        defenders=(defender, defender),
        occurred_on=PartialDate(2026),
    )
    assert codes(wrong.validate(today=TODAY)) == {
        ("threat_type", "unknown_code"),
        ("defenders", "duplicate"),
        ("occurred_on", "in_future"),
    }
    assert alert.is_open and not replace(alert, status=AlertStatus.CLOSED).is_open
    assert AlertStatus.CLOSED not in OPEN_ALERT_STATUSES and len(OPEN_ALERT_STATUSES) == 4


def test_a_material_and_a_note_name_their_mistakes(space_id: str) -> None:
    material = Material(space_id=space_id)
    assert codes(material.validate()) == {
        ("working_group_id", "required"),
        ("title", "required"),
        ("material_type", "required"),
    }
    ref = new_id()
    twice = Material(
        space_id=space_id,
        working_group_id=new_id(),
        title="Informe",
        material_type="no_such_type",
        objectives=("not_an_objective",),
        attachments=((ref, "a.pdf"), (ref, "a.pdf")),
    )
    assert codes(twice.validate()) == {
        ("material_type", "unknown_code"),
        ("objectives", "unknown_code"),
        ("attachments", "duplicate"),
    }
    orphan = Note(space_id=space_id, body="x")
    assert codes(orphan.validate()) == {("material_id", "required")}
    group_page = Note(space_id=space_id, working_group_id=new_id(), page=2, body="x")
    assert codes(group_page.validate()) == {("page", "out_of_range")}
    position = ReadingPosition(space_id=space_id, material_id=new_id(), page=-1)
    assert codes(position.validate()) == {("page", "out_of_range")}


def test_a_letter_needs_a_language_and_text_and_a_submitted_referral_a_date(
    space_id: str,
) -> None:
    letter = Letter(space_id=space_id, alert_id=new_id(), language="xx_no", title="t")
    assert codes(letter.validate()) == {("language", "unknown_language"), ("text", "required")}
    referral = Referral(
        space_id=space_id,
        alert_id=new_id(),
        mechanism="un_special_rapporteur_defenders",
        status=ReferralStatus.SUBMITTED,
    )
    assert codes(referral.validate(today=TODAY)) == {("submitted_on", "required")}
    assert replace(referral, status=ReferralStatus.PREPARING).validate(today=TODAY) == []
    unknown = replace(referral, mechanism="the_press", submitted_on=PartialDate(2025))
    assert codes(unknown.validate(today=TODAY)) == {("mechanism", "unknown_code")}


def test_a_synced_signature_or_action_is_never_edited(space_id: str) -> None:
    records = sound_records(space_id)
    sign_on, action, letter = records[5], records[7], records[4]
    # Before the first sync, a slip can still be fixed...
    fixed = edit(sign_on, signed_by="Ana María")
    assert isinstance(fixed, SignOn) and fixed.signed_by == "Ana María"
    # ...after it, a signature and an action are history: a correction is a new entry.
    for entry in (mark_synced(sign_on, 3), mark_synced(action, 4)):
        with pytest.raises(FrozenRecordError):
            edit(entry, signed_by="Someone else")
    # A letter is drafted together, so it stays editable after syncing.
    redrafted = edit(mark_synced(letter, 5), text="Texto revisado.")
    assert redrafted.dirty and redrafted.revision == 5


def test_an_organization_signing_twice_counts_once(space_id: str) -> None:
    alert_id, first_org, second_org = new_id(), new_id(), new_id()
    start = datetime(2025, 6, 1, 9, tzinfo=UTC)

    def signature(org: str, minutes: int, who: str) -> SignOn:
        moment = start + timedelta(minutes=minutes)
        return SignOn(
            space_id=space_id,
            alert_id=alert_id,
            organization_id=org,
            signed_by=who,
            signed_on=PartialDate(2025, 6, 1),
            created_at=moment,
            updated_at=moment,
        )

    signatures = [
        signature(second_org, 5, "Omar"),
        signature(first_org, 1, "Ana"),
        signature(first_org, 9, "Luis"),  # a colleague signed offline for the same organization
    ]
    assert signed_organizations(signatures) == [first_org, second_org]
    assert signed_organizations([]) == []
