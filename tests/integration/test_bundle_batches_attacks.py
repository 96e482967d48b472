"""Review of courier bundles carrying batches (issue 19, r19-bundles): the field's orders of
arrival and hostile parts. PROTOCOL.md §12.3, CRYPTO.md §5."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from desktop.domain.records import edit
from desktop.store.profile import unlock
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from sync.client.batches import MIN_BATCH
from sync.client.bundles import (
    AUTHOR_RIGHTS_ENDED,
    BATCH,
    CURSOR,
    RECORD,
    export_bundle,
    held_cursors,
    import_bundle,
)
from sync.crypto.batch import SealedEntry, seal_batch
from sync.crypto.envelope import seal_record
from tests.helpers.profiles import PASSPHRASE, files_containing
from tests.integration.conftest import Server, network_of, organization
from tests.integration.test_bundle_batches import (
    CANARY,
    _batch_contents,
    _cut_off,
    _hostile_bundle,
    _minga,
    _orgs,
)

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True


def test_a_deletion_learnt_from_a_bundle_spoils_the_kept_batch(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Carla keeps the batch that holds the secret; she learns of its deletion only from
    Beto's bundle (the server's tombstone). Her own bundles must not hand the secret on."""
    space, (admin, beto, carla) = network_of(server, make_device, 3)
    for device in (admin, beto, carla):
        device.sync()
    ids = _orgs(admin, space, MIN_BATCH)
    secret = organization(space, "Secret", description=CANARY)
    admin.records.save(secret)
    admin.sync()
    beto.sync()
    carla.sync()
    _cut_off(carla)
    assert any(CANARY in str(c) for c in _batch_contents(carla, _export(carla, tmp_path, "0")))
    beto.records.delete(secret.id)
    beto.sync()
    got = import_bundle(carla.engine, _export(beto, tmp_path, "beto"))
    assert got.refused == [] and got.problem is None
    assert carla.records.get(secret.id) is None
    path = _export(carla, tmp_path, "carla")
    assert not any(CANARY in str(c) for c in _batch_contents(carla, path))
    assert CANARY.encode() not in path.read_bytes()
    assert len(ids) == MIN_BATCH


def test_a_deletion_carried_as_a_mutation_spoils_the_kept_batch(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Beto is offline too: his deletion travels as his mutation, merged into Carla's record
    as a local change. Carla's bundles must not hand the deleted content on either."""
    space, (admin, beto, carla) = network_of(server, make_device, 3)
    for device in (admin, beto, carla):
        device.sync()
    _orgs(admin, space, MIN_BATCH)
    secret = organization(space, "Secret", description=CANARY)
    admin.records.save(secret)
    admin.sync()
    beto.sync()
    carla.sync()
    _cut_off(beto)
    _cut_off(carla)
    beto.records.delete(secret.id)
    # His own bundle, made after the deletion, holds his deletion and not the content.
    beto_path = _export(beto, tmp_path, "beto")
    assert not any(CANARY in str(c) for c in _batch_contents(beto, beto_path))
    got = import_bundle(carla.engine, beto_path)
    assert got.refused == [] and got.problem is None
    assert carla.records.get(secret.id) is None
    path = _export(carla, tmp_path, "carla")
    assert not any(CANARY in str(c) for c in _batch_contents(carla, path))


def _export(device: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.mb"
    export_bundle(device.engine, path)
    return path


def test_three_devices_an_old_batch_bundle_after_a_newer_one_loses_no_edit(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Alba pushes a batch; Beto gets it, edits one record and deletes another; Carla gets
    Beto's bundle first and Alba's older one after: the edit stays, the deleted record stays
    deleted, and the old versions are counted as older, not refused."""
    space, (alba, beto, carla) = network_of(server, make_device, 3)
    for device in (alba, beto, carla):
        device.sync()
    _cut_off(carla)
    alone = organization(space, "Sent alone", description=CANARY)  # its own envelope
    alba.records.save(alone)
    alba.sync()
    ids = _orgs(alba, space, MIN_BATCH)
    secret = organization(space, "Secret", description=CANARY)
    alba.records.save(secret)
    alba.sync()
    old = _export(alba, tmp_path, "alba")
    beto.sync()
    beto.records.save(edit(beto.records.require(ids[0]), name="Edited by Beto"))
    beto.records.delete(secret.id)
    beto.records.delete(alone.id)
    beto.sync()
    newer = import_bundle(carla.engine, _export(beto, tmp_path, "beto"))
    assert newer.refused == [] and newer.problem is None
    assert carla.records.require(ids[0]).name == "Edited by Beto"
    assert carla.records.get(secret.id) is None
    held = carla.snapshot()
    got = import_bundle(carla.engine, old)
    assert got.problem is None and got.refused == []
    # Beto's batch was spoiled by his deletion, so only Alba's bundle brings the other
    # records; the edited and the deleted one are older there and change nothing.
    assert carla.records.get(secret.id) is None
    assert carla.records.get(alone.id) is None
    assert carla.records.require(ids[0]).name == "Edited by Beto"
    assert (got.records, got.conflicts, got.older) == (len(ids) - 1, 0, 3)
    assert {k: v for k, v in carla.snapshot().items() if k in held} == held
    assert carla.records.require(ids[0]).name == "Edited by Beto"
    assert carla.records.get(secret.id) is None
    assert not any(CANARY in str(c) for c in _batch_contents(carla, _export(carla, tmp_path, "c")))


@pytest.mark.parametrize("kind", ["batch", "record"])
def test_a_removed_member_cannot_forge_a_version_at_its_old_epoch(
    server: Server, make_device: Any, tmp_path: Path, kind: str
) -> None:
    """Beto is removed (new epoch); he still holds the old key and statement. A version he
    seals afterwards at the old epoch, claiming a high revision of a record, must not reach
    Carla through a bundle (and then hide the members' later edits of it as older)."""
    space, (admin, beto, carla) = network_of(server, make_device, 3)
    for device in (admin, beto, carla):
        device.sync()
    target = organization(space, "Genuine")
    admin.records.save(target)
    admin.sync()
    beto.sync()
    carla.sync()
    keyring, _pins = beto.engine.verified_view()
    current = keyring.current_key(space)
    assert current is not None
    epoch, space_key = current
    latest = keyring.logs[space].latest
    beto_keys = beto.state.device_keys()
    assert beto_keys is not None
    held = beto.state.local_record(space, target.id)
    assert held is not None and held.content is not None
    admin.engine.remove_member(space, beto_keys.device_id)
    admin.sync()
    carla.sync()
    _cut_off(carla)
    carla_keys = carla.state.device_keys()
    assert carla_keys is not None
    synced = held_cursors(carla.state, carla_keys.device_id)[space]
    online = carla.state.cursors()[space]
    seq = synced + 1  # the next seq: what a genuine version would carry
    content = {**held.content, "name": "Forged"}
    statement = (latest.version, latest.hash)
    item: tuple[str, Any]
    if kind == "batch":
        forged = seal_batch(
            [SealedEntry(target.id, 999, content)],
            space=space,
            epoch=epoch,
            space_key=space_key,
            signer=beto_keys,
            statement=statement,
        )
        payload = {"space": space, "author": beto_keys.device_id, "batch": forged}
        item = (BATCH, {**payload, "live": [0, seq, 1]})
    else:
        blob = seal_record(
            content,
            space=space,
            record=target.id,
            revision=1000,
            base=999,
            epoch=epoch,
            space_key=space_key,
            author=beto_keys,
            statement=statement,
        )
        item = (RECORD, [seq, blob])
    # Any exporter may hand it on (here Carla's own signature: the bundle's signer vouches
    # for nothing about the versions inside), with a cursor item claiming it was handed over.
    cursor = (CURSOR, {"space": space, "from": 0, "to": seq + 5})
    path = _hostile_bundle(carla, tmp_path / "forged.mb", [item, cursor])
    got = import_bundle(carla.engine, path)
    assert got.problem is None and got.refused == []
    assert [(left.record, left.code) for left in got.left_out] == [(target.id, AUTHOR_RIGHTS_ENDED)]
    assert carla.records.require(target.id).name == "Genuine"
    # Nothing of it is held: online sync still pulls from where Carla last synced (a bundle's
    # cursor item only says how far bundles brought her, and may pass a version no bundle can
    # ever make her take), and the members' next edit is newer than what she holds, not
    # older than the forged revision.
    assert carla.state.cursors()[space] == online
    admin.records.save(edit(admin.records.require(target.id), name="Edited by the admin"))
    admin.sync()
    later = import_bundle(carla.engine, _export(admin, tmp_path, "admin"))
    assert later.problem is None and later.refused == [] and later.left_out == []
    assert later.older == 0
    assert carla.records.require(target.id).name == "Edited by the admin"


def test_a_seized_laptop_holds_no_plaintext_of_a_kept_or_carried_batch(
    server: Server, make_device: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kept batches sit sealed in the SQLCipher store; the bundle's batch part is the
    sealed batch; nothing of its content lands in a temporary file, the stick or a log."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # asked again, from TMPDIR
    space, (alba, beto, carla) = network_of(server, make_device, 3)
    for device in (alba, beto, carla):
        device.sync()
    _cut_off(carla)
    canary = "zq-canary-kept-batch-8830"
    _orgs(alba, space, MIN_BATCH, description=canary)
    alba.sync()
    beto.sync()
    assert len(list(beto.state.record_batches(space, 0))) == 1
    stick = tmp_path / "stick"
    stick.mkdir()
    report = export_bundle(beto.engine, stick / "beto.mb")
    assert report.batches == 1
    got = import_bundle(carla.engine, stick / "beto.mb")
    assert got.refused == [] and got.records == MIN_BATCH
    assert any(canary in str(c) for c in _batch_contents(carla, stick / "beto.mb"))
    roots = [stick, temp, *(d.profile.folder for d in (alba, beto, carla))]
    assert files_containing(roots, canary) == []


def test_a_profile_killed_mid_import_of_a_batch_holds_nothing_half_applied(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """The importing process is killed (SIGKILL) inside the transaction that stores the
    batch's versions: afterwards none of them is held, no batch is kept, the bundle is not
    marked seen, and importing it again with the real CLI applies it whole."""
    space, (alba, beto, carla) = network_of(server, make_device, 3)
    for device in (alba, beto, carla):
        device.sync()
    _cut_off(carla)
    ids = _orgs(alba, space, MIN_BATCH)
    alba.sync()
    beto.sync()
    stick = _export(beto, tmp_path, "beto")
    carla.engine.transport.close()
    carla.profile.close()
    command = [sys.executable, "-m", "tests.helpers.bundle_import_runner"]
    command += ["--folder", str(carla.profile.folder), "--bundle", str(stick)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        # Killed first, its stderr read after: a child that said something else and went on
        # waiting would hold the read of its stderr (and the whole run) for good.
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        assert line.strip() == "PAUSED in-transaction", child.stderr.read()  # type: ignore[union-attr]
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
    profile = unlock(carla.profile.folder, PASSPHRASE)
    try:
        records = RecordStore(profile.engine)
        assert [record for record in ids if records.get(record) is not None] == []
        state = ProfileSyncState(profile.engine, profile.attachments)
        assert list(state.record_batches(space, 0)) == []
    finally:
        profile.close()
    done = _minga("bundle", "import", str(stick), "--profile-dir", str(carla.profile.folder))
    assert done.returncode == 0, done.stderr
    assert f"{len(ids)} records received" in done.stdout
    profile = unlock(carla.profile.folder, PASSPHRASE)
    try:
        records = RecordStore(profile.engine)
        assert all(records.get(record) is not None for record in ids)
        state = ProfileSyncState(profile.engine, profile.attachments)
        assert len(list(state.record_batches(space, 0))) == 1
    finally:
        profile.close()
