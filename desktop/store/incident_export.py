"""The incidents a filter shows, as a table for analysis (CSV) or as data (JSON).

For counting and comparing, not for sharing a case: a person is named only where they agreed to
be named (``share_with_name``); otherwise their alias, otherwise "Name withheld". Free text
(title, narrative, impact, act notes) and coordinates are left out: they can name or place
people whatever their consent says ("Amenazas contra Rosa Quispe"); the id finds the record.
Codes stay codes (a country is ``co``), so tools can group by them.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from desktop.domain.records import (
    Act,
    ConsentLevel,
    Incident,
    Organization,
    Person,
)
from desktop.domain.translation import _
from desktop.store.exchange import spreadsheet_text
from desktop.store.records import RecordQuery, RecordStore

#: Incidents read per page.
PAGE = 500

COLUMNS = (
    "id",
    "kind",
    "status",
    "start_date",
    "end_date",
    "country",
    "region",
    "place",
    "rights",
    "confidentiality",
    "acts",
    "victims",
    "created_at",
    "updated_at",
)


def _incidents(store: RecordStore, query: RecordQuery) -> Iterator[Incident]:
    offset = 0
    while True:
        rows = store.page(query, offset, PAGE)
        for row in rows:
            record = store.get(row.id)
            if isinstance(record, Incident):
                yield record
        if len(rows) < PAGE:
            return
        offset += PAGE


def shown_name(store: RecordStore, incident: Incident, person_id: str) -> str:
    """Who was harmed, as far as they agreed to be named."""
    party = store.get(person_id) if person_id else None
    if isinstance(party, Organization):
        return party.name or party.acronym  # an organization: no consent needed
    alias = party.alias if isinstance(party, Person) else ""
    consent = incident.consent_of(person_id)
    named = consent is not None and consent.level is ConsentLevel.SHARE_WITH_NAME
    if isinstance(party, Person) and named:
        return party.name or alias or _("Name withheld")
    return alias or _("Name withheld")


def incident_row(store: RecordStore, incident: Incident) -> dict[str, object]:
    acts = [a for a in store.children(incident.id, "act") if isinstance(a, Act)]
    victims = list(dict.fromkeys(a.victim_id for a in acts if a.victim_id))
    return {
        "id": incident.id,
        "kind": incident.kind.value,
        "status": incident.status.value,
        "start_date": str(incident.start_date) if incident.start_date else "",
        "end_date": str(incident.end_date) if incident.end_date else "",
        "country": incident.country,
        "region": incident.region,
        "place": incident.place,
        "rights": list(incident.rights),
        "confidentiality": incident.confidentiality.value,
        "acts": sorted({a.act_type for a in acts}),
        "victims": [shown_name(store, incident, v) for v in victims],
        "created_at": incident.created_at.isoformat(),
        "updated_at": incident.updated_at.isoformat(),
    }


def export_incidents_csv(store: RecordStore, query: RecordQuery, sink: TextIO) -> int:
    """One row per incident; several values in one cell are separated by "; "."""
    writer = csv.writer(sink)
    writer.writerow(COLUMNS)
    count = 0
    for incident in _incidents(store, query):
        row = incident_row(store, incident)
        writer.writerow(
            [
                spreadsheet_text("; ".join(v) if isinstance(v, list) else str(v))
                for v in (row[c] for c in COLUMNS)
            ]
        )
        count += 1
    return count


def export_incidents_json(store: RecordStore, query: RecordQuery, sink: TextIO) -> int:
    """A JSON array, one incident per line."""
    sink.write("[")
    count = 0
    for incident in _incidents(store, query):
        sink.write(",\n" if count else "\n")
        sink.write(json.dumps(incident_row(store, incident), ensure_ascii=False))
        count += 1
    sink.write("\n]\n")
    return count


def write_incidents(store: RecordStore, query: RecordQuery, path: Path, file_format: str) -> int:
    """Write the incidents of ``query`` to ``path`` (``csv`` or ``json``); a partial file is
    removed, never left behind. Returns how many were written."""
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("w", encoding="utf-8", newline="") as sink:
            write = export_incidents_csv if file_format == "csv" else export_incidents_json
            count = write(store, query, sink)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count
