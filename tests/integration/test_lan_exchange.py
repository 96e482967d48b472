"""Two computers next to each other, no internet: bundles exchanged over the local network
(here 127.0.0.1 only), found by mDNS or a typed address, each imported with every check."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from desktop.domain.records import edit
from desktop.lan import (
    BundleOffer,
    ExchangeFailed,
    Peer,
    browse,
    exchange_with,
    normalize_code,
    parse_address,
)
from sync.client.batches import MIN_BATCH
from sync.client.bundles import export_bundle, import_bundle
from tests.integration.conftest import Server, network_of, organization


def test_two_devices_exchange_bundles_over_the_local_network(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    member.sync()
    shared = organization(space, "Shared", country="ke")
    admin.records.save(shared)
    admin.sync()
    member.sync()
    # The internet is gone: both edit, each its own field, and one creates a record.
    admin.records.save(edit(admin.records.require(shared.id), acronym="ADM"))
    member.records.save(edit(member.records.require(shared.id), country="ug"))
    member.records.save(organization(space, "Made by the member"))
    export_bundle(admin.engine, tmp_path / "admin.mbundle")
    export_bundle(member.engine, tmp_path / "member.mbundle")
    offer = BundleOffer(tmp_path / "admin.mbundle", tmp_path / "from-member.mbundle", "127.0.0.1")
    try:
        offer.advertise(["127.0.0.1"])
        served = threading.Thread(target=offer.serve_once, daemon=True)
        served.start()
        found = browse(3.0, interfaces=["127.0.0.1"])
        assert [p.port for p in found] == [offer.port], found
        assert parse_address(f"127.0.0.1:{offer.port}") == Peer(
            "127.0.0.1", "127.0.0.1", offer.port
        )
        # A stranger without the code gets nothing and sends nothing in; the offer stays open.
        with pytest.raises(ExchangeFailed):
            exchange_with(
                found[0],
                "000000" if offer.code != "000000" else "111111",
                tmp_path / "member.mbundle",
                tmp_path / "stranger.mbundle",
            )
        assert not (tmp_path / "stranger.mbundle").exists()
        exchange_with(
            found[0], offer.code, tmp_path / "member.mbundle", tmp_path / "from-admin.mbundle"
        )
        served.join(timeout=30)
        assert not served.is_alive()
    finally:
        offer.close()
    assert (tmp_path / "from-admin.mbundle").read_bytes() == (
        tmp_path / "admin.mbundle"
    ).read_bytes()
    for received in ("from-admin", "from-member"):
        # Readable by the person's account only, as the bundles it exports.
        assert (tmp_path / f"{received}.mbundle").stat().st_mode & 0o777 == 0o600
    for device, received in ((admin, "from-member"), (member, "from-admin")):
        report = import_bundle(device.engine, tmp_path / f"{received}.mbundle")
        assert report.problem is None and report.refused == [], report
    for device in (admin, member):
        merged = device.records.require(shared.id)
        assert (merged.acronym, merged.country) == ("ADM", "ug")
        assert device.state.conflicts() == []
    assert "Made by the member" in {
        getattr(admin.records.get(k), "name", None) for k in admin.snapshot()
    }
    # Back online, both converge with the server and nothing is lost or doubled.
    for _ in range(2):
        admin.sync()
        member.sync()
    assert admin.snapshot() == member.snapshot()
    assert admin.records.require(shared.id).country == "ug"


def test_records_that_came_in_a_batch_reach_a_device_nearby_or_are_counted(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Alba received an author's records in a first-sync batch; Beto, offline since it joined,
    exchanges bundles with her over the local network. Each of those records reaches Beto or is
    counted in what Alba's side left out (a version a bundle cannot hand on); none is lost or
    handed on in an older version, and the server brings Beto the rest."""
    space, (author, alba, beto) = network_of(server, make_device, 3)
    author.sync()
    beto.sync()
    alone = organization(space, "Sent alone")
    author.records.save(alone)
    author.sync()
    batched = [organization(space, f"Batched {i}") for i in range(MIN_BATCH)]
    author.records.save_all(batched)
    author.sync()
    assert any(b"batch" in body for body in author.sent), "the records did not go as a batch"
    alba.sync()
    assert all(alba.records.get(o.id) is not None for o in batched)
    ours, theirs = tmp_path / "alba.mbundle", tmp_path / "beto.mbundle"
    exported = export_bundle(alba.engine, ours)
    export_bundle(beto.engine, theirs)
    offer = BundleOffer(ours, tmp_path / "from-beto.mbundle", "127.0.0.1")
    try:
        served = threading.Thread(target=offer.serve_once, daemon=True)
        served.start()
        exchange_with(
            Peer("alba", "127.0.0.1", offer.port), offer.code, theirs, tmp_path / "got.mbundle"
        )
        served.join(timeout=30)
        assert not served.is_alive()
    finally:
        offer.close()
    report = import_bundle(beto.engine, tmp_path / "got.mbundle")
    assert report.problem is None and report.refused == [], report
    assert beto.records.get(alone.id) is not None  # sealed alone: it always travels
    arrived = {o.id for o in batched if beto.records.get(o.id) is not None}
    assert len(arrived) + exported.uncarriable == len(batched)
    for record_id in arrived:
        assert beto.records.require(record_id) == alba.records.require(record_id)
    beto.sync()
    assert beto.snapshot() == alba.snapshot()


def test_a_typed_address_that_is_not_an_address_is_refused() -> None:
    assert parse_address("192.168.1.20") is None
    assert parse_address("host:port") is None
    assert parse_address("10.0.0.2:70000") is None
    assert parse_address(" 10.0.0.2:8123 ") == Peer("10.0.0.2", "10.0.0.2", 8123)
    assert normalize_code("482 913") == "482913"
    assert normalize_code("٤٨٢٩١٣") == "482913"  # typed with Eastern Arabic digits
    assert normalize_code("48291") is None and normalize_code("²48291") is None
