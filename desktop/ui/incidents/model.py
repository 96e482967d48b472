"""The incidents list, declared for the shared lazy list: its columns and the order they sort by.

Filters and order are a ``RecordQuery`` run in SQL; only the chunks the view scrolled to are held.
"""

from __future__ import annotations

from desktop.domain import vocabularies as vocab
from desktop.domain.translation import N_
from desktop.store.records import ListRow, RecordQuery
from desktop.ui.display import vocabulary_label
from desktop.ui.lists import COUNTRY, DATE, Column, ListSpec

#: Rows per fetch: one page query of a few milliseconds, and a screenful many times over.
CHUNK = 200


def _title(row: ListRow) -> str:
    return row.label


def _status(row: ListRow) -> str:
    return vocabulary_label(vocab.INCIDENT_STATUSES, row.status)


def _kind(row: ListRow) -> str:
    return vocabulary_label(vocab.INCIDENT_KINDS, row.kind)


INCIDENT_LIST = ListSpec(
    (
        Column(N_("Title"), _title, "label"),
        DATE,
        COUNTRY,
        Column(N_("Status"), _status, "status"),
        Column(N_("Kind"), _kind, "kind"),
    ),
    chunk=CHUNK,
)

#: The list before any filter: the most recent first.
FIRST_QUERY = RecordQuery("incident", order_by="date_from", descending=True)
