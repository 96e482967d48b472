"""How each record field is stored (codecs to plain JSON values) and how sync merges it.

The store, the sync engine and the tests all read these declarations instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from desktop.domain.dates import InvalidDate, PartialDate

#: What ``json.dumps`` and ``msgpack.packb`` both take as is.
Json = None | bool | int | float | str | list["Json"] | dict[str, "Json"]


class RecordFormatError(ValueError):
    """Stored or received data that does not decode to a record (a bug or a hostile peer)."""


class Merge(StrEnum):
    """The three-way merge rule sync applies to a field when both sides changed the record."""

    #: One side changed it: take that; both changed it alike: take it; else a conflict to show.
    VALUE = "value"
    #: Long text: merged line by line (diff3) when the two edits touch different lines.
    LINES = "lines"
    #: A set of codes: additions and removals from both sides are applied, never a conflict.
    SET = "set"
    #: A log of entries with their own ids: the union, in time order; entries never change.
    APPEND = "append"


@dataclass(frozen=True, slots=True)
class Codec:
    """Turns a field's Python value into a plain JSON value and back, exactly.

    ``kind`` names the shape (``text``, ``codes``, ``enum``...) so tests can generate values.
    """

    kind: str
    encode: Callable[[Any], Json]
    decode: Callable[[Json], Any]
    enum: type[StrEnum] | None = None


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    codec: Codec
    merge: Merge = Merge.VALUE

    @property
    def long_text(self) -> bool:
        return self.merge is Merge.LINES


def _fail(expected: str, value: object) -> RecordFormatError:
    return RecordFormatError(f"expected {expected}, got {type(value).__name__} {value!r:.60}")


def _decode_text(value: Json) -> str:
    if not isinstance(value, str):
        raise _fail("text", value)
    return value


def _decode_optional_text(value: Json) -> str | None:
    return None if value is None else _decode_text(value)


def _decode_int(value: Json) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail("an integer", value)
    return value


def _decode_optional_int(value: Json) -> int | None:
    return None if value is None else _decode_int(value)


def _decode_bool(value: Json) -> bool:
    if not isinstance(value, bool):
        raise _fail("true or false", value)
    return value


def _decode_optional_float(value: Json) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail("a number", value)
    return float(value)


def encode_datetime(value: datetime) -> str:
    """UTC, to the microsecond, with a ``Z``: sortable as text and exact on the way back."""
    if value.tzinfo is None:
        raise RecordFormatError("a record time must carry its time zone (UTC)")
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def decode_datetime(value: Json) -> datetime:
    if not isinstance(value, str):
        raise _fail("a time", value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise RecordFormatError(f"not a time: {value!r:.60}") from error
    if parsed.tzinfo is None:
        raise RecordFormatError(f"a time without a time zone: {value!r:.60}")
    return parsed.astimezone(UTC)


def _encode_optional_datetime(value: datetime | None) -> Json:
    return None if value is None else encode_datetime(value)


def _decode_optional_datetime(value: Json) -> datetime | None:
    return None if value is None else decode_datetime(value)


def _encode_partial_date(value: PartialDate | None) -> Json:
    return None if value is None else value.isoformat()


def _decode_partial_date(value: Json) -> PartialDate | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail("a date", value)
    try:
        return PartialDate.parse(value)
    except InvalidDate as error:
        raise RecordFormatError(f"not a date: {value!r:.60}") from error


def _decode_codes(value: Json) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _fail("a list of codes", value)
    return tuple(_decode_text(item) for item in value)


def _decode_pairs(value: Json) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise _fail("a list of pairs", value)
    pairs: list[tuple[str, str]] = []
    for item in value:
        if not isinstance(item, list) or len(item) != 2:
            raise _fail("a [name, value] pair", item)
        pairs.append((_decode_text(item[0]), _decode_text(item[1])))
    return tuple(pairs)


def _identity(value: Any) -> Json:
    result: Json = value
    return result


TEXT = Codec("text", _identity, _decode_text)
OPTIONAL_ID = Codec("optional_id", _identity, _decode_optional_text)
INT = Codec("int", _identity, _decode_int)
OPTIONAL_INT = Codec("optional_int", _identity, _decode_optional_int)
BOOL = Codec("bool", _identity, _decode_bool)
OPTIONAL_FLOAT = Codec("optional_float", _identity, _decode_optional_float)
DATETIME = Codec("datetime", encode_datetime, decode_datetime)
OPTIONAL_DATETIME = Codec("optional_datetime", _encode_optional_datetime, _decode_optional_datetime)
PARTIAL_DATE = Codec("partial_date", _encode_partial_date, _decode_partial_date)
CODES = Codec("codes", lambda value: list(value), _decode_codes)
PAIRS = Codec("pairs", lambda value: [[k, v] for k, v in value], _decode_pairs)


def enum_codec(enum: type[StrEnum]) -> Codec:
    def decode(value: Json) -> StrEnum:
        if not isinstance(value, str):
            raise _fail(enum.__name__, value)
        try:
            return enum(value)
        except ValueError as error:
            raise RecordFormatError(f"{value!r:.60} is not a {enum.__name__}") from error

    return Codec("enum", lambda value: str(value.value), decode, enum)


def object_field(data: dict[str, Json], name: str) -> Json:
    """``data[name]`` or a format error naming the missing field."""
    try:
        return data[name]
    except KeyError:
        raise RecordFormatError(f"missing field {name!r}") from None


def entry_list_codec(
    kind: str,
    encode_one: Callable[[Any], dict[str, Json]],
    decode_one: Callable[[dict[str, Json]], Any],
) -> Codec:
    """A tuple of small nested entries (consents, involvements, custody) as a list of objects."""

    def encode(value: Any) -> Json:
        return [encode_one(item) for item in value]

    def decode(value: Json) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise _fail("a list", value)
        items = []
        for item in value:
            if not isinstance(item, dict):
                raise _fail("an object", item)
            items.append(decode_one(item))
        return tuple(items)

    return Codec(kind, encode, decode)
