"""Property: three replicas editing, deleting and syncing through a real server over links that
drop converge to identical stores, and every edit a person saved survives or is in a conflict.

Bounded for ``make test`` (20 examples of 25 steps, ~15 s); ``MINGA_PROPERTY_EXAMPLES=200``
and ``MINGA_PROPERTY_STEPS=40`` run a longer search. The replicas carry over between examples.
"""

from __future__ import annotations

import contextlib
import os
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
from sync.client.transport import Offline
from tests.helpers.link import DOWN, UP, Link
from tests.integration.conftest import Device, Server, network_of, organization
from tests.integration.devices import make_with_files, with_files

EXAMPLES = int(os.environ.get("MINGA_PROPERTY_EXAMPLES", "20"))
STEPS = int(os.environ.get("MINGA_PROPERTY_STEPS", "25"))
REPLICAS = 3


def _value(device: Device, record_id: str) -> str | None:
    """The edited field as this replica shows it, ``None`` if absent or deleted here."""
    record = device.records.get(record_id)
    return record.acronym if isinstance(record, Organization) else None


def test_replicas_converge_and_keep_every_saved_edit(server: Server, make_device: Any) -> None:
    space, devices = network_of(server, make_with_files(make_device), REPLICAS)
    links = [Link(("127.0.0.1", server.process.port), max_lifetime=900) for _ in devices]
    for device, link in zip(devices, links, strict=True):
        with_files(device, link.url)
        device.sync()
    counter = iter(range(10**9))
    #: Tokens saved by a person that nobody has knowingly replaced since, per record.
    live: dict[str, set[str]] = {}
    #: Tokens each replica has shown for a record (an edit there replaces all of them).
    seen: list[dict[str, set[str]]] = [{} for _ in devices]
    #: Records deleted by a replica that had seen every live token.
    deleted: set[str] = set()

    def observe(index: int) -> None:
        for record_id in live:
            value = _value(devices[index], record_id)
            if value is not None:
                seen[index].setdefault(record_id, set()).add(value)

    class Replicas(RuleBasedStateMachine):
        records = Bundle("records")

        @initialize(target=records)
        def first(self) -> str:
            return self._create(0)

        def _create(self, index: int) -> str:
            token = f"T{next(counter)}"
            org = organization(space, f"Organization {token}", acronym=token)
            devices[index].records.save(org)
            live[org.id] = {token}
            seen[index][org.id] = {token}
            return org.id

        @rule(target=records, index=st.integers(0, REPLICAS - 1))
        def create(self, index: int) -> str:
            return self._create(index)

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
            device = devices[index]
            current = device.records.get(record_id)
            if not isinstance(current, Organization):
                return
            token = f"T{next(counter)}"
            # The person saw what this replica shows (and showed): the edit replaces it.
            replaced = seen[index].get(record_id, set()) | {current.acronym}
            live[record_id] -= replaced
            live[record_id].add(token)
            device.records.save(edit(current, acronym=token))
            seen[index].setdefault(record_id, set()).add(token)

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
            observe(index)

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
                    observe(index)
            # Tombstones are compared as absence: a replica that never held a record keeps
            # no tombstone of it (sync_state ``_tombstone``), one that held it keeps one.
            snapshots = [
                {k: v for k, v in device.snapshot().items() if not v[0]}  # type: ignore[index]
                for device in devices
            ]
            assert snapshots[0] == snapshots[1] == snapshots[2]
            assert all(device.records.dirty_count() == 0 for device in devices)
            kept_in_conflicts: dict[str, set[str]] = {}
            for device in devices:
                for conflict in device.state.conflicts():
                    if conflict.field == "acronym":
                        kept_in_conflicts.setdefault(conflict.record, set()).update(
                            v for v in (conflict.mine, conflict.theirs) if isinstance(v, str)
                        )
            for record_id, tokens in live.items():
                final = _value(devices[0], record_id)
                for token in tokens:
                    assert token == final or token in kept_in_conflicts.get(record_id, set()), (
                        record_id,
                        token,
                        final,
                    )
            for record_id in deleted:
                if not live[record_id]:
                    assert _value(devices[0], record_id) is None

    try:
        run_state_machine_as_test(
            Replicas,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                # The replicas live across examples (one server, one network: seconds, not
                # minutes), so a shrunk example would replay on other state: report the first.
                phases=[Phase.generate],
            ),
        )
    finally:
        for link in links:
            link.stop()
