"""The record types of DESIGN.md section 4, HURIDOCS-style: who did what to whom, where and when.

``RECORD_TYPES`` is the one declaration of every type's fields, merge rules and schema version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from desktop.domain import vocabularies as vocab
from desktop.domain.dates import PartialDate
from desktop.domain.fields import (
    CODES,
    INT,
    OPTIONAL_DATETIME,
    OPTIONAL_FLOAT,
    OPTIONAL_ID,
    OPTIONAL_INT,
    PAIRS,
    PARTIAL_DATE,
    TEXT,
    Codec,
    FieldSpec,
    Json,
    Merge,
    RecordFormatError,
    decode_datetime,
    encode_datetime,
    entry_list_codec,
    enum_codec,
    object_field,
)
from desktop.domain.network_records import NETWORK_RECORD_TYPES
from desktop.domain.record_base import (
    COMMON_FIELDS,
    ENUM_VOCABULARIES,
    NAME_LIMIT,
    TITLE_LIMIT,
    Record,
    RecordType,
    new_id,
    utc_now,
)
from desktop.domain.recovery_records import RECOVERY_RECORD_TYPES
from desktop.domain.translation import _, format_number, ngettext
from desktop.domain.validation import (
    FieldError,
    check_code,
    check_codes,
    check_coordinates,
    check_date_range,
    check_language,
    check_max_length,
    check_media_type,
    check_record_id,
    check_required_text,
    check_sha256,
)
from desktop.domain.vocabularies import VocabularySet

__all__ = [
    "ENUM_VOCABULARIES",
    "NAME_LIMIT",
    "TITLE_LIMIT",
    "Record",
    "RecordType",
    "new_id",
    "utc_now",
]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class SpaceKind(StrEnum):
    NETWORK = "network"
    WORKING_GROUP = "working_group"
    ORGANIZATION = "organization"
    ONLY_ME = "only_me"


class PersonKind(StrEnum):
    INDIVIDUAL = "individual"
    GROUP = "group"


class MembershipRole(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    READER = "reader"


class IncidentKind(StrEnum):
    VIOLATION = "violation"
    THREAT_TO_DEFENDER = "threat_to_defender"
    CORPORATE_CAPTURE = "corporate_capture"


class IncidentStatus(StrEnum):
    DRAFT = "draft"
    DOCUMENTED = "documented"
    VERIFIED = "verified"
    REFERRED = "referred"
    CLOSED = "closed"


class Confidentiality(StrEnum):
    PUBLIC = "public"
    NETWORK = "network"
    ORGANIZATION = "organization"
    RESTRICTED = "restricted"


class ConsentLevel(StrEnum):
    NOT_ASKED = "not_asked"
    REFUSED = "refused"
    DOCUMENT_ONLY = "document_only"
    SHARE_ANONYMOUSLY = "share_anonymously"
    SHARE_WITH_NAME = "share_with_name"


class FollowUpKind(StrEnum):
    INTERVENTION = "intervention"
    REFERRAL = "referral"
    LETTER_SENT = "letter_sent"
    RESPONSE_RECEIVED = "response_received"
    OTHER = "other"


#: Each closed list the code branches on has a vocabulary with its labels; a test keeps them equal.
ENUM_VOCABULARIES.update(
    {
        SpaceKind: vocab.SPACE_KINDS,
        PersonKind: vocab.PERSON_KINDS,
        MembershipRole: vocab.MEMBERSHIP_ROLES,
        IncidentKind: vocab.INCIDENT_KINDS,
        IncidentStatus: vocab.INCIDENT_STATUSES,
        Confidentiality: vocab.CONFIDENTIALITY_LEVELS,
        ConsentLevel: vocab.CONSENT_LEVELS,
        FollowUpKind: vocab.FOLLOW_UP_KINDS,
    }
)


# --- small entries kept inside a record -------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Consent:
    """What one person named in an incident agreed to, when, and who asked them."""

    person_id: str
    level: ConsentLevel = ConsentLevel.NOT_ASKED
    recorded_on: PartialDate | None = None
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Involvement:
    """A perpetrator's part in an act (HURIDOCS "involvement"): who, what kind, how directly."""

    perpetrator_id: str | None = None  # a Person or an Organization; None when unidentified
    perpetrator_type: str = ""
    degree: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CustodyEntry:
    """One link of an evidence file's chain of custody; entries are appended, never edited."""

    id: str = field(default_factory=new_id)
    at: datetime = field(default_factory=utc_now)
    actor: str = ""
    action: str = ""
    note: str = ""


def _entry_keys(data: dict[str, Json], expected: set[str]) -> None:
    unknown = set(data) - expected
    if unknown:
        raise RecordFormatError(f"unknown fields {sorted(unknown)}")


def _encode_consent(value: Consent) -> dict[str, Json]:
    return {
        "person_id": value.person_id,
        "level": str(value.level.value),
        "recorded_on": PARTIAL_DATE.encode(value.recorded_on),
        "note": value.note,
    }


_CONSENT_LEVEL = enum_codec(ConsentLevel)


def _decode_consent(data: dict[str, Json]) -> Consent:
    _entry_keys(data, {"person_id", "level", "recorded_on", "note"})
    return Consent(
        person_id=TEXT.decode(object_field(data, "person_id")),
        level=_CONSENT_LEVEL.decode(object_field(data, "level")),
        recorded_on=PARTIAL_DATE.decode(object_field(data, "recorded_on")),
        note=TEXT.decode(object_field(data, "note")),
    )


def _encode_involvement(value: Involvement) -> dict[str, Json]:
    return {
        "perpetrator_id": value.perpetrator_id,
        "perpetrator_type": value.perpetrator_type,
        "degree": value.degree,
        "note": value.note,
    }


def _decode_involvement(data: dict[str, Json]) -> Involvement:
    _entry_keys(data, {"perpetrator_id", "perpetrator_type", "degree", "note"})
    return Involvement(
        perpetrator_id=OPTIONAL_ID.decode(object_field(data, "perpetrator_id")),
        perpetrator_type=TEXT.decode(object_field(data, "perpetrator_type")),
        degree=TEXT.decode(object_field(data, "degree")),
        note=TEXT.decode(object_field(data, "note")),
    )


def _encode_custody(value: CustodyEntry) -> dict[str, Json]:
    return {
        "id": value.id,
        "at": encode_datetime(value.at),
        "actor": value.actor,
        "action": value.action,
        "note": value.note,
    }


def _decode_custody(data: dict[str, Json]) -> CustodyEntry:
    _entry_keys(data, {"id", "at", "actor", "action", "note"})
    return CustodyEntry(
        id=TEXT.decode(object_field(data, "id")),
        at=decode_datetime(object_field(data, "at")),
        actor=TEXT.decode(object_field(data, "actor")),
        action=TEXT.decode(object_field(data, "action")),
        note=TEXT.decode(object_field(data, "note")),
    )


CONSENTS = entry_list_codec("consents", _encode_consent, _decode_consent)
INVOLVEMENTS = entry_list_codec("involvements", _encode_involvement, _decode_involvement)
CUSTODY = entry_list_codec("custody", _encode_custody, _decode_custody)


# --- records ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Space(Record):
    """A sharing scope with its own key; its own record lives in itself (``space_id == id``)."""

    name: str = ""
    kind: SpaceKind = SpaceKind.ORGANIZATION
    description: str = ""
    working_group_id: str | None = None
    organization_id: str | None = None

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_required_text("name", self.name)
        errors += check_max_length("name", self.name, NAME_LIMIT)
        if self.space_id != self.id:
            errors.append(
                FieldError(
                    "space_id",
                    "invalid_reference",
                    _("A space's record must belong to that same space."),
                )
            )
        errors += check_record_id(
            "working_group_id",
            self.working_group_id,
            required=self.kind is SpaceKind.WORKING_GROUP,
        )
        errors += check_record_id(
            "organization_id", self.organization_id, required=self.kind is SpaceKind.ORGANIZATION
        )
        return errors


def _check_country_region(
    vocabularies: VocabularySet, country: str, region: str, *, country_required: bool
) -> list[FieldError]:
    errors = check_code(
        vocabularies, vocab.COUNTRIES, "country", country, required=country_required
    )
    countries = vocabularies[vocab.COUNTRIES]
    if not errors and country and countries.term(country).parent is not None:
        errors.append(
            FieldError("country", "unknown_code", _("Choose a country here, not a region."))
        )
    if region:
        if region not in countries or countries.term(region).parent is None:
            errors.append(
                FieldError(
                    "region",
                    "unknown_code",
                    _("“{code}” is not a region in the list.").format(code=region),
                )
            )
        elif countries.term(region).parent != country:
            errors.append(
                FieldError(
                    "region", "region_outside_country", _("This region is not in that country.")
                )
            )
    return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Organization(Record):
    name: str = ""
    acronym: str = ""
    country: str = ""
    description: str = ""
    website: str = ""
    email: str = ""
    objectives: tuple[str, ...] = ()

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_required_text("name", self.name)
        errors += check_max_length("name", self.name, NAME_LIMIT)
        errors += _check_country_region(vocabularies, self.country, "", country_required=False)
        if self.email and not _EMAIL.fullmatch(self.email):
            errors.append(
                FieldError(
                    "email",
                    "invalid_email",
                    _("“{value}” is not an e-mail address.").format(value=self.email),
                )
            )
        if self.website and not self.website.startswith(("https://", "http://")):
            errors.append(
                FieldError(
                    "website", "invalid_url", _("A web address starts with https:// or http://.")
                )
            )
        errors += check_codes(vocabularies, vocab.OBJECTIVES, "objectives", self.objectives)
        return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Person(Record):
    """A person or a group of people (a community, a union, families): any role in any incident.

    Roles (victim, perpetrator, source, defender) come from the links that name the person — an
    Act's victim or involvement, a Source — so one record can be all of them over time.
    """

    kind: PersonKind = PersonKind.INDIVIDUAL
    name: str = ""
    alias: str = ""  # what the documentation may show when the name must not be
    headcount: int | None = None  # for a group: how many people it is (an estimate is fine)
    country: str = ""
    organization_id: str | None = None
    occupation: str = ""
    notes: str = ""

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors: list[FieldError] = []
        if not self.name.strip() and not self.alias.strip():
            errors.append(FieldError("name", "required", _("Give a name or an alias.")))
        errors += check_max_length("name", self.name, NAME_LIMIT)
        if self.kind is PersonKind.GROUP:
            if self.headcount is None:
                errors.append(
                    FieldError(
                        "headcount",
                        "required",
                        _("Give how many people the group has; an estimate is fine."),
                    )
                )
            elif self.headcount < 1:
                errors.append(
                    FieldError(
                        "headcount",
                        "out_of_range",
                        _("A group has at least one person; got {value}.").format(
                            value=format_number(self.headcount)
                        ),
                    )
                )
        elif self.headcount is not None:
            errors.append(
                FieldError("headcount", "not_applicable", _("Only a group has a headcount."))
            )
        errors += _check_country_region(vocabularies, self.country, "", country_required=False)
        errors += check_record_id("organization_id", self.organization_id, required=False)
        return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkingGroup(Record):
    name: str = ""
    description: str = ""
    objectives: tuple[str, ...] = ()

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_required_text("name", self.name)
        errors += check_max_length("name", self.name, NAME_LIMIT)
        errors += check_codes(vocabularies, vocab.OBJECTIVES, "objectives", self.objectives)
        return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Membership(Record):
    """A person or an organization (exactly one) in a working group, with a role."""

    working_group_id: str = ""
    person_id: str | None = None
    organization_id: str | None = None
    role: MembershipRole = MembershipRole.READER
    joined_on: PartialDate | None = None

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_record_id("working_group_id", self.working_group_id, required=True)
        if (self.person_id is None) == (self.organization_id is None):
            errors.append(
                FieldError(
                    "person_id",
                    "required",
                    _("A membership is for one person or one organization."),
                )
            )
        errors += check_record_id("person_id", self.person_id, required=False)
        errors += check_record_id("organization_id", self.organization_id, required=False)
        errors += check_date_range("joined_on", self.joined_on, "", None, today=today)
        return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Incident(Record):
    """An event (HURIDOCS "event"): what happened, when, where, to which rights.

    A draft needs only a title; from ``documented`` on, the date, the country and what was
    violated are required too, so notes taken in the field can be saved before they are whole.
    """

    title: str = ""
    kind: IncidentKind = IncidentKind.VIOLATION
    start_date: PartialDate | None = None
    end_date: PartialDate | None = None
    country: str = ""
    region: str = ""
    place: str = ""
    latitude: float | None = None
    longitude: float | None = None
    rights: tuple[str, ...] = ()
    capture_forms: tuple[str, ...] = ()
    narrative: str = ""
    impact: str = ""
    status: IncidentStatus = IncidentStatus.DRAFT
    confidentiality: Confidentiality = Confidentiality.ORGANIZATION
    consents: tuple[Consent, ...] = ()

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        complete = self.status is not IncidentStatus.DRAFT
        errors = check_required_text("title", self.title)
        errors += check_max_length("title", self.title, TITLE_LIMIT)
        errors += check_date_range(
            "start_date",
            self.start_date,
            "end_date",
            self.end_date,
            today=today,
            start_required=complete,
        )
        errors += _check_country_region(
            vocabularies, self.country, self.region, country_required=complete
        )
        errors += check_coordinates(self.latitude, self.longitude)
        errors += check_codes(
            vocabularies,
            vocab.RIGHTS,
            "rights",
            self.rights,
            required=complete and self.kind is IncidentKind.VIOLATION,
        )
        errors += check_codes(
            vocabularies,
            vocab.CORPORATE_CAPTURE,
            "capture_forms",
            self.capture_forms,
            required=complete and self.kind is IncidentKind.CORPORATE_CAPTURE,
        )
        seen: set[str] = set()
        for index, consent in enumerate(self.consents):
            where = f"consents[{index}]"
            errors += check_record_id(f"{where}.person_id", consent.person_id, required=True)
            if consent.person_id in seen:
                errors.append(
                    FieldError(
                        f"{where}.person_id",
                        "duplicate",
                        _("This person's consent is recorded twice."),
                    )
                )
            seen.add(consent.person_id)
            errors += check_date_range(
                f"{where}.recorded_on", consent.recorded_on, "", None, today=today
            )
        return errors

    def consent_of(self, person_id: str) -> Consent | None:
        return next((c for c in self.consents if c.person_id == person_id), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Act(Record):
    """One act against one victim in an incident, and who took part in it (HURIDOCS "act").

    The act type comes from the acts vocabulary or, for defenders, the threats vocabulary.
    """

    incident_id: str = ""
    victim_id: str = ""
    act_type: str = ""
    start_date: PartialDate | None = None
    end_date: PartialDate | None = None
    involvements: tuple[Involvement, ...] = ()
    notes: str = ""

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_record_id("incident_id", self.incident_id, required=True)
        errors += check_record_id("victim_id", self.victim_id, required=True)
        if not self.act_type:
            errors.append(FieldError("act_type", "required", _("Choose a value from the list.")))
        elif not (
            vocabularies.is_valid_code(vocab.ACT_TYPES, self.act_type)
            or vocabularies.is_valid_code(vocab.DEFENDER_THREATS, self.act_type)
        ):
            errors += check_code(
                vocabularies, vocab.ACT_TYPES, "act_type", self.act_type, required=True
            )
        errors += check_date_range(
            "start_date", self.start_date, "end_date", self.end_date, today=today
        )
        for index, involvement in enumerate(self.involvements):
            where = f"involvements[{index}]"
            errors += check_record_id(
                f"{where}.perpetrator_id", involvement.perpetrator_id, required=False
            )
            errors += check_code(
                vocabularies,
                vocab.PERPETRATOR_TYPES,
                f"{where}.perpetrator_type",
                involvement.perpetrator_type,
                required=True,
            )
            errors += check_code(
                vocabularies,
                vocab.INVOLVEMENT_DEGREES,
                f"{where}.degree",
                involvement.degree,
                required=True,
            )
        return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Source(Record):
    """Where information about an incident came from (HURIDOCS "information")."""

    incident_id: str = ""
    person_id: str | None = None
    organization_id: str | None = None
    source_type: str = ""
    reliability: str = ""
    reported_on: PartialDate | None = None
    language: str = ""
    summary: str = ""

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_record_id("incident_id", self.incident_id, required=True)
        errors += check_record_id("person_id", self.person_id, required=False)
        errors += check_record_id("organization_id", self.organization_id, required=False)
        errors += check_code(
            vocabularies, vocab.SOURCE_TYPES, "source_type", self.source_type, required=True
        )
        errors += check_code(
            vocabularies,
            vocab.SOURCE_RELIABILITY,
            "reliability",
            self.reliability,
            required=True,
        )
        errors += check_date_range("reported_on", self.reported_on, "", None, today=today)
        errors += check_language("language", self.language, required=False)
        return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence(Record):
    """A file kept as evidence: its fingerprint at import, what the person chose to keep of its
    capture metadata (GPS, device, time), and its chain of custody.
    """

    incident_id: str = ""
    attachment_ref: str = ""  # the store's encrypted attachment
    sha256: str = ""
    filename: str = ""
    size: int = 0
    media_type: str = ""
    description: str = ""
    captured_at: datetime | None = None
    capture_metadata: tuple[tuple[str, str], ...] = ()
    custody: tuple[CustodyEntry, ...] = ()
    # What another device needs to fetch and open the file. The record is sealed end to end,
    # so the key reaches members only, never the server: the file key and the stream header
    # (base64), and the SHA-256 of each sealed chunk in order (the chunks' sync addresses).
    # Empty on evidence imported before schema 2: such a file stays on the device it was on.
    attachment_key: str = ""
    attachment_header: str = ""
    attachment_chunks: tuple[str, ...] = ()

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_record_id("incident_id", self.incident_id, required=True)
        errors += check_required_text("attachment_ref", self.attachment_ref)
        for index, address in enumerate(self.attachment_chunks):
            errors += check_sha256(f"attachment_chunks[{index}]", address)
        errors += check_sha256("sha256", self.sha256)
        errors += check_required_text("filename", self.filename)
        if self.size < 0:
            errors.append(FieldError("size", "out_of_range", _("A file size cannot be negative.")))
        errors += check_media_type("media_type", self.media_type)
        if self.captured_at is not None:
            captured = PartialDate.from_date(self.captured_at.astimezone(UTC).date())
            errors += check_date_range("captured_at", captured, "", None, today=today)
        names = [name for name, _value in self.capture_metadata]
        if any(not name.strip() for name in names) or len(set(names)) != len(names):
            errors.append(
                FieldError(
                    "capture_metadata",
                    "duplicate",
                    _("Each capture detail needs its own, non-empty name."),
                )
            )
        ids = [entry.id for entry in self.custody]
        if len(set(ids)) != len(ids):
            errors.append(FieldError("custody", "duplicate", _("A custody entry appears twice.")))
        for index, entry in enumerate(self.custody):
            where = f"custody[{index}]"
            errors += check_required_text(f"{where}.actor", entry.actor)
            errors += check_code(
                vocabularies, vocab.CUSTODY_ACTIONS, f"{where}.action", entry.action, required=True
            )
        return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowUp(Record):
    """One step taken after an incident. Append-only: a correction is a new entry."""

    incident_id: str = ""
    kind: FollowUpKind = FollowUpKind.OTHER
    occurred_on: PartialDate | None = None
    counterpart: str = ""  # to whom it was addressed, or who answered
    summary: str = ""

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_record_id("incident_id", self.incident_id, required=True)
        errors += check_date_range(
            "occurred_on", self.occurred_on, "", None, today=today, start_required=True
        )
        errors += check_required_text("summary", self.summary)
        return errors


# --- the declaration sync and store read ------------------------------------------------------

R = TypeVar("R", bound=Record)


def _spec(name: str, codec: Codec, merge: Merge = Merge.VALUE) -> FieldSpec:
    return FieldSpec(name, codec, merge)


def _evidence_v2(data: dict[str, Json]) -> dict[str, Json]:
    """Evidence 1 → 2: the fields to fetch and open the file elsewhere, empty (not synced)."""
    return {
        **data,
        "schema": 2,
        "attachment_key": "",
        "attachment_header": "",
        "attachment_chunks": [],
    }


_LINES = Merge.LINES
_SET = Merge.SET

RECORD_TYPES: dict[str, RecordType] = {
    record_type.name: record_type
    for record_type in (
        RecordType(
            "space",
            Space,
            1,
            (
                _spec("name", TEXT),
                _spec("kind", enum_codec(SpaceKind)),
                _spec("description", TEXT, _LINES),
                _spec("working_group_id", OPTIONAL_ID),
                _spec("organization_id", OPTIONAL_ID),
            ),
        ),
        RecordType(
            "organization",
            Organization,
            1,
            (
                _spec("name", TEXT),
                _spec("acronym", TEXT),
                _spec("country", TEXT),
                _spec("description", TEXT, _LINES),
                _spec("website", TEXT),
                _spec("email", TEXT),
                _spec("objectives", CODES, _SET),
            ),
        ),
        RecordType(
            "person",
            Person,
            1,
            (
                _spec("kind", enum_codec(PersonKind)),
                _spec("name", TEXT),
                _spec("alias", TEXT),
                _spec("headcount", OPTIONAL_INT),
                _spec("country", TEXT),
                _spec("organization_id", OPTIONAL_ID),
                _spec("occupation", TEXT),
                _spec("notes", TEXT, _LINES),
            ),
        ),
        RecordType(
            "working_group",
            WorkingGroup,
            1,
            (
                _spec("name", TEXT),
                _spec("description", TEXT, _LINES),
                _spec("objectives", CODES, _SET),
            ),
        ),
        RecordType(
            "membership",
            Membership,
            1,
            (
                _spec("working_group_id", TEXT),
                _spec("person_id", OPTIONAL_ID),
                _spec("organization_id", OPTIONAL_ID),
                _spec("role", enum_codec(MembershipRole)),
                _spec("joined_on", PARTIAL_DATE),
            ),
        ),
        RecordType(
            "incident",
            Incident,
            1,
            (
                _spec("title", TEXT),
                _spec("kind", enum_codec(IncidentKind)),
                _spec("start_date", PARTIAL_DATE),
                _spec("end_date", PARTIAL_DATE),
                _spec("country", TEXT),
                _spec("region", TEXT),
                _spec("place", TEXT),
                _spec("latitude", OPTIONAL_FLOAT),
                _spec("longitude", OPTIONAL_FLOAT),
                _spec("rights", CODES, _SET),
                _spec("capture_forms", CODES, _SET),
                _spec("narrative", TEXT, _LINES),
                _spec("impact", TEXT, _LINES),
                _spec("status", enum_codec(IncidentStatus)),
                _spec("confidentiality", enum_codec(Confidentiality)),
                _spec("consents", CONSENTS),
            ),
        ),
        RecordType(
            "act",
            Act,
            1,
            (
                _spec("incident_id", TEXT),
                _spec("victim_id", TEXT),
                _spec("act_type", TEXT),
                _spec("start_date", PARTIAL_DATE),
                _spec("end_date", PARTIAL_DATE),
                _spec("involvements", INVOLVEMENTS),
                _spec("notes", TEXT, _LINES),
            ),
        ),
        RecordType(
            "source",
            Source,
            1,
            (
                _spec("incident_id", TEXT),
                _spec("person_id", OPTIONAL_ID),
                _spec("organization_id", OPTIONAL_ID),
                _spec("source_type", TEXT),
                _spec("reliability", TEXT),
                _spec("reported_on", PARTIAL_DATE),
                _spec("language", TEXT),
                _spec("summary", TEXT, _LINES),
            ),
        ),
        RecordType(
            "evidence",
            Evidence,
            2,
            (
                _spec("incident_id", TEXT),
                _spec("attachment_ref", TEXT),
                _spec("sha256", TEXT),
                _spec("filename", TEXT),
                _spec("size", INT),
                _spec("media_type", TEXT),
                _spec("description", TEXT, _LINES),
                _spec("captured_at", OPTIONAL_DATETIME),
                _spec("capture_metadata", PAIRS),
                _spec("custody", CUSTODY, Merge.APPEND),
                _spec("attachment_key", TEXT),
                _spec("attachment_header", TEXT),
                _spec("attachment_chunks", CODES),
            ),
            upgrades={1: _evidence_v2},
        ),
        RecordType(
            "follow_up",
            FollowUp,
            1,
            (
                _spec("incident_id", TEXT),
                _spec("kind", enum_codec(FollowUpKind)),
                _spec("occurred_on", PARTIAL_DATE),
                _spec("counterpart", TEXT),
                _spec("summary", TEXT, _LINES),
            ),
            append_only=True,
        ),
    )
}

# Materials, notes, alerts and recovery shares are declared in their own modules, which know
# nothing of this one.
RECORD_TYPES.update({spec.name: spec for spec in (*NETWORK_RECORD_TYPES, *RECOVERY_RECORD_TYPES)})

_TYPE_OF_CLASS: dict[type[Record], RecordType] = {rt.cls: rt for rt in RECORD_TYPES.values()}


def record_type(of: str | Record | type[Record]) -> RecordType:
    """The declaration for a type name (``"incident"``), a record class or a record."""
    if isinstance(of, str):
        return RECORD_TYPES[of]
    cls = of if isinstance(of, type) else type(of)
    return _TYPE_OF_CLASS[cls]


# --- serialization ----------------------------------------------------------------------------


def content_of(record: Record) -> dict[str, Json]:
    """The record's own fields as plain values: what sync seals and merges."""
    spec = record_type(record)
    return {f.name: f.codec.encode(getattr(record, f.name)) for f in spec.fields}


def to_dict(record: Record) -> dict[str, Json]:
    """The whole record as plain values (JSON and msgpack both take it), type and schema first."""
    spec = record_type(record)
    data: dict[str, Json] = {"type": spec.name, "schema": spec.schema_version}
    for f in COMMON_FIELDS:
        data[f.name] = f.codec.encode(getattr(record, f.name))
    data.update(content_of(record))
    return data


def from_dict(data: Mapping[str, Json]) -> Record:
    """Rebuild a record from ``to_dict``'s output, upgrading an older schema first.

    Raises:
        RecordFormatError: unknown type, a schema newer than this app, a missing or unknown
            field, or a value of the wrong shape. Nothing is guessed.
    """
    name = data.get("type")
    if not isinstance(name, str) or name not in RECORD_TYPES:
        raise RecordFormatError(f"unknown record type {name!r:.40}")
    spec = RECORD_TYPES[name]
    version = data.get("schema")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RecordFormatError(f"bad schema version {version!r:.20}")
    if version > spec.schema_version:
        raise RecordFormatError(
            f"{name} schema {version} is newer than this app's {spec.schema_version}"
        )
    body = dict(data)
    while version < spec.schema_version:
        upgrade = spec.upgrades.get(version)
        if upgrade is None:
            raise RecordFormatError(f"{name} schema {version} has no upgrade path")
        body = upgrade(body)
        version += 1
    expected = {"type", "schema"} | {f.name for f in COMMON_FIELDS} | set(spec.field_names)
    unknown = set(body) - expected
    if unknown:
        raise RecordFormatError(f"{name}: unknown fields {sorted(unknown)}")
    values: dict[str, Any] = {}
    for f in (*COMMON_FIELDS, *spec.fields):
        try:
            values[f.name] = f.codec.decode(object_field(body, f.name))
        except RecordFormatError as error:
            raise RecordFormatError(f"{name}.{f.name}: {error}") from error
    return spec.cls(**values)


# --- changing records -------------------------------------------------------------------------


class FrozenRecordError(ValueError):
    """An edit that would rewrite history: a synced log entry, or a record's identity."""


_IDENTITY = frozenset({"id", "space_id", "revision", "dirty", "created_at", "updated_at"})


def edit(record: R, *, now: datetime | None = None, **changes: Any) -> R:
    """A copy with ``changes``, marked dirty and stamped; how every local edit is made.

    A synced append-only entry never changes (a correction is a new entry), and identity and
    sync bookkeeping are not edits.

    Raises:
        FrozenRecordError: for either of those.
    """
    touched = _IDENTITY.intersection(changes)
    if touched:
        raise FrozenRecordError(f"not editable: {sorted(touched)}")
    if record_type(record).append_only and record.revision > 0:
        raise FrozenRecordError("a synced append-only entry never changes")
    return replace(record, **changes, dirty=True, updated_at=now or utc_now())


def mark_synced(record: R, revision: int) -> R:
    """The copy the server accepted at ``revision``: out of the outbox."""
    return replace(record, revision=revision, dirty=False)


def append_custody(
    evidence: Evidence,
    *,
    actor: str,
    action: str,
    note: str = "",
    now: datetime | None = None,
) -> Evidence:
    """Add a link to the chain of custody; earlier links are kept exactly as they were."""
    moment = now or utc_now()
    entry = CustodyEntry(at=moment, actor=actor, action=action, note=note)
    return edit(evidence, now=moment, custody=(*evidence.custody, entry))


# --- consent across an incident's records -----------------------------------------------------


def people_needing_consent(acts: Iterable[Act], sources: Iterable[Source]) -> list[str]:
    """The people an incident exposes: its victims and the people who told of it, in order.

    Perpetrators are named too, but documenting an abuse needs no consent from its author.
    """
    found: dict[str, None] = {}
    for act in acts:
        if act.victim_id:
            found[act.victim_id] = None
    for source in sources:
        if source.person_id:
            found[source.person_id] = None
    return list(found)


def consent_errors(
    incident: Incident, acts: Iterable[Act], sources: Iterable[Source]
) -> list[FieldError]:
    """One error when anyone the incident exposes has no consent recorded."""
    linked = [a for a in acts if a.incident_id == incident.id]
    told = [s for s in sources if s.incident_id == incident.id]
    missing = [
        person_id
        for person_id in people_needing_consent(linked, told)
        if incident.consent_of(person_id) is None
    ]
    if not missing:
        return []
    message = ngettext(
        "Consent is not yet recorded for {count} person named in this incident.",
        "Consent is not yet recorded for {count} people named in this incident.",
        len(missing),
    ).format(count=format_number(len(missing)))
    return [FieldError("consents", "consent_missing", message)]


def dataclass_field_names(cls: type[Record]) -> tuple[str, ...]:
    """The fields a record class really has, for checking ``RECORD_TYPES`` against them."""
    return tuple(f.name for f in fields(cls))
