"""A realistic demo network, from seeds in ``resources/demo``, and a bulk generator for benchmarks.

``python -m desktop.store.demo --profile-dir DIR`` makes a throwaway profile (passphrase printed)
with the network's organizations, people, working groups, solidarity alerts (letters, sign-ons,
referrals, actions), working-group materials sealed in the vault, and a few hundred incidents in
the four languages; ``--incidents 100000`` fills it for the benchmarks. Output is the same for
the same ``--seed``, so a benchmark compares like with like.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from desktop.domain.dates import PartialDate
from desktop.domain.network_records import (
    Action,
    Alert,
    AlertStatus,
    AlertUrgency,
    Letter,
    LetterKind,
    Material,
    Note,
    Referral,
    ReferralStatus,
    SignOn,
)
from desktop.domain.records import (
    Act,
    Consent,
    ConsentLevel,
    Incident,
    IncidentKind,
    IncidentStatus,
    Membership,
    MembershipRole,
    Organization,
    Person,
    PersonKind,
    Record,
    Space,
    SpaceKind,
    WorkingGroup,
    new_id,
)
from desktop.store.materials import MaterialStore
from desktop.store.profile import KdfParameters, Profile, create_profile
from desktop.store.records import RecordStore

SEEDS = Path(__file__).resolve().parents[2] / "resources" / "demo" / "network.json"
DEMO_PASSPHRASE = "minga demo passphrase"
#: A fixed "today" keeps generated dates valid whatever day the demo runs.
DEMO_TODAY = date(2026, 1, 1)
_STATUSES = (
    IncidentStatus.DRAFT,
    IncidentStatus.DOCUMENTED,
    IncidentStatus.DOCUMENTED,
    IncidentStatus.VERIFIED,
    IncidentStatus.REFERRED,
    IncidentStatus.CLOSED,
)


def load_seeds(path: Path = SEEDS) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != "minga-demo-seeds":
        raise ValueError(f"{path} is not a demo seed file")
    return data


@dataclass
class DemoNetwork:
    """What ``build_network`` made, so incidents can link to its people and spaces."""

    network_space: str
    organization_spaces: dict[str, str]  # organization id -> its space id
    organizations: list[tuple[Organization, dict[str, Any]]]
    victims: dict[str, list[str]]  # organization id -> person ids in its space
    working_groups: dict[str, WorkingGroup] = field(default_factory=dict)  # by name

    def organization(self, acronym: str) -> Organization:
        return next(o for o, _seed in self.organizations if o.acronym == acronym)


def build_network(seeds: dict[str, Any], rng: random.Random) -> tuple[DemoNetwork, list[Record]]:
    """Spaces, organizations, working groups, memberships and people."""
    network_id = new_id()
    network = Space(
        id=network_id, space_id=network_id, name="Minga demo network", kind=SpaceKind.NETWORK
    )
    records: list[Record] = [network]
    demo = DemoNetwork(network.id, {}, [], {})
    groups = []
    for seed in seeds["working_groups"]:
        group = WorkingGroup(
            space_id=network.id, name=seed["name"], objectives=tuple(seed["objectives"])
        )
        groups.append(group)
        records.append(group)
        demo.working_groups[group.name] = group
    for seed in seeds["organizations"]:
        organization = Organization(
            space_id=network.id,
            name=seed["name"],
            acronym=seed["acronym"],
            country=seed["country"],
            objectives=tuple(rng.sample([g.objectives[0] for g in groups], 2)),
        )
        space_id = new_id()
        space = Space(
            id=space_id,
            space_id=space_id,
            name=seed["name"],
            kind=SpaceKind.ORGANIZATION,
            organization_id=organization.id,
        )
        records += [organization, space]
        demo.organizations.append((organization, seed))
        demo.organization_spaces[organization.id] = space.id
        for group in rng.sample(groups, 2):
            records.append(
                Membership(
                    space_id=network.id,
                    working_group_id=group.id,
                    organization_id=organization.id,
                    role=rng.choice([MembershipRole.EDITOR, MembershipRole.READER]),
                )
            )
        language = seed["language"]
        people = []
        for _ in range(3):
            name = (
                f"{rng.choice(seeds['given_names'][language])} "
                f"{rng.choice(seeds['family_names'][language])}"
            )
            people.append(
                Person(
                    space_id=space.id,
                    name=name,
                    country=seed["country"],
                    organization_id=organization.id,
                )
            )
        community = Person(
            space_id=space.id,
            kind=PersonKind.GROUP,
            name=rng.choice(seed["places"]),
            headcount=rng.randint(20, 2000),
            country=seed["country"],
        )
        people.append(community)
        records += people
        demo.victims[organization.id] = [p.id for p in people]
    return demo, records


def generate_incidents(
    seeds: dict[str, Any], demo: DemoNetwork, rng: random.Random, count: int
) -> Iterator[Record]:
    """``count`` incidents (with an act each where one applies), in the organizations' languages.

    Every fourth incident is written in another of the four languages, as networks do.
    """
    templates = seeds["incidents"]
    languages = ("en", "es", "fr", "ar")
    for n in range(count):
        organization, seed = demo.organizations[n % len(demo.organizations)]
        template = templates[rng.randrange(len(templates))]
        language = seed["language"] if n % 4 else languages[(n // 4) % 4]
        place = rng.choice(seed["places"])
        amount = rng.randint(3, 900)
        year = rng.randint(2015, 2025)
        month = rng.randint(1, 12)
        start = PartialDate(year, month, rng.randint(1, 28)) if n % 3 else PartialDate(year, month)
        victim = rng.choice(demo.victims[organization.id])
        kind = IncidentKind(template["kind"])
        incident = Incident(
            space_id=demo.organization_spaces[organization.id],
            title=template["title"][language].format(place=place),
            kind=kind,
            start_date=start,
            country=seed["country"],
            place=place,
            rights=tuple(template["rights"]) if kind is IncidentKind.VIOLATION else (),
            capture_forms=tuple(template.get("capture", ())),
            narrative=template["narrative"][language].format(place=place, count=amount),
            status=rng.choice(_STATUSES),
            consents=(Consent(person_id=victim, level=ConsentLevel.SHARE_ANONYMOUSLY),),
        )
        yield incident
        if kind is not IncidentKind.CORPORATE_CAPTURE:
            yield Act(
                space_id=incident.space_id,
                incident_id=incident.id,
                victim_id=victim,
                act_type=template["act"],
                start_date=start,
            )


def _date(text: str | None) -> PartialDate | None:
    return PartialDate.parse(text) if text else None


def build_alerts(seeds: dict[str, Any], demo: DemoNetwork) -> list[Record]:
    """The seeds' solidarity alerts, each with its letters, sign-ons, referrals and actions.

    Saved in the network space, as the alert form offers first: that is where a call for
    collective response reaches every member. The defenders are people in that space too, so
    every member sees who is threatened (the organizations' own people stay in their spaces).
    """
    space = demo.network_space
    records: list[Record] = []
    for seed in seeds["alerts"]:
        reporter = demo.organization(seed["organization"])
        defenders = [
            Person(
                space_id=space,
                name=defender["name"],
                occupation=defender["occupation"],
                country=reporter.country,
                organization_id=reporter.id,
            )
            for defender in seed["defenders"]
        ]
        alert = Alert(
            space_id=space,
            title=seed["title"],
            defenders=tuple(p.id for p in defenders),
            threat_type=seed["threat_type"],
            occurred_on=_date(seed["occurred_on"]),
            country=reporter.country,
            place=seed["place"],
            urgency=AlertUrgency(seed["urgency"]),
            requested_actions=seed["requested_actions"],
            status=AlertStatus(seed["status"]),
        )
        records += [*defenders, alert]
        records += [
            Letter(
                space_id=space,
                alert_id=alert.id,
                language=letter["language"],
                kind=LetterKind(letter["kind"]),
                title=letter["title"],
                text=letter["text"],
                drafted_by=letter["drafted_by"],
            )
            for letter in seed["letters"]
        ]
        records += [
            SignOn(
                space_id=space,
                alert_id=alert.id,
                organization_id=demo.organization(sign_on["organization"]).id,
                signed_by=sign_on["signed_by"],
                signed_on=_date(sign_on["signed_on"]),
            )
            for sign_on in seed["sign_ons"]
        ]
        records += [
            Referral(
                space_id=space,
                alert_id=alert.id,
                mechanism=referral["mechanism"],
                status=ReferralStatus(referral["status"]),
                submitted_on=_date(referral["submitted_on"]),
                summary=referral["summary"],
            )
            for referral in seed["referrals"]
        ]
        records += [
            Action(
                space_id=space,
                alert_id=alert.id,
                summary=action["summary"],
                done_by=action["done_by"],
                occurred_on=_date(action["occurred_on"]),
            )
            for action in seed["actions"]
        ]
    return records


@dataclass(frozen=True)
class DemoMaterial:
    """A material to create and the text of its one file."""

    material: Material
    filename: str
    text: str


def build_materials(
    seeds: dict[str, Any], demo: DemoNetwork
) -> tuple[list[DemoMaterial], list[Note]]:
    """The working groups' materials (with their files' text) and group notes, in the group's
    space (the network's), as the working-groups screen saves them."""
    materials = []
    for seed in seeds["materials"]:
        group = demo.working_groups[seed["working_group"]]
        material = Material(
            space_id=group.space_id,
            working_group_id=group.id,
            title=seed["title"],
            material_type=seed["material_type"],
            language=seed["language"],
            objectives=tuple(seed["objectives"]),
            description=seed["description"],
            pinned=seed["pinned"],
        )
        materials.append(DemoMaterial(material, seed["filename"], seed["text"]))
    notes = [
        Note(
            space_id=demo.working_groups[seed["working_group"]].space_id,
            working_group_id=demo.working_groups[seed["working_group"]].id,
            body=seed["body"],
        )
        for seed in seeds["group_notes"]
    ]
    return materials, notes


def import_materials(profile: Profile, materials: list[DemoMaterial]) -> None:
    """Save each material and seal its file into the vault through the store's import path,
    as a member importing it would (the file travels to members like any other)."""
    store = MaterialStore.of(profile)
    with tempfile.TemporaryDirectory(prefix="minga-demo-") as folder:
        for demo_material in materials:
            path = Path(folder) / demo_material.filename
            path.write_text(demo_material.text, encoding="utf-8")
            store.records.save(demo_material.material, today=DEMO_TODAY)
            store.import_file(demo_material.material, path)
            path.unlink()  # the sealed copy is the only one left


def fill_profile(
    profile: Profile, *, incidents: int = 300, seed: int = 7, batch: int = 2000
) -> dict[str, int]:
    """Write the demo network and ``incidents`` incidents; returns counts per type."""
    rng = random.Random(seed)
    seeds = load_seeds()
    store = RecordStore(profile.engine)
    demo, records = build_network(seeds, rng)
    store.save_all(records, today=DEMO_TODAY)
    counts: dict[str, int] = {}
    for record in records:
        counts[type(record).__name__] = counts.get(type(record).__name__, 0) + 1
    pending: list[Record] = []
    for record in generate_incidents(seeds, demo, rng, incidents):
        pending.append(record)
        counts[type(record).__name__] = counts.get(type(record).__name__, 0) + 1
        if len(pending) >= batch:
            store.save_all(pending, today=DEMO_TODAY)
            pending = []
    store.save_all(pending, today=DEMO_TODAY)
    # After the incidents, and drawing nothing from ``rng``: the same seed gives the same
    # incidents as before alerts and materials were seeded.
    alerts = build_alerts(seeds, demo)
    materials, notes = build_materials(seeds, demo)
    store.save_all([*alerts, *notes], today=DEMO_TODAY)
    import_materials(profile, materials)
    for record in [*alerts, *notes, *(m.material for m in materials)]:
        counts[type(record).__name__] = counts.get(type(record).__name__, 0) + 1
    counts["MaterialFile"] = len(materials)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make a throwaway Minga profile with demo data.")
    parser.add_argument("--profile-dir", type=Path, required=True)
    parser.add_argument("--incidents", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--language", default="en")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    profile, _recovery = create_profile(
        args.profile_dir,
        DEMO_PASSPHRASE,
        kdf=KdfParameters.fast_for_tests(),  # a demo, not a place for real secrets
        language=args.language,
    )
    try:
        counts = fill_profile(profile, incidents=args.incidents, seed=args.seed)
    finally:
        profile.close()
    summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    print(f"Demo profile in {args.profile_dir} ({time.perf_counter() - started:.1f} s): {summary}")
    print(f"Passphrase: {DEMO_PASSPHRASE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
