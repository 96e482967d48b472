"""Property: online rounds and bundle carries mixed in any order converge. Three replicas: one
online, one courier (online), one offline for the whole run, reached only by bundles the courier
carries both ways. Every edit a person saved ends as the final value or in a conflict.

Bounded for ``make test`` (8 examples of 20 steps); ``MINGA_PROPERTY_EXAMPLES`` and
``MINGA_PROPERTY_STEPS`` run a longer search. The replicas carry over between examples.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from desktop.domain.records import Organization, edit
from sync.client.bundles import export_bundle, export_for, import_bundle
from sync.client.transport import Transport
from tests.helpers.server_process import free_port
from tests.integration.conftest import Device, Server, network_of, organization

EXAMPLES = int(os.environ.get("MINGA_PROPERTY_EXAMPLES", "8"))
STEPS = int(os.environ.get("MINGA_PROPERTY_STEPS", "20"))
ONLINE, COURIER, OFFLINE = 0, 1, 2


def _value(device: Device, record_id: str) -> str | None:
    record = device.records.get(record_id)
    return record.acronym if isinstance(record, Organization) else None


def test_online_rounds_and_bundle_carries_converge(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, devices = network_of(server, make_device, 3)
    for device in devices:
        device.sync()
    offline = devices[OFFLINE]
    offline.engine.transport = Transport(f"http://127.0.0.1:{free_port()}")
    keys = offline.state.device_keys()
    assert keys is not None
    offline_id = keys.device_id
    counter = iter(range(10**9))
    live: dict[str, set[str]] = {}
    seen: list[dict[str, set[str]]] = [{} for _ in devices]

    def observe(index: int) -> None:
        for record_id in live:
            value = _value(devices[index], record_id)
            if value is not None:
                seen[index].setdefault(record_id, set()).add(value)

    def carry_up() -> None:
        path = tmp_path / f"up-{next(counter)}.mbundle"
        export_bundle(offline.engine, path)
        report = import_bundle(devices[COURIER].engine, path)
        assert report.problem is None and report.refused == [], report
        observe(COURIER)

    def carry_down() -> None:
        path = tmp_path / f"down-{next(counter)}.mbundle"
        export_for(devices[COURIER].engine, path, offline_id)
        report = import_bundle(offline.engine, path)
        assert report.problem is None and report.refused == [], report
        observe(OFFLINE)

    def sync(index: int) -> None:
        report = devices[index].engine.sync_once(discover=True)
        assert report.refused == [] and report.rejected == [], report
        observe(index)

    class Replicas(RuleBasedStateMachine):
        records = Bundle("records")

        @initialize(target=records)
        def first(self) -> str:
            return self._create(OFFLINE)

        def _create(self, index: int) -> str:
            token = f"T{next(counter)}"
            org = organization(space, f"Organization {token}", acronym=token)
            devices[index].records.save(org)
            live[org.id] = {token}
            seen[index][org.id] = {token}
            return org.id

        @rule(target=records, index=st.integers(0, 2))
        def create(self, index: int) -> str:
            return self._create(index)

        @rule(index=st.integers(0, 2), record_id=records)
        def edit_field(self, index: int, record_id: str) -> None:
            device = devices[index]
            current = device.records.get(record_id)
            if not isinstance(current, Organization):
                return
            token = f"T{next(counter)}"
            live[record_id] -= seen[index].get(record_id, set()) | {current.acronym}
            live[record_id].add(token)
            device.records.save(edit(current, acronym=token))
            seen[index].setdefault(record_id, set()).add(token)

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
            kept: dict[str, set[str]] = {}
            for device in devices:
                for conflict in device.state.conflicts():
                    if conflict.field == "acronym":
                        kept.setdefault(conflict.record, set()).update(
                            v for v in (conflict.mine, conflict.theirs) if isinstance(v, str)
                        )
            for record_id, tokens in live.items():
                final = _value(devices[0], record_id)
                for token in tokens:
                    assert token == final or token in kept.get(record_id, set()), (
                        record_id,
                        token,
                        final,
                    )

    run_state_machine_as_test(
        Replicas,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.generate],
        ),
    )
    assert offline.engine.transport.traffic.requests == 0
