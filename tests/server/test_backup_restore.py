"""`minga-server backup` then `restore` into an empty database: the same records are served.

Run on SQLite and on PostgreSQL (MINGA_TEST_POSTGRES_URL), as an operator moving a server would.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sync.protocol import Mutation, chunk_hash
from sync.server.app import create_app
from sync.server.config import load_settings
from tests.helpers.server_client import DeviceClient
from tests.helpers.server_process import run_cli
from tests.server import postgres


def _init(data: Path, url: str | None) -> None:
    init = run_cli(data, "init", *(["--database-url", url] if url else []))
    assert init.returncode == 0, init.stderr
    if url:
        (data / "server.toml").write_text(f'[server]\ndatabase_url = "{url}"\n')


def _enrolled(data: Path, http: TestClient) -> tuple[DeviceClient, str]:
    invited = run_cli(data, "invite", "--new-space")
    assert invited.returncode == 0, invited.stderr
    space = invited.stdout.split("space ", 1)[1].split()[0]
    client = DeviceClient(http)
    assert client.enroll(invited.stdout.strip().splitlines()[-1]).status_code == 201
    client.login()
    return client, space


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_backup_restored_into_an_empty_database_serves_the_same_records(
    tmp_path: Path, backend: str
) -> None:
    source_url = postgres.create_database("minga_source") if backend == "postgres" else None
    # Empty as a new server's would be: not even `init` has run on it.
    target_url = postgres.create_database("minga_target") if backend == "postgres" else None
    try:
        source = tmp_path / "source"
        _init(source, source_url)
        blobs = {f"r{n}": secrets.token_bytes(200) for n in range(1200)}  # more than one batch
        chunk = secrets.token_bytes(5000)
        statements = [secrets.token_bytes(300) for _ in range(3)]
        with TestClient(create_app(load_settings(data_dir=source, environ={}))) as http:
            client, space = _enrolled(source, http)
            pushed = [Mutation(f"m{r}", space, r, 0, b) for r, b in blobs.items()]
            for start in range(0, len(pushed), 200):
                client.sync(push=pushed[start : start + 200])
            assert client.put_chunk(space, chunk).status_code == 201
            for version, blob in enumerate(statements, 1):
                assert client.put_statement(space, version, blob).status_code == 201
            original = {c.record: (c.revision, c.seq, c.blob) for c in client.pull_all(space)}
        backup = run_cli(source, "backup", str(tmp_path / "backup"))
        assert backup.returncode == 0, backup.stderr

        target = tmp_path / "target"
        url_flag = ["--database-url", target_url] if target_url else []
        restore = run_cli(target, "restore", str(tmp_path / "backup"), *url_flag)
        assert restore.returncode == 0, restore.stderr
        assert "1 chunks into folder" in restore.stdout
        if target_url:
            (target / "server.toml").write_text(f'[server]\ndatabase_url = "{target_url}"\n')
        assert run_cli(target, "status").returncode == 0

        with TestClient(create_app(load_settings(data_dir=target, environ={}))) as http:
            client.http = http
            client.login()  # the device's enrollment came along
            restored = {c.record: (c.revision, c.seq, c.blob) for c in client.pull_all(space)}
            assert restored == original
            assert {record: blob for record, (_rev, _seq, blob) in restored.items()} == blobs
            assert client.get_chunk(space, chunk_hash(chunk)).content == chunk
            assert [s.statement for s in client.statements(space).statements] == statements
            # The restored server goes on where the original stopped, not from zero.
            assert client.put_statement(space, 4, b"next").status_code == 201
            client.sync(push=[Mutation("m-after", space, "r0", original["r0"][0], b"edited")])
            after = {c.record: c for c in client.pull_all(space)}
            assert after["r0"].blob == b"edited"
            assert after["r0"].seq > max(seq for _rev, seq, _blob in original.values())
    finally:
        for url in (source_url, target_url):
            if url:
                postgres.drop_database(url)


def test_restore_refuses_a_database_that_already_holds_data(tmp_path: Path) -> None:
    source = tmp_path / "source"
    _init(source, None)
    assert run_cli(source, "backup", str(tmp_path / "backup")).returncode == 0
    busy = tmp_path / "busy"
    _init(busy, None)
    invited = run_cli(busy, "invite", "--new-space")
    assert invited.returncode == 0
    before = run_cli(busy, "status").stdout
    refused = run_cli(busy, "restore", str(tmp_path / "backup"))
    assert refused.returncode == 2
    assert "restore only into an empty database" in refused.stderr
    assert run_cli(busy, "status").stdout == before


def test_restore_of_a_folder_that_is_no_backup_says_so(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    refused = run_cli(tmp_path / "target", "restore", str(tmp_path / "nothing"))
    assert refused.returncode == 2
    assert "is not a backup folder" in refused.stderr
