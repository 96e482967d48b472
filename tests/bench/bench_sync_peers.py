"""Minga's sync beside Kinto and PouchDB over the same emulated links: wall time, bytes, requests.
Run with `make bench-sync`; writes tests/bench/results/sync_peers.md and sync_peers.png.

Each system moves the same dataset (demo records in en/es/fr/ar, 1,000 and 10,000 of them, and a
5 MB file) from one device to another through its own server, every byte through one
``tests.helpers.link.Link`` with the chosen profile, so bytes and requests are counted the same
way for all three. Peers (bench only, never in `make test`): Kinto + kinto-http (+
kinto-attachment) in .venv-bench-peers, pouchdb-server + pouchdb-node in tests/bench/peers.

Links are scaled: bandwidth times ``k``, latency and cut intervals divided by ``k``, so every
transfer takes 1/k of its real time and a full run fits in ~30 minutes. CPU is not scaled, so the
wall time of a scaled run mixes network time (1/k of real) with CPU time (real). Each leg is
therefore measured apart: the link's busy time (something queued or in flight either way, from
``tests.helpers.link.Radio``), and the CPU seconds of every process of the system (client and
server, from /proc and getrusage; the relay's own threads excluded). The real-link estimate is
``network × k + CPU`` (a bound from above: CPU that overlapped the network is counted twice), and
"× floor" is that estimate over the floor on the real link. ``--check-real`` runs Minga's initial
10,000 on 2g and edge also at k = 1 to say how close the estimate came.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

from desktop.domain.records import Incident, Record, Space, SpaceKind, to_dict
from desktop.store.demo import DEMO_TODAY, build_network, generate_incidents, load_seeds
from desktop.store.evidence import EvidenceStore
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from sync.client.engine import SyncEngine
from sync.client.transport import Transport, TransportError
from sync.protocol import Role
from tests.helpers.link import DOWN, PROFILES, UP, Link, LinkProfile
from tests.helpers.profiles import new_profile
from tests.helpers.server_process import free_port, run_cli, start_server

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "tests" / "bench" / "peers"
RESULTS = ROOT / "tests" / "bench" / "results"
PEER_VENV = ROOT / ".venv-bench-peers"
SYSTEMS = ("Minga", "Kinto", "PouchDB")
#: How much faster than real each profile runs (bandwidth × k, latency ÷ k).
SCALE = {"2g": 16.0, "edge": 8.0, "satellite": 4.0, "flaky": 8.0}
ATTACHMENT_BYTES = 5 * 1024 * 1024
#: Attempts before an operation is reported as not completed (a flaky link can defeat a peer).
MAX_TRIES = 12


# --- the dataset ------------------------------------------------------------------------------


def dataset(count: int, space: str, seed: int = 7) -> list[Record]:
    """``count`` demo records (organizations, people, incidents, acts) moved into one space."""
    rng = random.Random(seed)
    seeds = load_seeds()
    demo, network = build_network(seeds, rng)
    records = [r for r in network if not isinstance(r, Space)]
    for record in generate_incidents(seeds, demo, rng, count):
        if len(records) >= count:
            break
        records.append(record)
    return [dataclasses.replace(r, space_id=space) for r in records[:count]]


def as_documents(records: list[Record]) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(to_dict(r), default=str)) for r in records]


def attachment(seed: int = 11) -> bytes:
    # Evidence (photos, video, PDFs) is already compressed: random bytes stand for it.
    return random.Random(seed).randbytes(ATTACHMENT_BYTES)


def zstd_size(data: bytes) -> int:
    return len(zstandard.ZstdCompressor(level=19).compress(data))


# --- measurement ------------------------------------------------------------------------------


def scaled(name: str, k: float) -> LinkProfile:
    p = PROFILES[name]
    cut = None if p.cut_every is None else (p.cut_every[0] / k, p.cut_every[1] / k)
    return LinkProfile(
        None if p.up_bps is None else p.up_bps * k,
        None if p.down_bps is None else p.down_bps * k,
        p.rtt / k,
        p.jitter / k,
        cut,
    )


@dataclass
class Leg:
    """One device's part of a workload, as the link saw it."""

    seconds: float = 0.0
    up: int = 0
    down: int = 0
    requests: int = 0
    completed: bool = True
    #: Seconds the link was busy (on the scaled link: × k for the real one).
    network: float = 0.0
    #: CPU seconds of the system's client processes and of its server processes (not scaled).
    cpu_client: float = 0.0
    cpu_server: float = 0.0


@dataclass
class Result:
    system: str
    profile: str
    workload: str
    legs: list[Leg] = field(default_factory=list)
    #: The floor on the real link, for the records in the order this system sends them.
    floor: float = 0.0
    #: The same in creation order, when the system sends in another order (else 0).
    floor_creation: float = 0.0
    #: Bytes moved beyond the clean baseline: (upload leg, up), (download leg, down).
    resent: tuple[int, int] | None = None
    note: str = ""
    #: How much faster than real the link ran (bandwidth × k, latency ÷ k).
    k: float = 1.0
    #: Wall seconds of the same workload at k = 1, when it was run (``--check-real``).
    real_wall: float = 0.0

    @property
    def seconds(self) -> float:
        return sum(leg.seconds for leg in self.legs)

    @property
    def up(self) -> int:
        return sum(leg.up for leg in self.legs)

    @property
    def down(self) -> int:
        return sum(leg.down for leg in self.legs)

    @property
    def requests(self) -> int:
        return sum(leg.requests for leg in self.legs)

    @property
    def completed(self) -> bool:
        return all(leg.completed for leg in self.legs)

    @property
    def network(self) -> float:
        """Network seconds on the real link: the scaled link's busy time × k."""
        return sum(leg.network for leg in self.legs) * self.k

    @property
    def cpu(self) -> float:
        return sum(leg.cpu_client + leg.cpu_server for leg in self.legs)

    @property
    def estimate(self) -> float:
        """Seconds on the real link: network × k + CPU (CPU is never scaled); a run at k = 1
        is the real link itself, and its wall time is what it took."""
        return self.seconds if self.k == 1 else self.network + self.cpu

    @property
    def ratio(self) -> float:
        return self.estimate / self.floor if self.floor else 0.0


_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants (with their reaped children), from /proc."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        # utime, stime, cutime, cstime: fields 14-17 of stat(5).
        times[int(entry.name)] = sum(int(f) for f in fields[11:15]) / _TICKS
    family, todo = set(), [pid]
    while todo:
        current = todo.pop()
        if current in family:
            continue
        family.add(current)
        todo += [child for child, parent in parents.items() if parent == current]
    return sum(times.get(member, 0.0) for member in family)


def children_cpu() -> float:
    """CPU seconds of this process's finished (waited-for) child processes: a peer's client."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


#: CPU seconds so far of one system's (client, server) processes.
CpuProbe = Callable[[], tuple[float, float]]


class Meter:
    """Counts of one or more links around a leg (deltas: the links live for a whole profile):
    bytes, requests, the links' busy time and the system's CPU (client and server)."""

    def __init__(self, *links: Link, cpu: CpuProbe | None = None) -> None:
        self.links = links
        self.cpu = cpu or (lambda: (0.0, 0.0))
        # Links of one device share a radio: its busy time is counted once.
        self.radios = list({id(x.radio): x.radio for x in links}.values())

    @contextmanager
    def leg(self, into: list[Leg]) -> Iterator[Leg]:
        leg = Leg()
        before = [
            (x.counts.bytes[UP], x.counts.bytes[DOWN], x.counts.bursts[UP]) for x in self.links
        ]
        busy = [r.busy_seconds() for r in self.radios]
        cpu = self.cpu()
        start = time.monotonic()
        try:
            yield leg
        finally:
            if not leg.seconds:
                leg.seconds = time.monotonic() - start
            for x, (up, down, bursts) in zip(self.links, before, strict=True):
                leg.up += x.counts.bytes[UP] - up
                leg.down += x.counts.bytes[DOWN] - down
                leg.requests += x.counts.bursts[UP] - bursts
            leg.network = sum(r.busy_seconds() - b for r, b in zip(self.radios, busy, strict=True))
            after = self.cpu()
            leg.cpu_client = max(0.0, after[0] - cpu[0])
            leg.cpu_server = max(0.0, after[1] - cpu[1])
            into.append(leg)


def cut_halfway(link: Link, direction: str, profile: str) -> None:
    """Reset every connection once half the file has passed (not on the clean baseline run)."""
    if profile != "clear":
        link.cut_after(direction, ATTACHMENT_BYTES // 2)


def retried(action: Callable[[], bool], tries: int = MAX_TRIES) -> bool:
    """Run ``action`` until it says done; a cut link (TransportError) is tried again."""
    for _ in range(tries):
        try:
            if action():
                return True
        except TransportError:
            time.sleep(0.2)
    return False


# --- Minga ------------------------------------------------------------------------------------


@dataclass
class MingaDevice:
    profile: Any
    records: RecordStore
    state: ProfileSyncState
    engine: SyncEngine

    def via(self, url: str) -> None:
        self.engine.transport.close()
        self.engine = SyncEngine(self.state, Transport(url))

    def push_all(self) -> bool:
        self.engine.sync_once()
        spaces = list(self.state.spaces())
        return not self.state.outbox() and not self.state.pending_changes(spaces, 1)

    def pull(self) -> bool:
        self.engine.sync_once()
        return True

    def count(self, space: str) -> int:
        from sqlalchemy import text

        with self.profile.engine.connect() as connection:
            query = text("SELECT count(*) FROM records WHERE space_id = :space")
            return int(connection.execute(query, {"space": space}).scalar_one())


class MingaPair:
    """A real minga-server and two enrolled devices in one space: one writes, one reads."""

    def __init__(self, folder: Path) -> None:
        data = folder / "server"
        data.mkdir(parents=True)
        run_cli(data, "init")
        self.server = start_server(
            data,
            extra_env={
                "MINGA_SERVER_ENROLL_PER_MINUTE": "1000",
                "MINGA_SERVER_CHALLENGES_PER_MINUTE": "1000",
            },
        )
        self.writer = self._device(folder / "writer", self.server.base_url)
        self.reader = self._device(folder / "reader", self.server.base_url)
        self.writer.engine.enroll(run_cli(data, "invite").stdout.strip().splitlines()[-1])
        self.space = self.writer.engine.create_space()
        self.writer.records.save(
            Space(id=self.space, space_id=self.space, name="Network", kind=SpaceKind.NETWORK)
        )
        self.reader.engine.enroll(self.writer.engine.invite(self.space, Role.EDITOR))
        self.writer.engine.admit(self.space, self.writer.engine.pending_members(self.space))
        self.writer.engine.sync_once(discover=True)
        self.reader.engine.sync_once(discover=True)

    @staticmethod
    def _device(folder: Path, url: str) -> MingaDevice:
        profile, _ = new_profile(folder)
        state = ProfileSyncState(profile.engine, profile.attachments)
        return MingaDevice(
            profile, RecordStore(profile.engine), state, SyncEngine(state, Transport(url))
        )

    def via(self, url: str) -> None:
        for device in (self.writer, self.reader):
            device.via(url)
            # The engine's first sync logs in and discovers spaces: an app does that once.
            device.engine.sync_once(discover=True)

    def close(self) -> None:
        for device in (self.writer, self.reader):
            device.engine.transport.close()
            device.profile.close()
        self.server.stop()


def _minga_meter(pair: MingaPair, link: Link) -> Meter:
    server_pid = pair.server.process.pid

    def cpu() -> tuple[float, float]:
        # Both engines run in this process; the relay's threads are not theirs.
        return time.process_time() - link.cpu_seconds(), tree_cpu(server_pid)

    return Meter(link, cpu=cpu)


def run_minga(
    name: str,
    profile: LinkProfile,
    sizes: list[int],
    work: Path,
    extras: bool = True,
    files_only: bool = False,
) -> list[Result]:
    """Initial syncs of each size; after the largest (with ``extras``) one change, an idle poll
    and the file. ``files_only``: the file alone, on a pair that synced nothing else."""
    if files_only:
        pair = MingaPair(work / f"minga-{name}-file-{profile.rtt:g}")
        try:
            with Link(("127.0.0.1", pair.server.port), profile, max_lifetime=3600) as link:
                pair.via(link.url)
                return [minga_attachment(pair, link, _minga_meter(pair, link), name, work)]
        finally:
            pair.close()
    results = []
    for count in sizes:
        pair = MingaPair(work / f"minga-{name}-{count}-{profile.rtt:g}")
        try:
            with Link(("127.0.0.1", pair.server.port), profile, max_lifetime=3600) as link:
                pair.via(link.url)
                meter = _minga_meter(pair, link)
                result = Result("Minga", name, f"initial {count:,}")
                records = dataset(count, pair.space)
                pair.writer.records.save_all(records, today=DEMO_TODAY)
                with meter.leg(result.legs) as leg:
                    leg.completed = retried(pair.writer.push_all, MAX_TRIES * 4)
                with meter.leg(result.legs) as leg:
                    leg.completed = retried(pair.reader.pull)
                leg.completed &= pair.reader.count(pair.space) == count + 1  # + the space
                results.append(result)
                if count != max(sizes) or not extras:
                    continue
                change = Result("Minga", name, "one change")
                first = pair.writer.records.get(records[0].id)
                assert first is not None
                pair.writer.records.save(dataclasses.replace(first, name="edited"))
                with meter.leg(change.legs) as leg:
                    leg.completed = retried(pair.writer.push_all)
                with meter.leg(change.legs) as leg:
                    leg.completed = retried(pair.reader.pull)
                results.append(change)
                idle = Result("Minga", name, "nothing changed")
                for device in (pair.writer, pair.reader):
                    with meter.leg(idle.legs) as leg:
                        leg.completed = retried(device.pull)
                results.append(idle)
                results.append(minga_attachment(pair, link, meter, name, work))
        finally:
            pair.close()
    return results


def minga_attachment(pair: MingaPair, link: Link, meter: Meter, name: str, work: Path) -> Result:
    result = Result("Minga", name, "attachment, 2 cuts")
    incident = pair.writer.records.save(Incident(space_id=pair.space, title="Evidence"))
    assert isinstance(incident, Incident)
    path = work / f"evidence-minga-{name}.bin"
    path.write_bytes(attachment())
    EvidenceStore.of(pair.writer.profile).import_file(incident, path, actor="bench")
    with meter.leg(result.legs) as leg:
        cut_halfway(link, UP, name)
        leg.completed = retried(pair.writer.push_all, MAX_TRIES * 4)
        link.clear_cuts()
    with meter.leg(result.legs) as leg:
        cut_halfway(link, DOWN, name)

        def fetched() -> bool:
            pair.reader.engine.sync_once()
            return not pair.reader.state.wanted_attachments(1)

        leg.completed = retried(fetched, MAX_TRIES * 4)
        link.clear_cuts()
    return result


# --- peers: servers and device scripts --------------------------------------------------------


class Process:
    """A peer server started by the bench, ended by its pid (its whole process group)."""

    def __init__(self, command: list[str], cwd: Path, port: int, log: Path) -> None:
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited: {log.read_text(errors='replace')}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{command[0]} did not listen on {port}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def peer_call(command: list[str], leg: Leg) -> dict[str, Any]:
    """One device operation of a peer; its own clock (no interpreter start-up) is the wall time."""
    env = dict(os.environ, PEER_MAX_TRIES=str(MAX_TRIES))
    start = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    lines = done.stdout.strip().splitlines()
    out: dict[str, Any] = json.loads(lines[-1]) if lines else {"ok": False}
    leg.seconds = float(out.get("seconds", time.monotonic() - start))
    leg.completed = bool(out.get("ok"))
    if not leg.completed:
        print(f"  {command[1]} {command[2]}: {out} {done.stderr[-300:]}", file=sys.stderr)
    return out


def install_peers(pouchdb: bool = True) -> None:
    """Bench-only installs, on demand: never part of `make setup` or `make test`."""
    if not (PEER_VENV / "bin" / "kinto").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run(
            [
                str(PEER_VENV / "bin" / "pip"),
                "install",
                "-q",
                "-r",
                str(PEERS / "requirements.txt"),
            ],
            check=True,
        )
    if pouchdb and not (PEERS / "node_modules" / ".bin" / "pouchdb-server").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEERS, check=True)


def run_kinto(
    name: str,
    profile: LinkProfile,
    sizes: list[int],
    work: Path,
    docs: dict[int, Path],
    files_only: bool = False,
) -> list[Result]:
    folder = work / f"kinto-{name}"
    files = folder / "attachments"
    files.mkdir(parents=True)
    static_port, kinto_port = free_port(), free_port()
    static = Process(
        [str(PEER_VENV / "bin" / "python"), "-m", "http.server", str(static_port), "--bind",
         "127.0.0.1"],
        files, static_port, folder / "static.log",
    )  # fmt: skip
    results: list[Result] = []
    file_link = Link(("127.0.0.1", static_port), profile, max_lifetime=3600)
    # One device: the file server's link and Kinto's share its bandwidth.
    with (
        file_link,
        Link(("127.0.0.1", kinto_port), profile, max_lifetime=3600, radio=file_link.radio) as link,
    ):
        ini = folder / "kinto.ini"
        ini.write_text(
            KINTO_INI.format(port=kinto_port, files=files, files_url=file_link.url + "/")
        )
        server = Process(
            [str(PEER_VENV / "bin" / "kinto"), "start", "--ini", str(ini)],
            folder, kinto_port, folder / "kinto.log",
        )  # fmt: skip
        try:
            meter = Meter(
                link,
                file_link,
                cpu=lambda: (
                    children_cpu(),
                    tree_cpu(server.process.pid) + tree_cpu(static.process.pid),
                ),
            )
            script = [str(PEER_VENV / "bin" / "python"), str(PEERS / "kinto_peer.py")]
            for count in sizes:
                collection = f"records{count}"
                writer, reader = (str(folder / f"{d}-{count}.json") for d in ("writer", "reader"))
                direct = f"http://127.0.0.1:{kinto_port}"
                peer_call([*script, "setup", direct, writer, collection], Leg())

                def call(op: str, state: str, leg: Leg, *extra: str) -> dict[str, Any]:
                    return peer_call([*script, op, link.url, state, collection, *extra], leg)  # noqa: B023

                if files_only:
                    if count == max(sizes):
                        results.append(
                            kinto_attachment(
                                call, (writer, reader), link, file_link, meter, name, work
                            )
                        )
                    continue
                result = Result("Kinto", name, f"initial {count:,}")
                with meter.leg(result.legs) as leg:
                    call("push", writer, leg, str(docs[count]))
                with meter.leg(result.legs) as leg:
                    pulled = call("pull", reader, leg)
                leg.completed &= pulled.get("docs") == count
                results.append(result)
                if count != max(sizes):
                    continue
                first = json.loads(docs[count].read_text())[0]["id"]
                change = Result("Kinto", name, "one change")
                with meter.leg(change.legs) as leg:
                    call("change", writer, leg, first)
                with meter.leg(change.legs) as leg:
                    call("pull", reader, leg)
                results.append(change)
                idle = Result("Kinto", name, "nothing changed")
                for state in (writer, reader):
                    with meter.leg(idle.legs) as leg:
                        call("pull", state, leg)
                results.append(idle)
                devices = (writer, reader)
                results.append(kinto_attachment(call, devices, link, file_link, meter, name, work))
        finally:
            server.stop()
            static.stop()
    return results


def kinto_attachment(
    call: Callable[..., dict[str, Any]],
    devices: tuple[str, str],
    link: Link,
    file_link: Link,
    meter: Meter,
    name: str,
    work: Path,
) -> Result:
    """The 5 MB file through kinto-attachment, cut once each way (the writer's and the
    reader's state files)."""
    writer, reader = devices
    result = Result("Kinto", name, "attachment, 2 cuts", note="kinto-attachment")
    with meter.leg(result.legs) as leg:
        cut_halfway(link, UP, name)
        call("attach", writer, leg, str(work / "evidence.bin"))
        link.clear_cuts()
    with meter.leg(result.legs) as leg:
        cut_halfway(file_link, DOWN, name)
        call("fetch", reader, leg)
        file_link.clear_cuts()
    return result


KINTO_INI = """\
[app:main]
use = egg:kinto
kinto.storage_backend = kinto.core.storage.memory
kinto.storage_url =
kinto.cache_backend = kinto.core.cache.memory
kinto.cache_url =
kinto.permission_backend = kinto.core.permission.memory
kinto.permission_url =
kinto.includes = kinto_attachment
kinto.attachment.base_path = {files}
kinto.attachment.extensions = bin
kinto.attachment.base_url = {files_url}
multiauth.policies = basicauth
kinto.userid_hmac_secret = bench-only-secret
kinto.bucket_create_principals = system.Authenticated
kinto.bucket_write_principals = system.Authenticated

[server:main]
use = egg:waitress#main
host = 127.0.0.1
port = {port}

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = WARNING
formatter = generic

[formatter_generic]
format = %(levelname)s %(message)s
"""


def run_pouchdb(
    name: str, profile: LinkProfile, sizes: list[int], work: Path, docs: dict[int, Path]
) -> list[Result]:
    folder = work / f"pouchdb-{name}"
    folder.mkdir(parents=True)
    port = free_port()
    server = Process(
        [str(PEERS / "node_modules" / ".bin" / "pouchdb-server"), "--host", "127.0.0.1",
         "--port", str(port), "--in-memory", "--no-color"],
        folder, port, folder / "pouchdb-server.log",
    )  # fmt: skip
    results: list[Result] = []
    try:
        with Link(("127.0.0.1", port), profile, max_lifetime=3600) as link:
            meter = Meter(link, cpu=lambda: (children_cpu(), tree_cpu(server.process.pid)))
            script = ["node", str(PEERS / "pouch_peer.js")]
            for count in sizes:
                remote = f"{link.url}/bench{count}"
                writer, reader = (str(folder / f"{d}-{count}") for d in ("writer", "reader"))

                def call(op: str, local: str, leg: Leg, *extra: str) -> dict[str, Any]:
                    return peer_call([*script, op, remote, local, *extra], leg)  # noqa: B023

                result = Result("PouchDB", name, f"initial {count:,}")
                with meter.leg(result.legs) as leg:
                    call("push", writer, leg, str(docs[count]))
                with meter.leg(result.legs) as leg:
                    pulled = call("pull", reader, leg)
                leg.completed &= pulled.get("docs") == count
                results.append(result)
                if count != max(sizes):
                    continue
                change = Result("PouchDB", name, "one change")
                with meter.leg(change.legs) as leg:
                    call("change", writer, leg)
                with meter.leg(change.legs) as leg:
                    call("pull", reader, leg)
                results.append(change)
                idle = Result("PouchDB", name, "nothing changed")
                for local in (writer, reader):
                    with meter.leg(idle.legs) as leg:
                        call("pull", local, leg)
                results.append(idle)
                result = Result("PouchDB", name, "attachment, 2 cuts", note="_attachments")
                with meter.leg(result.legs) as leg:
                    cut_halfway(link, UP, name)
                    call("attach", writer, leg, str(work / "evidence.bin"))
                    link.clear_cuts()
                with meter.leg(result.legs) as leg:
                    cut_halfway(link, DOWN, name)
                    call("fetch", reader, leg)
                    link.clear_cuts()
                results.append(result)
    finally:
        server.stop()
    return results


# --- floor, table, chart ----------------------------------------------------------------------


#: The order each system sends records in (the floor compresses them in that order): a first
#: sync's batches in Minga go by ``created_at`` then id (sync/client/batches.py
#: ``creation_order``; single mutations went by record id before batches); Kinto's batch and
#: PouchDB's changes in the order the records were written.
SEND_ORDER = {"Minga": "created_at", "Kinto": "creation", "PouchDB": "creation"}


def floors(name: str, sizes: list[int], docs: dict[int, Path], order: str) -> dict[str, float]:
    """On the real (unscaled) link: zstd bytes / bandwidth + one round trip, for each of the two
    legs (up, then down); the records compressed as one stream in ``order``."""
    profile = PROFILES[name]
    assert profile.up_bps is not None and profile.down_bps is not None
    rate = min(profile.up_bps, profile.down_bps) / 8

    def leg(size: int) -> float:
        return size / rate + profile.rtt

    def stream(count: int) -> bytes:
        records = json.loads(docs[count].read_text())
        if order == "id":
            records.sort(key=lambda r: r["id"])
        elif order == "created_at":
            records.sort(key=lambda r: (str(r.get("created_at") or ""), r["id"]))
        return json.dumps(records).encode()

    one = json.dumps(json.loads(docs[max(sizes)].read_text())[0]).encode()
    found = {f"initial {c:,}": 2 * leg(zstd_size(stream(c))) for c in sizes}
    found["one change"] = 2 * leg(zstd_size(one))
    found["nothing changed"] = 2 * profile.rtt
    found["attachment, 2 cuts"] = 2 * leg(zstd_size(attachment()))
    return found


def _kb(size: int) -> str:
    return f"{size / 1000:,.1f}"


def goals(results: list[Result], baseline: dict[str, Result]) -> dict[int, list[str]]:
    """Misses of Minga's goals, by result index (a row says what it missed)."""
    misses: dict[int, list[str]] = {}
    by_key = {(r.system, r.profile, r.workload): r for r in results}
    for index, r in enumerate(results):
        if r.system != "Minga":
            continue
        found = []
        if not r.completed:
            found.append("did not complete")
        if r.workload in ("one change", "nothing changed") and any(
            leg.requests > 1 for leg in r.legs
        ):
            found.append("more than 1 request per device")
        peers = [by_key.get((p, r.profile, r.workload)) for p in ("Kinto", "PouchDB")]
        total = r.up + r.down
        # A peer that gave up moved fewer bytes by not finishing: not a comparison.
        if any(p is not None and p.completed and p.up + p.down <= total for p in peers):
            found.append("not fewer bytes than both peers")
        tight = r.workload.startswith("initial 10,000") and r.profile in ("2g", "edge")
        if tight and r.ratio > FLOOR_GOAL:
            found.append(f"{r.ratio:.2f}× floor (goal {FLOOR_GOAL}×)")
        if r.workload.startswith("attachment") and r.profile == "satellite":
            if r.ratio > FILE_GOAL:
                found.append(f"{r.ratio:.2f}× floor (goal {FILE_GOAL}×)")
            kinto = by_key.get(("Kinto", r.profile, r.workload))
            if kinto is not None and kinto.completed and kinto.estimate <= r.estimate:
                found.append(f"not faster than Kinto ({kinto.estimate:.0f} s)")
        # On flaky, random cuts come on top of the two: the total is not per cut.
        if r.resent is not None and r.profile != "flaky" and max(r.resent) > ONE_CHUNK:
            found.append("re-sent more than 64 KiB")
        if found:
            misses[index] = found
    return misses


#: Goals (issue 19): initial 10,000 on 2g and edge, and the 5 MB file on satellite, in × floor.
FLOOR_GOAL = 1.5
FILE_GOAL = 1.3
#: Re-sent after a cut: one 64 KiB chunk (its tag and an exchange's headers beside).
ONE_CHUNK = 64 * 1024 + 16 + 2048


def _s(seconds: float) -> str:
    return f"{seconds:,.1f}" if seconds < 100 else f"{seconds:,.0f}"


def table(results: list[Result], scale: dict[str, float], notes: list[str]) -> str:
    misses = goals(results, {})
    lines = [
        "# Sync beside Kinto and PouchDB, over emulated links",
        "",
        "Generated by `make bench-sync` (tests/bench/bench_sync_peers.py). Minga is end-to-end "
        "encrypted; Kinto and PouchDB move plaintext. Two devices per system: one writes and "
        "pushes, the other pulls; times and counts are both legs added. Bytes are everything "
        "the link carried (headers, TLS-less HTTP/1.1); requests are client bursts seen by the "
        "link (≈ HTTP requests). Re-sent = bytes moved beyond the same transfer on a clean link. "
        "The emulated link is the device's whole link: all its connections share one bandwidth "
        "each way, and a new connection waits one round trip (its handshake).",
        "",
        "**What is scaled and what is not.** Links run k times faster than real to fit one run "
        "in about 30 minutes (bandwidth × k, latency and cut intervals ÷ k; "
        + ", ".join(f"{p} k={k:g}" for p, k in scale.items())
        + "); CPU runs at its real speed. So each leg is measured in two parts: **network s** "
        "= the seconds the scaled link was busy (bytes queued or in flight either way) × k, "
        "i.e. the network time on the real link; **CPU s** = CPU seconds of every process of "
        "that system, client / server (for Minga both engines and minga-server; for the peers "
        "their client scripts, kinto (+ its file server) or pouchdb-server), never scaled. "
        "**real-link s = network × k + CPU** (an upper estimate: CPU that overlaps the network "
        "is counted twice), and **× floor = real-link s / floor s**, where the floor is "
        "zstd-19 of the dataset as one stream, in the order that system sends its records, "
        "/ the real link's bandwidth + one round trip, per leg. Rows marked *k=1* ran on the "
        "real (unscaled) link: their real-link s is their measured wall time. *wall s* is the "
        "scaled run's own wall time (network ÷ k plus CPU: it mixes the two).",
        "",
        "| profile | workload | system | wall s | network s (real link, = measured × k) "
        "| CPU s client / server (not scaled) | real-link s (= network + CPU) | floor s "
        "| × floor | up kB | down kB | requests | re-sent kB up / down | Minga goal |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for index, r in enumerate(results):
        ratio = f"{r.ratio:.2f}" if r.floor else ""
        if r.floor_creation:
            ratio += f" ({r.estimate / r.floor_creation:.2f} creation order)"
        status = "" if r.completed else " (did not complete)"
        goal = ""
        if r.system == "Minga":
            goal = "missed: " + "; ".join(misses[index]) if index in misses else "met"
        resent = "" if r.resent is None else f"{_kb(r.resent[0])} / {_kb(r.resent[1])}"
        note = f" ({r.note})" if r.note else ""
        if r.system == "PouchDB" and r.workload == "nothing changed" and len(r.legs) == 2:
            # A one-way push sets no pull checkpoint: the writer's poll lists every change.
            reader = r.legs[1]
            note = (
                f" (writer's first pull; reader alone: {reader.requests} requests, "
                f"{_kb(reader.up + reader.down)} kB)"
            )
        client = sum(leg.cpu_client for leg in r.legs)
        server = sum(leg.cpu_server for leg in r.legs)
        profile = r.profile if r.k != 1 else f"{r.profile} *k=1*"
        lines.append(
            f"| {profile} | {r.workload} | {r.system}{note}{status} | {_s(r.seconds)} "
            f"| {_s(r.network)} | {client:.1f} / {server:.1f} | {_s(r.estimate)} "
            f"| {_s(r.floor)} | {ratio} | {_kb(r.up)} | {_kb(r.down)} | {r.requests} "
            f"| {resent} | {goal} |"
        )
    lines += ["", *analysis(results), "", *notes, ""]
    return "\n".join(lines)


def analysis(results: list[Result]) -> list[str]:
    """Minga's goals, met or missed over the whole run, and why (figures from this run)."""
    minga = [r for r in results if r.system == "Minga"]
    misses = goals(results, {})
    index = {id(r): i for i, r in enumerate(results)}

    def missed(word: str) -> list[Result]:
        return [r for r in minga if any(word in m for m in misses.get(index[id(r)], []))]

    def where(found: list[Result]) -> str:
        return ", ".join(f"{r.profile} {r.workload}" for r in found) or "none"

    out = ["## Minga's goals in this run", ""]
    light = [r for r in minga if r.workload in ("one change", "nothing changed")]
    most = max((leg.requests for r in light for leg in r.legs), default=0)
    out.append(
        f"- **One request per device for a one-record change and a no-change poll**: "
        f"{'met' if most <= 1 else 'missed'} (at most {most} per device; misses: "
        f"{where(missed('request'))})."
    )
    out.append(
        f"- **Fewer bytes than both peers on every workload**: misses: "
        f"{where(missed('fewer bytes'))}."
    )
    initial = [
        r for r in minga if r.workload.startswith("initial 10,000") and r.profile in ("2g", "edge")
    ]
    ratios = [f"{r.profile}{' k=1' if r.k == 1 else ''} {r.ratio:.2f}×" for r in initial]
    out.append(
        f"- **Initial sync of 10,000 records within {FLOOR_GOAL}× the floor on 2g and edge** "
        f"(real-link estimate over the floor in Minga's send order): misses: "
        f"{where(missed('floor (goal 1.5'))} ({', '.join(ratios) or 'not run'})."
    )
    for r in initial:
        client = sum(leg.cpu_client for leg in r.legs)
        server = sum(leg.cpu_server for leg in r.legs)
        if r.k == 1:
            continue
        out.append(
            f"  {r.profile}: {_kb(r.up + r.down)} kB need {_s(r.network)} s of network on the "
            f"real link; CPU {client:.1f} s in the two engines and {server:.1f} s in the "
            f"server; real-link {_s(r.estimate)} s against a floor of {_s(r.floor)} s."
        )
        check = next(
            (c for c in initial if c.k == 1 and c.profile == r.profile and c is not r), None
        )
        if check is not None:
            off = (r.estimate - check.seconds) / check.seconds * 100
            out.append(
                f"  Checked at k=1 on the real {r.profile} link: {_s(check.seconds)} s measured "
                f"against {_s(r.estimate)} s estimated from the scaled run ({off:+.0f} %; its "
                f"own network {_s(check.network)} s + CPU {check.cpu:.1f} s)."
            )
    files = [r for r in minga if r.workload.startswith("attachment") and r.profile == "satellite"]
    out.append(
        f"- **The 5 MB file on satellite within {FILE_GOAL}× the floor and faster than "
        f"Kinto**: "
        + (
            f"misses: {where(missed('goal 1.3') + missed('Kinto'))} ("
            + ", ".join(f"{r.ratio:.2f}×, {_s(r.estimate)} s" for r in files)
            + ")"
            if files
            else "not in this run"
        )
        + ". Chunks go several at a time (a window sized from the link: bandwidth × round "
        "trip / chunk + 2, at most 8, starting at 8), each on its own connection, kept open for "
        "all of one sync's files; which of a file's chunks are missing is one request, not a "
        "HEAD each; a cut is recovered inside the sync (each cut request resumed at once on a "
        "new connection, nothing asked again)."
    )
    out.append(
        f"- **Re-sent after a cut at most 64 KiB**: misses: {where(missed('re-sent'))}. A cut "
        "upload resumes at its offset (the server keeps what arrived of a cut chunk, "
        "`Upload-Offset`); a cut download resumes with `Range`. The peers resend the whole "
        "file (one multipart POST or one _bulk_docs / one GET). On *flaky* the link also cuts "
        "every 2.5–5 s (scaled), so re-sent there adds up several cuts and is not judged per "
        "cut; a peer whose whole-file request never fits between two cuts does not complete."
    )
    return out


def chart(results: list[Result], path: Path) -> None:
    """Total bytes per workload and system, one group per profile × workload (log scale)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCharts import (
        QBarCategoryAxis,
        QBarSeries,
        QBarSet,
        QChart,
        QChartView,
        QLogValueAxis,
    )
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    short = {"one change": "1 change", "nothing changed": "idle", "attachment, 2 cuts": "file"}

    def label(r: Result) -> str:
        initial = r.workload.replace("initial ", "init ").replace(",000", "k")
        workload = short.get(r.workload, initial)
        return f"{r.profile} {workload}"

    results = [r for r in results if r.k != 1 or r.profile == "clear"]  # k=1 checks: table only
    categories = list(dict.fromkeys(label(r) for r in results))
    series = QBarSeries()
    for system in SYSTEMS:
        bars = QBarSet(system)
        values = {label(r): (r.up + r.down) / 1000 for r in results if r.system == system}
        for category in categories:
            bars.append(max(values.get(category, 0.0), 0.11))
        series.append(bars)
    chart_ = QChart()
    chart_.setTitle(
        "Bytes over the link, both devices (kB, log scale; lower is better). "
        "Data: tests/bench/results/sync_peers.md"
    )
    chart_.addSeries(series)
    axis_x = QBarCategoryAxis()
    axis_x.append(categories)
    axis_x.setLabelsAngle(-60)
    axis_x.setTruncateLabels(False)  # "edge init 10k" elided to "edge init …" otherwise
    chart_.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    series.attachAxis(axis_x)
    axis_y = QLogValueAxis()
    axis_y.setBase(10)
    axis_y.setLabelFormat("%g")
    # From 0.1 kB: a one-record change is under 1 kB and its bars must still show.
    axis_y.setRange(0.1, 2 * max([(r.up + r.down) / 1000 for r in results] + [1.0]))
    chart_.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(axis_y)
    chart_.legend().setAlignment(Qt.AlignmentFlag.AlignTop)
    view = QChartView(chart_)
    view.setRenderHint(QPainter.RenderHint.Antialiasing)
    view.resize(max(1200, 60 * len(categories)), 720)
    view.grab().save(str(path))
    del app


# --- the run ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="2g,edge,satellite,flaky")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--render", action="store_true", help="rewrite the table and chart from sync_peers.json"
    )
    parser.add_argument("--minutes", type=float, help="with --render: how long measuring took")
    parser.add_argument(
        "--only-file",
        action="store_true",
        help="run only the 5 MB file rows (with their clean baselines) for Minga and Kinto, on "
        "pairs that synced nothing else, and put them in place of the same rows of the last "
        "run's sync_peers.json (every other row stays as it was measured)",
    )
    parser.add_argument(
        "--check-real",
        action="store_true",
        help="also run Minga's largest initial sync on 2g and edge at k = 1 (about 25 minutes)",
    )
    args = parser.parse_args(argv)
    if args.render:
        return render(args.out, [int(s) for s in args.sizes.split(",")], args.minutes)
    profiles = args.profiles.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    systems = args.systems.split(",")
    if args.only_file and "PouchDB" in systems:
        parser.error("--only-file runs Minga and Kinto (PouchDB's file follows its records)")
    if {"Kinto", "PouchDB"} & set(systems):
        install_peers(pouchdb="PouchDB" in systems)
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="minga-bench-sync-"))
    started = time.monotonic()
    try:
        docs = {}
        for count in sizes:
            docs[count] = work / f"records-{count}.json"
            docs[count].write_text(json.dumps(as_documents(dataset(count, "bench"))))
        (work / "evidence.bin").write_bytes(attachment())
        clear = LinkProfile()
        baseline: dict[str, Result] = {}
        results: list[Result] = []
        runners = {"Minga": run_minga, "Kinto": run_kinto, "PouchDB": run_pouchdb}
        # A clean run of the attachment per system: what re-sent bytes are measured against.
        for system in systems:
            print(f"baseline {system}", flush=True)
            found = _run(runners[system], "clear", clear, [min(sizes)], work, docs, args.only_file)
            baseline[system] = next(r for r in found if r.workload.startswith("attachment"))
        for name in profiles:
            profile = scaled(name, SCALE[name])
            floor = {o: floors(name, sizes, docs, o) for o in set(SEND_ORDER.values())}
            for system in systems:
                print(f"{name} {system}", flush=True)
                for r in _run(runners[system], name, profile, sizes, work, docs, args.only_file):
                    r.k = SCALE[name]
                    r.floor = floor[SEND_ORDER[system]][r.workload]
                    if SEND_ORDER[system] != "creation":
                        other = floor["creation"][r.workload]
                        r.floor_creation = other if abs(other - r.floor) > 0.005 * other else 0
                    if r.workload.startswith("attachment"):
                        base = baseline[r.system].legs
                        r.resent = (
                            max(0, r.legs[0].up - base[0].up),
                            max(0, r.legs[1].down - base[1].down),
                        )
                    results.append(r)
                    print(f"  {r.workload}: {r.seconds:.1f} s, net {r.network:.1f} s, "
                          f"cpu {r.cpu:.1f} s, est {r.estimate:.1f} s, {r.ratio:.2f}× floor, "
                          f"{r.up} up, {r.down} down, {r.requests} req, resent {r.resent}",
                          flush=True)  # fmt: skip
            if args.only_file:
                _merge_files(args.out, results, sizes, docs, time.monotonic() - started, systems)
            else:
                _write(args.out, results, sizes, docs, time.monotonic() - started)
        if args.check_real and "Minga" in systems and not args.only_file:
            for name in [p for p in ("2g", "edge") if p in profiles]:
                print(f"{name} Minga at k=1", flush=True)
                found = run_minga(name, PROFILES[name], [max(sizes)], work, extras=False)
                floor = floors(name, sizes, docs, SEND_ORDER["Minga"])
                for r in found:
                    r.floor = floor[r.workload]
                    print(f"  {r.workload} at k=1: {r.seconds:.1f} s, net {r.network:.1f} s, "
                          f"cpu {r.cpu:.1f} s", flush=True)  # fmt: skip
                results += found
                _write(args.out, results, sizes, docs, time.monotonic() - started)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _write(
    out: Path, results: list[Result], sizes: list[int], docs: dict[int, Path], seconds: float
) -> None:
    notes = _notes(sizes, docs, seconds, results)
    (out / "sync_peers.md").write_text(table(results, SCALE, notes), encoding="utf-8")
    (out / "sync_peers.json").write_text(
        json.dumps([dataclasses.asdict(r) for r in results], indent=1), encoding="utf-8"
    )
    chart(results, out / "sync_peers.png")


def render(out: Path, sizes: list[int], minutes: float | None = None) -> int:
    """The table and chart again from the figures of the last run (no measuring)."""
    results = []
    for item in json.loads((out / "sync_peers.json").read_text(encoding="utf-8")):
        legs = [Leg(**leg) for leg in item.pop("legs")]
        resent = item.pop("resent")
        results.append(Result(**item, legs=legs, resent=None if resent is None else tuple(resent)))
    if minutes is None:
        previous = (out / "sync_peers.md").read_text(encoding="utf-8")
        minutes = float(previous.split("Measuring took ")[1].split(" minutes")[0])
    work = Path(tempfile.mkdtemp(prefix="minga-bench-sync-"))
    try:
        docs = {}
        for count in sizes:
            docs[count] = work / f"records-{count}.json"
            docs[count].write_text(json.dumps(as_documents(dataset(count, "bench"))))
        notes = _notes(sizes, docs, minutes * 60, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (out / "sync_peers.md").write_text(table(results, SCALE, notes), encoding="utf-8")
    chart(results, out / "sync_peers.png")
    return 0


def _run(runner: Any, name: str, profile: LinkProfile, sizes: list[int], work: Path,
         docs: dict[int, Path], files_only: bool = False) -> list[Result]:  # fmt: skip
    if runner is run_minga:
        return run_minga(name, profile, sizes, work, files_only=files_only)
    if files_only:
        return list(runner(name, profile, sizes, work, docs, files_only=True))
    return list(runner(name, profile, sizes, work, docs))


def _load(out: Path) -> list[Result]:
    results = []
    for item in json.loads((out / "sync_peers.json").read_text(encoding="utf-8")):
        legs = [Leg(**leg) for leg in item.pop("legs")]
        resent = item.pop("resent")
        results.append(Result(**item, legs=legs, resent=None if resent is None else tuple(resent)))
    return results


def _merge_files(
    out: Path,
    fresh: list[Result],
    sizes: list[int],
    docs: dict[int, Path],
    seconds: float,
    systems: list[str],
) -> None:
    """The last run's table with these file rows in place of the same ones (``--only-file``)."""
    by_key = {(r.system, r.profile, r.workload): r for r in fresh}
    merged = [
        by_key.pop((r.system, r.profile, r.workload), r) if r.k != 1 else r for r in _load(out)
    ]
    merged += list(by_key.values())
    previous = (out / "sync_peers.md").read_text(encoding="utf-8")
    minutes = float(previous.split("Measuring took ")[1].split(" minutes")[0])
    notes = _notes(sizes, docs, minutes * 60, merged)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = "?"
    load = os.getloadavg()[0]
    rows = ", ".join(sorted({f"{r.profile} {r.system}" for r in fresh}))
    notes[-1] = notes[-1].rstrip()
    notes.append(
        f"- The file rows {rows} were measured again afterwards ({seconds / 60:.1f} minutes, "
        f"`--only-file`, Minga at {commit}; {', '.join(systems)} in the same run), each on a "
        f"pair that synced nothing else; the machine was shared (load {load:.0f} at the end): "
        "CPU seconds are inflated by it, network seconds are not. Every other row is from the "
        "run above."
    )
    (out / "sync_peers.md").write_text(table(merged, SCALE, notes), encoding="utf-8")
    (out / "sync_peers.json").write_text(
        json.dumps([dataclasses.asdict(r) for r in merged], indent=1), encoding="utf-8"
    )
    chart(merged, out / "sync_peers.png")


def _notes(
    sizes: list[int], docs: dict[int, Path], seconds: float, results: list[Result]
) -> list[str]:
    sizes_text = ", ".join(
        f"{c:,} records = {docs[c].stat().st_size / 1e6:.2f} MB JSON, "
        f"{zstd_size(docs[c].read_bytes()) / 1e6:.2f} MB zstd"
        for c in sizes
    )
    return [
        "Notes:",
        "",
        f"- Dataset: {sizes_text}; attachment {ATTACHMENT_BYTES / 1e6:.2f} MB of random bytes "
        "(evidence is photos, video, PDFs: already compressed).",
        "- Workloads: *initial* on an empty server; *one change* and *nothing changed* after "
        f"the {max(sizes):,}-record sync (requests: writer's push + reader's pull); "
        "*attachment, 2 cuts*: every connection reset once 50 % of the file went up, again "
        "once 50 % came down; each client retries as an app would.",
        "- Kinto: memory backend, kinto-http batch (the server's default 25 requests per batch), "
        "pulls with `_since`; the file through kinto-attachment, fetched from its base URL "
        "(a static file server behind the same link profile, counted in the same row).",
        "- PouchDB: local LevelDB (pouchdb-node) replicating one-shot to pouchdb-server "
        "(in-memory), batch_size 100, retried after an error.",
        "- Minga: a real minga-server and two real engines (SQLCipher profiles); the engine's "
        "first login and space discovery happen before the measured workloads.",
        "- Record counts run per profile: "
        + "; ".join(
            f"{profile}: "
            + ", ".join(
                r.workload.removeprefix("initial ")
                for r in results
                if r.profile == profile and r.system == "Minga" and r.workload.startswith("init")
            )
            for profile in dict.fromkeys(r.profile for r in results)
        )
        + " (the last of each is what *one change* and *nothing changed* ran on).",
        *_cut_floor_note(results),
        f"- Measuring took {seconds / 60:.1f} minutes on this 2-core machine shared with others.",
    ]


def _cut_floor_note(results: list[Result]) -> list[str]:
    """Whether the floor is fair to *attachment, 2 cuts*: the floor counts one round trip per
    leg and no cut, while any system pays a new connection after each cut (a round trip with
    no data) and, down, a request to resume (another). The table keeps the floor as defined;
    this states the other figure beside it."""
    # Not flaky: its random cuts come on top of the two.
    rows = [
        r
        for r in results
        if r.workload.startswith("attachment")
        and r.floor
        and r.k != 1
        and PROFILES[r.profile].cut_every is None
    ]
    if not rows:
        return []
    figures = "; ".join(
        f"{r.profile} {r.system} {r.estimate / (r.floor + 3 * PROFILES[r.profile].rtt):.2f}×"
        for r in rows
    )
    # The example from this run's own rows (satellite's, the goal's row, if it ran), never a
    # figure typed in.
    first = next((r for r in rows if r.profile == "satellite"), rows[0])
    trips = 3 * PROFILES[first.profile].rtt
    example = f"{first.profile}: {first.floor:.1f} + {trips:.1f} = {first.floor + trips:.1f} s"
    return [
        "- The floor of *attachment, 2 cuts* counts one round trip per leg and no cut. Any "
        "system must also reconnect after each cut (a TCP handshake: a round trip that moves "
        "no data) and, for the download, send the request that resumes it (another), so a "
        f"floor fair to the cuts is the floor + 3 round trips ({example}). "
        "The table keeps the floor as defined; against the other one: " + figures + ".",
    ]


if __name__ == "__main__":
    sys.exit(main())
