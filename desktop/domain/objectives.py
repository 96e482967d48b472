"""Which incidents and alerts count toward each of the network's six shared objectives.

The rule is data (``resources/vocabularies/rules/objectives.json``), checked against the
vocabularies on load; this module reads it, expands each code to its children and applies it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from desktop.domain import vocabularies as vocab
from desktop.domain.vocabularies import VocabularyError, VocabularySet

RULES_FORMAT = 1

#: What an objective's rule may name, and the vocabulary each list's codes come from.
DIMENSIONS: dict[str, str] = {
    "incident_kinds": vocab.INCIDENT_KINDS,
    "rights": vocab.RIGHTS,
    "act_types": vocab.ACT_TYPES,
    "capture_forms": vocab.CORPORATE_CAPTURE,
    "defender_threats": vocab.DEFENDER_THREATS,
}


@dataclass(frozen=True)
class ObjectiveRule:
    """The codes that make a record count toward one objective, children included."""

    objective: str
    codes: Mapping[str, frozenset[str]]

    def of(self, dimension: str) -> frozenset[str]:
        return self.codes.get(dimension, frozenset())

    def act_types(self) -> frozenset[str]:
        """An act's type may be an act or a threat against a defender: both lists apply."""
        return self.of("act_types") | self.of("defender_threats")

    def counts_incident(
        self,
        kind: str,
        rights: Iterable[str] = (),
        capture_forms: Iterable[str] = (),
        act_types: Iterable[str] = (),
    ) -> bool:
        return (
            kind in self.of("incident_kinds")
            or not self.of("rights").isdisjoint(rights)
            or not self.of("capture_forms").isdisjoint(capture_forms)
            or not self.act_types().isdisjoint(act_types)
        )

    def counts_alert(self, threat_type: str) -> bool:
        return threat_type in self.of("defender_threats")


@dataclass(frozen=True)
class ObjectiveRules:
    """One rule per objective, in the objectives vocabulary's order."""

    version: int
    rules: tuple[ObjectiveRule, ...]

    def objectives(self) -> tuple[str, ...]:
        return tuple(rule.objective for rule in self.rules)

    def rule(self, objective: str) -> ObjectiveRule:
        for rule in self.rules:
            if rule.objective == objective:
                return rule
        raise KeyError(objective)


def rules_path() -> Path:
    """Next to the vocabularies it names, in a folder of its own (it is not a vocabulary)."""
    return vocab.vocabulary_dir() / "rules" / "objectives.json"


def _with_descendants(vocabulary: vocab.Vocabulary, code: str) -> set[str]:
    found = {code}
    for child in vocabulary.term(code).children:
        found |= _with_descendants(vocabulary, child)
    return found


def rules_problems(data: object, vocabularies: VocabularySet) -> list[str]:
    """Everything wrong with a rules file: shape, unknown objectives, lists or codes."""
    if not isinstance(data, dict):
        return ["not a JSON object"]
    problems: list[str] = []
    if data.get("format") != RULES_FORMAT:
        problems.append(f"format must be {RULES_FORMAT}")
    if not isinstance(data.get("version"), int) or data["version"] < 1:
        problems.append("version must be a positive integer")
    objectives = data.get("objectives")
    if not isinstance(objectives, dict):
        return [*problems, "objectives must be an object"]
    known = [term.code for term in vocabularies[vocab.OBJECTIVES].top_level()]
    for code in known:
        if code not in objectives:
            problems.append(f"objective {code!r} has no rule")
    for objective, lists in objectives.items():
        if objective not in known:
            problems.append(f"{objective!r} is not an objective")
        if not isinstance(lists, dict):
            problems.append(f"{objective}: must be an object")
            continue
        for dimension, codes in lists.items():
            if dimension not in DIMENSIONS:
                problems.append(f"{objective}: {dimension!r} is not one of {sorted(DIMENSIONS)}")
                continue
            if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                problems.append(f"{objective}.{dimension}: must be a list of codes")
                continue
            vocabulary = vocabularies[DIMENSIONS[dimension]]
            for code in codes:
                if code not in vocabulary:
                    problems.append(
                        f"{objective}.{dimension}: {code!r} is not in {vocabulary.name}"
                    )
            if len(set(codes)) != len(codes):
                problems.append(f"{objective}.{dimension}: a code is listed twice")
    return problems


def parse_rules(
    data: object, vocabularies: VocabularySet, *, source: str = "<memory>"
) -> ObjectiveRules:
    """Check ``data`` and expand every code to itself and its descendants."""
    problems = rules_problems(data, vocabularies)
    if problems:
        raise VocabularyError(source, problems)
    assert isinstance(data, dict)
    objectives: dict[str, Any] = data["objectives"]
    rules = []
    for term in vocabularies[vocab.OBJECTIVES].top_level():
        codes: dict[str, frozenset[str]] = {}
        for dimension, listed in objectives[term.code].items():
            vocabulary = vocabularies[DIMENSIONS[dimension]]
            expanded: set[str] = set()
            for code in listed:
                expanded |= _with_descendants(vocabulary, code)
            codes[dimension] = frozenset(expanded)
        rules.append(ObjectiveRule(term.code, codes))
    return ObjectiveRules(version=data["version"], rules=tuple(rules))


def load_rules(
    path: Path | None = None, vocabularies: VocabularySet | None = None
) -> ObjectiveRules:
    where = path if path is not None else rules_path()
    data = json.loads(where.read_text(encoding="utf-8"))
    return parse_rules(
        data,
        vocabularies if vocabularies is not None else vocab.default_vocabularies(),
        source=where.name,
    )


@cache
def default_rules() -> ObjectiveRules:
    """The shipped rules, read once per process."""
    return load_rules()
