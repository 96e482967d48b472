"""The rule that ties incidents and alerts to objectives names only real codes, and means it.

Every objective has a rule, every code exists, a code covers its children, and a broken
file is refused with the problem named.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from desktop.domain import vocabularies as vocab
from desktop.domain.objectives import (
    DIMENSIONS,
    default_rules,
    parse_rules,
    rules_path,
    rules_problems,
)
from desktop.domain.vocabularies import VocabularyError, default_vocabularies


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(rules_path().read_text(encoding="utf-8"))
    return data


def test_the_shipped_rules_name_only_codes_that_exist() -> None:
    assert rules_problems(_raw(), default_vocabularies()) == []
    rules = default_rules()
    assert rules.objectives() == tuple(
        t.code for t in default_vocabularies()[vocab.OBJECTIVES].top_level()
    )
    for rule in rules.rules:
        for dimension, codes in rule.codes.items():
            vocabulary = default_vocabularies()[DIMENSIONS[dimension]]
            assert codes and all(code in vocabulary for code in codes), (rule.objective, dimension)


def test_a_code_covers_its_children() -> None:
    land = default_rules().rule("land_housing_natural_resources")
    assert {"water_sanitation", "drinking_water", "sanitation"} <= land.of("rights")
    assert {"pollution", "water_pollution", "soil_contamination"} <= land.of("act_types")
    defenders = default_rules().rule("social_movements_defenders")
    assert {"judicial_harassment", "strategic_lawsuit"} <= defenders.of("defender_threats")


def test_every_threat_against_a_defender_counts_toward_defenders() -> None:
    # An alert is by definition about a defender: none may fall outside that objective.
    threats = {term.code for term in default_vocabularies()[vocab.DEFENDER_THREATS]}
    assert default_rules().rule("social_movements_defenders").of("defender_threats") == threats


def test_the_rule_applies_to_an_incident_and_an_alert() -> None:
    rules = default_rules()
    women = rules.rule("women_escr")
    assert women.counts_incident("violation", rights=["equal_rights_women_men"])
    assert women.counts_incident("threat_to_defender", act_types=["sexual_gender_violence"])
    assert not women.counts_incident("violation", rights=["housing"])
    assert women.counts_alert("sexual_gender_violence")
    assert not women.counts_alert("killing")
    assert rules.rule("corporate_accountability").counts_incident("corporate_capture")


@pytest.mark.parametrize(
    ("break_it", "problem"),
    [
        (lambda d: d["objectives"].pop("women_escr"), "'women_escr' has no rule"),
        (lambda d: d["objectives"].update({"peace": {}}), "'peace' is not an objective"),
        (
            lambda d: d["objectives"]["women_escr"]["rights"].append("dignity"),
            "women_escr.rights: 'dignity' is not in rights",
        ),
        (
            lambda d: d["objectives"]["women_escr"]["rights"].append("killing"),
            "women_escr.rights: 'killing' is not in rights",
        ),
        (
            lambda d: d["objectives"]["women_escr"].update({"perpetrators": ["state"]}),
            "'perpetrators' is not one of",
        ),
        (lambda d: d.update({"format": 2}), "format must be 1"),
    ],
)
def test_a_broken_rules_file_is_refused_with_the_problem_named(break_it: Any, problem: str) -> None:
    data = copy.deepcopy(_raw())
    break_it(data)
    with pytest.raises(VocabularyError) as caught:
        parse_rules(data, default_vocabularies(), source="objectives.json")
    assert problem in str(caught.value)
