"""Field errors and the checks every record shares: required text, dates, places, codes.

Each check returns translated messages in the current language, so a form can show them as is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date

from babel import Locale, UnknownLocaleError

from desktop.domain.dates import PartialDate
from desktop.domain.translation import _, format_number, is_right_to_left, ngettext
from desktop.domain.vocabularies import VocabularySet

_SHA256 = re.compile(r"[0-9a-f]{64}")
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_RECORD_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field.

    Attributes:
        field: the record field's name, so a form can put the message next to its widget.
        code: a stable machine word (``required``, ``out_of_range``...) for code and tests.
        message: the translated sentence for the person.
    """

    field: str
    code: str
    message: str


def check_required_text(field: str, value: str) -> list[FieldError]:
    if not value.strip():
        return [FieldError(field, "required", _("This field is required."))]
    return []


def check_max_length(field: str, value: str, limit: int) -> list[FieldError]:
    if len(value) > limit:
        message = ngettext(
            "This can be at most {limit} character long; it has {length}.",
            "This can be at most {limit} characters long; it has {length}.",
            limit,
        ).format(limit=format_number(limit), length=format_number(len(value)))
        return [FieldError(field, "too_long", message)]
    return []


def check_record_id(field: str, value: str | None, *, required: bool) -> list[FieldError]:
    """A link to another record: a 32-hex-digit id (see ``records.new_id``)."""
    if value is None or value == "":
        if required:
            return [FieldError(field, "required", _("Choose a record here."))]
        return []
    if not _RECORD_ID.fullmatch(value):
        return [
            FieldError(
                field, "invalid_reference", _("“{value}” is not a record id.").format(value=value)
            )
        ]
    return []


def check_date_range(
    start_field: str,
    start: PartialDate | None,
    end_field: str,
    end: PartialDate | None,
    *,
    today: date | None = None,
    start_required: bool = False,
) -> list[FieldError]:
    """A start date (perhaps required), an end not before it, neither in the future."""
    errors: list[FieldError] = []
    if start is None and start_required:
        errors.append(
            FieldError(
                start_field,
                "required",
                _("Give at least the year, even if the exact date is not known."),
            )
        )
    for field, value in ((start_field, start), (end_field, end)):
        if value is not None and value.is_in_future(today):
            errors.append(
                FieldError(
                    field,
                    "in_future",
                    _("{date} is in the future.").format(date=value.isoformat()),
                )
            )
    if start is not None and end is not None and end.latest < start.earliest:
        errors.append(
            FieldError(
                end_field,
                "end_before_start",
                _("The end ({end}) is before the start ({start}).").format(
                    end=end.isoformat(), start=start.isoformat()
                ),
            )
        )
    elif start is None and end is not None:
        errors.append(FieldError(start_field, "required", _("An end date needs a start date.")))
    return errors


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_coordinates(
    latitude: float | None, longitude: float | None, *, lat_field: str = "latitude"
) -> list[FieldError]:
    """Both or neither, finite, and on the globe."""
    lon_field = "longitude" if lat_field == "latitude" else f"{lat_field}_longitude"
    if latitude is None and longitude is None:
        return []
    if latitude is None or longitude is None:
        missing = lat_field if latitude is None else lon_field
        return [FieldError(missing, "required", _("Give both latitude and longitude, or neither."))]
    errors: list[FieldError] = []
    if not _is_number(latitude) or not math.isfinite(latitude) or not -90 <= latitude <= 90:
        errors.append(
            FieldError(
                lat_field,
                "out_of_range",
                _("Latitude must be between -90 and 90; got {value}.").format(
                    value=_shown_number(latitude)
                ),
            )
        )
    if not _is_number(longitude) or not math.isfinite(longitude) or not -180 <= longitude <= 180:
        errors.append(
            FieldError(
                lon_field,
                "out_of_range",
                _("Longitude must be between -180 and 180; got {value}.").format(
                    value=_shown_number(longitude)
                ),
            )
        )
    return errors


def _shown_number(value: object) -> str:
    """A number as the language writes it; in a right-to-left language, isolated (U+2066…2069).

    Without the isolate, Arabic text shows "-90" as "90-": the minus sign follows the
    surrounding right-to-left order.
    """
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        shown = format_number(value)
    else:
        shown = str(value)
    return f"\u2066{shown}\u2069" if is_right_to_left() else shown


def check_code(
    vocabularies: VocabularySet, vocabulary: str, field: str, code: str, *, required: bool
) -> list[FieldError]:
    """A stored vocabulary code: present when required, and known to the vocabulary."""
    if code == "":
        if required:
            return [FieldError(field, "required", _("Choose a value from the list."))]
        return []
    if not vocabularies.is_valid_code(vocabulary, code):
        return [
            FieldError(
                field,
                "unknown_code",
                _("“{code}” is not in the list of choices for this field.").format(code=code),
            )
        ]
    return []


def check_codes(
    vocabularies: VocabularySet,
    vocabulary: str,
    field: str,
    codes: tuple[str, ...],
    *,
    required: bool = False,
) -> list[FieldError]:
    """A set of codes: each known, none twice, at least one when required."""
    if not codes and required:
        return [FieldError(field, "required", _("Choose at least one value from the list."))]
    errors: list[FieldError] = []
    unknown = [code for code in codes if not vocabularies.is_valid_code(vocabulary, code)]
    if unknown:
        message = ngettext(
            "{count} choice is not in the list: {codes}.",
            "{count} choices are not in the list: {codes}.",
            len(unknown),
        ).format(count=format_number(len(unknown)), codes=", ".join(unknown))
        errors.append(FieldError(field, "unknown_code", message))
    if len(set(codes)) != len(codes):
        errors.append(FieldError(field, "duplicate", _("The same choice appears twice.")))
    return errors


def check_language(field: str, code: str, *, required: bool) -> list[FieldError]:
    """A language as an ISO 639 code (``es``, ``ar``, ``qu``) that Babel's CLDR data knows."""
    if code == "":
        if required:
            return [FieldError(field, "required", _("Choose a language."))]
        return []
    if not known_language(code):
        return [
            FieldError(
                field, "unknown_language", _("“{code}” is not a known language.").format(code=code)
            )
        ]
    return []


def known_language(code: str) -> bool:
    """Whether CLDR knows ``code``: as a locale of its own, or by name only.

    Babel ships locale data for fewer languages than CLDR names: 2.18 has none for Aymara
    (``ay``), which people in the Andes write in, yet every locale names it.
    """
    try:
        Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return code in Locale("en").languages
    return True


def check_sha256(field: str, value: str) -> list[FieldError]:
    if not _SHA256.fullmatch(value):
        return [
            FieldError(
                field,
                "invalid_digest",
                _("A SHA-256 fingerprint is 64 lowercase hexadecimal characters."),
            )
        ]
    return []


def check_media_type(field: str, value: str) -> list[FieldError]:
    if not _MEDIA_TYPE.fullmatch(value):
        return [
            FieldError(
                field,
                "invalid_media_type",
                _("“{value}” is not a media type such as image/jpeg.").format(value=value),
            )
        ]
    return []
