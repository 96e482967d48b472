"""An incident with everything recorded under it, read and saved as one on a worker thread.

No Qt here: these functions are what the editor's jobs run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from desktop.domain.records import (
    Act,
    Evidence,
    FollowUp,
    Incident,
    Organization,
    Person,
    Record,
    Source,
    SpaceKind,
)
from desktop.store.records import RecordQuery, RecordStore
from desktop.store.spaces import local_spaces
from desktop.store.sync_state import SpaceAccess, space_access


@dataclass
class IncidentBundle:
    """An incident, its acts, sources, evidence and follow-ups, and the people they name."""

    incident: Incident
    acts: list[Act] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)
    parties: dict[str, Person | Organization] = field(default_factory=dict)
    is_new: bool = False
    #: This device's right in the incident's space: a reader is not offered saving.
    access: SpaceAccess = SpaceAccess.LOCAL

    def party_name(self, record_id: str | None) -> str:
        if not record_id:
            return ""
        party = self.parties.get(record_id)
        if isinstance(party, Organization):
            return party.name or party.acronym
        if isinstance(party, Person):
            return party.name or party.alias
        return ""


def incident_space(store: RecordStore, engine: Engine | None = None) -> str:
    """Where a new incident goes: the organization's space, else "only me" (never shared).

    Until sync brings the person's organization, keeping a new incident to this profile is the
    safe default; moving it to a shared space is a deliberate act. With ``engine`` (the
    profile's), an organization space where this device is only a reader is skipped: the
    server would refuse the incident and it would wait unsent forever.
    """
    rows = store.page(RecordQuery("space", kinds=[SpaceKind.ORGANIZATION.value]), 0, 20)
    for row in rows:
        if engine is None or space_access(engine, row.id).can_write:
            return row.id
    return local_spaces(store).only_me.id


def new_bundle(store: RecordStore, engine: Engine | None = None) -> IncidentBundle:
    return IncidentBundle(Incident(space_id=incident_space(store, engine), title=""), is_new=True)


def with_access(bundle: IncidentBundle, engine: Engine) -> IncidentBundle:
    """``bundle`` with this device's right in its space, read from the sync statements."""
    bundle.access = space_access(engine, bundle.incident.space_id)
    return bundle


def _of(records: Sequence[Record], cls: type) -> list:  # type: ignore[type-arg]
    return [r for r in records if isinstance(r, cls)]


def load_bundle(store: RecordStore, incident_id: str) -> IncidentBundle:
    """The incident ``incident_id`` with its children and every person or organization named."""
    incident = store.require(incident_id)
    if not isinstance(incident, Incident):
        raise TypeError("not an incident")
    bundle = IncidentBundle(
        incident,
        acts=_of(store.children(incident_id, "act"), Act),
        sources=_of(store.children(incident_id, "source"), Source),
        evidence=_of(store.children(incident_id, "evidence"), Evidence),
        follow_ups=_of(store.children(incident_id, "follow_up"), FollowUp),
    )
    named: set[str] = {consent.person_id for consent in incident.consents}
    for act in bundle.acts:
        named.add(act.victim_id)
        named.update(i.perpetrator_id for i in act.involvements if i.perpetrator_id)
    for source in bundle.sources:
        named.update(x for x in (source.person_id, source.organization_id) if x)
    for record_id in sorted(named):
        record = store.get(record_id)
        if isinstance(record, Person | Organization):
            bundle.parties[record_id] = record
    return bundle


def save_bundle(
    store: RecordStore,
    records: Sequence[Record],
    removed: Sequence[str] = (),
) -> None:
    """Save the incident, its children and the people created with it in one transaction.

    ``records`` must list new people before the records naming them (for the reader, not for
    SQL: ids are not foreign keys). Acts and sources the person removed go afterwards.
    """
    store.save_all(records)
    for record_id in removed:
        if store.get(record_id) is not None:
            store.delete(record_id)
