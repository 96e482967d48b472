"""What the network recorded against each shared objective, counted in SQL.

Incidents and alerts count toward an objective by the rule in ``desktop.domain.objectives``;
materials, groups and organizations by their own objective tags. Nothing is loaded to count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    CTE,
    Engine,
    String,
    and_,
    case,
    column,
    func,
    literal,
    select,
    union,
    values,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from desktop.domain import vocabularies as vocab
from desktop.domain.network_records import OPEN_ALERT_STATUSES
from desktop.domain.objectives import ObjectiveRules, default_rules
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


def _counted_incidents(rules: ObjectiveRules, where: ObjectiveFilter) -> CTE:
    """``(id, objective, country, kind)`` for every live incident under ``where`` and each
    objective it counts toward; the UNION makes it count once per objective, whatever the
    reasons.

    One ``IN`` list per objective and kind of code, so each part is one range of an index
    (codes by field and code, acts by label). Still slow at 100,000 incidents (tens of
    seconds): the UNION de-duplicates some 360,000 pairs; to be made faster.
    """
    parts: list[Any] = []
    for rule in rules.rules:
        objective = literal(rule.objective).label("objective")
        for field in ("rights", "capture_forms"):
            if rule.of(field):
                parts.append(
                    select(RecordCode.record_id.label("id"), objective).where(
                        RecordCode.field == field, RecordCode.code.in_(sorted(rule.of(field)))
                    )
                )
        if rule.of("incident_kinds"):
            parts.append(
                select(RecordRow.id.label("id"), objective).where(
                    *_live("incident"), RecordRow.kind.in_(sorted(rule.of("incident_kinds")))
                )
            )
        # An act's type is its list label, and may be an act or a threat against a defender.
        if rule.act_types():
            parts.append(
                select(RecordRow.parent_id.label("id"), objective).where(
                    *_live("act"), RecordRow.label.in_(sorted(rule.act_types()))
                )
            )
    pairs = union(*parts).subquery("pairs")
    return (
        select(pairs.c.id, pairs.c.objective, RecordRow.country, RecordRow.kind)
        .join(RecordRow, RecordRow.id == pairs.c.id)
        .where(*_live("incident"), *_placed(where, with_region=True))
        .cte("counted")
    )


def _threats(rules: ObjectiveRules) -> CTE:
    """The rule's threats as rows ``(code, objective)``: alerts are few, a join is cheap."""
    rows = sorted(
        (code, rule.objective) for rule in rules.rules for code in rule.of("defender_threats")
    )
    table = values(column("code", String), column("objective", String), name="threat_rule")
    # VALUES needs a row: with no threat in the rule, one that matches no alert.
    return table.data(rows or [("", "")]).cte("threat_rule")


def _ordered(pairs: Iterable[tuple[Any, Any]]) -> Breakdown:
    found = [(str(code or ""), int(count)) for code, count in pairs]
    return tuple(sorted(found, key=lambda pair: (-pair[1], pair[0])))


def _summed(rows: Iterable[tuple[str, str | None, int]]) -> dict[str, Breakdown]:
    """``(objective, code, count)`` rows summed per objective and code."""
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for objective, code, count in rows:
        sums[objective][code or ""] += count
    return {objective: _ordered(found.items()) for objective, found in sums.items()}


def _right_roots() -> dict[str, str]:
    rights = vocab.default_vocabularies()[vocab.RIGHTS]
    return {
        term.code: rights.ancestors(term.code)[-1].code
        for term in rights
        if term.parent is not None
    }


def _tagged(
    connection: Connection, record_type: str, where: Sequence[ColumnElement[bool]]
) -> dict[str, int]:
    """How many live records of ``record_type`` carry each objective tag."""
    rows = connection.execute(
        select(RecordCode.code, func.count())
        .join(RecordRow, RecordRow.id == RecordCode.record_id)
        .where(RecordCode.field == "objectives", *_live(record_type), *where)
        .group_by(RecordCode.code)
    ).all()
    return {code: count for code, count in rows}


def count_objectives(
    engine: Engine, where: ObjectiveFilter, rules: ObjectiveRules | None = None
) -> tuple[ObjectiveReport, ...]:
    """A report for every objective, in the objectives vocabulary's order.

    A handful of grouped queries answer all six objectives at once, instead of five queries
    per objective.
    """
    chosen = rules if rules is not None else default_rules()
    counted = _counted_incidents(chosen, where)
    threats = _threats(chosen)
    with engine.connect() as connection:
        # Country and kind in one pass; each breakdown and the total are sums of it.
        placed = connection.execute(
            select(counted.c.objective, counted.c.country, counted.c.kind, func.count()).group_by(
                counted.c.objective, counted.c.country, counted.c.kind
            )
        ).all()
        roots = _right_roots()
        top = case(roots, value=RecordCode.code, else_=RecordCode.code)
        by_right = connection.execute(
            select(counted.c.objective, top, func.count(RecordCode.record_id.distinct()))
            .join(
                RecordCode, and_(RecordCode.record_id == counted.c.id, RecordCode.field == "rights")
            )
            .group_by(counted.c.objective, top)
        ).all()
        # The threat type lives in the content only; alerts are hundreds, not 100,000.
        alerts = connection.execute(
            select(threats.c.objective, RecordRow.status, RecordRow.kind, func.count())
            .select_from(RecordRow)
            .join(threats, threats.c.code == _content_field("$.threat_type"))
            .where(*_live("alert"), *_placed(where, with_region=False))
            .group_by(threats.c.objective, RecordRow.status, RecordRow.kind)
        ).all()
        # Materials and groups have no date or place; organizations have a country.
        country = [RecordRow.country == where.country] if where.country else []
        materials = _tagged(connection, "material", [])
        groups = _tagged(connection, "working_group", [])
        organizations = _tagged(connection, "organization", country)
    by_country = _summed((o, c, n) for o, c, _k, n in placed)
    by_kind = _summed((o, k, n) for o, _c, k, n in placed)
    rights = _summed((o, r, n) for o, r, n in by_right)
    by_status = _summed((o, s, n) for o, s, _u, n in alerts)
    by_urgency = _summed((o, u, n) for o, _s, u, n in alerts)
    open_statuses = {status.value for status in OPEN_ALERT_STATUSES}
    reports = []
    for objective in chosen.objectives():
        statuses = by_status.get(objective, ())
        reports.append(
            ObjectiveReport(
                objective=objective,
                incidents=sum(n for _c, n in by_country.get(objective, ())),
                incidents_by_right=rights.get(objective, ()),
                incidents_by_country=by_country.get(objective, ()),
                incidents_by_kind=by_kind.get(objective, ()),
                alerts=sum(n for _s, n in statuses),
                open_alerts=sum(n for s, n in statuses if s in open_statuses),
                alerts_by_status=statuses,
                alerts_by_urgency=by_urgency.get(objective, ()),
                materials=materials.get(objective, 0),
                working_groups=groups.get(objective, 0),
                organizations=organizations.get(objective, 0),
            )
        )
    return tuple(reports)
