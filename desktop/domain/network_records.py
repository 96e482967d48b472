"""The network's acting-together records: working-group materials and notes, solidarity alerts.

Declared here, registered in ``records.RECORD_TYPES``: store and sync treat them like any type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from desktop.domain import vocabularies as vocab
from desktop.domain.dates import PartialDate
from desktop.domain.fields import (
    BOOL,
    CODES,
    INT,
    OPTIONAL_ID,
    OPTIONAL_INT,
    PAIRS,
    PARTIAL_DATE,
    TEXT,
    FieldSpec,
    Merge,
    enum_codec,
)
from desktop.domain.record_base import ENUM_VOCABULARIES, TITLE_LIMIT, Record, RecordType
from desktop.domain.translation import _
from desktop.domain.validation import (
    FieldError,
    check_code,
    check_codes,
    check_date_range,
    check_language,
    check_max_length,
    check_media_type,
    check_record_id,
    check_required_text,
    check_sha256,
)
from desktop.domain.vocabularies import VocabularySet

# The vocabularies these types use, one file each in resources/vocabularies.
MATERIAL_TYPES = "material_types"
ALERT_URGENCIES = "alert_urgencies"
ALERT_STATUSES = "alert_statuses"
LETTER_KINDS = "letter_kinds"
REFERRAL_STATUSES = "referral_statuses"
PROTECTION_MECHANISMS = "protection_mechanisms"
VOCABULARIES: tuple[str, ...] = (
    MATERIAL_TYPES,
    ALERT_URGENCIES,
    ALERT_STATUSES,
    LETTER_KINDS,
    REFERRAL_STATUSES,
    PROTECTION_MECHANISMS,
)


class AlertUrgency(StrEnum):
    """Most urgent first: the order the alerts screen lists them in."""

    IMMEDIATE = "immediate"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class AlertStatus(StrEnum):
    """The life of an alert, in order; every status but ``closed`` is still open."""

    RECEIVED = "received"
    VERIFIED = "verified"
    RESPONSE_SENT = "response_sent"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"


OPEN_ALERT_STATUSES: tuple[AlertStatus, ...] = tuple(
    status for status in AlertStatus if status is not AlertStatus.CLOSED
)


class LetterKind(StrEnum):
    LETTER = "letter"
    PETITION = "petition"


class ReferralStatus(StrEnum):
    PREPARING = "preparing"
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    MEASURES_GRANTED = "measures_granted"
    DECLINED = "declined"


ENUM_VOCABULARIES.update(
    {
        AlertUrgency: ALERT_URGENCIES,
        AlertStatus: ALERT_STATUSES,
        LetterKind: LETTER_KINDS,
        ReferralStatus: REFERRAL_STATUSES,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Material(Record):
    """A working group's document, with its encrypted files.

    Its files are :class:`MaterialFile` records, one per file, so each travels as its own
    sealed chunks and two members adding files at once never conflict. ``attachments`` are
    ``(attachment_ref, filename)`` pairs of files imported before files traveled: they stay on
    the device they were imported on. ``pinned`` is the group's recommendation to keep the
    material offline; whether a device keeps it is that device's choice (``material_pins``).
    """

    working_group_id: str = ""
    title: str = ""
    material_type: str = ""
    language: str = ""
    objectives: tuple[str, ...] = ()
    description: str = ""
    attachments: tuple[tuple[str, str], ...] = ()
    pinned: bool = False

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_record_id("working_group_id", self.working_group_id, required=True)
        errors += check_required_text("title", self.title)
        errors += check_max_length("title", self.title, TITLE_LIMIT)
        errors += check_code(
            vocabularies, MATERIAL_TYPES, "material_type", self.material_type, required=True
        )
        errors += check_language("language", self.language, required=False)
        errors += check_codes(vocabularies, vocab.OBJECTIVES, "objectives", self.objectives)
        refs = [ref for ref, _name in self.attachments]
        if len(set(refs)) != len(refs):
            errors.append(
                FieldError("attachments", "duplicate", _("The same file is attached twice."))
            )
        for index, (ref, name) in enumerate(self.attachments):
            errors += check_record_id(f"attachments[{index}]", ref, required=True)
            errors += check_required_text(f"attachments[{index}].filename", name)
        return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class MaterialFile(Record):
    """One file of a material, with what a member's device needs to fetch and open it.

    The same transfer fields as Evidence (schema 2): the file key and stream header (base64)
    and the SHA-256 of each sealed chunk, sealed inside the record so only members read them.
    ``working_group_id`` is repeated from the material so a device can tell, without reading
    the material, whether it keeps the group's files offline.
    """

    material_id: str = ""
    working_group_id: str = ""
    attachment_ref: str = ""
    filename: str = ""
    sha256: str = ""
    size: int = 0
    media_type: str = ""
    attachment_key: str = ""
    attachment_header: str = ""
    attachment_chunks: tuple[str, ...] = ()

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_record_id("material_id", self.material_id, required=True)
        errors += check_record_id("working_group_id", self.working_group_id, required=True)
        errors += check_required_text("attachment_ref", self.attachment_ref)
        errors += check_required_text("filename", self.filename)
        errors += check_sha256("sha256", self.sha256)
        if self.size < 0:
            errors.append(FieldError("size", "out_of_range", _("A file size cannot be negative.")))
        errors += check_media_type("media_type", self.media_type)
        for index, address in enumerate(self.attachment_chunks):
            errors += check_sha256(f"attachment_chunks[{index}]", address)
        return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Note(Record):
    """An annotation on a material (perhaps on one page) or on a working group.

    Whether it is personal or shared with the group is its space: "only me" or the group's.
    """

    material_id: str | None = None
    working_group_id: str | None = None
    page: int | None = None  # 0-based page of the material's document, when the note is on one
    body: str = ""

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors: list[FieldError] = []
        if not self.material_id and not self.working_group_id:
            errors.append(
                FieldError(
                    "material_id",
                    "required",
                    _("A note belongs to a material or to a working group."),
                )
            )
        errors += check_record_id("material_id", self.material_id, required=False)
        errors += check_record_id("working_group_id", self.working_group_id, required=False)
        if self.page is not None and (self.page < 0 or not self.material_id):
            errors.append(
                FieldError("page", "out_of_range", _("A page note needs a page of a material."))
            )
        errors += check_required_text("body", self.body)
        return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingPosition(Record):
    """Where a person left off in a material's document, kept in their "only me" space.

    A record rather than a device setting, so the page follows the person to their other
    devices and never reaches the group. Each device writes its own record (its id derived
    from the device and the material, see ``desktop.store.materials``), so two devices never
    edit one record and never conflict; the reader opens at the most recently updated one.
    """

    material_id: str = ""
    page: int = 0  # 0-based

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_record_id("material_id", self.material_id, required=True)
        if self.page < 0:
            errors.append(
                FieldError("page", "out_of_range", _("A page number cannot be negative."))
            )
        return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert(Record):
    """A threat or attack against defenders that needs the network's collective response."""

    title: str = ""
    defenders: tuple[str, ...] = ()  # person ids
    threat_type: str = ""
    occurred_on: PartialDate | None = None
    country: str = ""
    place: str = ""
    urgency: AlertUrgency = AlertUrgency.HIGH
    requested_actions: str = ""
    status: AlertStatus = AlertStatus.RECEIVED
    incident_ids: tuple[str, ...] = ()

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_required_text("title", self.title)
        errors += check_max_length("title", self.title, TITLE_LIMIT)
        if not self.defenders:
            errors.append(
                FieldError("defenders", "required", _("Name at least one defender concerned."))
            )
        if len(set(self.defenders)) != len(self.defenders):
            errors.append(
                FieldError("defenders", "duplicate", _("The same defender is named twice."))
            )
        for index, person_id in enumerate(self.defenders):
            errors += check_record_id(f"defenders[{index}]", person_id, required=True)
        errors += check_code(
            vocabularies, vocab.DEFENDER_THREATS, "threat_type", self.threat_type, required=True
        )
        errors += check_date_range(
            "occurred_on", self.occurred_on, "", None, today=today, start_required=True
        )
        errors += check_code(vocabularies, vocab.COUNTRIES, "country", self.country, required=True)
        for index, incident_id in enumerate(self.incident_ids):
            errors += check_record_id(f"incident_ids[{index}]", incident_id, required=True)
        return errors

    @property
    def is_open(self) -> bool:
        return self.status is not AlertStatus.CLOSED


@dataclass(frozen=True, slots=True, kw_only=True)
class Letter(Record):
    """A collective letter or petition for an alert, in one language; drafted together."""

    alert_id: str = ""
    language: str = ""
    kind: LetterKind = LetterKind.LETTER
    title: str = ""
    text: str = ""
    drafted_by: str = ""

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_record_id("alert_id", self.alert_id, required=True)
        errors += check_language("language", self.language, required=True)
        errors += check_required_text("title", self.title)
        errors += check_max_length("title", self.title, TITLE_LIMIT)
        errors += check_required_text("text", self.text)
        return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class SignOn(Record):
    """One organization's endorsement of an alert's letters.

    Append-only and one record per organization, so members signing at once never conflict.
    """

    alert_id: str = ""
    organization_id: str = ""
    signed_by: str = ""
    signed_on: PartialDate | None = None

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_record_id("alert_id", self.alert_id, required=True)
        errors += check_record_id("organization_id", self.organization_id, required=True)
        errors += check_required_text("signed_by", self.signed_by)
        errors += check_date_range(
            "signed_on", self.signed_on, "", None, today=today, start_required=True
        )
        return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Referral(Record):
    """An alert taken to a protection mechanism (a UN rapporteur, the IACHR...), and its status."""

    alert_id: str = ""
    mechanism: str = ""
    status: ReferralStatus = ReferralStatus.PREPARING
    submitted_on: PartialDate | None = None
    summary: str = ""

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_record_id("alert_id", self.alert_id, required=True)
        errors += check_code(
            vocabularies, PROTECTION_MECHANISMS, "mechanism", self.mechanism, required=True
        )
        errors += check_date_range(
            "submitted_on",
            self.submitted_on,
            "",
            None,
            today=today,
            start_required=self.status is not ReferralStatus.PREPARING,
        )
        return errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Action(Record):
    """A decentralized action a member took for an alert. Append-only: a correction is new."""

    alert_id: str = ""
    summary: str = ""
    done_by: str = ""
    occurred_on: PartialDate | None = None

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_record_id("alert_id", self.alert_id, required=True)
        errors += check_required_text("summary", self.summary)
        errors += check_required_text("done_by", self.done_by)
        errors += check_date_range(
            "occurred_on", self.occurred_on, "", None, today=today, start_required=True
        )
        return errors


_LINES = Merge.LINES
_SET = Merge.SET

NETWORK_RECORD_TYPES: tuple[RecordType, ...] = (
    RecordType(
        "material",
        Material,
        1,
        (
            FieldSpec("working_group_id", TEXT),
            FieldSpec("title", TEXT),
            FieldSpec("material_type", TEXT),
            FieldSpec("language", TEXT),
            FieldSpec("objectives", CODES, _SET),
            FieldSpec("description", TEXT, _LINES),
            FieldSpec("attachments", PAIRS),
            FieldSpec("pinned", BOOL),
        ),
    ),
    RecordType(
        "material_file",
        MaterialFile,
        1,
        (
            FieldSpec("material_id", TEXT),
            FieldSpec("working_group_id", TEXT),
            FieldSpec("attachment_ref", TEXT),
            FieldSpec("filename", TEXT),
            FieldSpec("sha256", TEXT),
            FieldSpec("size", INT),
            FieldSpec("media_type", TEXT),
            FieldSpec("attachment_key", TEXT),
            FieldSpec("attachment_header", TEXT),
            FieldSpec("attachment_chunks", CODES),
        ),
    ),
    RecordType(
        "note",
        Note,
        1,
        (
            FieldSpec("material_id", OPTIONAL_ID),
            FieldSpec("working_group_id", OPTIONAL_ID),
            FieldSpec("page", OPTIONAL_INT),
            FieldSpec("body", TEXT, _LINES),
        ),
    ),
    RecordType(
        "reading_position",
        ReadingPosition,
        1,
        (FieldSpec("material_id", TEXT), FieldSpec("page", INT)),
    ),
    RecordType(
        "alert",
        Alert,
        1,
        (
            FieldSpec("title", TEXT),
            FieldSpec("defenders", CODES, _SET),
            FieldSpec("threat_type", TEXT),
            FieldSpec("occurred_on", PARTIAL_DATE),
            FieldSpec("country", TEXT),
            FieldSpec("place", TEXT),
            FieldSpec("urgency", enum_codec(AlertUrgency)),
            FieldSpec("requested_actions", TEXT, _LINES),
            FieldSpec("status", enum_codec(AlertStatus)),
            FieldSpec("incident_ids", CODES, _SET),
        ),
    ),
    RecordType(
        "letter",
        Letter,
        1,
        (
            FieldSpec("alert_id", TEXT),
            FieldSpec("language", TEXT),
            FieldSpec("kind", enum_codec(LetterKind)),
            FieldSpec("title", TEXT),
            FieldSpec("text", TEXT, _LINES),
            FieldSpec("drafted_by", TEXT),
        ),
    ),
    RecordType(
        "sign_on",
        SignOn,
        1,
        (
            FieldSpec("alert_id", TEXT),
            FieldSpec("organization_id", TEXT),
            FieldSpec("signed_by", TEXT),
            FieldSpec("signed_on", PARTIAL_DATE),
        ),
        append_only=True,
    ),
    RecordType(
        "referral",
        Referral,
        1,
        (
            FieldSpec("alert_id", TEXT),
            FieldSpec("mechanism", TEXT),
            FieldSpec("status", enum_codec(ReferralStatus)),
            FieldSpec("submitted_on", PARTIAL_DATE),
            FieldSpec("summary", TEXT, _LINES),
        ),
    ),
    RecordType(
        "action",
        Action,
        1,
        (
            FieldSpec("alert_id", TEXT),
            FieldSpec("summary", TEXT, _LINES),
            FieldSpec("done_by", TEXT),
            FieldSpec("occurred_on", PARTIAL_DATE),
        ),
        append_only=True,
    ),
)


def signed_organizations(sign_ons: list[SignOn]) -> list[str]:
    """Each organization that signed, once, in signing order.

    Two members of one organization may sign offline at the same time: the organization's
    endorsement counts once, whoever recorded it.
    """
    seen: dict[str, None] = {}
    for sign_on in sorted(sign_ons, key=lambda s: (s.created_at, s.id)):
        seen.setdefault(sign_on.organization_id, None)
    return list(seen)
