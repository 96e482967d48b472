"""The repository of records: save, read, delete and list any record type, inside the profile.

Every save validates, writes the JSON content and the list columns, the codes and the search
index in one transaction, and marks the record dirty for the sync outbox. Lists are queries:
filtered, sorted and paged in SQL so a screen never loads a table into Python.
"""

from __future__ import annotations

import bisect
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    delete,
    exists,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement

from desktop.domain.dates import PartialDate
from desktop.domain.fields import Json, encode_datetime
from desktop.domain.records import (
    Record,
    from_dict,
    record_type,
    to_dict,
    utc_now,
)
from desktop.domain.translation import N_, _
from desktop.domain.validation import FieldError
from desktop.store.bulk import delete_in, in_ids
from desktop.store.errors import ProfileError
from desktop.store.schema import (
    FIELD_CONFLICT,
    DeletedAloneRow,
    RecordCode,
    RecordContent,
    RecordExtraRow,
    RecordRow,
    SyncChoiceRow,
    SyncConflictRow,
)
from desktop.store.search import index_records, match_expression, matching_ids, remove_record
from sync.client.merge import decision_marks, put_marks

#: The field that names a record in lists, per type (the first found wins).
_LABEL_FIELDS = ("title", "name", "alias", "filename", "act_type", "summary", "counterpart")
#: The field that makes a record a child of another (its incident, group or organization).
_PARENT_FIELDS = (
    "incident_id",
    "alert_id",
    "material_id",
    "working_group_id",
    "organization_id",
)
#: The field shown (and filtered) as a record's kind: an alert's urgency is its kind in lists.
_KIND_FIELDS = ("kind", "urgency")
_DATE_FIELDS = (
    ("start_date", "end_date"),
    ("occurred_on", None),
    ("reported_on", None),
    ("joined_on", None),
)
#: Child types removed with their parent: an incident's acts, sources, evidence, follow-ups.
#: Sync keeps them together with it: a deletion and everything it took are one decision.
CHILD_TYPES = ("act", "source", "evidence", "follow_up")


@dataclass(frozen=True)
class Cascade:
    """Deleting a ``parent`` record deletes, in the same transaction, the live ``child``
    records whose ``field`` names it; sync keeps the two one decision (``keep_together``): a
    live child brings its deleted parent back, and an edit that beats the deletion brings back
    what it took (sync/ENGINE.md, "Deletes")."""

    parent: str
    child: str
    field: str
    #: A child of this cascade in a space other than its parent's is a person's own (their
    #: "only me" space), which devices that delete the parent may not see: it never brings
    #: the parent back; each device drops its own under a deletion, and it comes back with
    #: the parent (``keep_together``; sync/ENGINE.md, "Deletes").
    own_apart: bool = False

    @property
    def indexed(self) -> bool:
        """The field is the one the ``parent_id`` column holds (the first of ``_PARENT_FIELDS``
        the child type has), so it is read from the column, not from the content."""
        return self.field == _INDEXED_PARENT.get(self.child)


#: Every cascade the app makes. They nest: a working group takes its materials, and each
#: material its files (``RecordStore.delete`` follows the table down). An alert's letters,
#: sign-ons, referrals and actions are not listed: nothing in the app deletes them with it.
CASCADES: tuple[Cascade, ...] = (
    *(Cascade("incident", child, "incident_id") for child in CHILD_TYPES),
    # A material's files (their sealed bytes are erased by ``MaterialStore.delete_with_files``).
    Cascade("material", "material_file", "material_id"),
    # A working group's materials: listed only under their group, so none may outlive it
    # (rev-last: a group deleted in the directory left them, and their files, on no screen).
    Cascade("working_group", "material", "working_group_id"),
    # The memberships naming a group, a person or an organization.
    Cascade("working_group", "membership", "working_group_id"),
    Cascade("person", "membership", "person_id"),
    Cascade("organization", "membership", "organization_id"),
    # Notes on a material or a group, and reading positions in a material (rev-nest: left
    # under a deleted one, no screen reached them). Shared ones, in the parent's space, go like
    # any child; a person's own ("only me") go too, but as ``own_apart``. A note names its
    # material or its group, perhaps both: one cascade per field.
    Cascade("material", "note", "material_id", own_apart=True),
    Cascade("working_group", "note", "working_group_id", own_apart=True),
    Cascade("material", "reading_position", "material_id", own_apart=True),
)
#: The parent field the ``parent_id`` column holds for each child type in ``CASCADES``.
_INDEXED_PARENT = {"act": "incident_id", "source": "incident_id", "evidence": "incident_id"}
_INDEXED_PARENT.update(
    follow_up="incident_id",
    material_file="material_id",
    membership="working_group_id",
    material="working_group_id",
    # A note's column holds its material when it names one, else its group: the group is read
    # from the content (a note on a material may name its group too).
    note="material_id",
    reading_position="material_id",
)
#: Types a cascade deletes with their parent: deleted by themselves, they are "deleted alone".
CASCADE_CHILDREN = tuple(dict.fromkeys(cascade.child for cascade in CASCADES))
CASCADE_PARENTS = tuple(dict.fromkeys(cascade.parent for cascade in CASCADES))


_COLUMNS = (
    "id",
    "record_type",
    "space_id",
    "revision",
    "dirty",
    "created_at",
    "updated_at",
    "label",
    "parent_id",
    "status",
    "kind",
    "country",
    "date_from",
    "date_to",
)
# Insert or replace in place: the row keeps its rowid, and ``deleted`` is cleared (a record
# saved again after a remote delete is an edit that wins, see the merge rules).
_UPSERT = text(
    f"INSERT INTO records ({', '.join(_COLUMNS)}, deleted) "
    f"VALUES ({', '.join(':' + c for c in _COLUMNS)}, 0) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "id")
    + ", deleted = 0"
)
_STORE_CONTENT = text(
    "INSERT INTO record_contents (id, content) VALUES (:id, :content) "
    "ON CONFLICT (id) DO UPDATE SET content = excluded.content"
)


class InvalidRecord(ProfileError):
    """A record that fails validation; nothing was saved. ``errors`` name each field."""

    code = "invalid_record"
    message = N_("This record was not saved: {problems}")

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}:{e.code}" for e in errors))
        self.errors = errors

    def user_message(self) -> str:
        return _(self.message).format(problems=" ".join(e.message for e in self.errors))


class RecordNotFound(ProfileError):
    code = "record_not_found"
    message = N_("This record no longer exists here; it may have been deleted.")


@dataclass(frozen=True)
class RecordQuery:
    """What a list shows: one record type, filters combined with AND, text search, order."""

    record_type: str
    text: str = ""
    space_ids: Sequence[str] = ()
    statuses: Sequence[str] = ()
    kinds: Sequence[str] = ()
    countries: Sequence[str] = ()
    #: code filters per multi-valued field, e.g. ``{"rights": ["water"]}``: any code matches.
    codes: dict[str, Sequence[str]] = field(default_factory=dict)
    #: keep records whose dates overlap [date_from, date_to]
    date_from: date | None = None
    date_to: date | None = None
    parent_id: str | None = None
    order_by: str = "label"
    descending: bool = False


@dataclass(frozen=True)
class ListRow:
    """One line of a list: enough to show it without decoding the record."""

    id: str
    label: str
    status: str | None
    kind: str | None
    country: str | None
    date_from: str | None
    date_to: str | None
    updated_at: str
    dirty: bool


_ORDERABLE = {
    "label": RecordRow.label,
    "status": RecordRow.status,
    "kind": RecordRow.kind,
    "country": RecordRow.country,
    "date_from": RecordRow.date_from,
    "updated_at": RecordRow.updated_at,
}


def _first(values: dict[str, Json], names: Sequence[str]) -> Json:
    for name in names:
        if name in values and values[name] not in (None, ""):
            return values[name]
    return None


def _text(value: Json) -> str | None:
    return value if isinstance(value, str) and value else None


def _drop_decisions(connection: Connection, records: Sequence[Record]) -> None:
    """A person's edit of a field drops its decision mark (``sync.client.merge.DECIDED``, kept
    in ``record_extras``): the mark says a person kept the value it vouches for, and an edit
    is a change the merge sees by itself. So each field holds at most one mark, the latest
    decision's, and only while the value decided is held. Sync's writes (``write_in``) keep
    the marks merged in; a field of a newer format is not edited here, so its mark stays."""
    rows = connection.execute(
        select(RecordExtraRow.record_id, RecordExtraRow.fields, RecordContent.content)
        .outerjoin(RecordContent, RecordContent.id == RecordExtraRow.record_id)
        .where(in_ids(RecordExtraRow.record_id, [record.id for record in records]))
    ).all()
    saved = {record.id: record for record in records}
    for row in rows:
        extras = json.loads(row.fields)
        marks = decision_marks(extras)
        if not marks or row.content is None:
            continue
        held, data = json.loads(row.content), to_dict(saved[row.record_id])
        kept = {
            name: token
            for name, token in marks.items()
            if name not in data or _json_text(held.get(name)) == _json_text(data[name])
        }
        if kept == marks:
            continue
        put_marks(extras, kept)
        if extras:
            connection.execute(
                update(RecordExtraRow)
                .where(RecordExtraRow.record_id == row.record_id)
                .values(fields=json.dumps(extras, ensure_ascii=False, sort_keys=True))
            )
        else:
            connection.execute(
                delete(RecordExtraRow).where(RecordExtraRow.record_id == row.record_id)
            )


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _date_bounds(record: Record) -> tuple[str | None, str | None]:
    for start_name, end_name in _DATE_FIELDS:
        start = getattr(record, start_name, None)
        if isinstance(start, PartialDate):
            end = getattr(record, end_name, None) if end_name else None
            last = end if isinstance(end, PartialDate) else start
            return start.earliest.isoformat(), last.latest.isoformat()
    return None, None


#: Text fields that hold codes, digests or references, not words a person would search for;
#: indexing "water_cut_off" made every act match "water cut".
_NOT_WORDS = frozenset(
    {
        "country",
        "region",
        "act_type",
        "source_type",
        "reliability",
        "language",
        "media_type",
        "sha256",
        "attachment_ref",
        "attachment_key",
        "attachment_header",
    }
)


def _searchable_texts(record: Record) -> list[str]:
    spec = record_type(record)
    return [
        getattr(record, f.name)
        for f in spec.fields
        if f.codec.kind == "text" and not f.name.endswith("_id") and f.name not in _NOT_WORDS
    ]


#: Indexes that carry every record's id by type, tried in turn for a damaged profile's ids.
_SALVAGE_INDEXES = (
    "ix_records_type_label",
    "ix_records_type_updated",
    "ix_records_type_status",
    "ix_records_type_country",
    "ix_records_type_date",
)


def _named_by(connection: Connection, cascade: Cascade, parent_id: str) -> list[str]:
    """Live records of ``cascade.child`` whose ``cascade.field`` names ``parent_id``."""
    statement = select(RecordRow.id).where(
        RecordRow.record_type == cascade.child, RecordRow.deleted.is_(False)
    )
    if cascade.indexed:
        statement = statement.where(RecordRow.parent_id == parent_id)
    else:
        statement = statement.join(RecordContent, RecordContent.id == RecordRow.id).where(
            func.json_extract(RecordContent.content, f"$.{cascade.field}") == parent_id
        )
    return list(connection.scalars(statement.order_by(RecordRow.id)))


def _apart(connection: Connection, child: str, parent: str) -> bool:
    """Whether ``child`` is in another space than ``parent`` (a person's own note on it)."""
    spaces = dict(
        connection.execute(
            select(RecordRow.id, RecordRow.space_id).where(RecordRow.id.in_([child, parent]))
        ).all()
    )
    return spaces.get(child) != spaces.get(parent)


def keep_last_content(connection: Connection, record_ids: Sequence[str]) -> None:
    """Keep each live record's content, as sync seals it, in ``record_bases`` at its revision:
    what a deletion about to take it took, to come back with its parent (a person's own note,
    ``Cascade.own_apart``), an edit not sent yet included."""
    for record_id in record_ids:
        held = connection.execute(
            select(RecordRow.revision, RecordContent.content, RecordExtraRow.fields)
            .join(RecordContent, RecordContent.id == RecordRow.id)
            .outerjoin(RecordExtraRow, RecordExtraRow.record_id == RecordRow.id)
            .where(RecordRow.id == record_id, RecordRow.deleted.is_(False))
        ).first()
        if held is None:
            continue
        data: dict[str, Any] = json.loads(held.content)
        data.pop("revision", None)
        data.pop("dirty", None)
        if held.fields:
            data.update(json.loads(held.fields))
        connection.execute(
            _KEEP_BASE,
            {
                "i": record_id,
                "v": held.revision,
                "c": json.dumps(data, ensure_ascii=False, sort_keys=True),
            },
        )


_KEEP_BASE = text(
    "INSERT INTO record_bases (id, revision, content) VALUES (:i, :v, :c) "
    "ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, content = excluded.content"
)


def is_damage(error: BaseException) -> bool:
    """Whether a database error means damaged pages (not a bug, not a lock)."""
    text = str(getattr(error, "orig", None) or error).casefold()
    return any(
        sign in text
        for sign in (
            "malformed",
            "vtable constructor failed",
            "file is not a database",
            "database corrupt",
            "database disk image",
        )
    )


@dataclass(frozen=True)
class Salvage:
    """What could be read of a list on a damaged profile, and how many rows could not."""

    rows: list[ListRow]
    unreadable: int


class DamagedRows(ProfileError):
    """Part of the database is damaged: lists show what is readable and say how much is not."""

    code = "profile_partly_damaged"
    message = N_(
        "Part of this profile is damaged and some records cannot be read. The list shows "
        "every record that can still be read; open, edit and export them as usual, and make "
        "a backup now."
    )


class _FreshAfterDamage:
    """A connection for reading a damaged profile, replaced after every error: SQLite may keep
    a damaged page's state in the failed connection (reads after it returned rows twice)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def __enter__(self) -> _FreshAfterDamage:
        self._connection = self._engine.connect()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._connection is not None:
            self._connection.close()

    def rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        found: list[tuple[Any, ...]] = []
        error = self.rows_until_damage(sql, parameters, found)
        if error is not None:
            raise error
        return found

    def rows_until_damage(
        self, sql: str, parameters: tuple[Any, ...], into: list[tuple[Any, ...]]
    ) -> DBAPIError | None:
        """Append ``sql``'s rows to ``into`` as they come; at damage, stop and return the error
        (the rows before it are kept). Errors other than damage are raised."""
        assert self._connection is not None
        try:
            for row in self._connection.exec_driver_sql(sql, parameters):
                into.append(tuple(row))
        except DBAPIError as error:
            self._connection.invalidate()
            self._connection.close()
            self._connection = self._engine.connect()
            if not is_damage(error):
                raise
            return error
        return None


@dataclass(frozen=True)
class ReadableTable:
    """The records table as far as it can be read: its readable rows in id order, and the ids
    some index still carries whose rows could not be read."""

    rows: list[tuple[Any, ...]]
    unreadable_ids: set[str]
    #: Whether some stretch of the table could not be read and no index gave its ids.
    unknown_stretch: bool


def read_readable(reader: _FreshAfterDamage, columns: Sequence[str]) -> ReadableTable:
    """Every readable row of ``records`` (``columns``, the first being ``id``), past damaged
    pages, with a bounded number of statements (issue 12).

    The table is keyed by id, so it is first read once in id order, then once backwards from
    its end; each stops at the first damaged page. Only the stretch between the two is left:
    its ids come from the indexes (each carries every id, an index scan stops at damage too),
    and it is read on from each damaged page's next readable id. A profile damaged only in its
    indexes or search tables costs one statement; damage in the table itself a few lookups per
    damaged stretch, never a scan per stretch.
    """
    listed = ", ".join(columns)
    forward: list[tuple[Any, ...]] = []
    if reader.rows_until_damage(f"SELECT {listed} FROM records ORDER BY id", (), forward) is None:
        return ReadableTable(forward, set(), False)
    low = forward[-1][0] if forward else ""
    backward: list[tuple[Any, ...]] = []
    reader.rows_until_damage(
        f"SELECT {listed} FROM records WHERE id > ? ORDER BY id DESC", (low,), backward
    )
    high = backward[-1][0] if backward else None
    # Ids between the two ends, from whichever indexes can still be read (first complete wins).
    middle: set[str] = set()
    complete = False
    for index in (*_SALVAGE_INDEXES, "ix_records_type_dates_place"):
        ids: list[tuple[Any, ...]] = []
        condition = "id > ?" + ("" if high is None else " AND id < ?")
        parameters: tuple[Any, ...] = (low,) if high is None else (low, high)
        error = reader.rows_until_damage(
            f"SELECT id FROM records INDEXED BY {index} WHERE {condition}", parameters, ids
        )
        middle.update(row[0] for row in ids)
        if error is None:
            complete = True
            break
    found: list[tuple[Any, ...]] = []
    unreadable: set[str] = set()
    before_end = "" if high is None else " AND id < ?"
    end: tuple[Any, ...] = () if high is None else (high,)

    def readable(record_id: str) -> bool:
        # LIMIT 1: an equality lookup would otherwise step on to the next page, maybe damaged.
        rows: list[tuple[Any, ...]] = []
        reader.rows_until_damage(
            f"SELECT {listed} FROM records WHERE id = ? LIMIT 1", (record_id,), rows
        )
        found.extend(rows)
        return bool(rows)

    ordered = sorted(middle)
    at = 0
    while at < len(ordered):
        rows: list[tuple[Any, ...]] = []
        error = reader.rows_until_damage(
            f"SELECT {listed} FROM records WHERE id >= ?{before_end} ORDER BY id",
            (ordered[at], *end),
            rows,
        )
        found.extend(rows)
        if error is None:
            break
        # The first id not read is on a damaged page; damaged pages hold stretches of ids, so
        # the next readable id is found by galloping, then halving (a few lookups a stretch).
        damaged = bisect.bisect_right(ordered, rows[-1][0]) if rows else at
        # The driver may step one row ahead, so the rows just before the damage come one by one.
        while damaged < len(ordered) and readable(ordered[damaged]):
            damaged += 1
        if damaged >= len(ordered):
            break
        failing, step, next_readable = damaged, 1, len(ordered)
        while damaged + step < len(ordered):
            if readable(ordered[damaged + step]):
                next_readable = damaged + step
                break
            failing = damaged + step
            step *= 2
        while next_readable - failing > 1:
            halfway = (failing + next_readable) // 2
            if readable(ordered[halfway]):
                next_readable = halfway
            else:
                failing = halfway
        unreadable.update(ordered[damaged:next_readable])
        at = next_readable
    # A damaged connection may return a row twice: each id once, in order.
    rows_by_id = {row[0]: row for row in (*forward, *found, *backward)}
    return ReadableTable(
        [rows_by_id[key] for key in sorted(rows_by_id)],
        unreadable - rows_by_id.keys(),
        not complete,
    )


def _salvage_expected(reader: _FreshAfterDamage, record_type: str | None) -> int | None:
    """How many live records of ``record_type`` (every record, with None) there are, from the
    first index that still counts them: what a salvaged list misses is the rest."""
    for index in _SALVAGE_INDEXES:
        try:
            if record_type is None:
                found = reader.rows(f"SELECT count(*) FROM records INDEXED BY {index}")
            else:
                found = reader.rows(
                    f"SELECT count(*) FROM records INDEXED BY {index}"
                    " WHERE record_type = ? AND deleted = 0",
                    (record_type,),
                )
            return int(found[0][0])
        except DBAPIError:
            continue
    return None


class RecordStore:
    """Records of one unlocked profile. Each method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        #: The last salvaged list (query, result, when): see ``salvage``.
        self._salvaged: tuple[str, Salvage, float] | None = None

    @property
    def engine(self) -> Engine:
        """The profile's engine (lists read other tables beside the records, e.g. conflicts)."""
        return self._engine

    # --- writing ------------------------------------------------------------------------------

    def save(self, record: Record, *, today: date | None = None) -> Record:
        """Validate and store ``record`` (insert or replace); raises :class:`InvalidRecord`."""
        self.save_all([record], today=today)
        return record

    def save_all(self, records: Sequence[Record], *, today: date | None = None) -> None:
        """Validate every record, then store them all in one transaction (or none of them)."""
        for record in records:
            errors = record.validate(today=today)
            if errors:
                raise InvalidRecord(errors)
        if records:
            with self._engine.begin() as connection:
                _drop_decisions(connection, records)
                self._write_all(connection, records)

    def write_in(self, connection: Connection, records: Sequence[Record]) -> None:
        """Store ``records`` inside the caller's transaction, without validating them.

        For sync, which must write records, their bases and the cursor in one transaction:
        what it writes arrived verified and merged, and a record from a newer peer must not be
        refused for a rule this version doesn't know.
        """
        self._write_all(connection, records)

    def _write_all(self, connection: Connection, records: Sequence[Record]) -> None:
        # One executemany per statement: per-row statements cost more in SQLAlchemy than in
        # SQLite, which made a 100,000-incident import take minutes.
        rows: list[dict[str, Any]] = []
        contents: list[dict[str, Any]] = []
        codes: list[dict[str, Any]] = []
        texts: list[dict[str, Any]] = []
        for record in records:
            spec = record_type(record)
            data = to_dict(record)
            date_from, date_to = _date_bounds(record)
            rows.append(
                {
                    "id": record.id,
                    "record_type": spec.name,
                    "space_id": record.space_id,
                    "revision": record.revision,
                    "dirty": record.dirty,
                    "created_at": encode_datetime(record.created_at),
                    "updated_at": encode_datetime(record.updated_at),
                    "label": _text(_first(data, _LABEL_FIELDS)) or "",
                    "parent_id": _text(_first(data, _PARENT_FIELDS)),
                    "status": _text(data.get("status")),
                    "kind": _text(_first(data, _KIND_FIELDS)),
                    "country": _text(data.get("country")),
                    "date_from": date_from,
                    "date_to": date_to,
                }
            )
            contents.append(
                {"id": record.id, "content": json.dumps(data, ensure_ascii=False, sort_keys=True)}
            )
            codes += [
                {"record_id": record.id, "field": f.name, "code": code}
                for f in spec.fields
                if f.codec.kind == "codes"
                for code in sorted(set(getattr(record, f.name)))
            ]
            texts.append({"i": record.id, "t": spec.name, "texts": _searchable_texts(record)})
        connection.execute(_UPSERT, rows)
        connection.execute(_STORE_CONTENT, contents)
        delete_in(
            connection,
            "DELETE FROM record_codes WHERE record_id IN ({ids})",
            [r["id"] for r in rows],
        )
        if codes:
            connection.execute(insert(RecordCode), codes)
        index_records(connection, texts)

    @staticmethod
    def reindex_all(connection: Connection, batch: int = 2_000) -> int:
        """Index every live record's text again (the search index was rebuilt); returns how many.

        In batches, so a 100,000-incident profile never holds every record in memory.
        """
        done, after = 0, ""
        while True:
            rows = connection.execute(
                select(RecordContent.id, RecordContent.content)
                .join(RecordRow, RecordRow.id == RecordContent.id)
                .where(RecordRow.deleted.is_(False), RecordContent.id > after)
                .order_by(RecordContent.id)
                .limit(batch)
            ).all()
            if not rows:
                return done
            entries: list[dict[str, object]] = []
            for row in rows:
                try:
                    record = from_dict(json.loads(row.content))
                except (ValueError, KeyError, TypeError):
                    continue  # a newer peer's format: it is indexed when it is read again
                entries.append(
                    {
                        "i": record.id,
                        "t": record_type(record).name,
                        "texts": _searchable_texts(record),
                    }
                )
            index_records(connection, entries)
            done += len(entries)
            after = rows[-1].id

    def delete(self, record_id: str) -> None:
        """Delete a record and, in the same transaction, what ``CASCADES`` takes with it (an
        incident's acts, sources, evidence and follow-ups, a material's files, the memberships
        naming a group, person or organization); an organization's people keep naming it.

        A record never synced simply goes. A synced one becomes a tombstone: its content is
        erased here at once, and the deletion waits in the outbox to reach the others.
        """
        with self._engine.begin() as connection:
            row = connection.execute(
                select(RecordRow.record_type).where(
                    RecordRow.id == record_id, RecordRow.deleted.is_(False)
                )
            ).first()
            if row is None:
                raise RecordNotFound(record_id)
            doomed = [record_id]
            # A person's own notes and reading positions taken: kept deleted with their last
            # content, never synced or not, so they come back if their parent does (an edit
            # elsewhere beats this deletion; ``keep_together``).
            kept: list[str] = []
            # Down the table: a group's materials, and their files with them.
            below = [(record_id, row.record_type)]
            while below:
                parent, parent_type = below.pop(0)
                for cascade in CASCADES:
                    if cascade.parent == parent_type:
                        for found in _named_by(connection, cascade, parent):
                            if found not in doomed:
                                doomed.append(found)
                                below.append((found, cascade.child))
                                if cascade.own_apart and _apart(connection, found, parent):
                                    kept.append(found)
            # An organization's people stay as they are, still naming it: a person is reached
            # by itself in the directory (a deleted organization shows as none), and an edit
            # clearing the link would beat a deletion of that person made elsewhere meanwhile,
            # bringing the person back on every device (rev-last); the organization back over
            # its deletion finds its people linked again.
            if row.record_type in CASCADE_CHILDREN:
                # Deleted by itself: not part of any later deletion of its incident, so an edit
                # that beats that deletion does not bring this one back (``keep_together``).
                connection.execute(
                    delete(DeletedAloneRow).where(DeletedAloneRow.record_id == record_id)
                )
                connection.execute(insert(DeletedAloneRow).values(record_id=record_id))
            # What it takes that was never synced, under a record that was: kept deleted with
            # its last content too (nothing to send), so it comes back if the record does (an
            # edit elsewhere beats this deletion; ``keep_together``'s second rule). Before, it
            # simply went, and came back with nothing when its parent did (fault seeds 40014,
            # 40026). Under a record never synced, nothing can bring it back: all of it goes.
            synced = connection.scalars(
                select(RecordRow.id).where(in_ids(RecordRow.id, doomed), RecordRow.revision > 0)
            ).all()
            if record_id in synced:
                kept += [found for found in doomed[1:] if found not in synced and found not in kept]
            keep_last_content(connection, kept)
            stamp = encode_datetime(utc_now())
            for doomed_id in doomed:
                # The person deletes the record with its unsettled differences in view (listed,
                # marked): the deletion is the decision on them. Left listed, a value picked
                # later would have no record to land on and vanish as "settled".
                connection.execute(
                    delete(SyncConflictRow).where(
                        SyncConflictRow.record_id == doomed_id,
                        SyncConflictRow.kind == FIELD_CONFLICT,
                    )
                )
                connection.execute(
                    delete(SyncChoiceRow).where(SyncChoiceRow.record_id == doomed_id)
                )
                remove_record(connection, doomed_id)
                connection.execute(delete(RecordCode).where(RecordCode.record_id == doomed_id))
                connection.execute(delete(RecordContent).where(RecordContent.id == doomed_id))
                connection.execute(
                    delete(RecordExtraRow).where(RecordExtraRow.record_id == doomed_id)
                )
                if doomed_id not in kept:
                    connection.execute(
                        delete(RecordRow).where(RecordRow.id == doomed_id, RecordRow.revision == 0)
                    )
                connection.execute(
                    update(RecordRow)
                    .where(RecordRow.id == doomed_id)
                    .values(
                        deleted=True,
                        # Never synced (kept to come back with its parent): nothing to send.
                        dirty=RecordRow.revision > 0,
                        label="",
                        status=None,
                        kind=None,
                        country=None,
                        date_from=None,
                        date_to=None,
                        updated_at=stamp,
                    )
                )

    # --- reading ------------------------------------------------------------------------------

    def get(self, record_id: str) -> Record | None:
        with self._engine.connect() as connection:
            content = connection.execute(
                select(RecordContent.content).where(RecordContent.id == record_id)
            ).scalar_one_or_none()
        return None if content is None else from_dict(json.loads(content))

    def require(self, record_id: str) -> Record:
        record = self.get(record_id)
        if record is None:
            raise RecordNotFound(record_id)
        return record

    def children(self, parent_id: str, child_type: str) -> list[Record]:
        """The records of ``child_type`` under ``parent_id``, oldest first."""
        with self._engine.connect() as connection:
            contents = connection.scalars(
                select(RecordContent.content)
                .join(RecordRow, RecordRow.id == RecordContent.id)
                .where(
                    RecordRow.parent_id == parent_id,
                    RecordRow.record_type == child_type,
                    RecordRow.deleted.is_(False),
                )
                .order_by(RecordRow.created_at, RecordRow.id)
            ).all()
        return [from_dict(json.loads(c)) for c in contents]

    def _conditions(self, query: RecordQuery) -> list[ColumnElement[bool]]:
        expression = match_expression(query.text) if query.text.strip() else None
        searching = bool(query.text.strip())
        # With text, the FTS hits are few and must drive the query: the unary plus keeps SQLite
        # from walking a type index over every record and testing each against the hits.
        record_type: ColumnElement[Any] = (
            literal_column("+records.record_type")
            if searching
            else RecordRow.record_type.expression
        )
        deleted: ColumnElement[Any] = (
            literal_column("+records.deleted") if searching else RecordRow.deleted.expression
        )
        conditions: list[ColumnElement[bool]] = [
            record_type == query.record_type,
            deleted.is_(False),
        ]
        if searching:
            if expression is None:
                conditions.append(RecordRow.id.is_(None))
            else:
                matching = matching_ids(expression, query.record_type)
                conditions.append(RecordRow.id.in_(matching))
        if query.space_ids:
            conditions.append(RecordRow.space_id.in_(query.space_ids))
        if query.statuses:
            conditions.append(RecordRow.status.in_(query.statuses))
        if query.kinds:
            conditions.append(RecordRow.kind.in_(query.kinds))
        if query.countries:
            conditions.append(RecordRow.country.in_(query.countries))
        if query.parent_id is not None:
            conditions.append(RecordRow.parent_id == query.parent_id)
        for field_name, codes in query.codes.items():
            if not codes:
                continue
            if searching:
                # The search hits drive; probe each one's codes by primary key.
                conditions.append(
                    exists().where(
                        RecordCode.record_id == RecordRow.id,
                        RecordCode.field == field_name,
                        RecordCode.code.in_(codes),
                    )
                )
            else:
                # The codes drive: one index range gives every matching id.
                conditions.append(
                    RecordRow.id.in_(
                        select(RecordCode.record_id).where(
                            RecordCode.field == field_name, RecordCode.code.in_(codes)
                        )
                    )
                )
        # Overlap of [date_from, date_to] with the record's own range.
        if query.date_from is not None:
            conditions.append(RecordRow.date_to >= query.date_from.isoformat())
        if query.date_to is not None:
            conditions.append(RecordRow.date_from <= query.date_to.isoformat())
        return conditions

    def count(self, query: RecordQuery) -> int:
        if self._recently_salvaged(query):
            return len(self.salvage(query).rows)
        try:
            with self._engine.connect() as connection:
                try:
                    return connection.execute(
                        select(func.count()).select_from(RecordRow).where(*self._conditions(query))
                    ).scalar_one()
                except DBAPIError as error:
                    if is_damage(error):
                        connection.invalidate()  # never back into the pool (see salvage)
                    raise
        except DBAPIError as error:
            if not is_damage(error):
                raise
            return len(self.salvage(query).rows)

    def _recently_salvaged(self, query: RecordQuery) -> bool:
        # Once a list had to be salvaged, its count and pages come from the salvage, so they
        # agree (the index may still count rows the table can no longer give).
        cached = self._salvaged
        return cached is not None and cached[0] == repr(query)

    def unreadable(self, query: RecordQuery) -> int:
        """How many rows a damaged profile kept out of ``query``'s list (0 when none): known
        once a count or page of the same query had to be salvaged."""
        cached = self._salvaged
        if cached is None or cached[0] != repr(query):
            return 0
        return cached[1].unreadable

    def salvage(self, query: RecordQuery) -> Salvage:
        """``query``'s rows read past damaged pages (issue 12).

        When pages of the database are damaged, a query through an index or the search index
        fails whole ("database disk image is malformed", "vtable constructor failed"), though
        most rows are still readable. This reads the records table itself (``read_readable``:
        a few statements, not a scan per stretch); the rows it cannot read are counted.
        Filters apply in Python; text matches the label only (the search index may be what is
        damaged). Remembered for a few seconds, so paging through the list stays cheap.
        """
        key = repr(query)
        cached = self._salvaged
        if cached is not None and cached[0] == key and time.monotonic() - cached[2] < 5:
            return cached[1]
        columns = (
            "id, label, status, kind, country, date_from, date_to, updated_at, dirty,"
            " record_type, deleted, space_id, parent_id"
        )
        with _FreshAfterDamage(self._engine) as reader:
            table = read_readable(reader, [name.strip() for name in columns.split(",")])
            expected = _salvage_expected(reader, query.record_type)
            everything = _salvage_expected(reader, None)
        found = table.rows
        if expected is not None:
            readable = sum(1 for row in found if row[9] == query.record_type and not row[10])
            unreadable = max(expected - readable, 0)
        elif everything is not None:
            # Only the count of every record survives: the unreadable ones of any type.
            unreadable = max(everything - len(found), 0)
        else:
            # No index counts any more: the rows known lost, at least one for a stretch unread.
            unreadable = len(table.unreadable_ids) or (1 if table.unknown_stretch else 0)
        codes = self._salvaged_codes(query)
        text = query.text.strip().casefold()
        kept = [
            row
            for row in found
            if row[9] == query.record_type
            and not row[10]
            and (not query.space_ids or row[11] in query.space_ids)
            and (not query.statuses or row[2] in query.statuses)
            and (not query.kinds or row[3] in query.kinds)
            and (not query.countries or row[4] in query.countries)
            and (query.parent_id is None or row[12] == query.parent_id)
            and (query.date_from is None or (row[6] or "") >= query.date_from.isoformat())
            and (query.date_to is None or (row[5] or "9") <= query.date_to.isoformat())
            and (codes is None or row[0] in codes)
            and (not text or text in (row[1] or "").casefold())
        ]
        position = {name: index for index, name in enumerate(columns.replace(" ", "").split(","))}
        order = position.get(query.order_by, position["label"])
        kept.sort(key=lambda row: ((row[order] or ""), row[0]), reverse=query.descending)
        result = Salvage([ListRow(*row[:9]) for row in kept], unreadable)
        self._salvaged = (key, result, time.monotonic())
        return result

    def _salvaged_codes(self, query: RecordQuery) -> set[str] | None:
        """Ids matching every code filter, or None without one; none if codes are unreadable."""
        wanted = {name: codes for name, codes in query.codes.items() if codes}
        if not wanted:
            return None
        matching: set[str] | None = None
        for field_name, codes in wanted.items():
            try:
                with self._engine.connect() as connection:
                    ids = set(
                        connection.execute(
                            select(RecordCode.record_id).where(
                                RecordCode.field == field_name, RecordCode.code.in_(codes)
                            )
                        ).scalars()
                    )
            except DBAPIError as error:
                if not is_damage(error):
                    raise
                ids = set()
            matching = ids if matching is None else matching & ids
        return matching

    def page(self, query: RecordQuery, offset: int = 0, limit: int = 200) -> list[ListRow]:
        """One page of ``query``'s rows, in its order (ties broken by id, so pages are stable).

        On a damaged profile, the readable rows (``salvage``); ``unreadable`` says how many
        were left out."""
        if self._recently_salvaged(query):
            return self.salvage(query).rows[offset : offset + limit]
        try:
            return self._page(query, offset, limit)
        except DBAPIError as error:
            if not is_damage(error):
                raise
            return self.salvage(query).rows[offset : offset + limit]

    def _page(self, query: RecordQuery, offset: int, limit: int) -> list[ListRow]:
        column = _ORDERABLE.get(query.order_by, RecordRow.label)
        ordering = column.desc() if query.descending else column.asc()
        tiebreak = RecordRow.id.desc() if query.descending else RecordRow.id.asc()
        # A deferred join: the page's ids come from the index alone (records is keyed by id,
        # so every index carries it), and only those 200 rows are then read. A plain OFFSET
        # would read every skipped row: 340 ms at row 50,000 of 100,000, against a few here.
        ids = (
            select(RecordRow.id)
            .where(*self._conditions(query))
            .order_by(ordering, tiebreak)
            .offset(offset)
            .limit(limit)
            .subquery()
        )
        statement = (
            select(
                RecordRow.id,
                RecordRow.label,
                RecordRow.status,
                RecordRow.kind,
                RecordRow.country,
                RecordRow.date_from,
                RecordRow.date_to,
                RecordRow.updated_at,
                RecordRow.dirty,
            )
            .join(ids, ids.c.id == RecordRow.id)
            .order_by(ordering, tiebreak)
        )
        with self._engine.connect() as connection:
            try:
                return [ListRow(*row) for row in connection.execute(statement)]
            except DBAPIError as error:
                if is_damage(error):
                    connection.invalidate()  # never back into the pool (see salvage)
                raise

    def dirty_count(self) -> int:
        with self._engine.connect() as connection:
            return connection.execute(
                select(func.count()).select_from(RecordRow).where(RecordRow.dirty.is_(True))
            ).scalar_one()
