"""The server's files are its owner's only (0600, folders 0700) whatever the umask it was
started with: data folder, server.toml, SQLite database with WAL and shared memory, chunks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest

from tests.helpers.server_client import DeviceClient
from tests.helpers.server_process import run_cli, start_server

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes")


def _not_private(folder: Path) -> dict[str, str]:
    found = {}
    for path in [folder, *folder.rglob("*")]:
        if path.name == "server.log":
            continue  # the test helper's capture of the server's stderr, not the server's file
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            found[str(path.relative_to(folder))] = oct(mode)
    return found


def test_a_served_data_folder_is_private_under_a_lax_umask(tmp_path: Path) -> None:
    data = tmp_path / "server"
    previous = os.umask(0o022)  # inherited by the server processes started below
    try:
        assert run_cli(data, "init").returncode == 0
        code = run_cli(data, "invite", "--new-space").stdout.strip().splitlines()[-1]
        server = start_server(data)
    finally:
        os.umask(previous)
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            device = DeviceClient(http)
            joined = device.body(device.enroll(code))
            device.login()
            space = joined["spaces"][0]["space"]
            assert device.put_chunk(space, os.urandom(5000)).status_code == 201
        names = {str(p.relative_to(data)) for p in data.rglob("*")}
        assert {"server.toml", "minga-server.sqlite3", "chunks"} <= names
        assert any(name.endswith("-wal") for name in names)
        assert _not_private(data) == {}
    finally:
        server.stop()


def test_files_an_older_version_left_readable_are_made_private(tmp_path: Path) -> None:
    data = tmp_path / "server"
    assert run_cli(data, "init").returncode == 0
    for path in [data, *data.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    assert run_cli(data, "init").returncode == 0
    assert _not_private(data) == {}
