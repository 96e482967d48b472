"""Review of courier bundles carrying batches (issue 19, r19-bundles): the field's orders of
arrival and hostile parts. PROTOCOL.md §12.3, CRYPTO.md §5."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync.client.batches import MIN_BATCH
from sync.client.bundles import export_bundle, import_bundle
from tests.integration.conftest import Server, network_of, organization
from tests.integration.test_bundle_batches import CANARY, _batch_contents, _cut_off, _orgs


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
