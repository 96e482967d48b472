"""Benchmark of the sync server over PostgreSQL on this machine: throughput, latency, bytes.
Prints figures, asserts no timings. Run with `make bench` (needs MINGA_TEST_POSTGRES_URL)."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sync.protocol import (
    MEDIA_TYPE,
    ChallengeRequest,
    EnrollRequest,
    Mutation,
    SyncRequest,
    TokenRequest,
    challenge_statement,
    decode_body,
    device_id_for,
    encode_body,
    enroll_statement,
)
from sync.server import auth
from sync.server.db import Database
from tests.helpers.server_process import ServerProcess, run_cli, start_server
from tests.server import postgres

PROCESSES = int(os.environ.get("MINGA_BENCH_PROCESSES", "2"))
SECONDS = float(os.environ.get("MINGA_BENCH_SECONDS", "5"))


@dataclass
class BenchDevice:
    http: httpx.AsyncClient
    device_id: str = ""
    token: str = ""
    space: str = ""
    cursor: int = 0

    async def call(
        self, path: str, message: dict[str, object], auth: bool = True
    ) -> dict[str, object]:
        headers = {"content-type": MEDIA_TYPE}
        if auth:
            headers["authorization"] = f"Bearer {self.token}"
        response = await self.http.post(path, content=encode_body(message), headers=headers)
        assert response.status_code < 300, response.text
        return decode_body(response.content)


def _raw(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


async def _enroll(device: BenchDevice, invite: str) -> None:
    sign, box = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    signature = sign.sign(enroll_statement(invite, _raw(sign), _raw(box)))
    await device.call(
        "/v1/enroll", EnrollRequest(invite, _raw(sign), _raw(box), signature).to_wire(), auth=False
    )
    device.device_id = device_id_for(_raw(sign))
    nonce = (
        await device.call(
            "/v1/auth/challenge", ChallengeRequest(device.device_id).to_wire(), auth=False
        )
    )["challenge"]
    assert isinstance(nonce, bytes)
    answer = TokenRequest(
        device.device_id, nonce, sign.sign(challenge_statement(nonce, device.device_id))
    )
    device.token = str((await device.call("/v1/auth/token", answer.to_wire(), auth=False))["token"])
    device.space = str((await device.call("/v1/spaces", {"v": 1}))["space"])


@dataclass
class Bench:
    servers: list[ServerProcess]
    db: Database

    def invites(self, count: int) -> list[str]:
        with self.db.write() as conn:
            return [auth.create_invite(conn, [], 3600, int(time.time())) for _ in range(count)]

    async def devices(self, count: int) -> list[BenchDevice]:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        devices = [
            BenchDevice(
                httpx.AsyncClient(
                    base_url=self.servers[n % len(self.servers)].base_url, limits=limits, timeout=60
                )
            )
            for n in range(count)
        ]
        codes = self.invites(count)
        for start in range(0, count, 20):
            await asyncio.gather(
                *(
                    _enroll(d, c)
                    for d, c in zip(
                        devices[start : start + 20], codes[start : start + 20], strict=True
                    )
                )
            )
        return devices


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Bench:
    url = postgres.create_database("minga_bench")
    data = tmp_path_factory.mktemp("bench")
    assert run_cli(data, "init", database_url=url).returncode == 0
    env = {"MINGA_SERVER_ENROLL_PER_MINUTE": "100000", "MINGA_SERVER_LOG_LEVEL": "WARNING"}
    servers = [start_server(data, url, env, log_name=f"s{n}.log") for n in range(PROCESSES)]
    db = Database(url)
    yield Bench(servers, db)  # type: ignore[misc]
    db.dispose()
    for server in servers:
        server.stop()
    postgres.drop_database(url)


async def _run_for(
    seconds: float, clients: list[BenchDevice], step: Callable[[BenchDevice], Awaitable[int]]
) -> tuple[int, list[float]]:
    """Each client runs `step` in a closed loop for `seconds`; returns units done and latencies."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    done = 0

    async def loop(client: BenchDevice) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            # `done += await ...` would read `done` before the await and lose updates.
            units = await step(client)
            done += units
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(loop(c) for c in clients))
    return done, latencies


def _push_step(batch: int) -> Callable[[BenchDevice], Awaitable[int]]:
    async def step(client: BenchDevice) -> int:
        push = [
            Mutation(
                secrets.token_hex(6),
                client.space,
                secrets.token_hex(6),
                0,
                secrets.token_bytes(200),
            )
            for _ in range(batch)
        ]
        answer = await client.call("/v1/sync", SyncRequest(push=tuple(push)).to_wire())
        results = answer["results"]
        assert isinstance(results, list)
        return sum(1 for r in results if r["status"] == "accepted")

    return step


async def _empty_poll(client: BenchDevice) -> int:
    answer = await client.call("/v1/sync", SyncRequest(pull={client.space: 10**9}).to_wire())
    assert answer["spaces"]
    return 1


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000


def test_bench_mutations_per_second(bench: Bench) -> None:
    async def main() -> None:
        clients = await bench.devices(100)
        print(
            f"\n[bench] {PROCESSES} server processes over PostgreSQL, "
            f"{SECONDS:.0f} s per run, 200-byte blobs"
        )
        for concurrency in (1, 10, 100):
            for batch in (1, 20):
                accepted, latencies = await _run_for(
                    SECONDS, clients[:concurrency], _push_step(batch)
                )
                print(
                    f"[bench] push  clients={concurrency:3d} batch={batch:2d}: "
                    f"{accepted / SECONDS:8.0f} mutations/s accepted, "
                    f"p50 {_pct(latencies, 0.5):6.1f} ms "
                    f"p99 {_pct(latencies, 0.99):6.1f} ms per request"
                )
        await asyncio.gather(*(c.http.aclose() for c in clients))

    asyncio.run(main())


def test_bench_empty_poll_latency_with_200_clients(bench: Bench) -> None:
    async def main() -> None:
        clients = await bench.devices(200)
        count, latencies = await _run_for(SECONDS, clients, _empty_poll)
        print(
            f"\n[bench] empty poll, 200 clients polling back to back: "
            f"{count / SECONDS:.0f} polls/s, "
            f"p50 {_pct(latencies, 0.5):.1f} ms, p99 {_pct(latencies, 0.99):.1f} ms"
        )

        async def paced(client: BenchDevice) -> int:
            # A client on a real link polls every few seconds, not back to back.
            await asyncio.sleep(0.5 + secrets.randbelow(1000) / 1000)
            started = time.perf_counter()
            await _empty_poll(client)
            paced_latencies.append(time.perf_counter() - started)
            return 1

        paced_latencies: list[float] = []
        await _run_for(SECONDS, clients, paced)
        print(
            f"[bench] empty poll, 200 clients each polling about once a second "
            f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores): "
            f"{len(paced_latencies) / SECONDS:.0f} polls/s, "
            f"p50 {_pct(paced_latencies, 0.5):.1f} ms, "
            f"p99 {_pct(paced_latencies, 0.99):.1f} ms"
        )
        await asyncio.gather(*(c.http.aclose() for c in clients))

    asyncio.run(main())


class ByteCounter:
    """A TCP relay on 127.0.0.1 counting the exact bytes each way: what a 2G link would carry."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.up = 0
        self.down = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        target_reader, target_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, upstream: bool
        ) -> None:
            while data := await src.read(65536):
                if upstream:
                    self.up += len(data)
                else:
                    self.down += len(data)
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, target_writer, True), pipe(target_reader, writer, False))


def test_bench_bytes_on_the_wire(bench: Bench) -> None:
    async def main() -> None:
        counter = ByteCounter(bench.servers[0].port)
        port = await counter.start()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            # Only the headers a Minga client needs: no user agent, no accept lists.
            for name in ("user-agent", "accept", "accept-encoding"):
                del http.headers[name]
            [device] = [BenchDevice(http)]
            codes = bench.invites(1)
            await _enroll(device, codes[0])

            async def measure(label: str, message: dict[str, object]) -> None:
                up, down = counter.up, counter.down
                response = await http.post(
                    "/v1/sync",
                    content=encode_body(message),
                    headers={"authorization": f"Bearer {device.token}"},
                )
                assert response.status_code == 200
                await asyncio.sleep(0.05)
                print(
                    f"[bench] {label}: {counter.up - up} bytes up, "
                    f"{counter.down - down} bytes down (bodies {len(encode_body(message))} up, "
                    f"{len(response.content)} down; HTTP/1.1, no TLS)"
                )

            print()
            await measure("empty poll, one space", SyncRequest(pull={device.space: 0}).to_wire())
            record = Mutation("m1", device.space, "r1", 0, secrets.token_bytes(200))
            await measure(
                "one-record push (200-byte sealed blob)", SyncRequest(push=(record,)).to_wire()
            )
        counter.server.close()

    asyncio.run(main())
