"""Property (issue 14): three replicas through a real server delete incidents, working groups,
materials, people and memberships while others edit and add under them (sources, materials with
their files, memberships), keep conflicts and resolve them late, and save records in a newer
format.

After every sync, every value anyone saved is current on some replica where a screen reaches it
(the record alive and every parent it has by the store's cascades too: a source's incident, a
material's group, a file's material, a membership's group and person; a value of the newer
format's field where a newer Minga shows it, in the record this one carries), or in a conflict
a person can see, or was chosen against by a person who had it in view (replaced by an edit
made where it was shown, deleted where it was shown, or not picked in the conflict dialog). At
the end the replicas converge, nothing is left dirty, no record is orphaned (by any cascade),
a deletion nothing overruled stays (what it took back only with its parents, a material or
membership deleted by itself not even then: tests/faults/ledger.py), and the fields of the
newer format are still there on every replica.

Bounded for ``make test`` (10 examples of 20 steps); ``MINGA_PROPERTY_EXAMPLES`` and
``MINGA_PROPERTY_STEPS`` run a longer search. Each example starts a new space with three new
devices (on one server) and draws its record ids, so an example is repeatable from its seed
(``--hypothesis-seed``); every step is traced and a failed check prints the whole story
(``MINGA_PROPERTY_TRACE`` also writes it to a file).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
)
from sqlalchemy import text

from desktop.domain.network_records import Material
from desktop.domain.records import (
    Incident,
    Membership,
    Person,
    PersonKind,
    Source,
    WorkingGroup,
)
from desktop.store.materials import MaterialStore
from tests.faults.ledger import Ledger, ancestors, not_brought_back, orphans, resurrected
from tests.faults.tokens import (
    joined_on,
    parents_of,
    shown,
    stored_orphans,
    token_of,
    with_token,
)
from tests.integration.conftest import Device, Server, close_device, network_of, new_device
from tests.integration.replicas import Trace, run_replicas, search_bounds

EXAMPLES, STEPS = search_bounds(10, 20)
REPLICAS = 3
#: The field a newer Minga adds to incidents (its tokens start with N): this version keeps it.
NEWER = "testimony_language"


def _shown(device: Device, record_id: str) -> set[str]:
    """The tokens screens show for the record here (tests/faults/tokens.py): none if deleted or
    unreachable (a child is shown only through its parents). For an incident, also its newer
    format's field (a newer Minga shows it; this one carries it)."""
    value = shown(device.records, record_id)
    if value is None:
        return set()
    record = device.records.get(record_id)
    if isinstance(record, Incident):
        local = device.state.local_record(record.space_id, record_id)
        newer = None if local is None or local.content is None else local.content.get(NEWER)
        return {value} | ({newer} if isinstance(newer, str) else set())
    return {value}


def _in_conflicts(device: Device, record_id: str) -> set[str]:
    values: set[str] = set()
    for conflict in device.state.conflicts():
        if conflict.record == record_id and conflict.field is not None:
            held = [conflict.mine, conflict.theirs, conflict.current]
            held += [other.value for other in conflict.others]
            tokens = [token_of(conflict.field, v) for v in held]
            values |= {v for v in tokens if isinstance(v, str)}
    return values


def test_every_saved_value_stays_current_in_a_conflict_or_knowingly_replaced(
    server: Server, tmp_path: Path
) -> None:
    examples = itertools.count()

    class Replicas(RuleBasedStateMachine):
        """One example: a new space, three new devices, the ledger of what people saw."""

        def __init__(self) -> None:
            super().__init__()
            number = next(examples)
            self.devices: list[Device] = []

            def make(name: str) -> Device:
                device = new_device(server, tmp_path / f"e{number}-{name}", name)
                self.devices.append(device)
                return device

            self.space, _ = network_of(server, make, REPLICAS)
            for device in self.devices:
                device.sync()
            self.names = {
                d.state.device_keys().device_id: "ABC"[i]  # type: ignore[union-attr]
                for i, d in enumerate(self.devices)
            }
            self.trace = Trace(f"example {number}: replicas A (admin), B, C")
            self.counter = itertools.count()
            self.labels: dict[str, str] = {}
            #: Tokens saved that nobody has knowingly replaced since, per record.
            self.live: dict[str, set[str]] = {}
            #: Tokens each replica has shown, per record (an edit or delete there replaces them).
            self.seen: list[dict[str, set[str]]] = [{} for _ in self.devices]
            #: The newer format's field, per incident: every value a newer Minga saved for it
            #: (two replicas writing it apart make a conflict: one stays, the other is kept).
            self.newer_fields: dict[str, set[str]] = {}
            #: Each record's parents by the cascades (a source's incident, a material's
            #: group, a file's material, a membership's group and person).
            self.parents: dict[str, tuple[str, ...]] = {}
            #: Records deleted by someone who saw every value saved in them; of those, children
            #: deleted by themselves (a material, a membership) with nothing saved since.
            self.deleted: set[str] = set()
            self.deleted_alone: set[str] = set()
            self.incidents: list[str] = []
            self.sources: list[str] = []
            self.groups: list[str] = []
            self.materials: list[str] = []
            self.people: list[str] = []
            #: What the directory and the Working groups page delete: groups, materials (by
            #: themselves), people and memberships (removed by themselves).
            self.directory: list[str] = []
            #: Records edited on the Working groups and directory pages.
            self.under_groups: list[str] = []

        # -- helpers -------------------------------------------------------------------------

        def _token(self) -> str:
            return f"T{next(self.counter)}"

        def _new_id(self, kind: str, key: int) -> str:
            """A record id from the draw: ids order the outbox (and so the pushes), so uuid4
            ids made an example run differently each time. The counter keeps them unique."""
            record_id = f"{key:04x}{next(self.counter):028x}"
            self.labels[record_id] = f"{kind}{len(self.labels)}"
            return record_id

        def _label(self, record_id: str) -> str:
            return self.labels.get(record_id, record_id[:8])

        def _say(self, index: int, what: str) -> None:
            self.trace.add(f"{'ABC'[index]}: {what}")

        def _one(self, ids: list[str], pick: int) -> str:
            return ids[pick % len(ids)] if ids else ""

        def _state(self, device: Device, record_id: str) -> str:
            local = device.state.local_record(self.space, record_id)
            if local is None:
                return "-"
            held = (
                "deleted" if local.content is None else ",".join(sorted(_shown(device, record_id)))
            )
            if local.content is not None and not _shown(device, record_id):
                held = "unreachable"
            out = f"r{local.revision} {held}{' dirty' if local.dirty else ''}"
            if local.chosen:
                out += f" chosen{dict(local.chosen)}"
            for conflict in device.state.conflicts():
                if conflict.record != record_id:
                    continue
                if conflict.field is None:
                    out += f" note:{conflict.kind}"
                else:
                    others = [o.value for o in conflict.others]
                    out += (
                        f" conflict[{conflict.field} mine={conflict.mine} "
                        f"theirs={conflict.theirs} arose={conflict.arose} "
                        f"current={conflict.current}{f' others={others}' if others else ''}]"
                    )
            return out

        def _world(self) -> None:
            for record_id in self.labels:
                states = " | ".join(
                    f"{'ABC'[i]} {self._state(d, record_id)}" for i, d in enumerate(self.devices)
                )
                live = ",".join(sorted(self.live.get(record_id, set())))
                self.trace.add(f"    {self._label(record_id)}: {states}   live={{{live}}}")

        def _incident(self, index: int, key: int) -> str:
            value = self._token()
            incident = Incident(
                id=self._new_id("inc", key),
                space_id=self.space,
                title=f"Incident {value}",
                place=value,
            )
            self.devices[index].records.save(incident)
            self._created(index, incident.id, value, ())
            self.incidents.append(incident.id)
            self._say(index, f"create {self._label(incident.id)} place={value}")
            return incident.id

        def _created(
            self, index: int, record_id: str, value: str, parents: tuple[str, ...]
        ) -> None:
            self.live[record_id] = {value}
            self.seen[index][record_id] = {value}
            self.parents[record_id] = parents
            self._overrule(record_id)

        def _overrule(self, record_id: str) -> None:
            """A value saved beats a deletion of the record or above it made where it had not
            arrived: those deletions are overruled for good (tests/faults/ledger.py)."""
            for overruled in {record_id} | ancestors(self.parents, record_id):
                self.deleted.discard(overruled)
                self.deleted_alone.discard(overruled)

        def _observe(self, index: int) -> None:
            device = self.devices[index]
            for record_id in self.live:
                seen = self.seen[index].setdefault(record_id, set())
                seen.update(_shown(device, record_id))
                seen.update(_in_conflicts(device, record_id))

        def _edit(self, index: int, record_id: str) -> None:
            device = self.devices[index]
            current = device.records.get(record_id) if record_id else None
            if current is None or not _shown(device, record_id):
                return
            value = self._token()
            edited = with_token(current, value)
            if edited is None:
                return  # a file: imported or deleted, never edited
            # It replaces what this replica showed in the field edited, not the newer format's
            # field (carried unchanged through the edit).
            replaced = {v for v in self.seen[index].get(record_id, set()) if not v.startswith("N")}
            self.live[record_id] -= replaced
            self.live[record_id].add(value)
            self._overrule(record_id)
            device.records.save(edited)
            self.seen[index].setdefault(record_id, set()).add(value)
            self._say(
                index,
                f"edit {self._label(record_id)} ={value} "
                f"(replaces {','.join(sorted(replaced)) or '-'})",
            )

        def _delete(self, index: int, record_id: str) -> None:
            """Delete as the app does, with everything the store takes with it: the person saw
            what this replica showed of each."""
            device = self.devices[index]
            current = device.records.get(record_id) if record_id else None
            if current is None or not _shown(device, record_id):
                return
            gone = [record_id]
            for parent in gone:
                gone += [
                    child
                    for child, parents in self.parents.items()
                    if parent in parents and child not in gone and device.records.get(child)
                ]
            replaced: set[str] = set()
            for one in gone:
                replaced |= self.live[one] & self.seen[index].get(one, set())
                self.live[one] -= self.seen[index].get(one, set())
            for one in gone:
                # A value under it this person had not seen overrules the deletion at once.
                below = [c for c in self.parents if one in ancestors(self.parents, c)]
                if not self.live[one] and not any(self.live[c] for c in below):
                    self.deleted.add(one)
            alone = isinstance(current, (Material, Membership))
            if alone and record_id in self.deleted:
                self.deleted_alone.add(record_id)
            if isinstance(current, (Incident, Membership)):
                device.records.delete(record_id)
            else:
                MaterialStore.of(device.profile).delete_with_files(record_id)
            self._say(
                index,
                f"delete {self._label(record_id)}{' by itself' if alone else ''} with "
                f"{','.join(self._label(g) for g in gone[1:]) or 'nothing under it'}"
                f" (replaces {','.join(sorted(replaced)) or '-'})",
            )

        # -- rules ---------------------------------------------------------------------------

        @initialize(key=st.integers(0, 0xFFFF))
        def first(self, key: int) -> None:
            self._incident(0, key)

        @initialize(key=st.integers(0, 0xFFFF))
        def group_everyone_holds(self, key: int) -> None:
            """A working group with a material and a member, synced to every replica: so its
            deletes race with edits and additions under it from the first steps."""
            self.create_group(0, key)
            for index in range(REPLICAS):
                self.sync(index)

        @rule(index=st.integers(0, REPLICAS - 1), key=st.integers(0, 0xFFFF))
        def create_incident(self, index: int, key: int) -> None:
            self._incident(index, key)

        @rule(
            index=st.integers(0, REPLICAS - 1),
            pick=st.integers(0, 50),
            key=st.integers(0, 0xFFFF),
        )
        def add_source(self, index: int, pick: int, key: int) -> None:
            device = self.devices[index]
            incident_id = self._one(self.incidents, pick)
            if not incident_id or device.records.get(incident_id) is None:
                return
            value = self._token()
            source = Source(
                id=self._new_id("src", key),
                space_id=self.space,
                incident_id=incident_id,
                source_type="direct_testimony",
                reliability="reliable",
                language="es",
                summary=value,
            )
            device.records.save(source)
            self._created(index, source.id, value, (incident_id,))
            self.sources.append(source.id)
            self._say(
                index,
                f"add {self._label(source.id)} under {self._label(incident_id)} summary={value}",
            )

        @rule(index=st.integers(0, REPLICAS - 1), pick=st.integers(0, 50))
        def edit_incident(self, index: int, pick: int) -> None:
            self._edit(index, self._one(self.incidents, pick))

        @rule(index=st.integers(0, REPLICAS - 1), pick=st.integers(0, 50))
        def edit_source(self, index: int, pick: int) -> None:
            self._edit(index, self._one(self.sources, pick))

        @rule(
            first=st.integers(0, REPLICAS - 1),
            offset=st.integers(1, REPLICAS - 1),
            pick=st.integers(0, 50),
            child=st.booleans(),
        )
        def edit_on_two(self, first: int, offset: int, pick: int, child: bool) -> None:
            record_id = self._one(self.sources if child else self.incidents, pick)
            self._edit(first, record_id)
            self._edit((first + offset) % REPLICAS, record_id)

        @rule(index=st.integers(0, REPLICAS - 1), pick=st.integers(0, 50))
        def delete_incident(self, index: int, pick: int) -> None:
            self._delete(index, self._one(self.incidents, pick))

        @rule(index=st.integers(0, REPLICAS - 1), key=st.integers(0, 0xFFFF))
        def create_group(self, index: int, key: int) -> None:
            """A working group with a material, and a new person as its member."""
            device = self.devices[index]
            value = self._token()
            group = WorkingGroup(id=self._new_id("grp", key), space_id=self.space, name=value)
            device.records.save(group)
            self._created(index, group.id, value, ())
            self.groups.append(group.id)
            self._say(index, f"create {self._label(group.id)} name={value}")
            value = self._token()
            person = Person(
                id=self._new_id("per", key),
                space_id=self.space,
                kind=PersonKind.INDIVIDUAL,
                name=value,
            )
            device.records.save(person)
            self._created(index, person.id, value, ())
            self.people.append(person.id)
            self._say(index, f"create {self._label(person.id)} name={value}")
            for made in (group, person):
                self.directory.append(made.id)
                self.under_groups.append(made.id)
            self._add(index, group.id, None, key)
            self._add(index, group.id, person.id, key)

        @rule(
            index=st.integers(0, REPLICAS - 1),
            pick=st.integers(0, 50),
            member=st.booleans(),
            key=st.integers(0, 0xFFFF),
        )
        def add_under_group(self, index: int, pick: int, member: bool, key: int) -> None:
            """A material, or a membership of a person, added to a group (maybe one deleted
            on another replica meanwhile)."""
            group_id = self._one(self.groups, pick)
            person_id = self._one(self.people, pick // 2 + key) if member else None
            self._add(index, group_id, person_id, key)

        def _add(self, index: int, group_id: str, person_id: str | None, key: int) -> None:
            device = self.devices[index]
            if not group_id or not _shown(device, group_id):
                return
            if person_id is not None and not _shown(device, person_id):
                return
            value = self._token()
            made: Material | Membership
            if person_id is None:
                made = Material(
                    id=self._new_id("mat", key),
                    space_id=self.space,
                    working_group_id=group_id,
                    title=value,
                    material_type="toolkit",
                )
                self.materials.append(made.id)
            else:
                made = Membership(
                    id=self._new_id("mem", key),
                    space_id=self.space,
                    working_group_id=group_id,
                    person_id=person_id,
                    joined_on=joined_on(value),
                )
            device.records.save(made)
            self._created(index, made.id, value, parents_of(made))
            self.directory.append(made.id)
            self.under_groups.append(made.id)
            self._say(
                index,
                f"add {self._label(made.id)} under "
                f"{', '.join(self._label(p) for p in parents_of(made))} ={value}",
            )

        @rule(
            first=st.integers(0, REPLICAS - 1),
            offset=st.integers(1, REPLICAS - 1),
            pick=st.integers(0, 50),
            add=st.booleans(),
            key=st.integers(0, 0xFFFF),
        )
        def delete_while_edited(
            self, first: int, offset: int, pick: int, add: bool, key: int
        ) -> None:
            """An incident, group or person both replicas show, deleted on one while the other
            edits what is under it or adds something under it, before either syncs."""
            other = (first + offset) % REPLICAS
            one, two = self.devices[first], self.devices[other]
            both = [
                r
                for r in self.incidents + self.groups + self.people
                if _shown(one, r) and _shown(two, r)
            ]
            if not both:
                return
            parent = both[pick % len(both)]
            under = [c for c, parents in self.parents.items() if parent in parents]
            under = [c for c in under if _shown(two, c)]
            if under and not add:
                self._edit(other, under[pick % len(under)])
            elif parent in self.incidents:
                self.add_source(other, self.incidents.index(parent), key)
            elif parent in self.groups:
                person = self._one([p for p in self.people if _shown(two, p)], pick)
                self._add(other, parent, person if pick % 2 and person else None, key)
            else:
                group = self._one([g for g in self.groups if _shown(two, g)], pick)
                self._add(other, group, parent, key)
            self._delete(first, parent)

        @rule(index=st.integers(0, REPLICAS - 1), pick=st.integers(0, 50))
        def edit_under_groups(self, index: int, pick: int) -> None:
            """A group, person, material or membership edited (files are not)."""
            self._edit(index, self._one(self.under_groups, pick))

        @rule(index=st.integers(0, REPLICAS - 1), pick=st.integers(0, 50))
        def delete_in_directory(self, index: int, pick: int) -> None:
            """Half the time a group (it takes the most with it), else anything the directory
            or the Working groups page deletes."""
            self._delete(index, self._one(self.groups if pick % 2 else self.directory, pick // 2))

        @rule(index=st.integers(0, REPLICAS - 1), pick=st.integers(0, 50))
        def save_in_a_newer_format(self, index: int, pick: int) -> None:
            """A newer Minga on this replica adds a field this version does not know."""
            device = self.devices[index]
            record_id = self._one(self.incidents, pick)
            if not record_id:
                return
            local = device.state.local_record(self.space, record_id)
            if local is None or local.content is None or device.records.get(record_id) is None:
                return
            value = f"N{next(self.counter)}"
            # As this version holds what a newer Minga wrote: the fields it does not know
            # beside the record, sealed back with every edit. Dirty: it goes out now.
            extras = json.dumps({"schema": 2, NEWER: value})
            with device.profile.engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO record_extras (record_id, fields) VALUES (:i, :f) "
                        "ON CONFLICT (record_id) DO UPDATE SET fields = excluded.fields"
                    ),
                    {"i": record_id, "f": extras},
                )
                connection.execute(
                    text("UPDATE records SET dirty = 1 WHERE id = :i"), {"i": record_id}
                )
            self.newer_fields.setdefault(record_id, set()).add(value)
            # A newer Minga shows the field: what it showed there is replaced by this value.
            replaced = {v for v in self.seen[index].get(record_id, set()) if v.startswith("N")}
            self.live[record_id] -= replaced
            self.live[record_id].add(value)
            self.seen[index].setdefault(record_id, set()).add(value)
            self._say(
                index,
                f"newer Minga saves {self._label(record_id)} {NEWER}={value} "
                f"(replaces {','.join(sorted(replaced)) or '-'})",
            )

        @rule(index=st.integers(0, REPLICAS - 1), pick=st.integers(0, 10))
        def resolve_late(self, index: int, pick: int) -> None:
            device = self.devices[index]
            open_ones = [c for c in device.state.conflicts() if c.field is not None]
            if not open_ones:
                return
            conflict = open_ones[pick % len(open_ones)]
            offered = [conflict.mine, conflict.theirs, *(o.value for o in conflict.others)]
            if conflict.moved_since:
                offered.append(conflict.current)
            chosen = offered[pick % len(offered)]
            outcome = device.state.resolve_conflict(conflict.id, chosen)
            # Asked again against the current value ("moved"): the conflict now holds the
            # choice, the current value and the others; mine and what it arose against, shown
            # and not picked, are gone. Otherwise every value shown and not picked.
            if outcome == "moved":
                against = {conflict.mine, conflict.theirs, conflict.arose} - {conflict.current}
            else:
                against = set(offered)
            against -= {chosen}
            # Tokens as the ledger holds them (a membership's date is its token).
            tokens = {token_of(conflict.field, v) for v in against}
            self.live[conflict.record] -= {v for v in tokens if isinstance(v, str)}
            picked = token_of(conflict.field, chosen)
            if isinstance(picked, str):
                self.live[conflict.record].add(picked)
                self._overrule(conflict.record)
            self._say(
                index,
                f"resolve {self._label(conflict.record)}.{conflict.field} offered "
                f"{offered} -> {chosen}: {outcome} (against {sorted(map(str, against))})",
            )

        @rule(index=st.integers(0, REPLICAS - 1))
        def sync(self, index: int) -> None:
            device = self.devices[index]
            since = len(device.sent)
            report = device.sync()
            self._say(
                index,
                f"sync: pushed {report.pushed}, pulled {report.pulled}, conflicts "
                f"{report.conflicts}, notes {report.flags}, restored {report.restored}",
            )
            self.trace.exchanges(
                device, since, self._label, lambda a: self.names.get(a, str(a)[:8])
            )
            self._observe(index)
            self._world()
            self.every_saved_value_is_somewhere_a_person_sees_it()

        def every_saved_value_is_somewhere_a_person_sees_it(self) -> None:
            """Checked after every sync (a round), not only at the end."""
            for record_id, tokens in self.live.items():
                for value in tokens:
                    if not any(
                        value in _shown(device, record_id)
                        or value in _in_conflicts(device, record_id)
                        for device in self.devices
                    ):
                        raise self.trace.fail(
                            f"{value} of {self._label(record_id)} ({record_id}) is on no "
                            "replica and in no conflict"
                        )

        def teardown(self) -> None:
            try:
                self._settle()
            finally:
                for device in self.devices:
                    close_device(device)

        def _settle(self) -> None:
            self.trace.add("-- teardown: every replica syncs four times")
            for _ in range(4):
                for index, device in enumerate(self.devices):
                    since = len(device.sent)
                    device.sync()
                    self._say(index, "sync")
                    self.trace.exchanges(
                        device, since, self._label, lambda a: self.names.get(a, str(a)[:8])
                    )
                    self._observe(index)
            self._world()
            snapshots = [
                {k: v for k, v in device.snapshot().items() if not v[0]}  # type: ignore[index]
                for device in self.devices
            ]
            if not snapshots[0] == snapshots[1] == snapshots[2]:
                raise self.trace.fail("the replicas did not converge")
            if not all(device.records.dirty_count() == 0 for device in self.devices):
                raise self.trace.fail("a replica is left with edits not sent")
            # The rules of deletes, by what people saw (tests/faults/ledger.py): no record under
            # a deleted parent, none a value saved under it should have brought back left
            # deleted, and none deleted by someone who saw all of it back unless it came back
            # with its parents (a child deleted by itself, never).
            ledger = Ledger(
                REPLICAS,
                live=self.live,
                deleted=self.deleted,
                deleted_alone=self.deleted_alone,
                parents=self.parents,
            )
            present = {r for r in self.live if self.devices[0].records.get(r) is not None}
            for problem, records in (
                ("left under a deleted parent", orphans(ledger, present)),
                ("not brought back by a value saved under it", not_brought_back(ledger, present)),
                ("deleted by someone who saw all of it, back", resurrected(ledger, present)),
            ):
                if records:
                    labels = ", ".join(self._label(r) for r in records)
                    raise self.trace.fail(f"{problem}: {labels}")
            for device in self.devices:
                stored = stored_orphans(device.profile.engine)
                if stored:
                    labels = ", ".join(self._label(r) for r in stored)
                    raise self.trace.fail(f"orphans on {device.name}: {labels}")
                for record_id, values in self.newer_fields.items():
                    local = device.state.local_record(self.space, record_id)
                    held = None if local is None or local.content is None else local.content
                    # Absent is right when every value a newer Minga saved was replaced by a
                    # person who saw it: a newer Minga saves N, the same replica deletes the
                    # incident before any sync, and an edit from a replica that never had N
                    # brings it back (edit beats delete) without the field. Found by the long
                    # search (seed 11); the check after every sync still holds any value owed.
                    owed = any(v.startswith("N") for v in self.live[record_id])
                    if held is None or (held.get(NEWER) is None and not owed):
                        continue
                    if held.get(NEWER) not in values:
                        raise self.trace.fail(
                            f"{NEWER} of {self._label(record_id)} on {device.name} is "
                            f"{held.get(NEWER)}, not one saved: {values}"
                        )

    run_replicas(Replicas, EXAMPLES, STEPS, fresh=True)
