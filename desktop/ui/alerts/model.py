"""Open alerts for the shared lazy list: most urgent first, each urgency one indexed query.

An alert's urgency is its list row's ``kind``; the list lays the urgencies' queries end to end.
"""

from __future__ import annotations

from desktop.domain.network_records import (
    ALERT_STATUSES,
    ALERT_URGENCIES,
    OPEN_ALERT_STATUSES,
    AlertUrgency,
)
from desktop.domain.translation import N_
from desktop.store.records import ListRow, RecordQuery
from desktop.ui.display import vocabulary_label
from desktop.ui.lists import COUNTRY, DATE, Column, ListSpec

CHUNK = 200


def _title(row: ListRow) -> str:
    return row.label


def _urgency(row: ListRow) -> str:
    return vocabulary_label(ALERT_URGENCIES, row.kind)


def _status(row: ListRow) -> str:
    return vocabulary_label(ALERT_STATUSES, row.status)


ALERT_LIST = ListSpec(
    (
        Column(N_("Alert"), _title),
        Column(N_("Urgency"), _urgency),
        Column(N_("Status"), _status),
        Column(DATE.title, DATE.value),
        Column(COUNTRY.title, COUNTRY.value),
    ),
    chunk=CHUNK,
)


def open_alerts(urgency: AlertUrgency) -> RecordQuery:
    """The open alerts of one urgency, the most recent first."""
    return RecordQuery(
        "alert",
        statuses=[status.value for status in OPEN_ALERT_STATUSES],
        kinds=[urgency.value],
        order_by="date_from",
        descending=True,
    )


def open_alert_queries() -> list[RecordQuery]:
    """Every urgency's open alerts, the most urgent first."""
    return [open_alerts(urgency) for urgency in AlertUrgency]
