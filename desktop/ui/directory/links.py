"""What the directory's detail panel shows around one record, read from the store (no Qt).

Memberships are indexed by working group only, so a member's groups are found group by group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from desktop.domain.records import Membership, Organization, Person, Record, WorkingGroup
from desktop.store.records import RecordQuery, RecordStore
from desktop.store.sync_state import SpaceAccess

#: Working groups read per query while looking for a member's memberships.
_GROUP_PAGE = 500


@dataclass(frozen=True)
class Link:
    """A record related to the one shown: its id, type and name, and the membership if any."""

    record_id: str
    record_type: str
    label: str
    membership_id: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class RecordDetail:
    """One record with its neighbours: an organization's people and groups, a group's members."""

    record: Record
    organization: Link | None = None
    people: list[Link] = field(default_factory=list)
    organizations: list[Link] = field(default_factory=list)
    groups: list[Link] = field(default_factory=list)
    #: This device's right in the record's space: a reader is not offered editing.
    access: SpaceAccess = SpaceAccess.LOCAL


def _name(record: Record) -> str:
    return str(getattr(record, "name", "") or getattr(record, "alias", ""))


def memberships_of(store: RecordStore, member_id: str) -> list[Membership]:
    """Every membership naming ``member_id`` as its person or its organization."""
    found: list[Membership] = []
    query = RecordQuery("working_group")
    offset = 0
    while rows := store.page(query, offset, _GROUP_PAGE):
        for row in rows:
            for child in store.children(row.id, "membership"):
                if isinstance(child, Membership) and member_id in (
                    child.person_id,
                    child.organization_id,
                ):
                    found.append(child)
        offset += len(rows)
    return found


def _group_links(store: RecordStore, member_id: str) -> list[Link]:
    links = []
    for membership in memberships_of(store, member_id):
        group = store.get(membership.working_group_id)
        if isinstance(group, WorkingGroup):
            links.append(
                Link(group.id, "working_group", group.name, membership.id, membership.role.value)
            )
    return sorted(links, key=lambda link: link.label.casefold())


def load_detail(store: RecordStore, record_id: str) -> RecordDetail:
    """The record and its links; links to records deleted since are left out."""
    record = store.require(record_id)
    if isinstance(record, Organization):
        people = [
            Link(p.id, "person", _name(p))
            for p in store.children(record.id, "person")
            if isinstance(p, Person)
        ]
        people.sort(key=lambda link: link.label.casefold())
        return RecordDetail(record, people=people, groups=_group_links(store, record.id))
    if isinstance(record, Person):
        organization = None
        if record.organization_id:
            found = store.get(record.organization_id)
            if isinstance(found, Organization):
                organization = Link(found.id, "organization", found.name)
        return RecordDetail(
            record, organization=organization, groups=_group_links(store, record.id)
        )
    if isinstance(record, WorkingGroup):
        members_people: list[Link] = []
        members_organizations: list[Link] = []
        for membership in store.children(record.id, "membership"):
            if not isinstance(membership, Membership):
                continue
            member_id = membership.person_id or membership.organization_id or ""
            member = store.get(member_id)
            if isinstance(member, Person):
                members_people.append(
                    Link(member.id, "person", _name(member), membership.id, membership.role.value)
                )
            elif isinstance(member, Organization):
                members_organizations.append(
                    Link(
                        member.id, "organization", member.name, membership.id, membership.role.value
                    )
                )
        members_people.sort(key=lambda link: link.label.casefold())
        members_organizations.sort(key=lambda link: link.label.casefold())
        return RecordDetail(record, people=members_people, organizations=members_organizations)
    return RecordDetail(record)
