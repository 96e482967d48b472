"""The fault runner in the suite: its checker catches a lost edit, a resurrected record and a
replica that diverged, and a short seeded series of fault runs loses nothing.

The short series is 10 runs (about a minute); ``MINGA_FAULT_RUNS`` changes it; ``make faults``
runs 500.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from desktop.domain.records import Organization, edit
from tests.faults.ledger import Ledger, Lost, lost_edits, resurrected
from tests.faults.runner import (
    Run,
    RunFailure,
    Template,
    Totals,
    build_template,
    one_run,
    run_many,
)

RUNS = int(os.environ.get("MINGA_FAULT_RUNS", "10"))
SEED = 20_261_125


def test_a_saved_edit_missing_everywhere_is_reported_lost() -> None:
    ledger = Ledger(3)
    ledger.created(0, "r", "T1")
    ledger.edited(1, "r", "T1", "T2")  # replica 1 saw T1 and saved over it: T1 is replaced
    ledger.edited(2, "r", None, "T3")  # replica 2 had not seen the record: both stay live
    assert ledger.live["r"] == {"T2", "T3"}
    assert lost_edits(ledger, {"r": "T3"}, {"r": ["T2", "T3"]}) == []
    assert lost_edits(ledger, {"r": "T3"}, {}) == [Lost("r", "T2", "T3")]
    assert lost_edits(ledger, {"r": None}, {}) == [Lost("r", "T2", None), Lost("r", "T3", None)]


def test_an_edit_seen_through_a_sync_is_replaced_by_the_next_one() -> None:
    ledger = Ledger(2)
    ledger.created(0, "r", "T1")
    ledger.edited(0, "r", "T1", "T2")
    ledger.observe(1, {"r": "T2"})  # replica 1 pulled T2, then its person edits
    ledger.edited(1, "r", "T2", "T3")
    assert ledger.live["r"] == {"T3"} and ledger.checked == 1
    assert lost_edits(ledger, {"r": "T2"}, {}) == [Lost("r", "T3", "T2")]


def test_a_deletion_by_someone_who_saw_everything_must_stick() -> None:
    ledger = Ledger(2)
    ledger.created(0, "r", "T1")
    ledger.removed(0, "r", "T1")
    assert ledger.deleted == {"r"} and lost_edits(ledger, {"r": None}, {}) == []
    assert resurrected(ledger, {"r": None}) == []
    assert resurrected(ledger, {"r": "T1"}) == ["r"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    folder = tmp_path_factory.mktemp("fault-template")
    # SQLite here: the suite stays short; `make faults` runs on PostgreSQL when configured.
    yield build_template(folder)


def test_the_run_check_fails_on_a_lost_edit_and_a_diverged_replica(template: Template) -> None:
    """A real run, then an edit the ledger says was saved but no store holds, and a replica
    changed after the heal: the check must name both."""

    def tamper(run: Run) -> None:
        run.create(0)
        run.devices[0].sync()
        run.devices[2].sync()
        run.ledger.edited(1, run.records[0], None, "NEVER-STORED")
        current = run.devices[2].records.get(run.records[-1])
        assert isinstance(current, Organization)
        run.devices[2].records.save(edit(current, acronym="ONLY-HERE"))

    with pytest.raises(RunFailure) as failure:
        one_run(SEED, template, 4, Totals(), tamper=tamper)
    message = str(failure.value)
    assert "lost edit NEVER-STORED" in message
    assert "differs from replica 0" in message and "dirty" in message


def test_short_fault_runs_converge_and_lose_no_edit(
    template: Template, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    totals = run_many(RUNS, SEED, 14, template=template, out=lines.append)
    with capsys.disabled():
        print(
            f"\n  fault runs: {RUNS}, faults {dict(totals.faults)}, client kills tried "
            f"{totals.client_kills_tried}, edits checked {totals.checked}"
        )
    assert totals.failures == [], "\n".join(lines)
    assert totals.lost == 0 and totals.runs == RUNS
    assert totals.checked > 0
    # The faults happened: links were cut and the server killed, not only planned. Whether a
    # client kill lands depends on timing (a sync may end first), so only its tries are sure.
    assert totals.faults["link cut"] > 0
    assert totals.faults["server kill"] > 0
    assert totals.client_kills_tried > 0
