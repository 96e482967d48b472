"""Where each record of a fault run carries its ledger token, what a screen shows of it, and
which stored records no screen reaches.

One field per record type holds the token a person saved (unique in the run): an
organization's acronym, an incident's place, a source's summary, a working group's or person's
name, a material's title, a membership's joined-on date (day N after 2000-01-01 is token TN), a
material file's name (``TN.txt``, set when the file is imported; files are not edited). A
record is shown only while every parent it has by the store's cascades is shown too: a source
through its incident, a material under its group, a file under its material, a membership
under its group and beside its person or organization.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, text

from desktop.domain.dates import PartialDate
from desktop.domain.network_records import Material, MaterialFile
from desktop.domain.record_base import Record
from desktop.domain.records import (
    Incident,
    Membership,
    Organization,
    Person,
    Source,
    WorkingGroup,
    edit,
)
from desktop.store.records import CASCADES, RecordStore

#: The field holding the token, per record type (conflicts on it keep tokens too).
TOKEN_FIELDS: dict[type[Record], str] = {
    Organization: "acronym",
    Incident: "place",
    Source: "summary",
    WorkingGroup: "name",
    Person: "name",
    Material: "title",
    Membership: "joined_on",
    MaterialFile: "filename",
}
_EPOCH = date(2000, 1, 1)
_FILE_SUFFIX = ".txt"


def joined_on(token: str) -> PartialDate:
    """The date that carries ``token`` (``T12`` is 2000-01-13)."""
    day = _EPOCH + timedelta(days=int(token.removeprefix("T")))
    return PartialDate(day.year, day.month, day.day)


def file_name(token: str) -> str:
    return f"{token}{_FILE_SUFFIX}"


def token_of(field: str | None, value: object) -> object:
    """The token a stored or conflict value of ``field`` carries (other values as they are)."""
    if field == "joined_on" and isinstance(value, str):
        try:
            return f"T{(date.fromisoformat(value) - _EPOCH).days}"
        except ValueError:
            return value
    if field == "filename" and isinstance(value, str):
        return value.removesuffix(_FILE_SUFFIX)
    return value


def token_in(record: Record) -> str | None:
    name = TOKEN_FIELDS.get(type(record))
    if name is None:
        return None
    value = getattr(record, name)
    if isinstance(value, PartialDate):
        value = value.isoformat()
    found = token_of(name, value)
    return found if isinstance(found, str) else None


def with_token(record: Record, token: str) -> Record | None:
    """``record`` edited to show ``token``; ``None`` for a type the app does not edit (a file)."""
    name = TOKEN_FIELDS.get(type(record))
    if name is None or isinstance(record, MaterialFile):
        return None
    changes: dict[str, Any] = {name: joined_on(token) if isinstance(record, Membership) else token}
    return edit(record, **changes)


def parents_of(record: Record) -> tuple[str, ...]:
    """What ``record`` hangs from, by the store's cascades (desktop/store/records.py)."""
    if isinstance(record, Source):
        return (record.incident_id,)
    if isinstance(record, Material):
        return (record.working_group_id,)
    if isinstance(record, MaterialFile):
        return (record.material_id,)
    if isinstance(record, Membership):
        member = record.person_id or record.organization_id
        return (record.working_group_id, *((member,) if member else ()))
    return ()


def shown(records: RecordStore, record_id: str) -> str | None:
    """The token a screen shows for ``record_id``: none if it or a parent is gone (a record
    left under a deleted parent, an orphan, shows nothing)."""
    record = records.get(record_id)
    if record is None:
        return None
    if any(shown(records, parent) is None for parent in parents_of(record)):
        return None
    return token_in(record)


def stored_orphans(engine: Engine) -> list[str]:
    """Live records whose parent by a cascade of the store's own table (``CASCADES``) is a
    tombstone: stored and synced, reachable from no screen."""
    found: list[str] = []
    with engine.connect() as connection:
        for cascade in CASCADES:
            found += connection.scalars(
                text(
                    "SELECT c.id FROM records c JOIN record_contents cc ON cc.id = c.id "
                    "JOIN records p ON p.id = json_extract(cc.content, :field) "
                    "WHERE c.record_type = :child AND p.record_type = :parent "
                    "AND c.deleted = 0 AND p.deleted = 1"
                ),
                {"field": f"$.{cascade.field}", "child": cascade.child, "parent": cascade.parent},
            ).all()
    return sorted(found)
