"""Capacity of the sync server: simulated devices polling and pushing at a field rate against one
and three `serve` processes over one PostgreSQL (and one S3 store when SeaweedFS is installed).

Prints a table (markdown) of p50/p99 of an empty poll and of a push, errors, the server
processes' CPU and memory; then mutations per second with one mutation per request, closed loop,
for this code and, with MINGA_BENCH_BASELINE=<git rev>, for that revision in the same run.
Asserts no timings. `make bench PYTEST_ARGS="-k capacity"`; knobs (environment):
MINGA_BENCH_DEVICES (1000,5000,10000), MINGA_BENCH_PROCESSES (1,3), MINGA_BENCH_SECONDS (30),
MINGA_BENCH_POLL_SECONDS (300: the app's default interval), MINGA_BENCH_PUSH_SECONDS (600).

Devices, their tokens and their spaces (ten devices each, like a network's workgroups) are
written straight into the database: enrolling 10,000 devices through the API would measure
enrollment, not sync. Each device polls with its own cursor at a random phase; a push carries
one sealed-size record and pulls in the same round trip, as the client does. The load is
open-loop: latency runs from the moment a request was due, so a slow server is not hidden by
a load generator that waits for it.
"""

from __future__ import annotations

import asyncio
import heapq
import os
import random
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert

from sync.protocol import MEDIA_TYPE, Mutation, SyncRequest, decode_body, encode_body
from sync.server import auth, schema, spaces
from sync.server.db import Database
from tests.helpers import seaweed
from tests.helpers.server_process import ServerProcess, run_cli, start_server
from tests.server import postgres


def _ints(name: str, default: str) -> list[int]:
    return [int(v) for v in os.environ.get(name, default).split(",") if v]


DEVICES = _ints("MINGA_BENCH_DEVICES", "1000,5000,10000")
PROCESSES = _ints("MINGA_BENCH_PROCESSES", "1,3")
SECONDS = float(os.environ.get("MINGA_BENCH_SECONDS", "30"))
POLL_SECONDS = float(os.environ.get("MINGA_BENCH_POLL_SECONDS", "300"))
PUSH_SECONDS = float(os.environ.get("MINGA_BENCH_PUSH_SECONDS", "600"))
BASELINE = os.environ.get("MINGA_BENCH_BASELINE", "")
SPACE_SIZE = 10
BLOB_BYTES = 1200  # a sealed incident record: nonce, tag, signature and compressed fields
IN_FLIGHT = 256  # what a proxy's upstream connections would allow at once


@dataclass
class SimDevice:
    token: str
    space: str
    cursor: int = 0


@dataclass
class Sample:
    kind: str  # "empty poll", "poll with changes", "push"
    seconds: float
    ok: bool


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def _populate(db: Database, count: int) -> list[SimDevice]:
    """`count` enrolled devices with live tokens, ten to a space."""
    now = int(time.time())
    devices: list[SimDevice] = []
    with db.write() as conn:
        device_rows, token_rows, member_rows = [], [], []
        space = ""
        for n in range(count):
            if n % SPACE_SIZE == 0:
                space = spaces.create_space_for_operator(conn, now, 10**9)
            device_id = secrets.token_hex(16)
            token = secrets.token_urlsafe(32)
            device_rows.append(
                {
                    "id": device_id,
                    "sign_key": secrets.token_bytes(32),
                    "box_key": secrets.token_bytes(32),
                    "enrolled_at": now,
                }
            )
            token_rows.append(
                {
                    "token_hash": auth.secret_hash(token),
                    "device_id": device_id,
                    "expires_at": now + 86400,
                    "revoked": False,
                }
            )
            member_rows.append(
                {"space_id": space, "device_id": device_id, "role": "editor", "added_at": now}
            )
            devices.append(SimDevice(token, space))
        for table, rows in (
            (schema.device, device_rows),
            (schema.token, token_rows),
            (schema.member, member_rows),
        ):
            for start in range(0, len(rows), 2000):
                conn.execute(insert(table), rows[start : start + 2000])
    return devices


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _sync(
    http: httpx.AsyncClient, device: SimDevice, message: SyncRequest
) -> dict[str, object]:
    response = await http.post(
        "/v1/sync",
        content=encode_body(message.to_wire()),
        headers={"content-type": MEDIA_TYPE, "authorization": f"Bearer {device.token}"},
    )
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}")
    return decode_body(response.content)


async def _act(
    http: httpx.AsyncClient, device: SimDevice, push: bool, run: Run, due: float
) -> None:
    pull = {device.space: device.cursor}
    try:
        if push:
            mutation = Mutation(
                secrets.token_hex(8),
                device.space,
                secrets.token_hex(8),
                0,
                secrets.token_bytes(BLOB_BYTES),
            )
            answer = await _sync(http, device, SyncRequest(push=(mutation,), pull=pull))
        else:
            answer = await _sync(http, device, SyncRequest(pull=pull))
        page = answer["spaces"][device.space]  # type: ignore[index]
        device.cursor = int(page["cursor"])
        kind = "push" if push else ("poll with changes" if page.get("changes") else "empty poll")
        run.samples.append(Sample(kind, time.perf_counter() - due, True))
    except Exception as exc:
        run.error(f"{'push' if push else 'poll'}: {type(exc).__name__} {exc}"[:80])


async def _drive(servers: list[ServerProcess], devices: list[SimDevice], seconds: float) -> Run:
    """Every device polls every POLL_SECONDS and pushes every PUSH_SECONDS on average, each at
    a random phase, through a pool of connections per process, as behind a proxy."""
    run = Run()
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    clients = [httpx.AsyncClient(base_url=s.base_url, limits=limits, timeout=60) for s in servers]
    start = time.perf_counter() + 0.5
    events: list[tuple[float, int, bool]] = []
    rng = random.Random(7)
    for n in range(len(devices)):
        heapq.heappush(events, (start + rng.uniform(0, POLL_SECONDS), n, False))
        heapq.heappush(events, (start + rng.expovariate(1 / PUSH_SECONDS), n, True))
    gate = asyncio.Semaphore(IN_FLIGHT)
    tasks: set[asyncio.Task[None]] = set()
    turn = 0

    async def guarded(http: httpx.AsyncClient, device: SimDevice, push: bool, due: float) -> None:
        async with gate:
            await _act(http, device, push, run, due)

    end = start + seconds
    while events and events[0][0] < end:
        due, n, push = heapq.heappop(events)
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        turn = (turn + 1) % len(clients)
        task = asyncio.create_task(guarded(clients[turn], devices[n], push, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        gap = rng.expovariate(1 / PUSH_SECONDS) if push else POLL_SECONDS
        heapq.heappush(events, (due + gap, n, push))
    if tasks:
        await asyncio.wait(tasks, timeout=120)
    for client in clients:
        await client.aclose()
    return run


def _pct(values: list[float], q: float) -> str:
    if not values:
        return "–"
    ordered = sorted(values)
    return f"{ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000:.0f}"


@dataclass
class Cluster:
    url: str
    db: Database
    servers: list[ServerProcess]


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if seaweed.weed_binary() is None:
        print(f"\n[capacity] {seaweed.SKIP_REASON}; chunks in a shared folder instead")
        yield {}
        return
    server = seaweed.start_seaweed(tmp_path_factory.mktemp("seaweed"))
    try:
        yield server.environ("bench/")
    finally:
        server.stop()


def _cluster(tmp: Path, processes: int, env: dict[str, str], code: Path | None = None) -> Cluster:
    url = postgres.create_database("minga_capacity")
    env = {**env, "MINGA_SERVER_DATABASE_URL": url, "MINGA_SERVER_LOG_LEVEL": "WARNING"}
    # `init` in a folder of its own: the servers' folders stay empty (no server.toml a baseline
    # revision would not know), as on machines that share nothing but the services.
    init = run_cli(tmp / "init", "init", extra_env=env)
    assert init.returncode == 0, init.stderr
    for n in range(processes):
        (tmp / f"p{n}").mkdir(exist_ok=True)
    servers = [
        start_server(tmp / f"p{n}", extra_env=env, log_name=f"s{n}.log", cwd=code)
        for n in range(processes)
    ]
    return Cluster(url, Database(url), servers)


def _stop(cluster: Cluster) -> None:
    for server in cluster.servers:
        server.stop()
    cluster.db.dispose()
    postgres.drop_database(cluster.url)


def test_capacity_with_simulated_devices(
    s3_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    print(
        f"\n[capacity] {os.cpu_count()} cores shared with the load generator and other work "
        f"(load average {os.getloadavg()[0]:.1f} at the start); {SECONDS:.0f} s per row; "
        f"each device polls every {POLL_SECONDS:.0f} s and pushes every {PUSH_SECONDS:.0f} s "
        f"on average; {'S3 (SeaweedFS)' if s3_env else 'folder'} chunk store"
    )
    print(
        "| devices | processes | requests/s | empty poll p50 / p99 ms | push p50 / p99 ms "
        "| errors | server CPU (ms per request) | server RSS MiB |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for processes in PROCESSES:
        cluster = _cluster(tmp_path_factory.mktemp(f"cap{processes}"), processes, s3_env)
        try:
            populated: list[SimDevice] = []
            for count in DEVICES:
                populated += _populate(cluster.db, count - len(populated))
                pids = [s.process.pid for s in cluster.servers]
                cpu_before = sum(_cpu_seconds(p) for p in pids)
                wall = time.perf_counter()
                run = asyncio.run(_drive(cluster.servers, populated, SECONDS))
                wall = time.perf_counter() - wall
                cpu = (sum(_cpu_seconds(p) for p in pids) - cpu_before) / wall
                rss = sum(_rss_mib(p) for p in pids)
                rate = max(len(run.samples), 1) / SECONDS
                polls = [s.seconds for s in run.samples if s.kind == "empty poll"]
                pushes = [s.seconds for s in run.samples if s.kind == "push"]
                errors = sum(run.errors.values())
                print(
                    f"| {count:,} | {processes} | {rate:.0f} "
                    f"| {_pct(polls, 0.5)} / {_pct(polls, 0.99)} "
                    f"| {_pct(pushes, 0.5)} / {_pct(pushes, 0.99)} "
                    f"| {errors} | {cpu * 100:.0f} % ({cpu * 1000 / rate:.1f}) | {rss:.0f} |"
                )
                for what, times in sorted(run.errors.items()):
                    print(f"[capacity]   {times} × {what}")
        finally:
            _stop(cluster)


def _cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += _cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@dataclass
class SingleMutations:
    per_second: float
    server_cpu_ms: float  # the server processes' CPU per accepted mutation


async def _closed_loop(
    cluster: Cluster, devices: list[SimDevice], seconds: float
) -> SingleMutations:
    """Mutations accepted per second, each request carrying exactly one, 32 devices back to
    back (the figure the issue tracks: about 190/s before this work), and the CPU each took."""
    servers = cluster.servers
    clients = [httpx.AsyncClient(base_url=s.base_url, timeout=60) for s in servers]
    accepted = 0

    async def one(http: httpx.AsyncClient, device: SimDevice) -> int:
        mutation = Mutation(secrets.token_hex(8), device.space, secrets.token_hex(8), 0, b"x" * 200)
        answer = await _sync(http, device, SyncRequest(push=(mutation,)))
        results = answer["results"]
        assert isinstance(results, list)
        return sum(1 for r in results if r["status"] == "accepted")

    # Warm up: every connection open, every statement prepared, before anything is counted.
    await asyncio.gather(*(one(clients[n % len(clients)], d) for n, d in enumerate(devices)))
    server_pids = [s.process.pid for s in servers]
    server_cpu = _cpu_of(server_pids)
    deadline = time.perf_counter() + seconds

    async def loop(n: int, device: SimDevice) -> None:
        nonlocal accepted
        http = clients[n % len(clients)]
        while time.perf_counter() < deadline:
            done = await one(http, device)
            accepted += done

    started = time.perf_counter()
    await asyncio.gather(*(loop(n, d) for n, d in enumerate(devices)))
    elapsed = time.perf_counter() - started
    server_cpu = _cpu_of(server_pids) - server_cpu
    for client in clients:
        await client.aclose()
    count = max(accepted, 1)
    return SingleMutations(accepted / elapsed, server_cpu * 1000 / count)


def _baseline_tree(tmp: Path) -> Path | None:
    if not BASELINE:
        return None
    root = Path(__file__).resolve().parents[2]
    tree = tmp / "baseline"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", BASELINE, "sync"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def _plain_asyncio(tmp: Path) -> dict[str, str]:
    """Environment that hides uvloop and httptools from a server, so uvicorn falls back to
    asyncio's loop and h11, as the server ran before uvloop was a dependency."""
    folder = tmp / "plain-asyncio"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        "import sys\nsys.modules['uvloop'] = None\nsys.modules['httptools'] = None\n"
    )
    return {"PYTHONPATH": str(folder)}


def test_mutations_per_second_one_mutation_per_request(
    s3_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("single")
    baseline = _baseline_tree(tmp)
    plain = _plain_asyncio(tmp)
    seconds = min(SECONDS, 15.0)
    variants: list[tuple[str, Path | None, dict[str, str]]] = [
        ("this code, asyncio loop", None, plain),
        ("this code, uvloop", None, {}),
    ]
    if baseline is not None:
        variants.insert(0, (f"baseline {BASELINE}", baseline, plain))
    print(
        f"\n[capacity] one mutation per request, 32 devices back to back, {seconds:.0f} s per "
        f"figure, {os.cpu_count()} shared cores (load average {os.getloadavg()[0]:.1f})"
    )
    # Interleaved (A B C A B C): the machine's other work shifts every figure alike.
    for round_number in range(2):
        for label, code, extra in variants:
            for processes in PROCESSES:
                folder = tmp / f"v{len(label)}p{processes}r{round_number}"
                cluster = _cluster(folder, processes, {**s3_env, **extra}, code)
                try:
                    devices = _populate(cluster.db, 320)[::10]  # 32 devices, 32 spaces
                    measured = asyncio.run(_closed_loop(cluster, devices, seconds))
                    print(
                        f"[capacity] round {round_number + 1} {label:>22}, "
                        f"{processes} process(es): {measured.per_second:6.0f} mutations/s, "
                        f"server CPU per mutation {measured.server_cpu_ms:.2f} ms "
                        f"(load average {os.getloadavg()[0]:.1f})"
                    )
                finally:
                    _stop(cluster)
