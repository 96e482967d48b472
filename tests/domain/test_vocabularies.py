"""The shipped vocabularies: complete in four languages, codes unique, valid and never removed.

The checker is proven on broken vocabularies too, so a missing Arabic label cannot slip through.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from desktop.domain import vocabularies as vocab
from desktop.domain.records import ENUM_VOCABULARIES
from desktop.domain.translation import LANGUAGES
from desktop.domain.vocabularies import (
    VocabularyError,
    default_vocabularies,
    load_vocabularies,
    parse_vocabulary,
    vocabulary_dir,
    vocabulary_problems,
)

FILES = sorted(vocabulary_dir().glob("*.json"))
#: Codes once shipped: a term may be deprecated, never removed, or old records lose their label.
SHIPPED_CODES = Path(__file__).with_name("shipped_codes.json")


def _raw(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_vocabulary_the_records_use_is_shipped() -> None:
    assert set(vocab.REQUIRED) <= {path.stem for path in FILES}
    assert set(vocab.REQUIRED) <= set(default_vocabularies().names())


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_file_is_sound(path: Path) -> None:
    assert vocabulary_problems(_raw(path)) == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_term_has_four_real_labels(path: Path) -> None:
    vocabulary = default_vocabularies()[path.stem]
    for term in vocabulary:
        labels = [term.labels[language] for language in LANGUAGES]
        assert all(label == label.strip() and label for label in labels), term.code
        # An Arabic label must be written in Arabic, not left in Latin letters.
        assert any("\u0600" <= ch <= "\u06ff" for ch in term.labels["ar"]), term.code


def test_codes_are_never_removed() -> None:
    shipped = _raw(SHIPPED_CODES)
    vocabularies = default_vocabularies()
    for name, codes in shipped.items():
        missing = set(codes) - set(vocabularies[name].terms)
        assert not missing, f"{name} lost {sorted(missing)}"


def test_the_required_terms_exist() -> None:
    v = default_vocabularies()
    assert set(v[vocab.CORPORATE_CAPTURE].terms) == {
        "legislative_policy_interference",
        "community_manipulation",
        "economic_diplomacy",
        "judicial_interference",
        "privatization_of_public_security",
        "revolving_door",
    }
    assert len(v[vocab.OBJECTIVES]) == 6
    rights = {t.code for t in v[vocab.RIGHTS].top_level()}
    assert {"work", "trade_union_rights", "social_security", "family_protection", "food"} <= rights
    assert {"water_sanitation", "housing", "health", "education", "culture"} <= rights
    assert {"land", "environment"} <= rights
    acts = v[vocab.ACT_TYPES]
    for code in ("forced_eviction", "destruction_of_property", "denial_of_access_to_water"):
        assert code in acts
    assert {"pollution", "dismissal"} <= set(acts.terms)
    threats = v[vocab.DEFENDER_THREATS]
    for code in ("judicial_harassment", "physical_attack", "killing", "surveillance"):
        assert code in threats
    assert "smear_campaign" in threats
    assert {"state", "corporation", "armed_group"} <= set(v[vocab.PERPETRATOR_TYPES].terms)


def test_act_codes_and_threat_codes_do_not_collide() -> None:
    # An Act's type may come from either list; a shared code would be ambiguous.
    v = default_vocabularies()
    assert not set(v[vocab.ACT_TYPES].terms) & set(v[vocab.DEFENDER_THREATS].terms)


def test_closed_lists_in_code_match_their_vocabularies() -> None:
    v = default_vocabularies()
    for enum, name in ENUM_VOCABULARIES.items():
        assert [str(m.value) for m in enum] == list(v[name].terms), name


def test_countries_are_iso_codes_with_their_regions() -> None:
    countries = default_vocabularies()[vocab.COUNTRIES]
    top = countries.top_level()
    assert len(top) == 249
    assert all(len(t.code) == 2 for t in top)
    with_regions = [t for t in top if t.children]
    assert len(with_regions) >= 12
    assert countries.label("co_cau", "es") == "Cauca"
    assert countries.label("eg_c", "ar") == "القاهرة"
    assert countries.label("ps", "en") == "Palestine"
    assert [t.code for t in countries.ancestors("co_cau")] == ["co"]
    assert {t.code for t in countries.children("ps")} >= {"ps_gza", "ps_jem"}


def test_labels_follow_the_current_language() -> None:
    from desktop.domain.translation import set_language

    assert vocab.label(vocab.ACT_TYPES, "forced_eviction") == "Forced eviction"
    set_language("ar")
    assert vocab.label(vocab.ACT_TYPES, "forced_eviction") == "الإخلاء القسري"
    assert vocab.label(vocab.ACT_TYPES, "forced_eviction", "fr") == "Expulsion forcée"
    assert vocab.label(vocab.ACT_TYPES, "from_a_newer_vocabulary") == "from_a_newer_vocabulary"
    assert vocab.is_valid_code(vocab.RIGHTS, "sanitation")
    assert [t.code for t in vocab.children(vocab.RIGHTS, "water_sanitation")] == [
        "drinking_water",
        "sanitation",
    ]


def test_country_choices_sort_by_label_in_each_language() -> None:
    countries = default_vocabularies()[vocab.COUNTRIES]
    french = [label for _code, label in countries.choices("fr", by_label=True)]
    assert french.index("Égypte") < french.index("Équateur") < french.index("Érythrée")
    assert french.index("Égypte") < french.index("Espagne") < french.index("Fidji")
    arabic = [code for code, _label in countries.choices("ar", by_label=True)]
    assert arabic[0] == "et"  # إثيوبيا: hamza-under-alef sorts with alef, first
    regions = countries.choices("es", parent="eg", by_label=True)
    assert regions[0] == ("eg_alx", "Alejandría")


def test_choices_skip_deprecated_terms_but_keep_their_labels() -> None:
    data = {
        "format": 1,
        "vocabulary": "colours",
        "version": 2,
        "terms": [
            {"code": "red", "labels": {"en": "Red", "es": "Rojo", "fr": "Rouge", "ar": "أحمر"}},
            {
                "code": "mauve",
                "deprecated": True,
                "labels": {"en": "Mauve", "es": "Malva", "fr": "Mauve", "ar": "بنفسجي فاتح"},
            },
        ],
    }
    colours = parse_vocabulary(data)
    assert colours.choices("es") == [("red", "Rojo")]
    assert colours.label("mauve", "ar") == "بنفسجي فاتح"


# --- the checker itself must be able to fail --------------------------------------------------


def _rights() -> dict[str, Any]:
    data: dict[str, Any] = _raw(vocabulary_dir() / "rights.json")
    return copy.deepcopy(data)


def test_a_missing_arabic_label_is_caught() -> None:
    data = _rights()
    del data["terms"][0]["children"][1]["labels"]["ar"]
    with pytest.raises(VocabularyError) as caught:
        parse_vocabulary(data, source="rights.json")
    assert caught.value.problems == ["fair_wages: no ar label"]


@pytest.mark.parametrize(
    ("breakage", "problem"),
    [
        (lambda d: d["terms"][0]["labels"].update(fr="  "), "work: no fr label"),
        (lambda d: d["terms"][1].update(code="work"), "code 'work' appears twice"),
        (lambda d: d["terms"][0].update(code="Work"), "is not lowercase snake_case"),
        (lambda d: d["terms"][0]["labels"].update(pt="Direito"), "unknown languages ['pt']"),
        (lambda d: d["terms"][0].update(colour="red"), "unknown keys ['colour']"),
        (lambda d: d.update(version=0), "version must be"),
        (lambda d: d.update(terms=[]), "terms must be a non-empty list"),
        (lambda d: d.update(format=9), "format must be 1"),
    ],
)
def test_other_breakages_are_caught(breakage: Any, problem: str) -> None:
    data = _rights()
    breakage(data)
    assert any(problem in p for p in vocabulary_problems(data))


def test_a_broken_file_stops_loading(tmp_path: Path) -> None:
    good = _rights()
    (tmp_path / "rights.json").write_text(json.dumps(good), encoding="utf-8")
    assert load_vocabularies(tmp_path).is_valid_code("rights", "housing")
    (tmp_path / "other.json").write_text(json.dumps(good), encoding="utf-8")
    with pytest.raises(VocabularyError, match="names itself 'rights'"):
        load_vocabularies(tmp_path)
