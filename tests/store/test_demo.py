"""The demo network: valid records in four languages, linked together, the same for a seed, with
solidarity alerts and working-group materials whose files open from the vault."""

from __future__ import annotations

import random
from pathlib import Path

from desktop.domain.network_records import (
    Action,
    Alert,
    AlertStatus,
    Letter,
    Material,
    Note,
    Referral,
    SignOn,
    signed_organizations,
)
from desktop.domain.records import Act, Incident, Person
from desktop.store.demo import (
    DEMO_TODAY,
    build_alerts,
    build_materials,
    build_network,
    fill_profile,
    generate_incidents,
    load_seeds,
)
from desktop.store.materials import MaterialStore
from desktop.store.records import RecordQuery, RecordStore
from tests.helpers.profiles import new_profile


def test_demo_fills_a_profile_that_lists_and_searches(tmp_path: Path) -> None:
    profile, _ = new_profile(tmp_path / "p")
    try:
        counts = fill_profile(profile, incidents=120, seed=3)
        store = RecordStore(profile.engine)
        assert counts["Incident"] == 120 == store.count(RecordQuery("incident"))
        assert counts["Organization"] >= 24
        assert store.count(RecordQuery("incident", text="desalojo")) > 0
        assert store.count(RecordQuery("incident", text="اخلاء")) > 0
        assert store.count(RecordQuery("incident", text="expulsion")) > 0
        assert store.count(RecordQuery("incident", text="eviction")) > 0
    finally:
        profile.close()


def test_same_seed_same_network() -> None:
    seeds = load_seeds()

    def titles(seed: int) -> list[str]:
        rng = random.Random(seed)
        demo, _ = build_network(seeds, rng)
        return [
            r.title for r in generate_incidents(seeds, demo, rng, 50) if isinstance(r, Incident)
        ]

    assert titles(5) == titles(5)
    assert titles(5) != titles(6)


def test_every_generated_record_is_valid() -> None:
    seeds = load_seeds()
    rng = random.Random(1)
    demo, records = build_network(seeds, rng)
    records += list(generate_incidents(seeds, demo, rng, 200))
    records += build_alerts(seeds, demo)
    materials, notes = build_materials(seeds, demo)
    records += [*notes, *(m.material for m in materials)]
    problems = {r.id: r.validate(today=DEMO_TODAY) for r in records}
    assert {k: v for k, v in problems.items() if v} == {}
    assert any(isinstance(r, Act) for r in records)


def _rows(store: RecordStore, record_type: str) -> list[object]:
    query = RecordQuery(record_type)
    return [store.require(row.id) for row in store.page(query, limit=1000)]


def test_demo_alerts_carry_letters_sign_ons_referrals_and_actions(tmp_path: Path) -> None:
    profile, _ = new_profile(tmp_path / "p")
    try:
        fill_profile(profile, incidents=0)
        store = RecordStore(profile.engine)
        alerts = [a for a in _rows(store, "alert") if isinstance(a, Alert)]
        assert len(alerts) == 5
        assert {a.status for a in alerts} == set(AlertStatus)
        assert len({a.country for a in alerts}) == 5
        assert len({a.urgency for a in alerts}) >= 3
        arabic = 0
        for alert in alerts:
            letters = [r for r in store.children(alert.id, "letter") if isinstance(r, Letter)]
            assert len({letter.language for letter in letters}) >= 2
            assert all(letter.drafted_by and letter.text for letter in letters)
            arabic += any(letter.language == "ar" for letter in letters)
            sign_ons = [s for s in store.children(alert.id, "sign_on") if isinstance(s, SignOn)]
            # One sign-on per organization, each a demo organization.
            assert len(sign_ons) >= 2
            assert len(signed_organizations(sign_ons)) == len(sign_ons)
            assert all(store.get(s.organization_id) is not None for s in sign_ons)
            assert store.children(alert.id, "action")
            assert all(isinstance(store.get(p), Person) for p in alert.defenders)
        assert arabic >= 2
        referrals = [r for r in _rows(store, "referral") if isinstance(r, Referral)]
        assert len({r.status for r in referrals}) >= 4
        assert all(isinstance(a, Action) and a.done_by for a in _rows(store, "action"))
    finally:
        profile.close()


def test_demo_materials_open_from_the_vault_with_their_text(tmp_path: Path) -> None:
    profile, _ = new_profile(tmp_path / "p")
    try:
        fill_profile(profile, incidents=0)
        materials = MaterialStore.of(profile)
        store = materials.records
        seeds = {m["title"]: m for m in load_seeds()["materials"]}
        found = [m for m in _rows(store, "material") if isinstance(m, Material)]
        assert {m.title for m in found} == set(seeds)
        groups = {row.id for row in store.page(RecordQuery("working_group"))}
        assert {m.working_group_id for m in found} == groups  # every group has a material
        assert {"ar", "fr"} <= {m.language for m in found}
        for material in found:
            (file,) = materials.files(material.id)
            assert materials.held(file)
            opened = materials.open(file.id)
            assert opened.filename == seeds[material.title]["filename"]
            assert opened.data.decode("utf-8") == seeds[material.title]["text"]
        # Sealed, not copied: no plaintext file of the demo is left in the vault's folder.
        vault_bytes = b"".join(p.read_bytes() for p in (tmp_path / "p").rglob("*") if p.is_file())
        assert "التوثيق الآمن".encode() not in vault_bytes
        assert any(isinstance(n, Note) for n in _rows(store, "note"))
    finally:
        profile.close()
