"""Records to plain dicts and back: exact round trips through JSON and msgpack, strict decoding.

Values are generated from ``RECORD_TYPES`` itself, so a new field is covered the day it is added.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop.domain.dates import PartialDate
from desktop.domain.fields import Codec, Merge, RecordFormatError
from desktop.domain.records import (
    COMMON_FIELDS,
    RECORD_TYPES,
    Consent,
    ConsentLevel,
    CustodyEntry,
    Incident,
    Involvement,
    Person,
    Record,
    RecordType,
    content_of,
    from_dict,
    record_type,
    to_dict,
)

ids = st.uuids(version=4).map(lambda u: u.hex)
texts = st.text(max_size=40)
moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
partial_dates = st.one_of(
    st.none(),
    st.dates().flatmap(
        lambda d: st.sampled_from(
            [PartialDate(d.year), PartialDate(d.year, d.month), PartialDate.from_date(d)]
        )
    ),
)


def _strategy(codec: Codec) -> st.SearchStrategy[Any]:
    simple: dict[str, st.SearchStrategy[Any]] = {
        "text": texts,
        "optional_id": st.none() | ids,
        "int": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "optional_int": st.none() | st.integers(min_value=0, max_value=10**9),
        "bool": st.booleans(),
        "optional_float": st.none() | st.floats(allow_nan=False),
        "datetime": moments,
        "optional_datetime": st.none() | moments,
        "partial_date": partial_dates,
        "codes": st.lists(st.from_regex(r"[a-z]{1,8}(_[a-z]{1,8})?", fullmatch=True)).map(tuple),
        "pairs": st.lists(st.tuples(texts, texts), max_size=4).map(tuple),
        "consents": st.lists(
            st.builds(
                Consent,
                person_id=ids,
                level=st.sampled_from(ConsentLevel),
                recorded_on=partial_dates,
                note=texts,
            ),
            max_size=3,
        ).map(tuple),
        "involvements": st.lists(
            st.builds(
                Involvement,
                perpetrator_id=st.none() | ids,
                perpetrator_type=texts,
                degree=texts,
                note=texts,
            ),
            max_size=3,
        ).map(tuple),
        "custody": st.lists(
            st.builds(CustodyEntry, id=ids, at=moments, actor=texts, action=texts, note=texts),
            max_size=3,
        ).map(tuple),
    }
    if codec.kind == "enum":
        assert codec.enum is not None
        return st.sampled_from(list(codec.enum))
    return simple[codec.kind]


def records_of(spec: RecordType) -> st.SearchStrategy[Record]:
    values = {f.name: _strategy(f.codec) for f in (*COMMON_FIELDS, *spec.fields)}
    return st.fixed_dictionaries(values).map(lambda kwargs: spec.cls(**kwargs))


any_record = st.one_of([records_of(spec) for spec in RECORD_TYPES.values()])


def test_the_declaration_matches_the_classes() -> None:
    common = [f.name for f in COMMON_FIELDS]
    for spec in RECORD_TYPES.values():
        assert [f.name for f in fields(spec.cls)] == common + list(spec.field_names), spec.name
        assert record_type(spec.cls) is spec and record_type(spec.name) is spec


def test_merge_rules_are_declared_where_sync_needs_them() -> None:
    assert {name for name, spec in RECORD_TYPES.items() if spec.append_only} == {
        "follow_up",
        "sign_on",
        "action",
    }
    assert RECORD_TYPES["incident"].long_text_fields == ("narrative", "impact")
    assert RECORD_TYPES["evidence"].field("custody").merge is Merge.APPEND
    assert RECORD_TYPES["incident"].field("rights").merge is Merge.SET


@settings(max_examples=300, deadline=None)
@given(any_record)
def test_round_trip_is_exact_through_json_and_msgpack(record: Record) -> None:
    data = to_dict(record)
    assert from_dict(data) == record
    assert from_dict(json.loads(json.dumps(data))) == record
    assert from_dict(msgpack.unpackb(msgpack.packb(data))) == record
    assert set(content_of(record)) == set(record_type(record).field_names)


def test_the_wire_form_is_plain_and_readable() -> None:
    person = Person(
        id="0" * 32,
        space_id="1" * 32,
        name="Ana",
        created_at=datetime(2024, 3, 15, 9, 30, tzinfo=UTC),
        updated_at=datetime(2024, 3, 15, 9, 30, 0, 5, tzinfo=UTC),
    )
    data = to_dict(person)
    assert data["type"] == "person" and data["schema"] == 1
    assert data["created_at"] == "2024-03-15T09:30:00.000000Z"
    assert data["kind"] == "individual"
    incident = Incident(space_id="1" * 32, start_date=PartialDate(2024, 3))
    assert to_dict(incident)["start_date"] == "2024-03"


def test_times_in_another_zone_are_stored_in_utc() -> None:
    bogota = timezone(timedelta(hours=-5))
    person = Person(
        space_id="1" * 32,
        created_at=datetime(2024, 3, 15, 4, 30, tzinfo=bogota),
        updated_at=datetime(2024, 3, 15, 4, 30, tzinfo=bogota),
    )
    data = to_dict(person)
    assert data["created_at"] == "2024-03-15T09:30:00.000000Z"
    assert from_dict(data) == person


def test_an_older_schema_is_upgraded_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    # How a future schema 2 of "person" will read what schema 1 wrote: one step per version.
    spec = RECORD_TYPES["person"]
    old = to_dict(Person(space_id="1" * 32, name="Ana", occupation="farmer"))
    old.pop("occupation")
    old["job"] = "farmer"

    def rename_job(data: dict[str, Any]) -> dict[str, Any]:
        data["occupation"] = data.pop("job")
        return data

    monkeypatch.setitem(RECORD_TYPES, "person", replace(spec, schema_version=2, upgrades={}))
    with pytest.raises(RecordFormatError, match="no upgrade path"):
        from_dict(old)
    upgraded = replace(spec, schema_version=2, upgrades={1: rename_job})
    monkeypatch.setitem(RECORD_TYPES, "person", upgraded)
    person = from_dict(old)
    assert isinstance(person, Person) and person.occupation == "farmer"


def test_a_time_without_a_zone_is_refused() -> None:
    person = Person(space_id="1" * 32, created_at=datetime(2024, 1, 1))
    with pytest.raises(RecordFormatError, match="time zone"):
        to_dict(person)


def _valid() -> dict[str, Any]:
    return to_dict(Incident(space_id="1" * 32, title="x", consents=(Consent(person_id="2" * 32),)))


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d.update(type="unicorn"), "unknown record type"),
        (lambda d: d.update(schema=2), "newer than this app"),
        (lambda d: d.update(schema="1"), "bad schema version"),
        (lambda d: d.pop("title"), "missing field 'title'"),
        (lambda d: d.update(colour="red"), "unknown fields"),
        (lambda d: d.update(title=3), "incident.title: expected text"),
        (lambda d: d.update(revision=True), "expected an integer"),
        (lambda d: d.update(status="lost"), "not a IncidentStatus"),
        (lambda d: d.update(start_date="2024-02-30"), "not a date"),
        (lambda d: d.update(created_at="yesterday"), "not a time"),
        (lambda d: d.update(created_at="2024-01-01T00:00:00"), "without a time zone"),
        (lambda d: d.update(rights="housing"), "a list of codes"),
        (lambda d: d.update(latitude="north"), "a number"),
        (lambda d: d["consents"][0].update(extra=1), "unknown fields"),
        (lambda d: d["consents"][0].pop("level"), "missing field 'level'"),
    ],
)
def test_malformed_data_is_refused_with_a_reason(change: Any, fragment: str) -> None:
    data = _valid()
    change(data)
    with pytest.raises(RecordFormatError, match=fragment):
        from_dict(data)
