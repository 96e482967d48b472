"""An alert acted on by members offline at different times, through the real server.

Sign-ons are one record per organization and actions are append-only, so members signing and
acting at once never conflict; the alert's status changed on two replicas is one conflict,
resolved once. Everything travels sealed like any other record.
"""

from __future__ import annotations

from typing import Any

from desktop.domain.dates import PartialDate
from desktop.domain.network_records import (
    Action,
    Alert,
    AlertStatus,
    AlertUrgency,
    Letter,
    LetterKind,
    SignOn,
    signed_organizations,
)
from desktop.domain.records import edit, new_id
from tests.integration.conftest import Device, Server, network_of, organization


def _round(devices: list[Device], rounds: int = 2) -> None:
    for _ in range(rounds):
        for device in devices:
            device.sync()


def _signatures(device: Device, alert_id: str) -> list[SignOn]:
    found = device.records.children(alert_id, "sign_on")
    return [s for s in found if isinstance(s, SignOn)]


def test_two_members_sign_and_act_offline_and_every_signature_survives(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    orgs = [organization(space, name, country="hn") for name in ("COPINH", "OFRANEH", "CEJIL")]
    admin.records.save_all(orgs)
    alert = Alert(
        space_id=space,
        title="Amenazas contra la defensora Rosa",
        defenders=(new_id(),),
        threat_type="death_threat",
        occurred_on=PartialDate(2025, 6, 1),
        country="hn",
        urgency=AlertUrgency.IMMEDIATE,
        requested_actions="Write to the Minister of Security.\nShare the alert.\n",
    )
    letter = Letter(
        space_id=space,
        alert_id=alert.id,
        language="ar",
        kind=LetterKind.PETITION,
        title="عريضة تضامن مع المدافعة روزا",
        text="نطالب بحماية فورية للمدافعة.",
        drafted_by="Salma",
    )
    admin.records.save_all([alert, letter])
    _round(devices, rounds=1)

    # Offline: two members sign for their organizations, a third signs too, and each reports
    # what they did; two of them also move the alert on, to different statuses.
    signed_on = PartialDate(2025, 6, 2)
    for device, org, who, did in (
        (alba, orgs[0], "Berta", "Called the embassy"),
        (badu, orgs[1], "Miriam", "Shared the alert"),
        (admin, orgs[2], "Viviana", ""),
    ):
        device.records.save(
            SignOn(
                space_id=space,
                alert_id=alert.id,
                organization_id=org.id,
                signed_by=who,
                signed_on=signed_on,
            )
        )
        if did:
            device.records.save(
                Action(
                    space_id=space,
                    alert_id=alert.id,
                    summary=did,
                    done_by=who,
                    occurred_on=signed_on,
                )
            )
    alba.records.save(edit(alba.records.require(alert.id), status=AlertStatus.VERIFIED))
    badu.records.save(edit(badu.records.require(alert.id), status=AlertStatus.RESPONSE_SENT))

    alba.sync()
    report = badu.sync()
    assert report.conflicts == 1  # the status, and nothing else
    [conflict] = badu.state.conflicts()
    assert conflict.field == "status" and conflict.record == alert.id
    _round(devices)
    for device in devices:
        signatures = _signatures(device, alert.id)
        assert sorted(s.signed_by for s in signatures) == ["Berta", "Miriam", "Viviana"]
        assert set(signed_organizations(signatures)) == {o.id for o in orgs}
        actions = device.records.children(alert.id, "action")
        assert sorted(a.summary for a in actions if isinstance(a, Action)) == [
            "Called the embassy",
            "Shared the alert",
        ]
        held_letter = device.records.require(letter.id)
        assert isinstance(held_letter, Letter) and held_letter.title == letter.title
    assert alba.state.conflicts() == [] and admin.state.conflicts() == []

    # Resolved once, on one machine: never raised again anywhere.
    badu.state.resolve_conflict(conflict.id, conflict.theirs)
    for _ in range(2):
        for device in devices:
            assert device.sync().conflicts == 0
    held = [device.records.require(alert.id) for device in devices]
    assert {a.status for a in held if isinstance(a, Alert)} == {AlertStatus(conflict.theirs)}
    assert len(held) == 3 and conflict.theirs == AlertStatus.VERIFIED.value
    assert all(device.state.conflicts() == [] for device in devices)
    assert admin.snapshot() == alba.snapshot() == badu.snapshot()
