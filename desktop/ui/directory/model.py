"""The directory's three lists, declared for the shared lazy list: columns per record type."""

from __future__ import annotations

from desktop.domain import vocabularies as vocab
from desktop.domain.translation import N_
from desktop.store.records import ListRow
from desktop.ui.display import vocabulary_label
from desktop.ui.lists import COUNTRY, NAME, Column, ListSpec

#: Rows read per fetch: a screenful or three, so the first page shows at once.
CHUNK = 100


def _kind(row: ListRow) -> str:
    return vocabulary_label(vocab.PERSON_KINDS, row.kind)


DIRECTORY_LISTS: dict[str, ListSpec] = {
    "organization": ListSpec((NAME, COUNTRY), CHUNK),
    "person": ListSpec((NAME, Column(N_("Kind"), _kind, "kind"), COUNTRY), CHUNK),
    "working_group": ListSpec((NAME,), CHUNK),
}
