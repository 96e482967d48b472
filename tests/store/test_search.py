"""Search finds a word however it was typed: accents, case, harakat, alef and other variants."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop.store.profile import Profile
from desktop.store.search import fold, index_record, match_expression, remove_record, search
from tests.helpers.profiles import new_profile

DOCUMENTS = {
    "r1": "Desalojo forzoso en la comunidad de San José: destrucción de viviendas",
    "r2": "Expulsion forcée à Saint-Étienne ; l'école détruite",
    "r3": "هدم مَدْرَسَة القرية وإخلاء السكان قسرًا",
    "r4": "أحمد الخـــالد مدافع عن الحق في المياه",
    "r5": "مستشفى القرية بلا ماء منذ ٢٠٢٣",
    "r6": "Water cut-off in the township: no drinking water since March",
}


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    profile, _ = new_profile(tmp_path / "p")
    with profile.engine.begin() as connection:
        for record_id, body in DOCUMENTS.items():
            index_record(connection, record_id, "incident", [body, None, ""])
    yield profile
    profile.close()


def _find(profile: Profile, query: str) -> set[str]:
    with profile.engine.connect() as connection:
        return set(search(connection, query))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("desalojo", {"r1"}),
        ("DESTRUCCION", {"r1"}),  # no accent typed, capitals
        ("destrucción", {"r1"}),
        ("jose", {"r1"}),
        ("forcee", {"r2"}),
        ("ecole", {"r2"}),
        ("École", {"r2"}),
        ("etienne", {"r2"}),
        ("مدرسة", {"r3"}),  # without harakat finds the word written with them
        ("مَدْرَسَة", {"r3"}),
        ("مدرسه", {"r3"}),  # taa marbuta typed as haa
        ("اخلاء", {"r3"}),  # alef without hamza
        ("إخلاء", {"r3"}),
        ("احمد", {"r4"}),
        ("أحمد", {"r4"}),
        ("إحمد", {"r4"}),
        ("خالد", {"r4"}),  # the text has tatweel, the query none
        ("الخالد", {"r4"}),
        ("مستشفي", {"r5"}),  # alef maqsura typed as yaa
        ("2023", {"r5"}),  # Arabic-Indic digits in the text
        ("٢٠٢٣", {"r5"}),
        ("water", {"r6"}),
        ("wat", {"r6"}),  # prefix while typing
        ("water township", {"r6"}),
        ("water école", set()),
        ("nothing-like-this", set()),
    ],
)
def test_search_folds_both_sides(profile: Profile, query: str, expected: set[str]) -> None:
    assert _find(profile, query) == expected


@pytest.mark.parametrize("query", ['"', "NEAR(", "a OR b", "*", "body:x", "^ ( ) -", "'; DROP"])
def test_typed_syntax_never_reaches_fts(profile: Profile, query: str) -> None:
    _find(profile, query)  # must not raise: every term is quoted


@given(st.text(max_size=40))
def test_match_expression_is_always_safe(query: str) -> None:
    expression = match_expression(query)
    if expression is not None:
        for part in expression.split(" AND "):
            assert part.startswith('"') and part.rstrip("*").endswith('"')
            assert '"' not in part.rstrip("*")[1:-1]


def test_reindex_and_remove(profile: Profile) -> None:
    with profile.engine.begin() as connection:
        index_record(connection, "r6", "incident", ["Electricity cut"])
    assert _find(profile, "water") == set()
    assert _find(profile, "electricity") == {"r6"}
    with profile.engine.begin() as connection:
        remove_record(connection, "r6")
    assert _find(profile, "electricity") == set()


def test_record_type_filter(profile: Profile) -> None:
    with profile.engine.begin() as connection:
        index_record(connection, "p1", "person", ["Water defender"])
        assert set(search(connection, "water", ["person"])) == {"p1"}
        assert set(search(connection, "water")) == {"p1", "r6"}


def test_fold_examples() -> None:
    assert fold("Ça Été") == "ca ete"
    assert fold("آمنة") == "امنه"
    assert fold("مُؤَسَّسَة") == "موسسه"
