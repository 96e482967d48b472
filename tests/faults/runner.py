"""Fault runs: seeded random edit/sync scenarios on three profiles, each behind its own flaky
link to a real `minga-server`, while client sync processes and the server are SIGKILLed at
random points. After each run: heal (sync rounds without faults until quiet), then check that
every replica holds the same live records, nothing is dirty or left in an outbox, and every
saved edit is the final value or kept in a conflict.

    python -m tests.faults.runner --runs 500 --seed 1     # `make faults`
    python -m tests.faults.runner --runs 1 --seed 417     # replay one run

Run ``i`` uses seed ``S + i``; a failure prints the seed that replays its scenario (timings on
a loaded machine differ, so a replay may take another path through the faults).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import text

from desktop.domain.network_records import Material, MaterialFile
from desktop.domain.record_base import Record
from desktop.domain.records import (
    Incident,
    Membership,
    Person,
    PersonKind,
    Source,
    WorkingGroup,
)
from desktop.store.materials import MaterialStore
from desktop.store.profile import unlock
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from sync.client.engine import SyncEngine
from sync.client.transport import Offline, Transport
from tests.faults.ledger import (
    Ledger,
    lost_edits,
    not_back_with_parents,
    not_brought_back,
    open_case,
    orphans,
    resurrected,
)
from tests.faults.postgres import create_database, database_name, drop_database
from tests.faults.tokens import (
    TOKEN_FIELDS,
    file_name,
    joined_on,
    parents_of,
    shown,
    stored_orphans,
    token_of,
    with_token,
)
from tests.helpers.link import DOWN, UP, Link, LinkProfile
from tests.helpers.profiles import PASSPHRASE, new_profile
from tests.helpers.server_process import ServerProcess, run_cli, start_server
from tests.integration.conftest import Device, Server, network_of, organization

ROOT = Path(__file__).resolve().parents[2]
REPLICAS = 3
#: The `flaky` profile (240 kbit/s, 400 ms RTT, a cut every 20–40 s) with time scaled by ten,
#: so a run lasts seconds: cuts still land mid-request and mid-page, several per run.
FLAKY = LinkProfile(2_400_000, 2_400_000, 0.040, 0.004, cut_every=(0.5, 4.0))
#: Small pages so pulls span several pages and a kill or cut can land between them.
PAGE_BYTES = 2048
SERVER_ENV = {
    "MINGA_SERVER_ENROLL_PER_MINUTE": "10000",
    "MINGA_SERVER_CHALLENGES_PER_MINUTE": "10000",
}
#: Where a client sync process is killed: at a paused phase of tests.helpers.sync_runner, or
#: after a random delay wherever it happens to be.
CLIENT_KILLS = ("before-send", "after-answer", "mid-pull", "mid-upload", "random")
#: Bounds so a stuck process or a sync that never quiets fails the run instead of hanging it.
CHILD_LIMIT = 60.0
HEAL_ROUNDS = 8


class RunFailure(Exception):
    """The run did not converge, lost an edit, or a sync failed in a way that is not `Offline`."""


@dataclass
class Totals:
    """Figures over all runs."""

    runs: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    #: Client kills tried: one lands only if the sync is still running (or reaches its phase).
    client_kills_tried: int = 0
    saved: int = 0
    checked: int = 0
    lost: int = 0
    deletions_checked: int = 0
    #: Of those, children deleted by themselves (a material, a membership): they must stay.
    alone_checked: int = 0
    conflicts: int = 0
    #: Children a deletion took, missing though their parents are back (``not_back_with_parents``),
    #: reported, not failed, in one case only: the open one of ENGINE.md "Deletes" (``check``).
    not_back: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    interrupted: bool = False


@dataclass
class Run:
    """One run's server, links and devices; everything here is ended by ``close``."""

    folder: Path
    rng: random.Random
    server: ServerProcess
    devices: list[Device]
    links: list[Link]
    ledger: Ledger
    faults: Counter[str] = field(default_factory=Counter)
    space: str = ""
    #: The run's PostgreSQL database (``None``: SQLite in the server's data dir).
    database_url: str | None = None
    records: list[str] = field(default_factory=list)
    #: The parents of the store's cascades (desktop/store/records.py ``CASCADES``): deleting
    #: one deletes what is under it, and an edit or addition under a deleted one brings it
    #: back with everything it took (ENGINE.md, "Deletes"). Their children are in the ledger.
    incidents: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    #: People and organizations: what a membership names beside its group.
    members: list[str] = field(default_factory=list)
    memberships: list[str] = field(default_factory=list)
    #: Children a deletion took on a replica that had never synced them (revision 0: the
    #: store keeps such a record deleted, nothing to send, to come back with its parent).
    taken_unsent: set[str] = field(default_factory=set)
    #: Children some replica deleted by themselves (a material, a membership), whether the
    #: ledger counts that deletion or finds it overruled from the start.
    removed_alone: set[str] = field(default_factory=set)
    seed: int = 0
    restarts: int = 0
    client_kills_tried: int = 0
    retired_cuts: int = 0

    # --- the scenario ------------------------------------------------------------------------

    def value(self, index: int, record: str) -> str | None:
        """The token a screen shows for ``record`` on replica ``index`` (tests/faults/tokens.py:
        a child only while its parents are there, so an orphan shows nothing)."""
        return shown(self.devices[index].records, record)

    def observe(self, index: int) -> None:
        self.ledger.observe(index, {r: self.value(index, r) for r in self.records})

    def _save(self, index: int, made: Record, token: str) -> None:
        self.devices[index].records.save(made)
        self.records.append(made.id)
        self.ledger.created(index, made.id, token, parents_of(made))

    def create(self, index: int) -> None:
        token = self.ledger.new_token()
        made = organization(self.space, f"Organization {token}", acronym=token)
        self._save(index, made, token)
        self.members.append(made.id)

    def create_incident(self, index: int) -> None:
        """An incident with a source under it (deleted with it, brought back with it)."""
        token = self.ledger.new_token()
        made = Incident(space_id=self.space, title=f"Incident {token}", place=token)
        self._save(index, made, token)
        self.incidents.append(made.id)
        self.add_source(index, made.id)

    def add_source(self, index: int, incident: str) -> None:
        if self.value(index, incident) is None:
            return
        token = self.ledger.new_token()
        made = Source(
            space_id=self.space,
            incident_id=incident,
            source_type="direct_testimony",
            reliability="reliable",
            language="es",
            summary=token,
        )
        self._save(index, made, token)

    def create_group(self, index: int, *, members: bool = True) -> None:
        """A working group with a material and its file, and a new person as its member: every
        cascade of a group, a material and a person in one step (``members=False``: the group
        and its material only, so only the material can bring it back over a deletion)."""
        token = self.ledger.new_token()
        group = WorkingGroup(space_id=self.space, name=token)
        self._save(index, group, token)
        self.groups.append(group.id)
        if not members:
            self.add_material(index, group.id)
            return
        token = self.ledger.new_token()
        person = Person(space_id=self.space, kind=PersonKind.INDIVIDUAL, name=token)
        self._save(index, person, token)
        self.members.append(person.id)
        self.add_material(index, group.id)
        self.add_membership(index, group.id, person.id)

    def add_material(self, index: int, group: str) -> None:
        """A material with one file, as the Working groups page imports it."""
        if self.value(index, group) is None:
            return
        token = self.ledger.new_token()
        material = Material(
            space_id=self.space, working_group_id=group, title=token, material_type="toolkit"
        )
        self._save(index, material, token)
        self.materials.append(material.id)
        self.add_file(index, material.id)

    def add_file(self, index: int, material_id: str) -> None:
        """A small file imported into a material: sealed into the vault, its chunks sent
        before its record (``MaterialStore.import_file``)."""
        material = self.devices[index].records.get(material_id)
        if not isinstance(material, Material) or self.value(index, material_id) is None:
            return
        token = self.ledger.new_token()
        path = self.folder / "files" / file_name(token)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(f"Acta {token}\n".encode() * 40)
        made = MaterialStore.of(self.devices[index].profile).import_file(material, path)
        self.records.append(made.id)
        self.ledger.created(index, made.id, token, parents_of(made))

    def add_membership(self, index: int, group: str, member: str) -> None:
        """A person or organization joins a group (on its joined-on date: the token)."""
        named = self.devices[index].records.get(member)
        if self.value(index, group) is None or self.value(index, member) is None:
            return
        token = self.ledger.new_token()
        person = isinstance(named, Person)
        made = Membership(
            space_id=self.space,
            working_group_id=group,
            person_id=member if person else None,
            organization_id=None if person else member,
            joined_on=joined_on(token),
        )
        self._save(index, made, token)
        self.memberships.append(made.id)

    def add_under_group(self, index: int) -> None:
        """Something added under a group, maybe while another replica deletes it."""
        rng = self.rng
        what = rng.choice(("material", "file", "membership"))
        if what == "file" and self.materials:
            self.add_file(index, rng.choice(self.materials))
        elif what == "membership" and self.members:
            self.add_membership(index, rng.choice(self.groups), rng.choice(self.members))
        else:
            self.add_material(index, rng.choice(self.groups))

    def delete_while_edited(self, index: int) -> None:
        """A record with children deleted on one replica while another edits or adds
        something under it, before either syncs: the race the rules of deletes are for."""
        rng = self.rng
        parents = self.incidents + self.groups + self.materials + self.members
        others = [(index + step) % REPLICAS for step in range(1, REPLICAS)]
        rng.shuffle(others)
        # One both replicas show (synced there), if any: else the race is only half run.
        for other in others:
            both = [p for p in parents if self.value(index, p) and self.value(other, p)]
            if both:
                break
        parent = rng.choice(both or parents)
        under = [c for c, parents in self.ledger.parents.items() if parent in parents]
        edited = [c for c in under if self.value(other, c) is not None]
        if edited and parent not in self.materials and rng.random() < 0.5:  # files: not edited
            self.edit(other, rng.choice(edited))
        elif parent in self.incidents:
            self.add_source(other, parent)
        elif parent in self.groups:
            if rng.random() < 0.5:
                self.add_material(other, parent)
            else:
                self.add_membership(other, parent, rng.choice(self.members))
        elif parent in self.materials:
            self.add_file(other, parent)
        elif self.groups:
            self.add_membership(other, rng.choice(self.groups), parent)
        self.delete(index, parent)

    def delete_group_while_material(self, index: int) -> None:
        """A working group that no membership keeps deleted on one replica while another edits
        a material under it, adds one, or adds a file to one, before either syncs: only that
        material can bring the group back (ENGINE.md, "Deletes", rule 1). In
        ``delete_while_edited`` a membership, edited, added or already there, usually races
        along and brings the group back first, so a group that a material alone should bring
        back was rarely played. Without such a group that both replicas show, one is made
        here and synced to both (the race then waits for a later step if a link cut it)."""
        rng = self.rng
        others = [(index + step) % REPLICAS for step in range(1, REPLICAS)]
        rng.shuffle(others)
        bare: list[str] = []
        for other in others:
            bare = [g for g in self.groups if self._bare(g, index) and self._bare(g, other)]
            if bare:
                break
        if not bare:
            self.create_group(index, members=False)
            self.sync(index)
            self.sync(other)
            return
        group = rng.choice(bare)
        under = [
            m for m in self.materials if group in self.ledger.parents[m] and self.value(other, m)
        ]
        what = rng.random()
        if under and what < 0.4:
            self.edit(other, rng.choice(under))
        elif under and what < 0.6:
            self.add_file(other, rng.choice(under))
        else:
            self.add_material(other, group)
        self.delete(index, group)

    def _bare(self, group: str, index: int) -> bool:
        """Replica ``index`` shows ``group`` and no membership of it."""
        if self.value(index, group) is None:
            return False
        return not any(
            group in self.ledger.parents[s] and self.value(index, s) is not None
            for s in self.memberships
        )

    def edit(self, index: int, record: str) -> None:
        shown = self.value(index, record)
        current = self.devices[index].records.get(record)
        if shown is None or current is None:
            return
        token = self.ledger.new_token()
        edited = with_token(current, token)
        if edited is None:
            return  # a file: imported or deleted, never edited
        self.ledger.edited(index, record, shown, token)
        self.devices[index].records.save(edited)

    def delete(self, index: int, record: str) -> None:
        """Delete as the app does: an incident on its page (``RecordStore.delete``), a group,
        person or organization in the directory and a material on its group's page
        (``MaterialStore.delete_with_files``: its files' bytes erased too), a membership
        removed in the directory by itself (``RecordStore.delete``). Sources and files are
        deleted only with what they are under."""
        device = self.devices[index]
        shown = self.value(index, record)
        current = device.records.get(record)
        if shown is None or isinstance(current, (Source, MaterialFile)) or current is None:
            return
        # What the store takes with it, down the cascades: the person saw those too.
        taken: list[str] = []
        below = [record]
        while below:
            parent = below.pop()
            for child, parents in self.ledger.parents.items():
                if parent in parents and child not in taken and device.records.get(child):
                    taken.append(child)
                    below.append(child)
        for child in taken:
            self.ledger.removed(index, child, self.value(index, child))
            local = device.state.local_record(self.space, child)
            if local is not None and local.revision == 0:
                self.taken_unsent.add(child)
        # A material or a membership is a child of a cascade: deleted by itself, it stays
        # deleted when its group comes back (``deleted_alone``).
        alone = isinstance(current, (Material, Membership))
        if alone:
            self.removed_alone.add(record)
        self.ledger.removed(index, record, shown, alone=alone)
        if isinstance(current, (Incident, Membership)):
            device.records.delete(record)
        else:
            MaterialStore.of(device.profile).delete_with_files(record)

    def sync(self, index: int) -> None:
        """An in-process sync through the flaky link; a cut is `Offline`: try again later."""
        with contextlib.suppress(Offline):
            self.devices[index].sync()
        self.observe(index)

    def cut_mid_transfer(self, index: int) -> None:
        """Arm a reset a random number of bytes into the next transfer, then sync."""
        direction = self.rng.choice((UP, DOWN))
        self.links[index].cut_after(direction, self.rng.randrange(0, 6000))
        self.sync(index)
        self.links[index].clear_cuts()

    def kill_client(self, index: int) -> None:
        """Sync ``index`` in a child process and SIGKILL it at a random point."""
        where = self.rng.choice(CLIENT_KILLS)
        self.client_kills_tried += 1
        device = self.devices[index]
        folder = device.profile.folder
        close_device(device)
        command = [sys.executable, "-m", "tests.helpers.sync_runner", "--folder", str(folder)]
        command += ["--url", self.links[index].url, "--page-bytes", str(PAGE_BYTES)]
        if where != "random":
            command += ["--pause", where]
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen = ""
        try:
            if where == "random":
                # The child spends about a second importing and unlocking; the kill lands
                # anywhere from there to the end of its sync.
                try:
                    child.wait(timeout=self.rng.uniform(0.6, 2.2))
                except subprocess.TimeoutExpired:
                    os.kill(child.pid, signal.SIGKILL)
                    self.faults["client kill: random moment"] += 1
            else:
                paused, seen = self._wait_for_pause(child, where)
                if paused:
                    os.kill(child.pid, signal.SIGKILL)
                    self.faults[f"client kill: {where}"] += 1
            child.wait(timeout=10)
            if child.returncode not in (0, 2, -signal.SIGKILL):
                stderr = child.stderr.read() if child.stderr else ""
                raise RunFailure(f"sync process exited {child.returncode}: {stderr[-2000:]}")
            if child.returncode == 0:
                # A sync that finished before its kill: it must have refused and lost nothing.
                out = seen + (child.stdout.read() if child.stdout else "")
                report = json.loads(out.strip().splitlines()[-1])
                if report["refused"] or report["rejected"]:
                    raise RunFailure(f"sync process refused or was rejected: {report}")
        finally:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
                child.wait(timeout=10)
            for stream in (child.stdout, child.stderr):
                if stream is not None:
                    stream.close()
            self.devices[index] = open_device(device.name, folder, self.links[index].url)
        self.observe(index)

    def _wait_for_pause(self, child: subprocess.Popen[str], phase: str) -> tuple[bool, str]:
        """True once the child printed ``PAUSED phase``; False if it finished without pausing
        there (nothing to push, nothing to pull), with the report line it printed then."""
        assert child.stdout is not None
        deadline = time.monotonic() + CHILD_LIMIT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([child.stdout], [], [], 0.5)
            if ready:
                line = child.stdout.readline()
                if not line:
                    return False, ""
                if line.strip() == f"PAUSED {phase}":
                    return True, ""
                with contextlib.suppress(ValueError):
                    json.loads(line)  # the report of a sync that never reached the phase
                    return False, line
        raise RunFailure(f"sync process neither paused at {phase} nor ended in {CHILD_LIMIT} s")

    def kill_server(self, index: int) -> None:
        """SIGKILL the server at a random moment of a sync by ``index``, restart on its data."""
        errors: list[BaseException] = []

        def work() -> None:
            try:
                self.devices[index].sync()
            except Offline:
                pass
            except BaseException as error:  # handed to the run's thread
                errors.append(error)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        time.sleep(self.rng.uniform(0.0, 0.6))
        self.server.process.kill()
        self.server.process.wait(timeout=10)
        self.faults["server kill"] += 1
        worker.join(timeout=CHILD_LIMIT)
        if worker.is_alive():
            raise RunFailure("a sync did not end after the server was killed")
        if errors:
            raise RunFailure(f"sync during a server kill raised {errors[0]!r}") from errors[0]
        self.restarts += 1
        self.server = start_server(
            self.folder / "server",
            self.database_url,
            extra_env=SERVER_ENV,
            log_name=f"server-{self.restarts}.log",
        )
        self.relink()
        self.observe(index)

    def relink(self) -> None:
        """New flaky links to the (restarted) server; each device's engine uses its link."""
        for link in self.links:
            self.retired_cuts += link.counts.cuts
            link.stop()
        self.links = [
            Link(
                ("127.0.0.1", self.server.port),
                FLAKY,
                seed=self.rng.randrange(2**32),
                max_lifetime=600,
            )
            for _ in self.devices
        ]
        for index, device in enumerate(self.devices):
            reconnect(device, self.links[index].url)

    def step(self) -> None:
        rng = self.rng
        index = rng.randrange(REPLICAS)
        kind = rng.choices(
            (
                "create",
                "create-incident",
                "add-source",
                "create-group",
                "add-under-group",
                "edit",
                "edit-two",
                "delete",
                "delete-incident",
                "delete-under-group",
                "delete-while-edited",
                "delete-group-while-material",
                "sync",
                "cut",
                "kill-client",
                "kill-server",
            ),
            weights=(1.5, 1, 1, 1, 1, 5, 3, 0.5, 0.5, 1, 1.25, 1.25, 6, 2, 1.0, 0.5),
        )[0]
        if kind in ("add-source", "delete-incident") and not self.incidents:
            kind = "create-incident"
        if kind in ("add-under-group", "delete-under-group") and not self.groups:
            kind = "create-group"
        if kind == "delete-while-edited" and not (self.incidents or self.groups):
            kind = rng.choice(("create-incident", "create-group"))
        if kind == "create" or (not self.records and kind in ("edit", "edit-two", "delete")):
            self.create(index)
        elif kind == "create-incident":
            self.create_incident(index)
        elif kind == "add-source":
            self.add_source(index, rng.choice(self.incidents))
        elif kind == "delete-incident":
            self.delete(index, rng.choice(self.incidents))
        elif kind == "create-group":
            self.create_group(index)
        elif kind == "add-under-group":
            self.add_under_group(index)
        elif kind == "delete-while-edited":
            self.delete_while_edited(index)
        elif kind == "delete-group-while-material":
            self.delete_group_while_material(index)
        elif kind == "delete-under-group":
            # A group, a material (by itself), a person or organization with its memberships,
            # or a membership removed by itself: the records the directory and the Working
            # groups page delete.
            doomed = self.groups + self.materials + self.members + self.memberships
            self.delete(index, rng.choice(doomed))
        elif kind == "edit":
            self.edit(index, rng.choice(self.records))
        elif kind == "edit-two":
            # Two people edit the same field before either syncs: what merges exist for.
            record = rng.choice(self.records)
            self.edit(index, record)
            self.edit((index + rng.randrange(1, REPLICAS)) % REPLICAS, record)
        elif kind == "delete":
            self.delete(index, rng.choice(self.records))
        elif kind == "sync":
            self.sync(index)
        elif kind == "cut":
            self.cut_mid_transfer(index)
        elif kind == "kill-client":
            self.kill_client(index)
        else:
            self.kill_server(index)

    # --- heal and check ------------------------------------------------------------------------

    def heal(self) -> None:
        """Sync rounds straight to the server (no link, no fault) until a round moves nothing."""
        self.faults["link cut"] += self.retired_cuts + sum(link.counts.cuts for link in self.links)
        for link in self.links:
            link.stop()
        self.links = []
        for device in self.devices:
            reconnect(device, self.server.base_url)
        for _round in range(HEAL_ROUNDS):
            moved = 0
            for index, device in enumerate(self.devices):
                report = device.sync()
                moved += report.pushed + report.pulled
                self.observe(index)
            if moved == 0:
                return
        raise RunFailure(f"still moving records after {HEAL_ROUNDS} fault-free sync rounds")

    def check(self, totals: Totals) -> None:
        problems: list[str] = []
        live = [
            {k: v for k, v in device.snapshot().items() if not v[0]}  # type: ignore[index]
            for device in self.devices
        ]
        for index in range(1, REPLICAS):
            if live[index] != live[0]:
                differ = sorted(
                    k
                    for k in live[0].keys() | live[index].keys()
                    if live[0].get(k) != live[index].get(k)
                )
                problems.append(f"replica {index} differs from replica 0 on {differ}")
        for device in self.devices:
            if device.records.dirty_count():
                problems.append(f"{device.name}: {device.records.dirty_count()} dirty records")
            with device.profile.engine.connect() as connection:
                left = connection.scalar(text("SELECT count(*) FROM sync_outbox"))
            if left:
                problems.append(f"{device.name}: {left} outbox entries left")
        kept: dict[str, set[object]] = {}
        conflicts = 0
        fields = set(TOKEN_FIELDS.values())
        for device in self.devices:
            for conflict in device.state.conflicts():
                conflicts += 1
                if conflict.field in fields:
                    values = {conflict.mine, conflict.theirs, conflict.current}
                    values |= {other.value for other in conflict.others}
                    tokens = {token_of(conflict.field, value) for value in values}
                    kept.setdefault(conflict.record, set()).update(tokens)
            orphaned = stored_orphans(device.profile.engine)
            if orphaned:
                problems.append(f"{device.name}: records under a deleted parent {orphaned}")
        finals = {record: self.value(0, record) for record in self.records}
        present = {r for r in self.records if self.devices[0].records.get(r) is not None}
        lost = lost_edits(self.ledger, finals, kept)
        # The rules of deletes (ENGINE.md): no record under a deleted parent (by the ledger,
        # as by the store's own table above); a value saved under a deleted parent brought it
        # back; a deletion nothing overruled stays, what it took comes back with its parents
        # and only with them, and a child deleted by itself (a material, a membership) not
        # even then.
        problems += [
            f"record {r} left under a deleted parent" for r in orphans(self.ledger, present)
        ]
        problems += [
            f"deleted record {r} not brought back by a saved value under it"
            for r in not_brought_back(self.ledger, present)
        ]
        # A deletion overruled brings back what it took, also what had never been synced
        # (kept deleted by the store). Reported apart, not failed (``Totals.not_back``): a
        # record whose return the ledger asks for only because values under it, never synced,
        # were unseen by another replica's deletion of it by itself, and then taken by their
        # own author's deletion of a parent above (seed 20261125; ENGINE.md "Deletes", open).
        for r in not_back_with_parents(self.ledger, present):
            message = f"deleted record {r} not brought back with its parents"
            if open_case(self.ledger, r, self.removed_alone, self.taken_unsent):
                totals.not_back.append(f"seed {self.seed}: {message} (unsent values below)")
            else:
                problems.append(message)
        back = resurrected(self.ledger, present)
        problems += [f"lost edit {x.token} of {x.record} (final {x.final!r})" for x in lost]
        problems += [f"deleted record {r} came back" for r in back]
        totals.saved += self.ledger.saved
        totals.checked += self.ledger.checked
        totals.lost += len(lost)
        totals.deletions_checked += sum(1 for r in self.ledger.deleted if not self.ledger.live[r])
        totals.alone_checked += len(self.ledger.deleted_alone)
        totals.conflicts += conflicts
        if problems:
            raise RunFailure("; ".join(problems))

    def close(self) -> None:
        try:
            for link in self.links:
                link.stop()
            # A device that fails to close must not keep the server below running.
            for device in self.devices:
                with contextlib.suppress(Exception):
                    close_device(device)
        finally:
            self.server.stop()


def close_device(device: Device) -> None:
    with contextlib.suppress(Exception):
        device.engine.transport.close()
    device.profile.close()


def open_device(name: str, folder: Path, url: str) -> Device:
    """Unlock a profile as the app does on start, with a sync engine talking to ``url``."""
    profile = unlock(folder, PASSPHRASE)
    state = ProfileSyncState(profile.engine, profile.attachments)
    engine = SyncEngine(state, Transport(url), page_bytes=PAGE_BYTES)
    return Device(name, profile, RecordStore(profile.engine), state, engine)


def reconnect(device: Device, url: str) -> None:
    device.engine.transport.close()
    device.state = ProfileSyncState(device.profile.engine, device.profile.attachments)
    device.engine = SyncEngine(device.state, Transport(url), page_bytes=PAGE_BYTES)


@dataclass(frozen=True)
class Start:
    """What every run starts with, synced to all three replicas: an incident with a source, an
    organization, a working group with a material, its file and two members (a person and the
    organization), and a group with a material and its file but no member; so a run's deletes
    and edits race on records every replica holds."""

    ledger: Ledger
    lists: dict[str, list[str]]

    def begin(self, run: Run) -> None:
        run.ledger = copy.deepcopy(self.ledger)
        for name, values in self.lists.items():
            setattr(run, name, list(values))


#: The lists of a run's records that ``Start`` carries over.
_RUN_LISTS = ("records", "incidents", "groups", "materials", "members", "memberships")


@dataclass(frozen=True)
class Template:
    """The enrolled network every run starts from: its folder, what it holds, and on
    PostgreSQL the admin URL and the database to clone."""

    folder: Path
    postgres: str | None = None
    database: str | None = None
    start: Start | None = None


def build_template(folder: Path, postgres: str | None = None) -> Template:
    """A server and three enrolled profiles sharing one space, closed, to be copied per run
    (enrolling and admitting each time would cost more than the run itself)."""
    data_dir = folder / "server"
    data_dir.mkdir(parents=True)
    template = Template(folder)
    database_url = None
    if postgres:
        template = Template(folder, postgres, database_name("template"))
        database_url = create_database(postgres, template.database or "")
    result = run_cli(data_dir, "init", database_url=database_url)
    if result.returncode != 0:
        raise RuntimeError(f"minga-server init failed: {result.stderr}")
    process = start_server(data_dir, database_url, extra_env=SERVER_ENV)
    devices: list[Device] = []
    try:

        def make(name: str) -> Device:
            profile, _recovery = new_profile(folder / name)
            profile.close()
            device = open_device(name, folder / name, process.base_url)
            devices.append(device)
            return device

        space, _ = network_of(Server(data_dir, process), make, REPLICAS)
        for device in devices:
            device.sync()
        assert all(device.state.spaces() == [space] for device in devices)
        with tempfile.TemporaryDirectory(prefix="minga-fault-start-") as imports:
            # A run's folder for its imported files (not the template's: each of its folders
            # but the server's is a profile).
            seeding = Run(Path(imports), random.Random(0), process, devices, [], Ledger(REPLICAS))
            seeding.space = space
            seeding.create_incident(0)
            seeding.create(0)
            seeding.create_group(0)
            seeding.add_membership(0, seeding.groups[0], seeding.members[0])
            # A group with a material and no member: only the material keeps it over a deletion.
            seeding.create_group(0, members=False)
            for _round in range(2):
                for index, device in enumerate(devices):
                    device.sync()
                    seeding.observe(index)
        lists = {name: list(getattr(seeding, name)) for name in _RUN_LISTS}
        template = replace(template, start=Start(seeding.ledger, lists))
    finally:
        for device in devices:
            close_device(device)
        process.stop()
    return template


def one_run(
    seed: int,
    template: Template,
    steps: int,
    totals: Totals,
    tamper: Callable[[Run], None] | None = None,
) -> None:
    """One seeded run in a copy of ``template``; raises `RunFailure` with what went wrong.

    ``tamper`` runs between the heal and the check (tests use it to prove the check fails).
    """
    folder = Path(tempfile.mkdtemp(prefix=f"minga-fault-{seed}-"))
    run: Run | None = None
    database = database_name(str(seed)) if template.postgres else None
    try:
        shutil.copytree(template.folder, folder, dirs_exist_ok=True)
        rng = random.Random(seed)
        database_url = None
        if template.postgres and database:
            database_url = create_database(template.postgres, database, template.database)
        server = start_server(folder / "server", database_url, extra_env=SERVER_ENV)
        names = sorted(p.name for p in template.folder.iterdir() if p.name != "server")
        devices: list[Device] = []
        run = Run(folder, rng, server, devices, [], Ledger(REPLICAS), seed=seed)
        if template.start is not None:
            template.start.begin(run)
        run.database_url = database_url
        for name in names:
            devices.append(open_device(name, folder / name, server.base_url))
        run.space = devices[0].state.spaces()[0]
        run.relink()
        for _ in range(steps):
            run.step()
        run.heal()
        if tamper is not None:
            tamper(run)
        run.check(totals)
    except Exception as error:
        # The run folder goes away below: keep the server's own account of what went wrong.
        raise RunFailure(f"{type(error).__name__}: {error}{server_errors(folder)}") from error
    finally:
        if run is not None:
            totals.faults.update(run.faults)
            totals.client_kills_tried += run.client_kills_tried
            run.close()
        shutil.rmtree(folder, ignore_errors=True)
        if template.postgres and database:
            drop_database(template.postgres, database)


def server_errors(folder: Path, limit: int = 3000) -> str:
    """The end of the server logs' error lines and tracebacks in ``folder``, if any."""
    found = []
    for log in sorted((folder / "server").glob("server*.log")):
        lines = log.read_text(errors="replace").splitlines()
        marks = [i for i, line in enumerate(lines) if "Traceback" in line or "ERROR" in line]
        if marks:
            found.append(f"{log.name}:\n" + "\n".join(lines[marks[0] :]))
    text = "\n".join(found)
    return f"\n--- server log ---\n{text[-limit:]}" if text else ""


def run_many(
    runs: int,
    seed: int,
    steps: int,
    template: Template | None = None,
    out: Callable[[str], None] = print,
    postgres: str | None = None,
) -> Totals:
    """``runs`` runs with seeds ``seed``, ``seed + 1``, …; failures are collected, not raised.
    Without ``template`` one is built (on PostgreSQL at ``postgres`` if given) and removed."""
    totals = Totals()
    with contextlib.ExitStack() as stack:
        if template is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="minga-fault-")))
            if postgres:
                stack.callback(drop_database, postgres, database_name("template"))
            template = build_template(folder, postgres)
        for number in range(runs):
            run_seed = seed + number
            try:
                one_run(run_seed, template, steps, totals)
            except KeyboardInterrupt:
                # Ctrl+C (or a watchdog's SIGINT): the run cleaned up; report what was done.
                out(f"interrupted in run {number + 1} (seed {run_seed})")
                totals.interrupted = True
                break
            except Exception as error:  # a failed run is a finding: report it, keep going
                totals.failures.append(f"seed {run_seed}: {error}")
                out(f"FAILED run {number + 1} (seed {run_seed}): {error}")
            totals.runs += 1
            if (number + 1) % 25 == 0:
                out(
                    f"  {number + 1}/{runs} runs, {sum(totals.faults.values())} faults, "
                    f"{totals.lost} lost, {len(totals.failures)} failed"
                )
    return totals


def summary(totals: Totals, seconds: float, seed: int) -> str:
    lines = [
        f"runs: {totals.runs} (seeds {seed}..{seed + totals.runs - 1})",
        f"faults injected: {sum(totals.faults.values())}"
        f" (client kills tried: {totals.client_kills_tried})",
        *(f"  {kind}: {count}" for kind, count in sorted(totals.faults.items())),
        f"edits saved: {totals.saved}",
        f"edits checked: {totals.checked} (+ {totals.deletions_checked} deletions,"
        f" {totals.alone_checked} of them children deleted by themselves)",
        f"edits lost: {totals.lost}",
        f"conflicts kept: {totals.conflicts}",
        f"taken by a deletion, not back with their parents, unsent values below (reported):"
        f" {len(totals.not_back)}",
        *(f"  {line}" for line in totals.not_back),
        f"failed runs: {len(totals.failures)}",
        *(["INTERRUPTED before the last run"] if totals.interrupted else []),
        *(f"  {failure}" for failure in totals.failures),
        f"wall time: {seconds:.0f} s ({seconds / max(totals.runs, 1):.1f} s a run)",
    ]
    return "\n".join(lines)


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=14, help="scenario steps per run")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("MINGA_TEST_POSTGRES_URL") or None,
        help="the server on PostgreSQL (an admin URL; default $MINGA_TEST_POSTGRES_URL)",
    )
    args = parser.parse_args(argv)
    # Started in the background by a shell, SIGINT arrives ignored; a timeout or a watchdog
    # sends SIGTERM. Both end the current run through its cleanup, then print the figures.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    start = time.monotonic()
    totals = run_many(args.runs, args.seed, args.steps, postgres=args.postgres)
    print(summary(totals, time.monotonic() - start, args.seed), flush=True)
    if totals.lost or totals.failures:
        seeds = [f.split(":")[0].removeprefix("seed ") for f in totals.failures]
        print(f"REPLAY: python -m tests.faults.runner --runs 1 --seed {seeds[0]}", flush=True)
        return 1
    return 1 if totals.interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
