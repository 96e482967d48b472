"""Canaries: plaintext sealed by a client never reaches the server's disk, database or logs.
A seized server must reveal nothing; these tests scan everything it wrote."""

from __future__ import annotations

import base64
import logging
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from sync.protocol import Mutation, chunk_hash
from sync.server import schema
from tests.helpers.server_client import DeviceClient, seal
from tests.helpers.server_process import run_cli, start_server
from tests.server.conftest import Harness


def variants(canary: bytes) -> list[bytes]:
    """The canary as it could sit on disk: raw, UTF-16, hex and base64."""
    text = canary.decode("ascii")
    return [
        canary,
        text.encode("utf-16-le"),
        canary.hex().encode(),
        base64.b64encode(canary),
        base64.urlsafe_b64encode(canary),
    ]


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file()]


def found_in(needles: Iterable[bytes], paths: Iterable[Path]) -> list[str]:
    hits = []
    for path in paths:
        data = path.read_bytes()
        hits.extend(f"{path.name}: {needle[:20]!r}" for needle in needles if needle in data)
    return hits


def sealed_traffic(client: DeviceClient, space: str, canary: bytes) -> list[bytes]:
    """Push records, an update, a deletion, a conflict, chunks, key wraps and a membership
    statement, all sealed."""
    space_key = os.urandom(32)
    blobs = []
    for n in range(12):
        plaintext = b'{"narrative": "%s witness %d"}' % (canary, n)
        blob = seal(space_key, plaintext, f"{space}/r{n}".encode())
        blobs.append(blob)
    attachment = canary * 200
    pieces = [
        seal(space_key, attachment[i : i + 4096], b"att") for i in range(0, len(attachment), 4096)
    ]
    for piece in pieces:
        assert client.put_chunk(space, piece).status_code == 201
    push = [Mutation(f"m{n}", space, f"r{n}", 0, blob) for n, blob in enumerate(blobs)]
    push[0] = Mutation("m0", space, "r0", 0, blobs[0], chunks=tuple(chunk_hash(p) for p in pieces))
    assert all(r.revision == 1 for r in client.sync(push=push).results)
    update = seal(space_key, canary + b" edited", b"r1")
    client.sync(push=[Mutation("u1", space, "r1", 1, update)])
    client.sync(push=[Mutation("d2", space, "r2", 1, None, deleted=True)])
    conflict = client.sync(push=[Mutation("c3", space, "r3", 0, seal(space_key, canary, b"c"))])
    assert conflict.results[0].current is not None
    wrap = seal(os.urandom(32), space_key + canary, b"wrap")
    response = client.call(
        "PUT", f"/v1/spaces/{space}/keys/1", {"v": 1, "wraps": {client.device_id: wrap}}
    )
    assert response.status_code == 200
    # A statement is signed, not sealed; one sealed here still proves the route logs no body.
    statement = seal(os.urandom(32), canary + b" members", b"statement")
    assert client.put_statement(space, 1, statement).status_code == 201
    assert client.statements(space).statements[0].statement == statement
    assert len(client.pull_all(space)) == 12
    for piece in pieces:
        assert client.get_chunk(space, chunk_hash(piece), "bytes=10-").status_code == 206
    return blobs


def test_no_canary_in_any_file_of_a_real_server(tmp_path: Path) -> None:
    canary = b"CANARY-" + secrets.token_hex(12).encode()
    data_dir = tmp_path / "server-data"
    assert run_cli(data_dir, "init").returncode == 0
    invited = run_cli(data_dir, "invite", "--new-space")
    assert invited.returncode == 0, invited.stderr
    space = re.search(r"space ([0-9a-f]{32}) created", invited.stdout).group(1)  # type: ignore[union-attr]
    code = invited.stdout.strip().splitlines()[-1]
    server = start_server(data_dir, extra_env={"MINGA_SERVER_LOG_LEVEL": "DEBUG"})
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            client = DeviceClient(http)
            assert client.enroll(code).status_code == 201
            token = client.login()
            blobs = sealed_traffic(client, space, canary)
    finally:
        server.stop()
    written = files_under(data_dir)
    assert any(p.suffix == ".sqlite3" for p in written)
    assert any(p.name == "server.log" for p in written)
    assert found_in(variants(canary), written) == []
    # Secrets the server handles are not on its disk either: the token and the invite code.
    assert found_in([token.encode(), code.encode(), code.replace("-", "").encode()], written) == []
    # The scan is real: the sealed blobs themselves are in the database files...
    assert found_in([blobs[5]], written) != []
    # ...and a planted canary is found.
    control = tmp_path / "control.bin"
    control.write_bytes(b"padding" + canary.hex().encode() + b"padding")
    assert found_in(variants(canary), [control]) != []


def test_no_canary_in_database_rows_chunk_store_or_logs(
    server: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    canary = b"CANARY-" + secrets.token_hex(12).encode()
    caplog.set_level(logging.DEBUG)
    device = server.device()
    space = device.create_space()
    blobs = sealed_traffic(device, space, canary)
    dump = bytearray()
    with server.db.read() as conn:
        for table in schema.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    dump += value if isinstance(value, bytes) else str(value).encode()
    assert not any(v in dump for v in variants(canary))
    assert blobs[5] in dump  # the rows were really read
    assert found_in(variants(canary), files_under(server.settings.resolved_chunk_dir)) == []
    log_text = caplog.text.encode()
    assert "/v1/sync" in caplog.text  # the access log did run
    assert not any(v in log_text for v in variants(canary))
    assert device.token is not None and device.token.encode() not in log_text
