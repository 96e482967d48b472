"""Two real `minga-server serve` processes over one PostgreSQL database behave as one server.
Tokens, sequence numbers and membership live in the database, so any process can answer."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from sync.protocol import MutationStatus, Role
from tests.helpers.server_client import DeviceClient
from tests.helpers.server_process import run_cli, start_server
from tests.server import postgres


def test_two_server_processes_share_one_postgresql(tmp_path: Path) -> None:
    url = postgres.create_database("minga_two")
    servers = []
    try:
        data = tmp_path / "d"
        init = run_cli(data, "init", database_url=url)
        assert init.returncode == 0, init.stderr
        invited = run_cli(data, "invite", "--new-space", database_url=url)
        space = invited.stdout.split("space ", 1)[1].split()[0]
        code = invited.stdout.strip().splitlines()[-1]
        servers = [start_server(data, url, log_name=f"server{n}.log") for n in (1, 2)]
        with (
            httpx.Client(base_url=servers[0].base_url, timeout=20) as one,
            httpx.Client(base_url=servers[1].base_url, timeout=20) as two,
        ):
            admin = DeviceClient(one)
            assert admin.enroll(code).status_code == 201
            admin.login()
            invite = admin.body(
                admin.call("POST", f"/v1/spaces/{space}/invites", {"v": 1, "role": Role.EDITOR})
            )["invite"]
            editor = DeviceClient(two)
            assert editor.enroll(invite).status_code == 201
            editor.login()
            # A token issued by one process is honoured by the other.
            admin.http = two
            assert admin.call("GET", "/v1/spaces").status_code == 200
            admin.http = one

            errors: list[BaseException] = []

            def write(client: DeviceClient, prefix: str) -> None:
                try:
                    for batch in range(10):
                        push = [client.put(space, f"{prefix}{batch}-{n}", b"x") for n in range(5)]
                        results = client.sync(push=push).results
                        assert all(r.status is MutationStatus.ACCEPTED for r in results)
                except BaseException as exc:
                    errors.append(exc)

            threads = [
                threading.Thread(target=write, args=(admin, "a")),
                threading.Thread(target=write, args=(editor, "e")),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert not errors, errors
            for client in (admin, editor):
                changes = client.pull_all(space, max_bytes=2048)
                assert len(changes) == 100
                assert [c.seq for c in changes] == list(range(1, 101))
            # Removal through one process cuts access through the other at once.
            assert admin.remove_member(space, editor.device_id).status_code == 204
            after = editor.sync(pull={space: 0})
            assert after.spaces[space].error is not None
    finally:
        for server in servers:
            server.stop()
        postgres.drop_database(url)
