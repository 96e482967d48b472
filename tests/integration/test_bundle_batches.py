"""Courier bundles carry first-sync batches (issue 19): a version that came in a batch has no
envelope of its own, so the device keeps the sealed batch and a bundle hands it on whole; the
recipient verifies it exactly as a delivered batch (``open_delivery``) and applies only what it
does not hold newer. PROTOCOL.md §12.3, CRYPTO.md §5."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import zstandard
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from desktop.domain.records import edit
from desktop.store.profile import unlock
from desktop.store.records import RecordStore
from sync.client import bundle_format
from sync.client.batches import MIN_BATCH
from sync.client.bundle_format import BundleProblem, BundleWriter, read_segments
from sync.client.bundles import BATCH, export_bundle, export_for, import_bundle
from sync.client.transport import Transport
from sync.crypto.batch import (
    MAX_BATCH_BYTES,
    SIGN_CONTEXT,
    BatchEntry,
    BatchHeader,
    BatchKind,
    open_batch,
)
from sync.crypto.envelope import key_commitment
from tests.helpers.profiles import PASSPHRASE
from tests.helpers.server_process import free_port
from tests.integration.conftest import Device, Server, network_of, organization

CANARY = "zq-canary-deleted-5521"


def _cut_off(device: Device) -> None:
    """From now on the device reaches no server: only bundles bring it anything."""
    device.engine.transport.close()
    device.engine.transport = Transport(f"http://127.0.0.1:{free_port()}")


def _device_id(device: Device) -> str:
    keys = device.state.device_keys()
    assert keys is not None
    return keys.device_id


def _orgs(device: Device, space: str, count: int, **fields: Any) -> list[str]:
    orgs = [organization(space, f"Org {i}", **fields) for i in range(count)]
    device.records.save_all(orgs)
    return [o.id for o in orgs]


def _batch_contents(device: Device, path: Path) -> list[dict[str, Any]]:
    """Every content readable (with ``device``'s keys) in the batch parts of a bundle."""
    keyring, _pins = device.engine.verified_view()
    found: list[dict[str, Any]] = []
    with open(path, "rb") as stream:
        _preamble, segments = read_segments(stream)
        for segment in segments:
            for item in segment:
                if item.kind != BATCH:
                    continue
                payload = item.payload
                opened = open_batch(
                    payload["batch"], space=payload["space"], author=payload["author"], keys=keyring
                )
                found.extend(c for c in opened.contents if c is not None)
    return found


def _minga(*words: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINGA_PASSPHRASE": PASSPHRASE, "LANGUAGE": "en"}
    return subprocess.run(
        [sys.executable, "-m", "desktop", *words],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_a_batch_record_reaches_a_third_device_by_bundle_only(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Alba's records go up as a batch, Beto pulls it; Carla, cut off from the server, gets them
    from Beto's bundle, through the real `minga bundle export` and `minga bundle import`."""
    space, (alba, beto, carla) = network_of(server, make_device, 3)
    for device in (alba, beto, carla):
        device.sync()
    _cut_off(carla)
    # One record goes alone first, then its edit in the batch: the older envelope must not be
    # handed on in place of the batch's version.
    early = organization(space, "Sent alone")
    alba.records.save(early)
    alba.sync()
    beto.sync()
    alba.records.save(edit(alba.records.require(early.id), acronym="BATCHED"))
    ids = [early.id, *_orgs(alba, space, MIN_BATCH)]
    alba.sync()
    assert any(b"batch" in body for body in alba.sent), "the records did not go as a batch"
    beto.sync()
    assert beto.records.require(early.id).acronym == "BATCHED"
    # The author's own batch and the one Beto received are both kept, and carried.
    assert export_bundle(alba.engine, tmp_path / "alba.mbundle").uncarriable == 0
    expected = {record: beto.records.require(record).name for record in ids}

    beto.engine.transport.close()
    beto.profile.close()
    stick = tmp_path / "stick.mbundle"
    done = _minga("bundle", "export", "--profile-dir", str(beto.profile.folder), "--to", str(stick))
    assert done.returncode == 0, done.stderr
    assert "could not be put in this bundle" not in done.stdout
    assert stick.read_bytes()[4] == bundle_format.VERSION  # holds a batch: version 2

    carla.engine.transport.close()
    carla.profile.close()
    done = _minga("bundle", "import", str(stick), "--profile-dir", str(carla.profile.folder))
    assert done.returncode == 0, done.stderr
    assert f"{len(ids)} records received" in done.stdout
    assert "refused" not in done.stdout

    profile = unlock(carla.profile.folder, PASSPHRASE)
    try:
        records = RecordStore(profile.engine)
        got = {record: records.require(record) for record in ids}
        assert {record: r.name for record, r in got.items()} == expected
        assert got[early.id].acronym == "BATCHED"
        assert {r.revision for r in got.values()} == {1, 2}
    finally:
        profile.close()


def _hostile_bundle(device: Device, path: Path, items: list[tuple[str, Any]]) -> Path:
    """A bundle signed by ``device`` holding exactly ``items`` (an exporter may be hostile)."""
    keys = device.state.device_keys()
    assert keys is not None
    with open(path, "wb") as stream:
        writer = BundleWriter(stream, keys, len(items), batches=True)
        for kind, payload in items:
            writer.add(kind, payload)
        writer.close()
    return path


def _batch_item(space: str, author: str, blob: bytes, live: list[int]) -> tuple[str, Any]:
    return BATCH, {"space": space, "author": author, "batch": blob, "live": live}


def test_a_tampered_swapped_or_relabelled_batch_part_is_refused_and_nothing_applied(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, alba, beto, carla) = network_of(server, make_device, 4)
    for device in (admin, alba, beto, carla):
        device.sync()
    _cut_off(carla)
    ids = _orgs(alba, space, MIN_BATCH)
    alba.sync()
    beto.sync()
    (kept,) = list(beto.state.record_batches(space, 0))
    assert kept.author == _device_id(alba)
    live = [n for run in kept.live for n in run]
    # Another space's batch, written by its admin.
    other = admin.engine.create_space()
    _orgs(admin, other, MIN_BATCH)
    admin.sync()
    (foreign,) = list(admin.state.record_batches(other, 0))
    flipped = bytearray(kept.blob)
    flipped[-100] ^= 1  # inside the ciphertext
    before = carla.snapshot()
    cases = [
        (_batch_item(space, kept.author, bytes(flipped), live), "signature_invalid"),
        (_batch_item(space, foreign.author, foreign.blob, live), "wrong_space"),
        (_batch_item(space, _device_id(beto), kept.blob, live), "wrong_author"),
    ]
    for number, (item, code) in enumerate(cases):
        got = import_bundle(carla.engine, _hostile_bundle(beto, tmp_path / f"{number}.mb", [item]))
        assert got.problem is None
        assert [(r.code, r.detail) for r in got.refused] == [(code, "batch")]
        assert got.records == 0
        assert carla.snapshot() == before
        assert list(carla.state.record_batches(space, 0)) == []

    # The genuine part applies, author verified.
    good = _batch_item(space, kept.author, kept.blob, live)
    got = import_bundle(carla.engine, _hostile_bundle(beto, tmp_path / "good.mb", [good]))
    assert got.refused == [] and got.records == len(ids)
    # Rolled back: the record is replaced; the old entry handed on again as current changes
    # nothing (an older bundle is no attack, an exporter's claim no rollback).
    alba.records.save(edit(alba.records.require(ids[0]), name="Corrected"))
    alba.sync()
    beto.sync()
    export_bundle(beto.engine, tmp_path / "newer.mb")
    assert import_bundle(carla.engine, tmp_path / "newer.mb").records == 1
    assert carla.records.require(ids[0]).name == "Corrected"
    held = carla.snapshot()
    got = import_bundle(carla.engine, _hostile_bundle(beto, tmp_path / "old.mb", [good]))
    assert (got.refused, got.records, got.older) == ([], 0, 1)
    assert carla.snapshot() == held


def _bomb(device: Device, space: str, record: str, declared: int, expanded: int) -> bytes:
    """A batch signed by a genuine writer whose content expands to ``expanded`` bytes while its
    signed header declares ``declared``: what a hostile member can make."""
    keys = device.state.device_keys()
    assert keys is not None
    keyring, _pins = device.engine.verified_view()
    current = keyring.current_key(space)
    assert current is not None
    epoch, space_key = current
    latest = keyring.logs[space].latest
    compressor = zstandard.ZstdCompressor(level=1).compressobj()
    zeros = bytes(1 << 20)
    plaintext = b"".join(compressor.compress(zeros) for _ in range(expanded >> 20))
    plaintext += compressor.flush()
    nonce = os.urandom(12)
    header = BatchHeader(
        BatchKind.BATCH,
        epoch,
        keys.device_id,
        nonce,
        latest.version,
        latest.hash,
        key_commitment(space, epoch, space_key),
        os.urandom(16),
        declared,
        space,
        (BatchEntry(record, 0, False),),
    ).to_bytes()
    ciphertext = ChaCha20Poly1305(space_key).encrypt(nonce, plaintext, header)
    return header + ciphertext + keys.sign(SIGN_CONTEXT + header + ciphertext)


def test_a_zstd_bomb_batch_part_is_refused_within_bounded_memory(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, beto, carla) = network_of(server, make_device, 3)
    for device in (admin, beto, carla):
        device.sync()
    _cut_off(carla)
    record = "0" * 31 + "1"
    author = _device_id(beto)
    expanded = 512 << 20
    bombs = [
        # Declares 1 kB, expands to 512 MiB: expanded no further than the declared length.
        (_bomb(beto, space, record, 1000, expanded), "too_large"),
        # Declares more than any batch may hold: refused before it is decrypted.
        (_bomb(beto, space, record, 9 << 20, 1 << 20), "too_large"),
        # Larger than any batch: refused before it is parsed.
        (bytes(MAX_BATCH_BYTES + 1), "too_large"),
    ]
    before = carla.snapshot()
    for number, (blob, code) in enumerate(bombs):
        path = _hostile_bundle(
            beto, tmp_path / f"{number}.mb", [_batch_item(space, author, blob, [0, 1, 1])]
        )
        tracemalloc.start()
        try:
            got = import_bundle(carla.engine, path)
            _size, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert [r.code for r in got.refused] == [code]
        assert peak < 24 << 20, peak  # the bomb would have taken 512 MiB
        assert carla.snapshot() == before


def test_deleted_content_is_not_carried_after_the_deletion_or_the_compaction(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, beto, carla) = network_of(server, make_device, 3)
    for device in (admin, beto, carla):
        device.sync()
    _cut_off(carla)
    ids = _orgs(admin, space, MIN_BATCH)
    secret = organization(space, "Secret", description=CANARY)
    admin.records.save(secret)
    admin.sync()
    beto.sync()
    export_bundle(beto.engine, tmp_path / "before.mb")
    assert any(CANARY in str(c) for c in _batch_contents(beto, tmp_path / "before.mb"))

    beto.records.delete(secret.id)
    beto.sync()
    # Beto's batch holds content deleted since: it stops carrying it at once (its other
    # versions are left out and counted; the server brings them to the recipient).
    report = export_bundle(beto.engine, tmp_path / "beto.mb")
    assert (report.batches, report.uncarriable) == (0, len(ids))
    assert not any(CANARY in str(c) for c in _batch_contents(beto, tmp_path / "beto.mb"))

    # The author compacts, and its bundles carry the compaction instead of the old batch.
    assert admin.sync().compacted == len(ids)
    report = export_bundle(admin.engine, tmp_path / "admin.mb")
    assert (report.batches, report.uncarriable) == (1, 0)
    contents = _batch_contents(carla, tmp_path / "admin.mb")
    assert len(contents) == len(ids)
    assert not any(CANARY in str(c) for c in contents)
    got = import_bundle(carla.engine, tmp_path / "admin.mb")
    assert got.refused == []
    for record in ids:
        assert carla.records.get(record) is not None
    assert carla.records.get(secret.id) is None


def test_a_reader_of_version_1_refuses_a_bundle_with_batches_by_name(
    server: Server, make_device: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An older Minga skips item kinds it does not know; skipping a batch would lose its
    versions for good (the cursor item after it says they were handed over), so a bundle with
    batches is version 2, which such a reader refuses by name. Without batches: still 1."""
    space, (admin, beto) = network_of(server, make_device, 2)
    admin.sync()
    beto.sync()
    assert export_bundle(beto.engine, tmp_path / "plain.mb").batches == 0
    _orgs(admin, space, MIN_BATCH)
    admin.sync()
    beto.sync()
    assert export_bundle(beto.engine, tmp_path / "batches.mb").batches == 1
    assert (tmp_path / "plain.mb").read_bytes()[4] == 1
    assert (tmp_path / "batches.mb").read_bytes()[4] == 2
    # What the reader of version 1 does (sync/client/bundle_format.py before batches).
    monkeypatch.setattr(bundle_format, "_READABLE", (1,))
    got = import_bundle(admin.engine, tmp_path / "batches.mb")
    assert got.problem is BundleProblem.UNSUPPORTED_VERSION
    assert import_bundle(admin.engine, tmp_path / "plain.mb").problem is None


def test_a_courier_download_carries_batch_versions(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """A courier's export for an offline device (downloaded with its grant) gets the batches
    from the server and hands them on; the offline device verifies and applies them."""
    space, (admin, courier, offline) = network_of(server, make_device, 3)
    for device in (admin, courier, offline):
        device.sync()
    _cut_off(offline)
    keys = offline.state.device_keys()
    assert keys is not None
    ids = _orgs(admin, space, MIN_BATCH)
    admin.sync()
    courier.sync()
    export_bundle(offline.engine, tmp_path / "grant.mbundle")  # gives the courier its grant
    assert import_bundle(courier.engine, tmp_path / "grant.mbundle").problem is None
    report, reason = export_for(courier.engine, tmp_path / "for.mbundle", keys.device_id)
    assert reason is None, reason
    assert (report.uncarriable, report.batches) == (0, 1)
    got = import_bundle(offline.engine, tmp_path / "for.mbundle")
    assert got.problem is None
    assert got.refused == [], got.refused
    assert got.records == len(ids)
    for record in ids:
        assert offline.records.get(record) is not None


def test_a_bundle_does_not_move_the_recipients_cursor_past_what_it_left_out(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Beto's batch is spoiled (a record of it deleted), so his bundle leaves its versions out:
    Carla must not then report herself as holding them, or the author's next bundle for her,
    which can carry them (its compaction), would start after them and they would never come."""
    space, (admin, beto, carla) = network_of(server, make_device, 3)
    for device in (admin, beto, carla):
        device.sync()
    _cut_off(carla)
    ids = _orgs(admin, space, MIN_BATCH)
    secret = organization(space, "Secret", description=CANARY)
    admin.records.save(secret)
    admin.sync()
    beto.sync()
    beto.records.delete(secret.id)
    beto.sync()
    assert export_bundle(beto.engine, tmp_path / "beto.mb").uncarriable == len(ids)
    assert import_bundle(carla.engine, tmp_path / "beto.mb").refused == []
    # Carla's bundle reaches the author (her grant and what she says she holds)...
    export_bundle(carla.engine, tmp_path / "carla.mb")
    assert import_bundle(admin.engine, tmp_path / "carla.mb").problem is None
    assert admin.sync().compacted == len(ids)
    # ...whose bundle for her starts from there, and still brings the records.
    report = export_bundle(admin.engine, tmp_path / "admin.mb", for_device=_device_id(carla))
    assert report.batches == 1
    assert import_bundle(carla.engine, tmp_path / "admin.mb").refused == []
    for record in ids:
        assert carla.records.get(record) is not None
    assert carla.records.get(secret.id) is None
