"""A courier bundle and first-sync batches (issue 19 gap): versions that came in a batch have no
envelope of their own, so a bundle cannot carry them yet; the export says how many it left out
rather than leaving them out in silence, and never hands on an older version in their place."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from desktop.domain.records import edit
from sync.client.batches import MIN_BATCH
from sync.client.bundles import export_bundle, export_for, import_bundle
from sync.client.transport import Transport
from tests.helpers.profiles import PASSPHRASE
from tests.helpers.server_process import free_port
from tests.integration.conftest import Server, network_of, organization


def test_an_export_counts_and_says_the_records_a_batch_brought(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (alba, beto) = network_of(server, make_device, 2)
    alba.sync()
    beto.sync()
    # One record goes alone first: Beto keeps its sealed envelope (a bundle can carry it).
    early = organization(space, "Sent alone")
    alba.records.save(early)
    alba.sync()
    beto.sync()
    assert any(b.record == early.id for b in beto.state.record_blobs(space, 0))
    # Then its edit and enough new records to go as a batch.
    alba.records.save(edit(alba.records.require(early.id), acronym="BATCHED"))
    orgs = [organization(space, f"Org {i}") for i in range(MIN_BATCH)]
    alba.records.save_all(orgs)
    alba.sync()
    assert any(b"batch" in body for body in alba.sent), "the records did not go as a batch"
    beto.sync()
    assert beto.records.require(early.id).acronym == "BATCHED"
    batched = {o.id for o in orgs} | {early.id}

    # (a) records from another author that came in a batch, (c) including the one whose older
    # version had an envelope: counted, and that older version is not handed on in its place.
    report = export_bundle(beto.engine, tmp_path / "beto.mbundle")
    assert report.uncarriable == len(batched)
    carried = {b.record for b in beto.state.record_blobs(space, 0)}
    assert not carried & batched
    # (b) the author's own records, pushed as a batch: counted too.
    assert export_bundle(alba.engine, tmp_path / "alba.mbundle").uncarriable == len(batched)

    # The command says it to the person carrying the bundle.
    beto.engine.transport.close()
    beto.profile.close()
    stick = tmp_path / "stick.mbundle"
    env = {**os.environ, "MINGA_PASSPHRASE": PASSPHRASE, "LANGUAGE": "en"}
    words = ["bundle", "export", "--profile-dir", str(beto.profile.folder), "--to", str(stick)]
    done = subprocess.run(
        [sys.executable, "-m", "desktop", *words],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (
        f"{len(batched)} records could not be put in this bundle: they travelled in a first-sync "
        "batch, which bundles cannot carry yet. The recipient will receive them at their next "
        "sync with the server."
    ) in done.stdout


def test_a_courier_download_leaves_batch_versions_out_and_counts_them(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """A courier's export for an offline device (downloaded with its grant) meets the same
    versions without an envelope: counted and left out, not sent as empty items the recipient
    refuses."""
    space, (admin, courier, offline) = network_of(server, make_device, 3)
    for device in (admin, courier, offline):
        device.sync()
    offline.engine.transport = Transport(f"http://127.0.0.1:{free_port()}")
    keys = offline.state.device_keys()
    assert keys is not None
    admin.records.save_all([organization(space, f"Org {i}") for i in range(MIN_BATCH)])
    admin.sync()
    courier.sync()
    export_bundle(offline.engine, tmp_path / "grant.mbundle")  # gives the courier its grant
    assert import_bundle(courier.engine, tmp_path / "grant.mbundle").problem is None
    report, reason = export_for(courier.engine, tmp_path / "for.mbundle", keys.device_id)
    assert reason is None, reason
    assert report.uncarriable == MIN_BATCH
    got = import_bundle(offline.engine, tmp_path / "for.mbundle")
    assert got.problem is None
    assert got.refused == [], got.refused
