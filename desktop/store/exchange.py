"""Lists out to CSV and JSON, and organizations and people in from CSV with a per-row report.

Exports stream page by page, so 100,000 incidents never sit in memory at once. Imports are
all-or-nothing per row and per file: each row is validated on its own and reported with its
line number and reasons; then every good row is written in one transaction, so a crash halfway
leaves the directory as it was.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from desktop.domain.fields import Json
from desktop.domain.records import (
    Organization,
    Person,
    PersonKind,
    Record,
    record_type,
    to_dict,
)
from desktop.domain.translation import _
from desktop.domain.vocabularies import default_vocabularies
from desktop.store.errors import MalformedFile
from desktop.store.records import RecordQuery, RecordStore
from desktop.store.search import fold

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_ROWS = 50_000
PAGE = 500
#: How a list of codes is written in one CSV cell.
CODE_SEPARATOR = ";"


# --- export -----------------------------------------------------------------------------------


def _records(store: RecordStore, query: RecordQuery) -> Iterator[Record]:
    offset = 0
    while True:
        rows = store.page(query, offset, PAGE)
        for row in rows:
            record = store.get(row.id)
            if record is not None:
                yield record
        if len(rows) < PAGE:
            return
        offset += PAGE


def _cell(value: Json) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return CODE_SEPARATOR.join(str(v) for v in value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


#: What a spreadsheet reads as the start of a formula ("=HYPERLINK(…&A1)" sends a row away).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(cell: str) -> str:
    """``cell`` as a spreadsheet shows it: a leading apostrophe keeps a would-be formula text.

    Names and places come from other members through sync, and these files are opened in
    spreadsheets (OWASP's advice on CSV injection). ``from_spreadsheet_text`` undoes it."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def from_spreadsheet_text(cell: str) -> str:
    """A cell written by ``spreadsheet_text`` (or a spreadsheet's own "'=…") as it was."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


def export_csv(store: RecordStore, query: RecordQuery, sink: TextIO) -> int:
    """Write the records of ``query`` as CSV (codes, not labels, so it imports back)."""
    spec = record_type(query.record_type)
    columns = ["id", "space_id", "created_at", "updated_at", *spec.field_names]
    writer = csv.writer(sink)
    writer.writerow(columns)
    count = 0
    for record in _records(store, query):
        data = to_dict(record)
        writer.writerow([spreadsheet_text(_cell(data[c])) for c in columns])
        count += 1
    return count


def export_json(store: RecordStore, query: RecordQuery, sink: TextIO) -> int:
    """Write the records of ``query`` as a JSON array of full records, one per line."""
    sink.write("[")
    count = 0
    for record in _records(store, query):
        sink.write(",\n" if count else "\n")
        sink.write(json.dumps(to_dict(record), ensure_ascii=False, sort_keys=True))
        count += 1
    sink.write("\n]\n")
    return count


# --- import -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RejectedRow:
    """A row left out: its line in the file (the header is line 1) and why, translated."""

    line: int
    reasons: list[str]


@dataclass
class ImportReport:
    """What an import did. A file with any row that cannot be imported is refused whole
    (``imported`` is 0): a table half in the directory is harder to fix than one not in it.
    """

    imported: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    #: Rows that were fine (imported, or waiting for the others to be fixed).
    sound: int = 0


_ORGANIZATION_COLUMNS = {
    "name",
    "acronym",
    "country",
    "email",
    "website",
    "description",
    "objectives",
}
_PERSON_COLUMNS = {
    "kind",
    "name",
    "alias",
    "headcount",
    "country",
    "organization",
    "occupation",
    "notes",
}
#: Columns an export writes that an import may meet and ignore (they are the store's to set).
_BOOKKEEPING = {"id", "space_id", "created_at", "updated_at", "organization_id"}


def _read_table(
    raw: bytes, known: set[str], required: set[str]
) -> list[tuple[int, dict[str, str]]]:
    if not raw.strip():
        raise MalformedFile("empty")
    if len(raw) > MAX_IMPORT_BYTES:
        raise MalformedFile("too_large", limit=MAX_IMPORT_BYTES // (1024 * 1024))
    utf16 = raw[:2] in (b"\xff\xfe", b"\xfe\xff")
    if not utf16 and b"\x00" in raw:
        raise MalformedFile("unreadable")  # a binary file, not a table
    try:
        decoded = raw.decode("utf-16") if utf16 else raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedFile("encoding") from None
    try:
        dialect = csv.Sniffer().sniff(decoded[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    broken: list[tuple[int, dict[str, str]]] = []
    try:
        # Strict: a stray or unclosed quotation mark is an error on its line, not a cell that
        # swallows the rest of the file (or a name like ‘"Unclosed quote,PS’).
        # Only the delimiter is guessed: the sniffer's guesses about quoting are unreliable
        # (it turns doubled quotes off on a file with one stray quote).
        reader = csv.reader(
            io.StringIO(decoded, newline=""), csv.excel, delimiter=dialect.delimiter, strict=True
        )
        header = next(reader, None)
        if not header:
            raise MalformedFile("empty")
        columns = [h.strip().lower() for h in header]
        unknown = [c for c in columns if c and c not in known and c not in _BOOKKEEPING]
        if unknown:
            raise MalformedFile("unknown_columns", columns=", ".join(unknown))
        missing = sorted(required - set(columns))
        if missing:
            raise MalformedFile("missing_columns", columns=", ".join(missing))
        rows: list[tuple[int, dict[str, str]]] = []
        while True:
            first_line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                broken.append((first_line, {"__broken__": _quote_problem(str(error))}))
                if "unexpected end of data" in str(error):
                    break  # an unclosed quote read the rest of the file as one cell
                continue
            if len(rows) >= MAX_IMPORT_ROWS:
                raise MalformedFile("too_many_rows", limit=MAX_IMPORT_ROWS)
            if not any(cell.strip() for cell in row):
                continue
            values = {
                columns[i]: from_spreadsheet_text(cell.strip())
                for i, cell in enumerate(row)
                if i < len(columns)
            }
            extra = len(row) - len(columns)
            values["__extra__"] = str(max(extra, 0))
            rows.append((reader.line_num, values))
    except csv.Error:
        raise MalformedFile("unreadable") from None
    return sorted(rows + broken, key=lambda item: item[0])


def _quote_problem(error: str) -> str:
    """Why the csv module could not read a row, as the person can fix it."""
    if "unexpected end of data" in error or "EOF" in error:
        return _(
            'A quotation mark (") opens a cell on this line and is never closed, so the rest '
            "of the file reads as one cell. Close it, or remove it."
        )
    return _(
        'A quotation mark (") on this line does not close its cell where it should. Put the '
        'whole cell in quotation marks and double each one inside it (""), or remove it.'
    )


def _country_code(value: str) -> str:
    """A country as typed: its code (``co``) or its name in any of the four languages."""
    if not value:
        return ""
    vocabularies = default_vocabularies()
    lowered = value.strip().lower()
    if vocabularies.is_valid_code("countries", lowered):
        return lowered
    wanted = fold(value)
    for term in vocabularies["countries"].top_level():
        if any(fold(label) == wanted for label in term.labels.values()):
            return term.code
    return lowered  # validation names it as unknown


def _codes(value: str) -> tuple[str, ...]:
    parts = value.replace("|", CODE_SEPARATOR).split(CODE_SEPARATOR)
    return tuple(p.strip().lower() for p in parts if p.strip())


def _import(
    store: RecordStore,
    rows: list[tuple[int, dict[str, str]]],
    build: Any,
    existing: set[str],
) -> ImportReport:
    report = ImportReport()
    good: list[Record] = []
    seen = set(existing)
    for line, values in rows:
        if "__broken__" in values:
            report.rejected.append(RejectedRow(line, [values["__broken__"]]))
            continue
        if values.pop("__extra__", "0") != "0":
            report.rejected.append(
                RejectedRow(line, [_("This row has more cells than the header has columns.")])
            )
            continue
        record, reasons = build(values)
        if record is not None:
            reasons += [error.message for error in record.validate()]
            key = fold(getattr(record, "name", "") or getattr(record, "alias", ""))
            if not reasons and key in seen:
                reasons.append(_("This name is already in the directory or earlier in the file."))
            seen.add(key)
        if reasons or record is None:
            report.rejected.append(RejectedRow(line, reasons))
        else:
            good.append(record)
    report.sound = len(good)
    if report.rejected:
        return report  # nothing half-imported: the person fixes the lines and imports again
    store.save_all(good)
    report.imported = len(good)
    return report


def _existing_names(store: RecordStore, kind: str, space_id: str) -> set[str]:
    names: set[str] = set()
    query = RecordQuery(kind, space_ids=[space_id])
    offset = 0
    while rows := store.page(query, offset, 2000):
        names.update(fold(row.label) for row in rows)
        offset += len(rows)
    return names


def import_organizations_csv(store: RecordStore, raw: bytes, space_id: str) -> ImportReport:
    rows = _read_table(raw, _ORGANIZATION_COLUMNS, {"name"})

    def build(values: dict[str, str]) -> tuple[Record | None, list[str]]:
        return (
            Organization(
                space_id=space_id,
                name=values.get("name", ""),
                acronym=values.get("acronym", ""),
                country=_country_code(values.get("country", "")),
                email=values.get("email", ""),
                website=values.get("website", ""),
                description=values.get("description", ""),
                objectives=_codes(values.get("objectives", "")),
            ),
            [],
        )

    return _import(store, rows, build, _existing_names(store, "organization", space_id))


def import_people_csv(store: RecordStore, raw: bytes, space_id: str) -> ImportReport:
    """People, each optionally linked to an organization named in the ``organization`` column."""
    rows = _read_table(raw, _PERSON_COLUMNS, {"name"})
    organizations: dict[str, str] = {}
    query = RecordQuery("organization", space_ids=[space_id])
    offset = 0
    while page := store.page(query, offset, 2000):
        organizations.update((fold(row.label), row.id) for row in page)
        offset += len(page)

    def build(values: dict[str, str]) -> tuple[Record | None, list[str]]:
        reasons: list[str] = []
        kind_text = values.get("kind", "").lower() or PersonKind.INDIVIDUAL.value
        try:
            kind = PersonKind(kind_text)
        except ValueError:
            reasons.append(
                _("“{value}” is not a kind of person: use “individual” or “group”.").format(
                    value=values.get("kind", "")
                )
            )
            kind = PersonKind.INDIVIDUAL
        headcount: int | None = None
        if values.get("headcount"):
            try:
                headcount = int(values["headcount"])
            except ValueError:
                reasons.append(
                    _("“{value}” is not a whole number.").format(value=values["headcount"])
                )
        organization_id = None
        if values.get("organization"):
            organization_id = organizations.get(fold(values["organization"]))
            if organization_id is None:
                reasons.append(
                    _("There is no organization called “{name}” in this space.").format(
                        name=values["organization"]
                    )
                )
        person = Person(
            space_id=space_id,
            kind=kind,
            name=values.get("name", ""),
            alias=values.get("alias", ""),
            headcount=headcount,
            country=_country_code(values.get("country", "")),
            organization_id=organization_id,
            occupation=values.get("occupation", ""),
            notes=values.get("notes", ""),
        )
        return person, reasons

    return _import(store, rows, build, _existing_names(store, "person", space_id))


def read_import_file(path: Path) -> bytes:
    """The bytes of a file to import, refusing a huge one before reading it."""
    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise MalformedFile("too_large", limit=MAX_IMPORT_BYTES // (1024 * 1024))
    return path.read_bytes()
