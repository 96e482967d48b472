"""What the property tests of replicas share: how long they search and how they run, and the
ledger of the tokens people saved as organizations' acronyms and each replica showed.

Here, beside the integration conftest, because it works on its ``Device``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from desktop.domain.records import Organization, edit
from sync.protocol import ProtocolError, decode_body
from tests.integration.conftest import Device, organization


def search_bounds(examples: int, steps: int) -> tuple[int, int]:
    """Examples and steps per example: small enough for ``make test``;
    ``MINGA_PROPERTY_EXAMPLES`` and ``MINGA_PROPERTY_STEPS`` ask for a longer search."""
    return (
        int(os.environ.get("MINGA_PROPERTY_EXAMPLES", str(examples))),
        int(os.environ.get("MINGA_PROPERTY_STEPS", str(steps))),
    )


def run_replicas(
    machine: type[RuleBasedStateMachine], examples: int, steps: int, *, fresh: bool = False
) -> None:
    """``fresh``: the machine builds its replicas per example, so a failing example replays
    on the same state and may be shrunk (``MINGA_PROPERTY_SHRINK=1``: each replay builds a
    network again, so only when hunting a failure)."""
    phases = [Phase.generate]
    if fresh and os.environ.get("MINGA_PROPERTY_SHRINK"):
        phases.append(Phase.shrink)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            # Replicas that live across examples (one server, one network: seconds, not
            # minutes) would replay a shrunk example on other state: report the first.
            phases=phases,
        ),
    )


class Trace:
    """The story of one example, step by step: what each rule did on which replica, what each
    sync pushed, what the server answered and what it pulled. Printed (and written to
    ``MINGA_PROPERTY_TRACE`` if set) when a check fails, so a failure found by a long search
    can be read without replaying it."""

    def __init__(self, title: str) -> None:
        self.lines: list[str] = [title]

    def add(self, line: str) -> None:
        self.lines.append(line)

    def text(self) -> str:
        return "\n".join(self.lines)

    def fail(self, message: str) -> AssertionError:
        """The error to raise for a failed check, the trace printed and written first."""
        story = f"{self.text()}\n!! {message}"
        print(story)
        target = os.environ.get("MINGA_PROPERTY_TRACE")
        if target:
            Path(target).write_text(story + "\n", encoding="utf-8")
        return AssertionError(message)

    def exchanges(
        self,
        device: Device,
        since: int,
        record: Callable[[str], str],
        author: Callable[[str], str],
    ) -> None:
        """The sync requests ``device`` made from its ``since``-th on: each push (record, base,
        deletion), its result, and each change pulled (record, revision, deletion, author)."""
        for body, answer in zip(device.sent[since:], device.received[since:], strict=True):
            try:
                request, reply = decode_body(body), decode_body(answer)
            except ProtocolError:
                continue  # not a sync (a statement, a wrap, an empty GET)
            if "push" not in request and "pull" not in request:
                continue
            pushes = request.get("push") or []
            results = reply.get("results") or []
            for push, result in zip(pushes, results, strict=False):
                what = "delete" if push.get("deleted") else "content"
                outcome = result.get("status")
                if outcome == "conflict":
                    current = result.get("current") or {}
                    outcome += f" (server at r{result.get('revision')}"
                    outcome += ", deleted)" if current.get("deleted") else ")"
                elif outcome == "accepted":
                    outcome += f" r{result.get('revision')}"
                else:
                    outcome += f" {result.get('code')}"
                self.add(
                    f"    push {record(push['record'])} {what} on r{push.get('base')}: {outcome}"
                )
            for space in (reply.get("spaces") or {}).values():
                for change in space.get("changes") or []:
                    self.add(
                        f"    pull {record(change['record'])} r{change['revision']}"
                        f"{' deleted' if change.get('deleted') else ''}"
                        f" by {author(change.get('author', ''))}"
                    )


def acronym(device: Device, record_id: str) -> str | None:
    """The edited field as this replica shows it, ``None`` if absent or deleted here."""
    record = device.records.get(record_id)
    return record.acronym if isinstance(record, Organization) else None


class AcronymLedger:
    """Tokens saved as organizations' acronyms: those nobody has knowingly replaced since, per
    record (``live``), and those each replica has shown (``seen``: an edit there replaces all
    of them)."""

    def __init__(self, space: str, devices: list[Device]) -> None:
        self.space = space
        self.devices = devices
        self._counter = iter(range(10**9))
        self.live: dict[str, set[str]] = {}
        self.seen: list[dict[str, set[str]]] = [{} for _ in devices]

    def observe(self, index: int) -> None:
        for record_id in self.live:
            value = acronym(self.devices[index], record_id)
            if value is not None:
                self.seen[index].setdefault(record_id, set()).add(value)

    def create(self, index: int) -> str:
        """A new organization saved on replica ``index``; its id."""
        token = f"T{next(self._counter)}"
        org = organization(self.space, f"Organization {token}", acronym=token)
        self.devices[index].records.save(org)
        self.live[org.id] = {token}
        self.seen[index][org.id] = {token}
        return org.id

    def edit(self, index: int, record_id: str) -> None:
        """A new acronym saved on replica ``index``, if the organization is there."""
        device = self.devices[index]
        current = device.records.get(record_id)
        if not isinstance(current, Organization):
            return
        token = f"T{next(self._counter)}"
        # The person saw what this replica shows (and showed): the edit replaces it.
        replaced = self.seen[index].get(record_id, set()) | {current.acronym}
        self.live[record_id] -= replaced
        self.live[record_id].add(token)
        device.records.save(edit(current, acronym=token))
        self.seen[index].setdefault(record_id, set()).add(token)

    def assert_every_saved_token_final_or_in_a_conflict(self) -> None:
        """Once the replicas converged: each live token is the final value or kept in a
        conflict on some replica."""
        kept: dict[str, set[str]] = {}
        for device in self.devices:
            for conflict in device.state.conflicts():
                if conflict.field == "acronym":
                    kept.setdefault(conflict.record, set()).update(
                        v for v in (conflict.mine, conflict.theirs) if isinstance(v, str)
                    )
        for record_id, tokens in self.live.items():
            final = acronym(self.devices[0], record_id)
            for token in tokens:
                assert token == final or token in kept.get(record_id, set()), (
                    record_id,
                    token,
                    final,
                )
