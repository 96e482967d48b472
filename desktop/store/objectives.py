"""What the network recorded against each shared objective, counted in SQL.

Incidents and alerts count toward an objective by the rule in ``desktop.domain.objectives``;
materials, groups and organizations by their own objective tags. Nothing is loaded to count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, case, false, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from desktop.domain import vocabularies as vocab
from desktop.domain.network_records import OPEN_ALERT_STATUSES
from desktop.domain.objectives import ObjectiveRule, ObjectiveRules, default_rules
from desktop.store.schema import RecordCode, RecordContent, RecordRow

#: A count per code, largest first (ties by code, so the order is stable).
Breakdown = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class ObjectiveFilter:
    """Which records to count: dates overlapping [date_from, date_to], in a country or region.

    A record with no date (a draft) is outside any period. Alerts record a country and no
    region, so a region narrows them to its country.
    """

    date_from: date | None = None
    date_to: date | None = None
    country: str = ""
    region: str = ""


@dataclass(frozen=True)
class ObjectiveReport:
    """Everything counted for one objective under one filter."""

    objective: str
    incidents: int
    incidents_by_right: Breakdown
    incidents_by_country: Breakdown
    incidents_by_kind: Breakdown
    alerts: int
    open_alerts: int
    alerts_by_status: Breakdown
    alerts_by_urgency: Breakdown
    materials: int
    working_groups: int
    organizations: int


def _live(record_type: str) -> list[ColumnElement[bool]]:
    return [RecordRow.record_type == record_type, RecordRow.deleted.is_(False)]


def _placed(where: ObjectiveFilter, *, with_region: bool) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.date_from is not None:
        conditions.append(RecordRow.date_to >= where.date_from.isoformat())
    if where.date_to is not None:
        conditions.append(RecordRow.date_from <= where.date_to.isoformat())
    if where.country:
        conditions.append(RecordRow.country == where.country)
    if where.region and with_region:
        # The region is in the content only; the country condition above has already narrowed
        # the rows to one country's, so this reads few contents.
        conditions.append(_content_field("$.region") == where.region)
    return conditions


def _content_field(path: str) -> Any:
    """A field of the row's own content, read by primary key for each row the other conditions
    kept (an ``IN`` over all contents would parse every record's JSON)."""
    return (
        select(func.json_extract(RecordContent.content, path))
        .where(RecordContent.id == RecordRow.id)
        .scalar_subquery()
    )


def _with_code(field: str, codes: frozenset[str]) -> ColumnElement[bool]:
    return RecordRow.id.in_(
        select(RecordCode.record_id).where(
            RecordCode.field == field, RecordCode.code.in_(sorted(codes))
        )
    )


def incident_ids(rule: ObjectiveRule, where: ObjectiveFilter) -> Select[Any]:
    """The ids of the live incidents that count toward ``rule``'s objective under ``where``."""
    reasons: list[ColumnElement[bool]] = []
    if rule.of("incident_kinds"):
        reasons.append(RecordRow.kind.in_(sorted(rule.of("incident_kinds"))))
    if rule.of("rights"):
        reasons.append(_with_code("rights", rule.of("rights")))
    if rule.of("capture_forms"):
        reasons.append(_with_code("capture_forms", rule.of("capture_forms")))
    act_types = rule.act_types()
    if act_types:
        # An act's type is its list label (records.label), so its index answers this.
        acts = select(RecordRow.parent_id).where(
            *_live("act"), RecordRow.label.in_(sorted(act_types))
        )
        reasons.append(RecordRow.id.in_(acts.scalar_subquery()))
    return select(RecordRow.id).where(
        *_live("incident"),
        *_placed(where, with_region=True),
        or_(*reasons) if reasons else false(),
    )


def alert_ids(rule: ObjectiveRule, where: ObjectiveFilter) -> Select[Any]:
    """The ids of the live alerts whose threat counts toward ``rule``'s objective."""
    threats = sorted(rule.of("defender_threats"))
    # The threat type lives in the content only; alerts are hundreds, not 100,000.
    return select(RecordRow.id).where(
        *_live("alert"),
        *_placed(where, with_region=False),
        _content_field("$.threat_type").in_(threats),
    )


def _grouped(connection: Connection, column: Any, ids: Select[Any]) -> Breakdown:
    rows = connection.execute(
        select(column, func.count())
        .select_from(RecordRow)
        .where(RecordRow.id.in_(ids.scalar_subquery()))
        .group_by(column)
    ).all()
    return _ordered((code, count) for code, count in rows)


def _ordered(pairs: Iterable[tuple[Any, Any]]) -> Breakdown:
    found = [(str(code or ""), int(count)) for code, count in pairs]
    return tuple(sorted(found, key=lambda pair: (-pair[1], pair[0])))


def _by_right(connection: Connection, ids: Select[Any]) -> Breakdown:
    """Distinct incidents per top-level right: a sub-right counts under the right it is part of."""
    rights = vocab.default_vocabularies()[vocab.RIGHTS]
    roots = {
        term.code: rights.ancestors(term.code)[-1].code
        for term in rights
        if term.parent is not None
    }
    top = case(roots, value=RecordCode.code, else_=RecordCode.code) if roots else RecordCode.code
    rows = connection.execute(
        select(top, func.count(RecordCode.record_id.distinct()))
        .where(RecordCode.field == "rights", RecordCode.record_id.in_(ids.scalar_subquery()))
        .group_by(top)
    ).all()
    return _ordered(rows)


def _tagged(
    connection: Connection, record_type: str, objective: str, where: Sequence[ColumnElement[bool]]
) -> int:
    return connection.execute(
        select(func.count())
        .select_from(RecordRow)
        .where(*_live(record_type), _with_code("objectives", frozenset({objective})), *where)
    ).scalar_one()


def count_objective(
    connection: Connection, rule: ObjectiveRule, where: ObjectiveFilter
) -> ObjectiveReport:
    incidents = incident_ids(rule, where)
    alerts = alert_ids(rule, where)
    by_status = _grouped(connection, RecordRow.status, alerts)
    open_statuses = {status.value for status in OPEN_ALERT_STATUSES}
    # Materials and groups have no date or place; organizations have a country.
    country = [RecordRow.country == where.country] if where.country else []
    return ObjectiveReport(
        objective=rule.objective,
        incidents=connection.execute(
            select(func.count()).select_from(incidents.subquery())
        ).scalar_one(),
        incidents_by_right=_by_right(connection, incidents),
        incidents_by_country=_grouped(connection, RecordRow.country, incidents),
        incidents_by_kind=_grouped(connection, RecordRow.kind, incidents),
        alerts=sum(count for _status, count in by_status),
        open_alerts=sum(count for status, count in by_status if status in open_statuses),
        alerts_by_status=by_status,
        alerts_by_urgency=_grouped(connection, RecordRow.kind, alerts),
        materials=_tagged(connection, "material", rule.objective, []),
        working_groups=_tagged(connection, "working_group", rule.objective, []),
        organizations=_tagged(connection, "organization", rule.objective, country),
    )


def count_objectives(
    engine: Engine, where: ObjectiveFilter, rules: ObjectiveRules | None = None
) -> tuple[ObjectiveReport, ...]:
    """A report for every objective, in the objectives vocabulary's order."""
    chosen = rules if rules is not None else default_rules()
    with engine.connect() as connection:
        return tuple(count_objective(connection, rule, where) for rule in chosen.rules)
