"""The profile's own spaces: the network space new directory records go into, and "only me".

Until sync brings the network's real spaces, the first call creates both locally, once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from desktop.domain.records import Space, SpaceKind, new_id
from desktop.store.records import RecordQuery, RecordStore

#: Stored names; the interface shows a space kind's label from the vocabulary, not these.
NETWORK_SPACE_NAME = "Network"
ONLY_ME_SPACE_NAME = "Only me"

# Two workers asking at once on a new profile must not each create a network space.
_creating = threading.Lock()


@dataclass(frozen=True)
class LocalSpaces:
    """The space directory records are saved into, and the one for personal notes."""

    network: Space
    only_me: Space


def _first_of_kind(store: RecordStore, kind: SpaceKind) -> Space | None:
    # Oldest first would need a created_at order; label then id is stable, and enough here.
    rows = store.page(RecordQuery("space", kinds=[kind.value]), 0, 1)
    if not rows:
        return None
    record = store.get(rows[0].id)
    return record if isinstance(record, Space) else None


def local_spaces(store: RecordStore) -> LocalSpaces:
    """The profile's network and "only me" spaces, creating whichever is missing.

    An existing space of each kind (from a demo or, later, from sync) is reused, so calling
    this again never adds another.
    """
    with _creating:
        found: dict[SpaceKind, Space] = {}
        missing: list[Space] = []
        for kind, name in (
            (SpaceKind.NETWORK, NETWORK_SPACE_NAME),
            (SpaceKind.ONLY_ME, ONLY_ME_SPACE_NAME),
        ):
            space = _first_of_kind(store, kind)
            if space is None:
                space = _new_space(name, kind)
                missing.append(space)
            found[kind] = space
        if missing:
            store.save_all(missing)
        return LocalSpaces(network=found[SpaceKind.NETWORK], only_me=found[SpaceKind.ONLY_ME])


def _new_space(name: str, kind: SpaceKind) -> Space:
    space_id = new_id()
    # A space's own record lives in itself.
    return Space(id=space_id, space_id=space_id, name=name, kind=kind)
