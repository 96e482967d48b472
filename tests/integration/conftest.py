"""Fixtures for integration tests: a real `minga-server` on 127.0.0.1 and real client profiles.
Each device is an encrypted profile, its sync state and an engine whose transport is recorded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from desktop.domain.records import Organization, Space, SpaceKind
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from sync.client.engine import SyncEngine, SyncReport
from sync.client.transport import Transport
from sync.protocol import Role
from tests.helpers.profiles import new_profile
from tests.helpers.server_process import MANY_DEVICES, Server, fresh_server


@dataclass
class Device:
    """One person's laptop: a profile, its records, its sync state, its engine."""

    name: str
    profile: Profile
    records: RecordStore
    state: ProfileSyncState
    engine: SyncEngine
    sent: list[bytes] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)

    def sync(self) -> SyncReport:
        report = self.engine.sync_once(discover=True)
        assert report.refused == [], report.refused
        assert report.rejected == [], report.rejected
        return report

    def snapshot(self) -> dict[str, object]:
        """Every record's content as a comparable value (without local bookkeeping)."""
        from sqlalchemy import text

        with self.profile.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT r.id, r.deleted, r.revision, c.content FROM records r "
                    "LEFT JOIN record_contents c ON c.id = r.id ORDER BY r.id"
                )
            ).all()
        result: dict[str, object] = {}
        for row in rows:
            record = self.records.get(row.id)
            result[row.id] = (
                bool(row.deleted),
                row.revision,
                None
                if record is None
                else {k: v for k, v in _content(record).items() if k not in ("dirty",)},
            )
        return result


def _content(record: object) -> dict[str, object]:
    from desktop.domain.records import to_dict

    return dict(to_dict(record))  # type: ignore[arg-type]


def _running_server(data_dir: Path) -> Iterator[Server]:
    process = fresh_server(data_dir, MANY_DEVICES)
    try:
        yield Server(data_dir, process)
    finally:
        process.stop()


@pytest.fixture(scope="module")
def _module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _running_server(tmp_path_factory.mktemp("server"))


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A new server for the test. A module that sets ``SHARED_SERVER = True`` gets one server
    for all its tests instead: starting one (``init``, then ``serve`` until it answers) costs
    1.5 to 4 s, and each test there makes its own space, devices and invites on it, never
    stops it, changes its settings or reads its files."""
    if getattr(request.module, "SHARED_SERVER", False):
        yield request.getfixturevalue("_module_server")
    else:
        yield from _running_server(tmp_path / "server")


def new_device(server: Server, folder: Path, name: str, page_bytes: int | None = None) -> Device:
    """A device with a new profile in ``folder``, talking to ``server``; the caller closes it
    (``close_device``)."""
    profile, _recovery = new_profile(folder)
    sent: list[bytes] = []
    received: list[bytes] = []

    def observe(_method: str, _path: str, body: bytes, answer: bytes) -> None:
        sent.append(body)
        received.append(answer)

    transport = Transport(server.url, observer=observe)
    state = ProfileSyncState(profile.engine)
    return Device(
        name,
        profile,
        RecordStore(profile.engine),
        state,
        SyncEngine(state, transport, page_bytes=page_bytes),
        sent,
        received,
    )


def close_device(device: Device) -> None:
    device.engine.transport.close()
    device.profile.close()


@pytest.fixture
def make_device(tmp_path: Path, server: Server) -> Iterator[object]:
    devices: list[Device] = []

    def make(name: str, page_bytes: int | None = None) -> Device:
        device = new_device(server, tmp_path / f"profile-{name}", name, page_bytes)
        devices.append(device)
        return device

    yield make
    for device in devices:
        close_device(device)


def space_record(space: str, name: str = "Network") -> Space:
    return Space(id=space, space_id=space, name=name, kind=SpaceKind.NETWORK)


def organization(space: str, name: str, **fields: object) -> Organization:
    return Organization(space_id=space, name=name, **fields)  # type: ignore[arg-type]


def network_of(
    server: Server, make: object, count: int, *, confirm: bool = True
) -> tuple[str, list[Device]]:
    """An admin who creates a space, and ``count - 1`` members invited and admitted into it.

    ``confirm``: each member syncs once and its person confirms the network (compares the
    admin's fingerprint): until then a member's edits stay on its computer (ENGINE.md)."""
    admin: Device = make("admin")  # type: ignore[operator]
    admin.engine.enroll(server.operator_invite())
    space = admin.engine.create_space()
    admin.records.save(space_record(space))
    devices = [admin]
    for index in range(1, count):
        member: Device = make(f"member{index}")  # type: ignore[operator]
        member.engine.enroll(admin.engine.invite(space, Role.EDITOR))
        devices.append(member)
    pending = admin.engine.pending_members(space)
    assert {p.device for p in pending} == {d.state.device_keys().device_id for d in devices[1:]}  # type: ignore[union-attr]
    admin.engine.admit(space, pending)
    if confirm:
        for member in devices[1:]:
            member.sync()
            member.engine.confirm_space(space)
    return space, devices
