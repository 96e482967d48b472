"""Controlled vocabularies: versioned JSON in ``resources/vocabularies``, labels in four languages.

Records store a term's code and never its label, so a record reads right in every language.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from desktop.domain.translation import DEFAULT_LANGUAGE, LANGUAGES, current_language

# The vocabularies the record types use; one file each, named ``<name>.json``.
RIGHTS = "rights"
ACT_TYPES = "act_types"
DEFENDER_THREATS = "defender_threats"
CORPORATE_CAPTURE = "corporate_capture"
PERPETRATOR_TYPES = "perpetrator_types"
INVOLVEMENT_DEGREES = "involvement_degrees"
SOURCE_TYPES = "source_types"
SOURCE_RELIABILITY = "source_reliability"
OBJECTIVES = "objectives"
COUNTRIES = "countries"
INCIDENT_KINDS = "incident_kinds"
INCIDENT_STATUSES = "incident_statuses"
CONFIDENTIALITY_LEVELS = "confidentiality_levels"
FOLLOW_UP_KINDS = "follow_up_kinds"
SPACE_KINDS = "space_kinds"
PERSON_KINDS = "person_kinds"
MEMBERSHIP_ROLES = "membership_roles"
CONSENT_LEVELS = "consent_levels"
CUSTODY_ACTIONS = "custody_actions"
#: Every vocabulary the app needs; a file may add others (for the interface), never fewer.
REQUIRED: tuple[str, ...] = (
    RIGHTS,
    ACT_TYPES,
    DEFENDER_THREATS,
    CORPORATE_CAPTURE,
    PERPETRATOR_TYPES,
    INVOLVEMENT_DEGREES,
    SOURCE_TYPES,
    SOURCE_RELIABILITY,
    OBJECTIVES,
    COUNTRIES,
    INCIDENT_KINDS,
    INCIDENT_STATUSES,
    CONFIDENTIALITY_LEVELS,
    FOLLOW_UP_KINDS,
    SPACE_KINDS,
    PERSON_KINDS,
    MEMBERSHIP_ROLES,
    CONSENT_LEVELS,
    CUSTODY_ACTIONS,
)

#: Codes are lowercase snake_case so they read the same in every file, URL and SQL column.
CODE_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
#: The format of the files themselves; a term-list change bumps each file's own ``version``.
FILE_FORMAT = 1


class VocabularyError(ValueError):
    """A vocabulary file is broken; ``problems`` lists every fault found, for the developer."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


@dataclass(frozen=True, slots=True, eq=False)
class Term:
    """One choice; a ``deprecated`` term keeps labelling old records but is no longer offered."""

    code: str
    labels: Mapping[str, str]
    parent: str | None = None
    children: tuple[str, ...] = ()
    deprecated: bool = False

    def label(self, language: str | None = None) -> str:
        return self.labels.get(language or current_language()) or self.labels[DEFAULT_LANGUAGE]


@dataclass(frozen=True, slots=True, eq=False)
class Vocabulary:
    """A named, versioned list of terms, perhaps a tree (rights → sub-rights, country → region)."""

    name: str
    version: int
    terms: Mapping[str, Term] = field(default_factory=dict)

    def __contains__(self, code: object) -> bool:
        return code in self.terms

    def __iter__(self) -> Iterator[Term]:
        return iter(self.terms.values())

    def __len__(self) -> int:
        return len(self.terms)

    def term(self, code: str) -> Term:
        return self.terms[code]

    def is_valid_code(self, code: str) -> bool:
        return code in self.terms

    def label(self, code: str, language: str | None = None) -> str:
        """The term's label; an unknown code (from a newer vocabulary) shows as itself."""
        term = self.terms.get(code)
        return term.label(language) if term is not None else code

    def top_level(self, *, include_deprecated: bool = False) -> list[Term]:
        return [
            t
            for t in self.terms.values()
            if t.parent is None and (include_deprecated or not t.deprecated)
        ]

    def children(self, code: str, *, include_deprecated: bool = False) -> list[Term]:
        term = self.terms.get(code)
        if term is None:
            return []
        return [
            self.terms[c]
            for c in term.children
            if include_deprecated or not self.terms[c].deprecated
        ]

    def ancestors(self, code: str) -> list[Term]:
        """From the term's parent up to its root; a region's country, a sub-right's right."""
        found: list[Term] = []
        parent = self.terms[code].parent if code in self.terms else None
        while parent is not None:
            term = self.terms[parent]
            found.append(term)
            parent = term.parent
        return found

    def choices(
        self,
        language: str | None = None,
        *,
        parent: str | None = None,
        by_label: bool = False,
    ) -> list[tuple[str, str]]:
        """``(code, label)`` pairs to offer under ``parent`` (top level when None).

        File order is the curated order (statuses, reliability); ``by_label`` sorts by the label
        with accents folded, so "Égypte" files under E in a French country list.
        """
        terms = self.children(parent) if parent is not None else self.top_level()
        pairs = [(t.code, t.label(language)) for t in terms]
        if by_label:
            pairs.sort(key=lambda pair: _folded(pair[1]))
        return pairs


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


class VocabularySet:
    """All the vocabularies an app run uses, by name."""

    def __init__(self, vocabularies: Mapping[str, Vocabulary]) -> None:
        self._vocabularies = dict(vocabularies)

    def __getitem__(self, name: str) -> Vocabulary:
        return self._vocabularies[name]

    def __contains__(self, name: object) -> bool:
        return name in self._vocabularies

    def names(self) -> list[str]:
        return sorted(self._vocabularies)

    def is_valid_code(self, vocabulary: str, code: str) -> bool:
        return code in self._vocabularies[vocabulary]

    def label(self, vocabulary: str, code: str, language: str | None = None) -> str:
        return self._vocabularies[vocabulary].label(code, language)

    def children(self, vocabulary: str, code: str) -> list[Term]:
        return self._vocabularies[vocabulary].children(code)


def _term_problems(raw: object, where: str, seen: set[str], problems: list[str]) -> None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: a term must be an object")
        return
    code = raw.get("code")
    if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        problems.append(f"{where}: code {code!r} is not lowercase snake_case")
        code = str(code)
    elif code in seen:
        problems.append(f"{where}: code {code!r} appears twice")
    seen.add(code)
    labels = raw.get("labels")
    if not isinstance(labels, dict):
        problems.append(f"{code}: labels must be an object")
    else:
        for language in LANGUAGES:
            text = labels.get(language)
            if not isinstance(text, str) or not text.strip():
                problems.append(f"{code}: no {language} label")
        extra = sorted(set(labels) - set(LANGUAGES))
        if extra:
            problems.append(f"{code}: labels in unknown languages {extra}")
    unknown_keys = sorted(set(raw) - {"code", "labels", "children", "deprecated"})
    if unknown_keys:
        problems.append(f"{code}: unknown keys {unknown_keys}")
    if not isinstance(raw.get("deprecated", False), bool):
        problems.append(f"{code}: deprecated must be true or false")
    children = raw.get("children", [])
    if not isinstance(children, list):
        problems.append(f"{code}: children must be a list")
        return
    for index, child in enumerate(children):
        _term_problems(child, f"{code}.children[{index}]", seen, problems)


def vocabulary_problems(data: object) -> list[str]:
    """Every fault in a vocabulary file's parsed JSON; empty when it is sound."""
    problems: list[str] = []
    if not isinstance(data, dict):
        return ["the file must hold a JSON object"]
    if data.get("format") != FILE_FORMAT:
        problems.append(f"format must be {FILE_FORMAT}")
    name = data.get("vocabulary")
    if not isinstance(name, str) or not CODE_PATTERN.fullmatch(name):
        problems.append(f"vocabulary name {name!r} is not lowercase snake_case")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append("version must be a whole number from 1")
    terms = data.get("terms")
    if not isinstance(terms, list) or not terms:
        problems.append("terms must be a non-empty list")
        return problems
    seen: set[str] = set()
    for index, raw in enumerate(terms):
        _term_problems(raw, f"terms[{index}]", seen, problems)
    return problems


def _collect(raw: dict[str, Any], parent: str | None, into: dict[str, Term]) -> None:
    children = raw.get("children", [])
    into[raw["code"]] = Term(
        code=raw["code"],
        labels={language: raw["labels"][language] for language in LANGUAGES},
        parent=parent,
        children=tuple(child["code"] for child in children),
        deprecated=raw.get("deprecated", False),
    )
    for child in children:
        _collect(child, raw["code"], into)


def parse_vocabulary(data: object, *, source: str = "<memory>") -> Vocabulary:
    """Build a vocabulary from parsed JSON, refusing it whole if anything is wrong.

    Raises:
        VocabularyError: listing every problem, so one run shows the translator all of them.
    """
    problems = vocabulary_problems(data)
    if problems:
        raise VocabularyError(source, problems)
    assert isinstance(data, dict)
    terms: dict[str, Term] = {}
    for raw in data["terms"]:
        _collect(raw, None, terms)
    return Vocabulary(name=data["vocabulary"], version=data["version"], terms=terms)


def vocabulary_dir() -> Path:
    """``MINGA_VOCABULARY_DIR`` when set, else ``resources/vocabularies`` of the source tree."""
    override = os.environ.get("MINGA_VOCABULARY_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "resources" / "vocabularies"


def load_vocabularies(directory: Path | None = None) -> VocabularySet:
    """Read and check every ``*.json`` in ``directory``; a file's name is its vocabulary's name."""
    folder = directory if directory is not None else vocabulary_dir()
    vocabularies: dict[str, Vocabulary] = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        vocabulary = parse_vocabulary(data, source=path.name)
        if vocabulary.name != path.stem:
            raise VocabularyError(path.name, [f"names itself {vocabulary.name!r}"])
        vocabularies[vocabulary.name] = vocabulary
    return VocabularySet(vocabularies)


@cache
def default_vocabularies() -> VocabularySet:
    """The shipped vocabularies, read once per process."""
    return load_vocabularies()


def label(vocabulary: str, code: str, language: str | None = None) -> str:
    """The label of ``code`` in ``language`` (the current one by default)."""
    return default_vocabularies().label(vocabulary, code, language)


def is_valid_code(vocabulary: str, code: str) -> bool:
    return default_vocabularies().is_valid_code(vocabulary, code)


def children(vocabulary: str, code: str) -> list[Term]:
    return default_vocabularies().children(vocabulary, code)
