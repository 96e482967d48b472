"""Courier bundles at 1,000 and 10,000 records against online sync of the same records.

Run with ``make bench PYTEST_ARGS="-k bundles"``. A real server on 127.0.0.1; an admin saves N
organizations (realistic text, Spanish and Arabic) and syncs them up; a member pulls them online
(the body bytes both ways are the online cost); the admin exports one bundle of everything
(its size and time) and a third member who never pulled imports it (time). It prints figures
and asserts only that the import applied every record.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from desktop.domain.records import Organization
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from sync.client.bundles import export_bundle, import_bundle
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from sync.protocol import Role
from tests.helpers.profiles import new_profile
from tests.helpers.server_process import run_cli, start_server

SIZES = [int(n) for n in os.environ.get("MINGA_BENCH_BUNDLE_SIZES", "1000,10000").split(",")]


def _organizations(space: str, count: int) -> list[Organization]:
    return [
        Organization(
            space_id=space,
            name=f"Colectivo de defensoras {i} — جمعية المدافعات {i}",
            acronym=f"CD{i}",
            country=("co", "ke", "ps", "gt")[i % 4],
            description=(
                "Acompañamiento jurídico a comunidades desplazadas por proyectos extractivos; "
                f"documentación de casos y alertas tempranas. Caso {i}.\n"
                "مرافقة قانونية للمجتمعات المهجرة وتوثيق الحالات.\n"
            ),
        )
        for i in range(count)
    ]


class _Device:
    def __init__(self, folder: Path, url: str) -> None:
        self.profile, _recovery = new_profile(folder)
        self.state = ProfileSyncState(self.profile.engine, self.profile.attachments)
        self.engine = SyncEngine(self.state, Transport(url), fetch_attachments=False)
        self.records = RecordStore(self.profile.engine)

    def close(self) -> None:
        self.engine.transport.close()
        self.profile.close()


@pytest.mark.parametrize("count", SIZES)
def test_bundle_sizes_and_times_against_online_sync(tmp_path: Path, count: int) -> None:
    data = tmp_path / "server"
    data.mkdir()
    assert run_cli(data, "init").returncode == 0
    server = start_server(data, extra_env={"MINGA_SERVER_CHALLENGES_PER_MINUTE": "1000"})
    devices: list[_Device] = []
    try:
        admin = _Device(tmp_path / "admin", server.base_url)
        devices.append(admin)
        invite = run_cli(data, "invite").stdout.strip().splitlines()[-1]
        admin.engine.enroll(invite)
        space = admin.engine.create_space()
        members = []
        for name in ("online", "offline"):
            member = _Device(tmp_path / name, server.base_url)
            devices.append(member)
            member.engine.enroll(admin.engine.invite(space, Role.EDITOR))
            members.append(member)
        admin.engine.admit(space, admin.engine.pending_members(space))
        for member in members:
            member.engine.sync_once(discover=True)
        admin.records.save_all(_organizations(space, count))
        up = _sync_all(admin.engine)
        online, offline = members
        started = time.perf_counter()
        down = _sync_all(online.engine)
        pull_seconds = time.perf_counter() - started
        bundle = tmp_path / "all.mbundle"
        started = time.perf_counter()
        exported = export_bundle(admin.engine, bundle)
        export_seconds = time.perf_counter() - started
        started = time.perf_counter()
        imported = import_bundle(offline.engine, bundle)
        import_seconds = time.perf_counter() - started
        assert imported.problem is None and imported.records == count
        size = bundle.stat().st_size
        print(
            f"\n{count:,} records: bundle {size:,} B ({size / count:.0f} B/record); "
            f"online push {up[0]:,} B up / {up[1]:,} B down in {up[2]} requests; "
            f"online pull {down[1]:,} B down / {down[0]:,} B up in {down[2]} requests "
            f"({pull_seconds:.1f} s); bundle/pull = {size / max(down[1], 1):.2f}; "
            f"export {export_seconds:.1f} s ({exported.records:,} records), "
            f"import {import_seconds:.1f} s"
        )
    finally:
        for device in devices:
            device.close()
        server.stop()


def _sync_all(engine: Any) -> tuple[int, int, int]:
    """Body bytes up, down and requests until nothing is left to push or pull."""
    up = down = requests = 0
    for _ in range(100):
        report = engine.sync_once()
        up, down, requests = (
            up + report.bytes_up,
            down + report.bytes_down,
            requests + report.requests,
        )
        if report.pushed == 0 and report.pulled == 0:
            break
    return up, down, requests
