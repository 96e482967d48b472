"""Fixtures for the server suite: one contract, run on SQLite and on PostgreSQL.
Each test gets its own app, clock and data folder over a per-session database per backend."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sync.protocol import Role
from sync.server import auth, spaces
from sync.server.app import create_app
from sync.server.config import Settings
from sync.server.db import Database, upgrade
from tests.helpers import seaweed
from tests.helpers.server_client import DeviceClient
from tests.server import postgres


class Clock:
    """The server's notion of now, which a test can move forward (token expiry, collection)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    backend: str
    db: Database
    settings: Settings
    clock: Clock
    app: FastAPI
    http: TestClient
    devices: list[DeviceClient] = field(default_factory=list)

    def operator_invite(self, grants: Sequence[tuple[str, Role]] = (), ttl: int = 3600) -> str:
        """What `minga-server invite` does: a code for a new device, made on the server itself."""
        with self.db.write() as conn:
            return auth.create_invite(
                conn, [auth.Grant(s, r) for s, r in grants], ttl, int(self.clock())
            )

    def operator_space(self) -> str:
        with self.db.write() as conn:
            return spaces.create_space_for_operator(conn, int(self.clock()), 10**9)

    def device(self, grants: Sequence[tuple[str, Role]] = (), login: bool = True) -> DeviceClient:
        client = DeviceClient(self.http)
        response = client.enroll(self.operator_invite(grants))
        assert response.status_code == 201, response.text
        if login:
            client.login()
        return client

    def space_with(self, **roles: int) -> tuple[str, dict[str, list[DeviceClient]]]:
        """A new space with an admin plus `roles` counts, e.g. space_with(editor=2, reader=1)."""
        admin = self.device()
        space = admin.create_space()
        members: dict[str, list[DeviceClient]] = {"admin": [admin]}
        for role, count in roles.items():
            for _ in range(count):
                members.setdefault(role, []).append(self.device([(space, Role(role))]))
        return space, members


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Database]]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "minga-server.sqlite3"
        db = Database(f"sqlite:///{path}")
        upgrade(db)
        yield "sqlite", db
        db.dispose()
        return
    url = postgres.create_database()
    db = Database(url, pool_size=20)
    try:
        upgrade(db)
        yield "postgres", db
    finally:
        db.dispose()
        postgres.drop_database(url)


def make_harness(backend: str, db: Database, data_dir: Path, **overrides: object) -> Harness:
    settings = Settings(data_dir=data_dir, database_url=db.url, **overrides)  # type: ignore[arg-type]
    clock = Clock()
    app = create_app(settings, db=db, clock=clock)
    return Harness(backend, db, settings, clock, app, TestClient(app))


@pytest.fixture
def server(backend_db: tuple[str, Database], tmp_path: Path) -> Iterator[Harness]:
    backend, db = backend_db
    harness = make_harness(backend, db, tmp_path / "server")
    with harness.http:
        yield harness


@pytest.fixture(scope="session")
def seaweed_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[seaweed.SeaweedS3]:
    """One SeaweedFS for the session; each test gets its own key prefix in its bucket."""
    if seaweed.weed_binary() is None:
        pytest.skip(seaweed.SKIP_REASON)
    server = seaweed.start_seaweed(tmp_path_factory.mktemp("seaweed"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["folder", "s3"])
def store_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    """The chunk store settings of one backend: the chunk contract runs on each (as Kinto runs
    one storage suite on every backend)."""
    if request.param == "folder":
        return {"chunk_store": "folder"}
    s3: seaweed.SeaweedS3 = request.getfixturevalue("seaweed_s3")
    return s3.settings()


@pytest.fixture
def chunk_server(
    backend_db: tuple[str, Database], store_settings: dict[str, str], tmp_path: Path
) -> Iterator[Harness]:
    """`server`, once per chunk store."""
    backend, db = backend_db
    harness = make_harness(backend, db, tmp_path / "server", **store_settings)
    with harness.http:
        yield harness
