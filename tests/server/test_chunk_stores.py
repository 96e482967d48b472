"""The chunk stores themselves, and the operator's commands on an S3 store: `init` makes the
bucket, `collect` removes unreferenced chunks and orphaned objects, `backup` copies the chunks
out of the bucket and `restore` puts them back into another, re-hashing every one."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sync.protocol import Mutation, chunk_hash
from sync.server import schema
from sync.server.app import create_app
from sync.server.chunk_stores import ChunkLost, ChunkStoreError, open_chunk_store
from sync.server.config import ConfigError, Settings, load_settings
from sync.server.db import Database
from tests.helpers import seaweed
from tests.helpers.server_client import DeviceClient
from tests.helpers.server_process import run_cli
from tests.server.conftest import make_harness
from tests.server.test_canary import files_under, found_in, sealed_traffic, variants


def test_each_store_keeps_verified_bytes_lists_them_and_forgets_them(
    store_settings: dict[str, str], tmp_path: Path
) -> None:
    store = open_chunk_store(Settings(data_dir=tmp_path, **store_settings))  # type: ignore[arg-type]
    store.ensure(create=True)
    data = secrets.token_bytes(3000)
    digest = chunk_hash(data)
    space = secrets.token_hex(16)
    assert not store.exists(space, digest)
    staged = store.stage(data, digest)
    store.commit(staged, space, digest)
    store.discard(staged)
    store.commit(store.stage(data, digest), space, digest)  # the same bytes again: no change
    assert store.exists(space, digest)
    assert store.read(space, digest, 0, 3000) == data
    assert store.read(space, digest, 2990, 10) == data[-10:]
    assert [(c.space_id, c.digest) for c in store.listing()] == [(space, digest)]
    # Names that are not a space and a SHA-256 are not ours: never listed, so never swept.
    store.commit(store.stage(data, digest), "not a space!", digest)
    store.commit(store.stage(data, digest), space, digest.upper())
    assert [(c.space_id, c.digest) for c in store.listing()] == [(space, digest)]
    store.remove("not a space!", digest)
    store.remove(space, digest.upper())
    store.remove(space, digest)
    store.remove(space, digest)  # already gone: no error
    assert not store.exists(space, digest)
    assert list(store.listing()) == []
    with pytest.raises(ChunkLost):
        store.read(space, digest, 0, 10)


def _s3_server(data: Path, s3: seaweed.SeaweedS3, prefix: str) -> None:
    data.mkdir(parents=True, exist_ok=True)
    lines = ["[server]", *(f'{k} = "{v}"' for k, v in s3.settings(prefix).items())]
    (data / "server.toml").write_text("\n".join(lines) + "\n")
    init = run_cli(data, "init")
    assert init.returncode == 0, init.stderr
    assert f"s3 bucket {s3.bucket}" in init.stdout


def test_s3_store_collect_backup_and_restore_through_the_cli(
    seaweed_s3: seaweed.SeaweedS3, tmp_path: Path
) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    prefix = f"src{secrets.token_hex(3)}/"
    _s3_server(source, seaweed_s3, prefix)
    settings = load_settings(data_dir=source, environ={})
    kept, dropped = secrets.token_bytes(40_000), secrets.token_bytes(1000)
    with TestClient(create_app(settings)) as http:
        invited = run_cli(source, "invite", "--new-space")
        space = invited.stdout.split("space ", 1)[1].split()[0]
        client = DeviceClient(http)
        assert client.enroll(invited.stdout.strip().splitlines()[-1]).status_code == 201
        client.login()
        assert client.put_chunk(space, kept).status_code == 201
        assert client.put_chunk(space, dropped).status_code == 201
        pushed = client.sync(
            push=[Mutation("m1", space, "att", 0, b"sealed", chunks=(chunk_hash(kept),))]
        )
        assert pushed.results[0].seq == 1
        store = http.app.state.minga.store  # type: ignore[attr-defined]
        # A crash between an object's PUT and its row's commit leaves an orphan object.
        orphan = secrets.token_bytes(500)
        store.commit(store.stage(orphan, chunk_hash(orphan)), space, chunk_hash(orphan))

    # Nothing is old enough yet: collect keeps everything.
    assert "removed 0" in run_cli(source, "collect").stdout
    (source / "server.toml").write_text(
        (source / "server.toml").read_text() + "chunk_grace_seconds = 0\n"
    )
    time.sleep(1.1)  # ages are whole seconds: let everything be older than "now - 0"
    collected = run_cli(source, "collect")
    assert collected.returncode == 0, collected.stderr
    assert "removed 2 unreferenced chunks" in collected.stdout  # `dropped` and the orphan
    assert sorted(c.digest for c in store.listing()) == [chunk_hash(kept)]

    backup = run_cli(source, "backup", str(tmp_path / "backup"))
    assert backup.returncode == 0, backup.stderr
    assert f"1 chunks from s3 bucket {seaweed_s3.bucket}" in backup.stdout
    copied = tmp_path / "backup" / "chunks" / space / chunk_hash(kept)[:2] / chunk_hash(kept)
    assert copied.read_bytes() == kept

    _s3_server(target, seaweed_s3, f"dst{secrets.token_hex(3)}/")
    restore = run_cli(target, "restore", str(tmp_path / "backup"))
    assert restore.returncode == 0, restore.stderr
    assert "1 chunks into s3 bucket" in restore.stdout
    with TestClient(create_app(load_settings(data_dir=target, environ={}))) as http:
        client.http = http
        client.login()
        assert client.get_chunk(space, chunk_hash(kept)).content == kept
        assert client.get_chunk(space, chunk_hash(kept), "bytes=39990-").content == kept[-10:]
        assert [c.record for c in client.pull_all(space)] == ["att"]


def test_restore_refuses_a_backup_whose_chunk_was_altered(
    store_settings: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "source"
    assert run_cli(source, "init").returncode == 0
    with TestClient(create_app(load_settings(data_dir=source, environ={}))) as http:
        invited = run_cli(source, "invite", "--new-space")
        space = invited.stdout.split("space ", 1)[1].split()[0]
        client = DeviceClient(http)
        assert client.enroll(invited.stdout.strip().splitlines()[-1]).status_code == 201
        client.login()
        data = secrets.token_bytes(2000)
        assert client.put_chunk(space, data).status_code == 201
    assert run_cli(source, "backup", str(tmp_path / "backup")).returncode == 0
    file = tmp_path / "backup" / "chunks" / space / chunk_hash(data)[:2] / chunk_hash(data)
    file.write_bytes(b"tampered" + data[8:])
    target = tmp_path / "target"
    target.mkdir()
    lines = ["[server]", *(f'{k} = "{v}"' for k, v in store_settings.items())]
    (target / "server.toml").write_text("\n".join(lines) + "\n")
    refused = run_cli(target, "restore", str(tmp_path / "backup"))
    assert refused.returncode == 2
    assert "is damaged: its bytes do not hash to its address" in refused.stderr


def test_a_chunk_store_setting_that_cannot_work_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="chunk_store"):
        load_settings(data_dir=tmp_path, environ={"MINGA_SERVER_CHUNK_STORE": "s4"})
    with pytest.raises(ConfigError, match="s3_bucket"):
        load_settings(data_dir=tmp_path, environ={"MINGA_SERVER_CHUNK_STORE": "s3"})
    # An S3 store nobody answers at: serve refuses to start and says which store.
    data = tmp_path / "d"
    assert run_cli(data, "init").returncode == 0
    (data / "server.toml").write_text(
        '[server]\nchunk_store = "s3"\ns3_bucket = "b"\n'
        'chunk_grace_seconds = 5\ns3_endpoint_url = "http://127.0.0.1:9"\n'
        's3_access_key_id = "k"\ns3_secret_access_key = "s"\ns3_region = "us-east-1"\n'
    )
    refused = run_cli(data, "serve", "--port", "1")
    assert refused.returncode == 2
    assert "s3 bucket b at http://127.0.0.1:9: reaching the bucket failed" in refused.stderr
    assert "minga-server:" in refused.stderr and "Traceback" not in refused.stderr
    with pytest.raises(ChunkStoreError):
        open_chunk_store(load_settings(data_dir=data, environ={})).ensure()


def test_init_never_writes_the_s3_secret_into_the_config_file(tmp_path: Path) -> None:
    environ = {
        "MINGA_SERVER_CHUNK_STORE": "folder",
        "MINGA_SERVER_S3_SECRET_ACCESS_KEY": "do-not-write-me",
    }
    from sync.server.config import default_config_text

    text = default_config_text(load_settings(data_dir=tmp_path, environ=environ))
    assert "do-not-write-me" not in text
    assert "MINGA_SERVER_S3_SECRET_ACCESS_KEY" in text


def test_a_seized_object_store_holds_no_plaintext(
    seaweed_s3: seaweed.SeaweedS3, backend_db: tuple[str, Database], tmp_path: Path
) -> None:
    """Every file SeaweedFS wrote (volumes, filer metadata, logs) is scanned for the canary
    the client sealed into its attachment: the bucket holds ciphertext under hash names."""
    canary = b"CANARY-" + secrets.token_hex(12).encode()
    backend, db = backend_db
    harness = make_harness(backend, db, tmp_path / "server", **seaweed_s3.settings())
    with harness.http:
        device = harness.device()
        space = device.create_space()
        blobs = sealed_traffic(device, space, canary)
        pieces = [c.digest for c in harness.app.state.minga.store.listing()]
        assert len(pieces) >= 2
        sample = device.get_chunk(space, pieces[0]).content
    written = files_under(seaweed_s3.data_dir)
    assert found_in(variants(canary), written) == []
    # The scan is real: the stored ciphertext itself is in SeaweedFS's files...
    assert found_in([sample[100:200]], written) != []
    assert blobs  # ...and the records went to the database, not the bucket


def test_an_s3_store_that_goes_down_mid_sync_answers_503_and_loses_nothing(
    backend_db: tuple[str, Database], tmp_path: Path
) -> None:
    """The bucket's server stops between two uploads: the next PUT and GET say "try again"
    (503, by code), no row is written for bytes that never arrived (HEAD still 404, the quota
    unchanged), and once the store is back the same upload succeeds and the first chunk is
    intact. A SeaweedFS of its own, so stopping it leaves the session's store alone."""
    backend, db = backend_db
    if backend != "postgres":
        pytest.skip("runs once, over PostgreSQL (an S3 deployment's database); SQLite adds nothing")
    if seaweed.weed_binary() is None:
        pytest.skip(seaweed.SKIP_REASON)
    weed = seaweed.start_seaweed(tmp_path / "weed")
    prefix = f"down{secrets.token_hex(3)}/"
    try:
        harness = make_harness(backend, db, tmp_path / "server", **weed.settings(prefix))
        with harness.http:
            device = harness.device()
            space = device.create_space()
            first, second = secrets.token_bytes(5000), secrets.token_bytes(6000)
            assert device.put_chunk(space, first).status_code == 201
            weed.stop()
            refused = device.put_chunk(space, second)
            assert (refused.status_code, refused.json()["code"]) == (503, "internal")
            assert "try again" in refused.json()["message"]
            assert "minga-test-secret" not in refused.text
            assert device.head_chunk(space, chunk_hash(second)).status_code == 404
            unreadable = device.get_chunk(space, chunk_hash(first))
            assert unreadable.status_code == 503
            with db.read() as conn:
                used = conn.execute(
                    select(schema.space.c.chunk_bytes).where(schema.space.c.id == space)
                ).scalar_one()
            assert used == len(first)
        # The same bucket's data, served again (on new ports): nothing was lost.
        weed = seaweed.start_seaweed(tmp_path / "weed")
        again = make_harness(backend, db, tmp_path / "server", **weed.settings(prefix))
        with again.http:
            device.http = again.http
            device.login()
            assert device.get_chunk(space, chunk_hash(first)).content == first
            assert device.put_chunk(space, second).status_code == 201
            assert device.get_chunk(space, chunk_hash(second)).content == second
    finally:
        weed.stop()
