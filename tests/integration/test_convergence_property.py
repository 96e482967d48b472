"""Property: three replicas editing, deleting and syncing through a real server over links that
drop converge to identical stores, and every edit a person saved survives or is in a conflict.

Bounded for ``make test`` (20 examples of 25 steps, ~15 s); ``MINGA_PROPERTY_EXAMPLES=200``
and ``MINGA_PROPERTY_STEPS=40`` run a longer search. The replicas carry over between examples.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    rule,
)

from desktop.domain.records import Organization
from sync.client.transport import Offline
from tests.helpers.link import DOWN, UP, Link
from tests.integration.conftest import Server, network_of
from tests.integration.devices import make_with_files, with_files
from tests.integration.replicas import AcronymLedger, acronym, run_replicas, search_bounds

EXAMPLES, STEPS = search_bounds(20, 25)
REPLICAS = 3


def test_replicas_converge_and_keep_every_saved_edit(server: Server, make_device: Any) -> None:
    space, devices = network_of(server, make_with_files(make_device), REPLICAS)
    links = [Link(("127.0.0.1", server.process.port), max_lifetime=900) for _ in devices]
    for device, link in zip(devices, links, strict=True):
        with_files(device, link.url)
        device.sync()
    ledger = AcronymLedger(space, devices)
    live, seen = ledger.live, ledger.seen
    #: Records deleted by a replica that had seen every live token.
    deleted: set[str] = set()

    class Replicas(RuleBasedStateMachine):
        records = Bundle("records")

        @initialize(target=records)
        def first(self) -> str:
            return ledger.create(0)

        @rule(target=records, index=st.integers(0, REPLICAS - 1))
        def create(self, index: int) -> str:
            return ledger.create(index)

        @rule(
            first=st.integers(0, REPLICAS - 1),
            offset=st.integers(1, REPLICAS - 1),
            record_id=records,
        )
        def edit_on_two(self, first: int, offset: int, record_id: str) -> None:
            # Two people edit the same field before either syncs: the case merges exist for.
            self.edit_field(first, record_id)
            self.edit_field((first + offset) % REPLICAS, record_id)

        @rule(index=st.integers(0, REPLICAS - 1), record_id=records)
        def edit_field(self, index: int, record_id: str) -> None:
            ledger.edit(index, record_id)

        @rule(index=st.integers(0, REPLICAS - 1), record_id=records)
        def delete(self, index: int, record_id: str) -> None:
            device = devices[index]
            current = device.records.get(record_id)
            if not isinstance(current, Organization):
                return
            live[record_id] -= seen[index].get(record_id, set()) | {current.acronym}
            device.records.delete(record_id)
            if not live[record_id]:
                deleted.add(record_id)

        @rule(index=st.integers(0, REPLICAS - 1))
        def sync(self, index: int) -> None:
            # A dropped link raises Offline: everything stays for the next sync.
            with contextlib.suppress(Offline):
                devices[index].sync()
            ledger.observe(index)

        @rule(
            index=st.integers(0, REPLICAS - 1),
            direction=st.sampled_from([UP, DOWN]),
            after=st.integers(0, 4000),
        )
        def drop_link(self, index: int, direction: str, after: int) -> None:
            links[index].cut_after(direction, after)

        def teardown(self) -> None:
            for link in links:
                link.clear_cuts()
            for _ in range(3):
                for index, device in enumerate(devices):
                    device.sync()
                    ledger.observe(index)
            # Tombstones are compared as absence: a replica that never held a record keeps
            # no tombstone of it (sync_state ``_tombstone``), one that held it keeps one.
            snapshots = [
                {k: v for k, v in device.snapshot().items() if not v[0]}  # type: ignore[index]
                for device in devices
            ]
            assert snapshots[0] == snapshots[1] == snapshots[2]
            assert all(device.records.dirty_count() == 0 for device in devices)
            ledger.assert_every_saved_token_final_or_in_a_conflict()
            for record_id in deleted:
                if not live[record_id]:
                    assert acronym(devices[0], record_id) is None

    try:
        run_replicas(Replicas, EXAMPLES, STEPS)
    finally:
        for link in links:
            link.stop()
