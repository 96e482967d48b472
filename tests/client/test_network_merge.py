"""Alerts acted on by members who are offline at different times, merged with the declared rules.

Each replica is its records' content by id; a sync applies ``merge`` to every id either side has.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from desktop.domain.dates import PartialDate
from desktop.domain.network_records import (
    Action,
    Alert,
    AlertStatus,
    AlertUrgency,
    SignOn,
    signed_organizations,
)
from desktop.domain.records import Record, content_of, from_dict, new_id, to_dict
from desktop.store.sync_state import merge_rules
from sync.client.merge import FieldConflict, merge

Replica = dict[str, dict[str, Any]]
SPACE = new_id()


def _stored(record: Record) -> dict[str, Any]:
    """What a replica holds for a record: its type and content, as sync merges it."""
    return {"type": to_dict(record)["type"], **content_of(record)}


def _sync(base: Replica, mine: Replica, theirs: Replica) -> tuple[Replica, list[FieldConflict]]:
    """Merge two replicas record by record, each with its own type's declared rules."""
    merged: Replica = {}
    conflicts: list[FieldConflict] = []
    for record_id in sorted(set(mine) | set(theirs)):
        sample = mine.get(record_id) or theirs[record_id]
        rules = merge_rules(sample["type"])
        result = merge(
            base.get(record_id),
            mine.get(record_id),
            theirs.get(record_id),
            rules.fields,
            rules.append_only,
        )
        assert result.duplicate is None
        if result.merged is not None:
            merged[record_id] = result.merged
        conflicts += result.conflicts
    return merged, conflicts


def _alert() -> Alert:
    return Alert(
        space_id=SPACE,
        title="Amenazas contra la defensora Rosa",
        defenders=(new_id(),),
        threat_type="death_threat",
        occurred_on=PartialDate(2025, 6, 1),
        country="hn",
        urgency=AlertUrgency.IMMEDIATE,
        requested_actions=(
            "Write to the Minister of Security.\nShare the alert.\nCall the embassy.\n"
        ),
    )


def _sign(alert: Alert, organization: str, who: str) -> SignOn:
    return SignOn(
        space_id=SPACE,
        alert_id=alert.id,
        organization_id=organization,
        signed_by=who,
        signed_on=PartialDate(2025, 6, 2),
    )


def _decoded(replica: Replica, record_id: str) -> Record:
    content = dict(replica[record_id])
    record_type = content.pop("type")
    common = {"id": record_id, "space_id": SPACE, "revision": 1, "dirty": False}
    stamps = {"created_at": "2025-06-02T10:00:00.000000Z", "updated_at": "2025-06-02T10:00:00Z"}
    return from_dict({"type": record_type, "schema": 1, **common, **stamps, **content})


def test_two_replicas_sign_the_same_alert_offline_and_both_signatures_survive() -> None:
    alert = _alert()
    synced: Replica = {alert.id: _stored(alert)}
    # Both members went offline with the alert, and each signed for their organization.
    here_org, there_org = new_id(), new_id()
    here = _sign(alert, here_org, "Ana")
    there = _sign(alert, there_org, "Karim")
    action = Action(
        space_id=SPACE,
        alert_id=alert.id,
        summary="Wrote to the embassy",
        done_by="Karim",
        occurred_on=PartialDate(2025, 6, 2),
    )
    mine = {**synced, here.id: _stored(here)}
    theirs = {**synced, there.id: _stored(there), action.id: _stored(action)}

    merged, conflicts = _sync(synced, mine, theirs)
    # The other way round, as the other member's device does it: the same outcome.
    merged_there, conflicts_there = _sync(synced, theirs, mine)

    assert conflicts == [] and conflicts_there == []
    assert merged == merged_there
    signatures = [
        record for record_id in merged if isinstance(record := _decoded(merged, record_id), SignOn)
    ]
    assert {s.signed_by for s in signatures} == {"Ana", "Karim"}
    assert set(signed_organizations(signatures)) == {here_org, there_org}
    assert action.id in merged


def test_an_alerts_status_changed_on_two_replicas_gives_one_conflict() -> None:
    alert = _alert()
    base = {alert.id: _stored(alert)}
    verified = replace(
        alert,
        status=AlertStatus.VERIFIED,
        requested_actions=alert.requested_actions.replace("Minister", "Ministry"),
    )
    answered = replace(
        alert,
        status=AlertStatus.RESPONSE_SENT,
        requested_actions=alert.requested_actions.replace("Call", "Visit"),
        defenders=(*alert.defenders, new_id()),
    )
    merged, conflicts = _sync(base, {alert.id: _stored(verified)}, {alert.id: _stored(answered)})

    assert [(c.field, c.base, c.mine, c.theirs) for c in conflicts] == [
        ("status", "received", "verified", "response_sent")
    ]
    result = merged[alert.id]
    # Everything else combines: the two edits of different lines, the defender added there.
    assert result["requested_actions"] == (
        "Write to the Ministry of Security.\nShare the alert.\nVisit the embassy.\n"
    )
    assert result["defenders"] == list(answered.defenders)
    # What the other replica published stays until a person decides; mine is in the conflict.
    assert result["status"] == "response_sent"


def test_the_same_status_reached_on_both_replicas_is_no_conflict() -> None:
    alert = _alert()
    closed = _stored(replace(alert, status=AlertStatus.CLOSED))
    merged, conflicts = _sync({alert.id: _stored(alert)}, {alert.id: closed}, {alert.id: closed})
    assert conflicts == [] and merged[alert.id]["status"] == "closed"
