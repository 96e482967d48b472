"""A save made while a sync is merging is never overwritten by the remote version."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from desktop.domain.records import Incident, edit, new_id, to_dict
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState, sealed_content
from sync.client.engine import settle
from sync.client.state import RemoteRecord, Settlement
from tests.domain.conftest import TODAY
from tests.helpers.profiles import new_profile


def _remote(incident: Incident, revision: int) -> RemoteRecord:
    content = sealed_content(json.dumps(to_dict(incident)))
    return RemoteRecord(incident.space_id, incident.id, revision, "a-peer", content)


def test_an_edit_saved_during_the_merge_survives(tmp_path: Path) -> None:
    profile, _ = new_profile(tmp_path / "p")
    try:
        state = ProfileSyncState(profile.engine)
        store = RecordStore(profile.engine)
        space = new_id()
        first = Incident(space_id=space, title="Corte de agua", narrative="Sin agua.")
        # Revision 1 arrives and is stored clean, with its base.
        assert state.local_record(space, first.id) is None
        state.apply_page(
            space, 1, [Settlement(_remote(first, 1), _remote(first, 1).content, False)]
        )

        # The engine reads the record to merge the next version against it...
        snapshot = state.local_record(space, first.id)
        assert snapshot is not None and not snapshot.dirty
        # ...a person saves an edit on this device meanwhile...
        held = store.require(first.id)
        store.save(edit(held, title="Corte de agua en El Alto"), today=TODAY)
        # ...and a peer's revision 2 (another field) is settled from the stale snapshot.
        theirs = replace(first, narrative="Sin agua desde marzo.")
        stale = settle(snapshot, _remote(theirs, 2), snapshot.rules)
        assert stale.content is not None and stale.content["title"] == "Corte de agua"
        state.apply_page(space, 2, [stale])

        now = store.require(first.id)
        assert isinstance(now, Incident)
        assert now.title == "Corte de agua en El Alto"  # the person's edit
        assert now.narrative == "Sin agua desde marzo."  # the peer's edit
        assert now.dirty and now.revision == 2  # waits to be pushed on top of revision 2
    finally:
        profile.close()
