"""The `minga-server` command as an operator uses it: init, status, invite, backup, revoke.
Commands run in real subprocesses; the API is then checked over the data they left."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sync.protocol import Mutation, chunk_hash
from sync.server.app import create_app
from sync.server.config import ConfigError, load_settings
from tests.helpers.server_client import DeviceClient
from tests.helpers.server_process import run_cli
from tests.server import postgres


def test_status_before_init_says_what_to_do_and_fails(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "d", "status")
    assert result.returncode == 1
    assert "needs `minga-server init`" in result.stdout


def test_init_writes_a_config_and_migrates_and_serve_refuses_an_empty_database(
    tmp_path: Path,
) -> None:
    data = tmp_path / "d"
    refused = run_cli(data, "serve", "--port", "1")
    assert refused.returncode == 2 and "run `minga-server init` first" in refused.stderr
    assert run_cli(data, "init").returncode == 0
    assert "[server]" in (data / "server.toml").read_text()
    status = run_cli(data, "status")
    assert status.returncode == 0 and "status    ok" in status.stdout
    assert run_cli(data, "init").returncode == 0  # idempotent


def test_settings_come_from_file_then_environment(tmp_path: Path) -> None:
    (tmp_path / "server.toml").write_text("[server]\ntoken_ttl = 60\nport = 9000\n")
    settings = load_settings(data_dir=tmp_path, environ={"MINGA_SERVER_PORT": "9100"})
    assert (settings.token_ttl, settings.port) == (60, 9100)
    (tmp_path / "server.toml").write_text("[server]\ntoken_tll = 60\n")
    with pytest.raises(ConfigError, match="token_tll"):
        load_settings(data_dir=tmp_path, environ={})
    with pytest.raises(ConfigError, match="MINGA_SERVER_PORT"):
        load_settings(config_file=None, data_dir=tmp_path / "x", environ={"MINGA_SERVER_PORT": "x"})


def test_invite_refuses_an_unknown_space(tmp_path: Path) -> None:
    data = tmp_path / "d"
    run_cli(data, "init")
    result = run_cli(data, "invite", "--join", "nosuchspace:editor")
    assert result.returncode == 2 and "nosuchspace does not exist" in result.stderr
    bad_role = run_cli(data, "invite", "--join", "x:owner")
    assert bad_role.returncode == 2


def _enroll_with_cli_invite(data: Path, http: TestClient) -> tuple[DeviceClient, str]:
    invited = run_cli(data, "invite", "--new-space")
    assert invited.returncode == 0, invited.stderr
    space = invited.stdout.split("space ", 1)[1].split()[0]
    client = DeviceClient(http)
    assert client.enroll(invited.stdout.strip().splitlines()[-1]).status_code == 201
    client.login()
    return client, space


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_backup_is_a_working_data_folder(tmp_path: Path, backend: str) -> None:
    data = tmp_path / "d"
    url = postgres.create_database("minga_backup") if backend == "postgres" else None
    try:
        init = run_cli(data, "init", *(["--database-url", url] if url else []))
        assert init.returncode == 0, init.stderr
        if url:
            (data / "server.toml").write_text(f'[server]\ndatabase_url = "{url}"\n')
        settings = load_settings(data_dir=data, environ={})
        app = create_app(settings)
        blobs = {f"r{n}": secrets.token_bytes(100) for n in range(30)}
        chunk = secrets.token_bytes(5000)
        with TestClient(app) as http:
            client, space = _enroll_with_cli_invite(data, http)
            client.sync(push=[Mutation(f"m{r}", space, r, 0, b) for r, b in blobs.items()])
            assert client.put_chunk(space, chunk).status_code == 201
            statements = [secrets.token_bytes(300) for _ in range(3)]
            for version, blob in enumerate(statements, 1):
                assert client.put_statement(space, version, blob).status_code == 201
        backup = run_cli(data, "backup", str(tmp_path / "backup"))
        assert backup.returncode == 0, backup.stderr
        again = run_cli(data, "backup", str(tmp_path / "backup"))
        assert again.returncode == 2 and "not empty" in again.stderr
        restored = create_app(load_settings(data_dir=tmp_path / "backup", environ={}))
        with TestClient(restored) as http:
            client.http = http
            client.login()
            assert {c.record: c.blob for c in client.pull_all(space)} == blobs
            assert client.get_chunk(space, chunk_hash(chunk)).content == chunk
            restored_statements = client.statements(space).statements
            assert [s.statement for s in restored_statements] == statements
            # The restored server continues the chain where the original left it.
            assert client.sync(pull={space: 0}).spaces[space].statement == 3
            assert client.put_statement(space, 3, statements[2]).status_code == 200
            assert client.put_statement(space, 4, b"next").status_code == 201
    finally:
        if url:
            postgres.drop_database(url)


def test_revoke_ends_a_device_at_once(tmp_path: Path) -> None:
    data = tmp_path / "d"
    run_cli(data, "init")
    with TestClient(create_app(load_settings(data_dir=data, environ={}))) as http:
        client, _space = _enroll_with_cli_invite(data, http)
        assert client.call("GET", "/v1/spaces").status_code == 200
        result = run_cli(data, "revoke", client.device_id)
        assert result.returncode == 0, result.stderr
        assert client.call("GET", "/v1/spaces").json()["code"] == "device_revoked"
    unknown = run_cli(data, "revoke", "0" * 32)
    assert unknown.returncode == 2 and "not enrolled" in unknown.stderr
