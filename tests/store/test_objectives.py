"""The objectives counts match, number for number, a fixture of known incidents and alerts.

Each incident and alert is placed so that it counts toward known objectives, by right, act,
kind or threat; the period and region filters are checked on their edges.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from desktop.domain import vocabularies as vocab
from desktop.domain.dates import PartialDate
from desktop.domain.network_records import Alert, AlertStatus, AlertUrgency, Material
from desktop.domain.objectives import default_rules
from desktop.domain.records import (
    Act,
    Incident,
    IncidentKind,
    IncidentStatus,
    Organization,
    WorkingGroup,
    new_id,
)
from desktop.domain.translation import set_language
from desktop.domain.vocabularies import default_vocabularies
from desktop.store.objectives import ObjectiveFilter, ObjectiveReport, count_objectives
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from tests.helpers.profiles import new_profile

TODAY = date(2025, 6, 15)


@dataclass(frozen=True)
class Fixture:
    incidents: list[Incident]
    acts: list[Act]
    alerts: list[Alert]


def save_fixture(store: RecordStore, space: str) -> Fixture:
    """Seven incidents (one deleted), three acts, three alerts and tagged documents."""

    def incident(
        title: str,
        kind: IncidentKind,
        country: str,
        start: str | None,
        end: str | None = None,
        *,
        region: str = "",
        rights: tuple[str, ...] = (),
        capture_forms: tuple[str, ...] = (),
    ) -> Incident:
        return Incident(
            space_id=space,
            title=title,
            kind=kind,
            country=country,
            region=region,
            start_date=PartialDate.parse(start) if start else None,
            end_date=PartialDate.parse(end) if end else None,
            rights=rights,
            capture_forms=capture_forms,
            status=IncidentStatus.DOCUMENTED if start else IncidentStatus.DRAFT,
        )

    violation, threat, capture = (
        IncidentKind.VIOLATION,
        IncidentKind.THREAT_TO_DEFENDER,
        IncidentKind.CORPORATE_CAPTURE,
    )
    water = incident(
        "Corte de agua",
        violation,
        "co",
        "2024-03-01",
        "2024-03-05",
        region="co_cau",
        rights=("drinking_water",),
    )
    eviction = incident(
        "Desalojo", violation, "co", "2024-06-10", region="co_ant", rights=("housing",)
    )
    defender = incident(
        "قضية ضد مدافعة", threat, "eg", "2025-01-15", rights=("freedom_of_expression",)
    )
    revolving = incident(
        "Revolving door", capture, "ph", "2024-11-01", capture_forms=("revolving_door",)
    )
    wages = incident(
        "أجور النساء",
        violation,
        "eg",
        "2023-05",
        rights=("equal_rights_women_men", "work"),
    )
    clinic = incident("Clínica", violation, "", None, rights=("sexual_reproductive_health",))
    gone = incident("Borrado", violation, "co", "2024-05-01", rights=("housing",))
    incidents = [water, eviction, defender, revolving, wages, clinic, gone]

    def act(of: Incident, act_type: str) -> Act:
        return Act(space_id=space, incident_id=of.id, victim_id=new_id(), act_type=act_type)

    acts = [
        act(eviction, "forced_eviction"),
        act(defender, "judicial_harassment"),
        act(defender, "sexual_gender_violence"),
    ]

    def alert(
        title: str, threat_type: str, country: str, on: str, urgency: str, status: str
    ) -> Alert:
        return Alert(
            space_id=space,
            title=title,
            defenders=(new_id(),),
            threat_type=threat_type,
            occurred_on=PartialDate.parse(on),
            country=country,
            urgency=AlertUrgency(urgency),
            status=AlertStatus(status),
        )

    alerts = [
        alert("Asesinato", "killing", "co", "2024-04-02", "immediate", "received"),
        alert("عنف", "sexual_gender_violence", "eg", "2025-02-01", "high", "closed"),
        alert("SLAPP", "strategic_lawsuit", "ph", "2024-12-01", "medium", "response_sent"),
    ]
    group = WorkingGroup(
        space_id=space, name="Tierra", objectives=("land_housing_natural_resources",)
    )

    def material(*objectives: str) -> Material:
        return Material(
            space_id=space,
            working_group_id=group.id,
            title="Informe",
            material_type="report",
            objectives=objectives,
        )

    store.save_all(
        [
            *incidents,
            *acts,
            *alerts,
            group,
            material("land_housing_natural_resources"),
            material("land_housing_natural_resources", "women_escr"),
            Organization(space_id=space, name="Org EG", country="eg", objectives=("women_escr",)),
            Organization(space_id=space, name="Org CO", country="co", objectives=("women_escr",)),
        ],
        today=TODAY,
    )
    store.delete(gone.id)
    return Fixture(incidents[:-1], acts, alerts)


@pytest.fixture
def profile(tmp_path: Path) -> Iterator[Profile]:
    set_language("en")
    profile, _ = new_profile(tmp_path / "p")
    yield profile
    profile.close()


@pytest.fixture
def fixture(profile: Profile) -> Fixture:
    return save_fixture(RecordStore(profile.engine), new_id())


def reports(profile: Profile, where: ObjectiveFilter | None = None) -> dict[str, ObjectiveReport]:
    found = count_objectives(profile.engine, where or ObjectiveFilter())
    return {report.objective: report for report in found}


def test_every_objective_counts_exactly_what_the_fixture_holds(
    profile: Profile, fixture: Fixture
) -> None:
    found = reports(profile)
    assert list(found) == list(default_rules().objectives())

    land = found["land_housing_natural_resources"]
    # drinking_water is part of water_sanitation; the deleted eviction is not counted.
    assert land.incidents == 2
    assert dict(land.incidents_by_right) == {"water_sanitation": 1, "housing": 1}
    assert land.incidents_by_country == (("co", 2),)
    assert land.incidents_by_kind == (("violation", 2),)
    assert (land.alerts, land.materials, land.working_groups, land.organizations) == (0, 2, 1, 0)

    monitoring = found["monitoring_escr"]
    # The clinic draft's sexual and reproductive health is part of the right to health.
    assert monitoring.incidents == 4
    assert dict(monitoring.incidents_by_right) == {
        "water_sanitation": 1,
        "housing": 1,
        "work": 1,
        "equality_non_discrimination": 1,
        "health": 1,
    }
    assert monitoring.incidents_by_country == (("co", 2), ("", 1), ("eg", 1))

    women = found["women_escr"]
    # The defender's case counts through its act of sexual violence; the undated draft too.
    assert women.incidents == 3
    assert dict(women.incidents_by_kind) == {"violation": 2, "threat_to_defender": 1}
    assert dict(women.incidents_by_country) == {"eg": 2, "": 1}
    assert (women.alerts, women.open_alerts) == (1, 0)
    assert women.alerts_by_status == (("closed", 1),)
    assert women.alerts_by_urgency == (("high", 1),)
    assert (women.materials, women.organizations) == (1, 2)

    defenders = found["social_movements_defenders"]
    assert defenders.incidents == 1
    assert dict(defenders.incidents_by_right) == {"civic_freedoms": 1}
    assert (defenders.alerts, defenders.open_alerts) == (3, 2)
    assert dict(defenders.alerts_by_status) == {"received": 1, "closed": 1, "response_sent": 1}
    assert dict(defenders.alerts_by_urgency) == {"immediate": 1, "high": 1, "medium": 1}

    corporate = found["corporate_accountability"]
    assert (corporate.incidents, corporate.alerts) == (1, 1)
    assert corporate.incidents_by_kind == (("corporate_capture", 1),)
    assert found["economic_policy"].incidents == 1
    assert found["economic_policy"].alerts == 0


def test_the_sql_counts_agree_with_the_rule_applied_record_by_record(
    profile: Profile, fixture: Fixture
) -> None:
    found = reports(profile)
    for rule in default_rules().rules:
        expected = sum(
            rule.counts_incident(
                i.kind.value,
                i.rights,
                i.capture_forms,
                [a.act_type for a in fixture.acts if a.incident_id == i.id],
            )
            for i in fixture.incidents
        )
        assert found[rule.objective].incidents == expected, rule.objective
        alerts = sum(rule.counts_alert(a.threat_type) for a in fixture.alerts)
        assert found[rule.objective].alerts == alerts, rule.objective


def test_a_period_keeps_what_overlaps_it_and_drops_undated_drafts(
    profile: Profile, fixture: Fixture
) -> None:
    year = reports(profile, ObjectiveFilter(date(2024, 1, 1), date(2024, 12, 31)))
    assert year["land_housing_natural_resources"].incidents == 2
    assert year["monitoring_escr"].incidents == 2
    assert year["women_escr"].incidents == 0
    assert year["social_movements_defenders"].alerts == 2
    assert year["social_movements_defenders"].incidents == 0

    # The water cut ended on 5 March: a period from June leaves only the eviction.
    later = reports(profile, ObjectiveFilter(date_from=date(2024, 6, 1)))
    assert later["land_housing_natural_resources"].incidents_by_right == (("housing", 1),)

    # "May 2023" runs to 31 May: it overlaps a period that starts that day.
    edge = reports(profile, ObjectiveFilter(date(2023, 5, 31), date(2023, 6, 30)))
    assert edge["women_escr"].incidents == 1
    assert reports(profile, ObjectiveFilter(date(2023, 6, 1)))["women_escr"].incidents == 1
    assert reports(profile, ObjectiveFilter(date(2025, 3, 1)))["women_escr"].incidents == 0


def test_a_country_or_region_narrows_every_count(profile: Profile, fixture: Fixture) -> None:
    egypt = reports(profile, ObjectiveFilter(country="eg"))
    assert egypt["women_escr"].incidents == 2
    assert egypt["women_escr"].organizations == 1
    assert egypt["women_escr"].materials == 1  # documents have no place: never narrowed
    assert egypt["social_movements_defenders"].alerts == 1
    assert egypt["land_housing_natural_resources"].incidents == 0

    antioquia = reports(profile, ObjectiveFilter(country="co", region="co_ant"))
    assert antioquia["land_housing_natural_resources"].incidents == 1
    assert antioquia["land_housing_natural_resources"].incidents_by_right == (("housing", 1),)
    # Alerts have no region: they count for the region's whole country.
    assert antioquia["social_movements_defenders"].alerts == 1

    both = reports(profile, ObjectiveFilter(date(2024, 1, 1), date(2024, 12, 31), country="ph"))
    assert both["corporate_accountability"].incidents == 1
    assert both["corporate_accountability"].alerts == 1
    assert both["economic_policy"].incidents == 1


# --- a random network, counted again record by record --------------------------------------


@dataclass(frozen=True)
class RandomNetwork:
    """What a seeded random network holds once saved: the live records only."""

    incidents: list[Incident]
    acts: list[Act]
    alerts: list[Alert]
    materials: list[Material]
    groups: list[WorkingGroup]
    organizations: list[Organization]


def _random_date(rng: random.Random) -> PartialDate:
    year, month, day = rng.randint(2015, 2025), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([PartialDate(year), PartialDate(year, month), PartialDate(year, month, day)])


def save_random_network(store: RecordStore, space: str, seed: int) -> RandomNetwork:
    """Incidents of every kind with random rights, capture forms, acts, dates and places, some
    of them deleted (tombstones too), and alerts and tagged documents."""
    rng = random.Random(seed)
    vocabularies = default_vocabularies()

    def codes(name: str) -> list[str]:
        return sorted(term.code for term in vocabularies[name])

    rights, captures = codes(vocab.RIGHTS), codes(vocab.CORPORATE_CAPTURE)
    act_types = codes(vocab.ACT_TYPES) + codes(vocab.DEFENDER_THREATS)
    threats, objectives = codes(vocab.DEFENDER_THREATS), codes(vocab.OBJECTIVES)
    countries = vocabularies[vocab.COUNTRIES]
    regions = {
        country: sorted(t.code for t in countries if t.parent == country)
        for country in ("co", "eg", "ph", "br")
    }

    def place() -> tuple[str, str]:
        country = rng.choice(sorted(regions))
        return country, rng.choice(["", "", *regions[country][:3]])

    incidents: list[Incident] = []
    for n in range(240):
        kind = rng.choice(list(IncidentKind))
        draft = rng.random() < 0.2
        country, region = ("", "") if draft and rng.random() < 0.5 else place()
        start = None if draft and rng.random() < 0.5 else _random_date(rng)
        end = None
        if start is not None and rng.random() < 0.3:
            later = _random_date(rng)
            end = later if later.earliest >= start.latest else None
        chosen_rights = rng.sample(rights, rng.choice([0, 1, 1, 2, 3]))
        if not chosen_rights and kind is IncidentKind.VIOLATION and not draft:
            chosen_rights = [rng.choice(rights)]
        forms = rng.sample(captures, rng.choice([0, 0, 1, 2]))
        if not forms and kind is IncidentKind.CORPORATE_CAPTURE and not draft:
            forms = [rng.choice(captures)]
        incidents.append(
            Incident(
                space_id=space,
                title=f"Incident {n}",
                kind=kind,
                country=country,
                region=region,
                start_date=start,
                end_date=end,
                rights=tuple(chosen_rights),
                capture_forms=tuple(forms),
                status=IncidentStatus.DRAFT if draft else IncidentStatus.DOCUMENTED,
                # Synced ones leave a tombstone when deleted, unsynced ones go.
                revision=rng.choice([0, 1]),
            )
        )
    acts = [
        Act(
            space_id=space,
            incident_id=incident.id,
            victim_id=new_id(),
            act_type=rng.choice(act_types),
            revision=rng.choice([0, 1]),
        )
        for incident in incidents
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3]))
    ]
    alerts = []
    for n in range(40):
        country, _region = place()
        alerts.append(
            Alert(
                space_id=space,
                title=f"Alert {n}",
                defenders=(new_id(),),
                threat_type=rng.choice(threats),
                occurred_on=_random_date(rng),
                country=country,
                urgency=rng.choice(list(AlertUrgency)),
                status=rng.choice(list(AlertStatus)),
            )
        )
    groups = [
        WorkingGroup(space_id=space, name=f"Group {n}", objectives=tuple(rng.sample(objectives, 2)))
        for n in range(4)
    ]
    materials = [
        Material(
            space_id=space,
            working_group_id=rng.choice(groups).id,
            title=f"Material {n}",
            material_type="report",
            objectives=tuple(rng.sample(objectives, rng.randint(0, 3))),
        )
        for n in range(12)
    ]
    organizations = [
        Organization(
            space_id=space,
            name=f"Organization {n}",
            country=place()[0],
            objectives=tuple(rng.sample(objectives, rng.randint(0, 2))),
        )
        for n in range(10)
    ]
    records = [*incidents, *acts, *alerts, *groups, *materials, *organizations]
    store.save_all(records, today=date(2026, 1, 1))
    gone = {r.id for r in rng.sample([*incidents, *acts, *alerts, *materials], 40)}
    for record_id in sorted(gone):
        if store.get(record_id) is not None:  # an incident's deletion took its acts along
            store.delete(record_id)
    gone |= {a.id for a in acts if a.incident_id in gone}
    return RandomNetwork(
        [i for i in incidents if i.id not in gone],
        [a for a in acts if a.id not in gone],
        [a for a in alerts if a.id not in gone],
        [m for m in materials if m.id not in gone],
        groups,
        organizations,
    )


def _overlaps(start: PartialDate | None, end: PartialDate | None, where: ObjectiveFilter) -> bool:
    if where.date_from is None and where.date_to is None:
        return True
    if start is None:
        return False
    last = end if end is not None else start
    return (where.date_from is None or last.latest >= where.date_from) and (
        where.date_to is None or start.earliest <= where.date_to
    )


def _breakdown(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])))


def counted_one_by_one(network: RandomNetwork, where: ObjectiveFilter) -> list[ObjectiveReport]:
    """The reports computed in Python, record by record, straight from the rule."""
    rights = default_vocabularies()[vocab.RIGHTS]
    acts: dict[str, list[str]] = {}
    for act in network.acts:
        acts.setdefault(act.incident_id, []).append(act.act_type)
    incidents = [
        i
        for i in network.incidents
        if _overlaps(i.start_date, i.end_date, where)
        and (not where.country or i.country == where.country)
        and (not where.region or i.region == where.region)
    ]
    alerts = [
        a
        for a in network.alerts
        if _overlaps(a.occurred_on, None, where)
        and (not where.country or a.country == where.country)
    ]
    reports = []
    for rule in default_rules().rules:
        counted = [
            i
            for i in incidents
            if rule.counts_incident(i.kind.value, i.rights, i.capture_forms, acts.get(i.id, []))
        ]
        by_right: Counter[str] = Counter()
        for incident in counted:
            by_right.update(
                {
                    (rights.ancestors(code) or [rights.term(code)])[-1].code
                    for code in incident.rights
                }
            )
        matched = [a for a in alerts if rule.counts_alert(a.threat_type)]
        reports.append(
            ObjectiveReport(
                objective=rule.objective,
                incidents=len(counted),
                incidents_by_right=_breakdown(by_right),
                incidents_by_country=_breakdown(Counter(i.country for i in counted)),
                incidents_by_kind=_breakdown(Counter(i.kind.value for i in counted)),
                alerts=len(matched),
                open_alerts=sum(a.is_open for a in matched),
                alerts_by_status=_breakdown(Counter(a.status.value for a in matched)),
                alerts_by_urgency=_breakdown(Counter(a.urgency.value for a in matched)),
                materials=sum(rule.objective in m.objectives for m in network.materials),
                working_groups=sum(rule.objective in g.objectives for g in network.groups),
                organizations=sum(
                    rule.objective in o.objectives
                    for o in network.organizations
                    if not where.country or o.country == where.country
                ),
            )
        )
    return reports


@pytest.mark.parametrize("seed", [1, 2])
def test_every_count_agrees_with_the_rule_on_a_random_network(profile: Profile, seed: int) -> None:
    network = save_random_network(RecordStore(profile.engine), new_id(), seed)
    rng = random.Random(seed)
    regions = sorted({(i.country, i.region) for i in network.incidents if i.region})
    filters = [
        ObjectiveFilter(),
        ObjectiveFilter(date(2018, 1, 1), date(2020, 12, 31)),
        ObjectiveFilter(date_from=date(2023, 3, 1)),
        ObjectiveFilter(date_to=date(2016, 6, 30)),
        ObjectiveFilter(country="co"),
        ObjectiveFilter(date(2019, 1, 1), date(2024, 12, 31), country="eg"),
        *(ObjectiveFilter(country=c, region=r) for c, r in rng.sample(regions, 3)),
    ]
    for where in filters:
        expected = counted_one_by_one(network, where)
        # Not vacuous: every objective has incidents to count without a filter.
        if where == ObjectiveFilter():
            assert all(report.incidents > 5 for report in expected)
        assert list(count_objectives(profile.engine, where)) == expected, where
