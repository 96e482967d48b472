"""What every record is, below the record types: the base class, a type's declaration, limits.

``records`` (people, incidents…) and ``network_records`` (materials, alerts…) both build on this
module and neither imports the other's internals; ``records.RECORD_TYPES`` gathers both.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum

from desktop.domain.fields import BOOL, DATETIME, INT, TEXT, FieldSpec, Json
from desktop.domain.translation import _
from desktop.domain.validation import FieldError, check_record_id
from desktop.domain.vocabularies import VocabularySet, default_vocabularies

TITLE_LIMIT = 200
NAME_LIMIT = 200

#: Each closed list the code branches on has a vocabulary with its labels; a test keeps them equal.
#: Filled by the modules declaring the enums.
ENUM_VOCABULARIES: dict[type[StrEnum], str] = {}


def new_id() -> str:
    """A record id: 128 random bits (uuid4) as 32 lowercase hex digits.

    Random, so two offline devices never mint the same id; hex rather than base32 because it
    is what SQLAlchemy, PostgreSQL's ``uuid`` and every log tool already read, and it names no
    device, person or moment (uuid1 or ULIDs would leak when a record was made, and where).
    """
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """What every record carries for the store and for sync.

    Attributes:
        id: random and stable for the record's life (``new_id``).
        space_id: the one space (sharing scope, with its own key) the record lives in.
        revision: the server's revision last seen; 0 means never synced.
        dirty: changed here since the last sync, so it is in the outbox.
        created_at, updated_at: UTC; shown to people, never used to settle a conflict.
    """

    id: str = field(default_factory=new_id)
    space_id: str
    revision: int = 0
    dirty: bool = True
    created_at: datetime = field(default_factory=utc_now)
    updated_at: datetime = field(default_factory=utc_now)

    def validate(
        self, vocabularies: VocabularySet | None = None, *, today: date | None = None
    ) -> list[FieldError]:
        """Every problem with this record, each with its field and a translated message."""
        words = vocabularies if vocabularies is not None else default_vocabularies()
        errors = check_record_id("id", self.id, required=True)
        errors += check_record_id("space_id", self.space_id, required=True)
        if self.revision < 0:
            errors.append(
                FieldError("revision", "out_of_range", _("A revision cannot be negative."))
            )
        if self.updated_at < self.created_at:
            errors.append(
                FieldError(
                    "updated_at",
                    "before_creation",
                    _("A record cannot be changed before it was created."),
                )
            )
        return errors + self._content_errors(words, today)

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        return []


#: Bookkeeping every record has; sync carries these in the envelope, not in the merged content.
COMMON_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("id", TEXT),
    FieldSpec("space_id", TEXT),
    FieldSpec("revision", INT),
    FieldSpec("dirty", BOOL),
    FieldSpec("created_at", DATETIME),
    FieldSpec("updated_at", DATETIME),
)


@dataclass(frozen=True, slots=True)
class RecordType:
    """One record type: its wire name, schema version, content fields and whether it is a log.

    ``upgrades[n]`` turns a version-``n`` dict into version ``n + 1`` (an older peer's record,
    or one stored before this app was updated).
    """

    name: str
    cls: type[Record]
    schema_version: int
    fields: tuple[FieldSpec, ...]
    append_only: bool = False
    upgrades: Mapping[int, Callable[[dict[str, Json]], dict[str, Json]]] = field(
        default_factory=dict
    )

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)

    @property
    def long_text_fields(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields if spec.long_text)
