"""Property: online rounds and bundle carries mixed in any order converge. Three replicas: one
online, one courier (online), one offline for the whole run, reached only by bundles the courier
carries both ways. Every edit a person saved ends as the final value or in a conflict.

Bounded for ``make test`` (8 examples of 20 steps); ``MINGA_PROPERTY_EXAMPLES`` and
``MINGA_PROPERTY_STEPS`` run a longer search. The replicas carry over between examples.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    rule,
)

from sync.client.bundles import export_bundle, export_for, import_bundle
from sync.client.transport import Transport
from tests.helpers.server_process import free_port
from tests.integration.conftest import Server, network_of
from tests.integration.replicas import AcronymLedger, run_replicas, search_bounds

EXAMPLES, STEPS = search_bounds(8, 20)
ONLINE, COURIER, OFFLINE = 0, 1, 2


def test_online_rounds_and_bundle_carries_converge(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, devices = network_of(server, make_device, 3)
    for device in devices:
        device.sync()
    offline = devices[OFFLINE]
    online = offline.engine.transport
    offline.engine.transport = Transport(f"http://127.0.0.1:{free_port()}")
    keys = offline.state.device_keys()
    assert keys is not None
    offline_id = keys.device_id
    ledger = AcronymLedger(space, devices)
    carried = itertools.count()

    def carry_up() -> None:
        path = tmp_path / f"up-{next(carried)}.mbundle"
        export_bundle(offline.engine, path)
        report = import_bundle(devices[COURIER].engine, path)
        assert report.problem is None and report.refused == [], report
        ledger.observe(COURIER)

    def carry_down() -> None:
        path = tmp_path / f"down-{next(carried)}.mbundle"
        export_for(devices[COURIER].engine, path, offline_id)
        report = import_bundle(offline.engine, path)
        assert report.problem is None and report.refused == [], report
        ledger.observe(OFFLINE)

    def sync(index: int) -> None:
        report = devices[index].engine.sync_once(discover=True)
        assert report.refused == [] and report.rejected == [], report
        ledger.observe(index)

    class Replicas(RuleBasedStateMachine):
        records = Bundle("records")

        @initialize(target=records)
        def first(self) -> str:
            return ledger.create(OFFLINE)

        @rule(target=records, index=st.integers(0, 2))
        def create(self, index: int) -> str:
            return ledger.create(index)

        @rule(index=st.integers(0, 2), record_id=records)
        def edit_field(self, index: int, record_id: str) -> None:
            ledger.edit(index, record_id)

        @rule(index=st.sampled_from([ONLINE, COURIER]))
        def online_round(self, index: int) -> None:
            sync(index)

        @rule()
        def carry_to_the_courier(self) -> None:
            carry_up()

        @rule()
        def carry_to_the_offline_device(self) -> None:
            carry_down()

        def teardown(self) -> None:
            for _ in range(4):
                carry_up()
                sync(COURIER)
                sync(ONLINE)
                sync(COURIER)
                carry_down()
            snapshots = [device.snapshot() for device in devices]
            assert snapshots[0] == snapshots[1] == snapshots[2]
            assert all(device.records.dirty_count() == 0 for device in devices)
            assert offline.state.outbox() == []
            ledger.assert_every_saved_token_final_or_in_a_conflict()

    run_replicas(Replicas, EXAMPLES, STEPS)
    assert offline.engine.transport.traffic.requests == 0
    # Online once: the own changes bundles brought back are handed in; the server took each
    # (a courier relayed it), so nothing is reopened and nothing changes (PROTOCOL.md §12.3).
    offline.engine.transport.close()
    offline.engine.transport = online
    back = offline.engine.sync_once()
    assert back.refused == [] and back.rejected == [] and back.own_reopened == 0, back
    assert offline.state.returned() == [] and offline.state.outbox() == []
    assert offline.snapshot() == devices[ONLINE].snapshot()
