"""Three devices and a real server; one of them offline for the whole test, reached only by
bundles a courier carries both ways. Carried mutations are checked by the server against their
authors' enrolled keys and rights, never the courier's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from desktop.domain.records import edit
from sync.client.bundles import export_bundle, export_for, import_bundle
from sync.client.transport import Transport
from sync.protocol import CourierPush, ErrorCode, MutationStatus, Role
from tests.helpers.profiles import files_containing
from tests.helpers.server_process import free_port
from tests.integration.conftest import Device, Server, network_of, organization
from tests.integration.devices import import_evidence, make_with_files, opened

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True


def _offline(device: Device) -> Transport:
    """Point the device at a port nobody listens on; returns the real transport for later."""
    real = device.engine.transport
    device.engine.transport = Transport(f"http://127.0.0.1:{free_port()}")
    return real


def _device_id(device: Device) -> str:
    keys = device.state.device_keys()
    assert keys is not None
    return keys.device_id


def _carry(source: Device, target: Device, path: Path, courier_for: str | None = None) -> Any:
    if courier_for is not None:
        _report, reason = export_for(source.engine, path, courier_for)
        assert reason is None, reason
    else:
        export_bundle(source.engine, path)
    report = import_bundle(target.engine, path)
    assert report.problem is None, report
    assert report.refused == [], report.refused
    return report


def test_an_offline_device_converges_through_a_courier_both_ways(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, courier, offline) = network_of(server, make_device, 3)
    for device in (admin, courier, offline):
        device.sync()
    online = _offline(offline)
    offline_id = _device_id(offline)
    record = organization(space, "Shared", country="ke", description="one\ntwo\n")
    admin.records.save(record)
    admin.sync()
    courier.sync()
    # The offline device's first bundle gives the courier its grant; the courier downloads
    # for it what it may read.
    _carry(offline, courier, tmp_path / "o0.mbundle")
    got = _carry(courier, offline, tmp_path / "c0.mbundle", courier_for=offline_id)
    assert got.records == 1  # the new organization; the rest it had before going offline
    assert offline.records.require(record.id).name == "Shared"
    # One record edited in three places: offline, at the server (admin), on the courier.
    offline.records.save(edit(offline.records.require(record.id), acronym="OFF", country="ug"))
    offline.records.save(organization(space, "Made offline"))
    admin.records.save(edit(admin.records.require(record.id), description="one\ntwo\nthree\n"))
    admin.sync()
    courier.records.save(edit(courier.records.require(record.id), acronym="COU"))
    carried = _carry(offline, courier, tmp_path / "o1.mbundle")
    assert carried.carried == 2 and carried.merged == 2
    report = courier.sync()
    assert report.relayed == 1 and report.relay_conflicts == 1  # the new record; the edit met A's
    for round_number in range(3):
        _carry(courier, offline, tmp_path / f"c{round_number + 1}.mbundle", courier_for=offline_id)
        _carry(offline, courier, tmp_path / f"o{round_number + 2}.mbundle")
        courier.sync()
        admin.sync()
    courier.sync()
    _carry(courier, offline, tmp_path / "last.mbundle", courier_for=offline_id)
    snapshots = [d.snapshot() for d in (admin, courier, offline)]
    assert snapshots[0] == snapshots[1] == snapshots[2]
    merged = admin.records.require(record.id)
    assert (merged.country, merged.description) == ("ug", "one\ntwo\nthree\n")
    # The same field edited offline and on the courier. The courier merged the carried edit
    # first, as a server merges the push that arrives first: the value that got there first
    # stays current everywhere (the offline device's), and the one that lost the race is kept
    # in a conflict on the device where it was typed, with who wrote the other and when, as
    # for two devices online (sync/ENGINE.md, "Conflicts"). Neither value is lost or hidden:
    # one is current on every device, the other is in a conflict the person who wrote it sees.
    assert merged.acronym == "OFF"
    kept = [c for c in courier.state.conflicts() if c.record == record.id]
    assert [(c.field, c.mine, c.theirs, c.current) for c in kept] == [
        ("acronym", "COU", "OFF", "OFF")
    ], kept
    assert kept[0].theirs_author == offline_id and not kept[0].moved_since
    assert [c for c in offline.state.conflicts() if c.record == record.id] == []
    # Settled where it is shown, the choice reaches everyone, the offline device by bundle.
    assert courier.state.resolve_conflict(kept[0].id, "COU") == "settled"
    courier.sync()
    admin.sync()
    _carry(courier, offline, tmp_path / "settled.mbundle", courier_for=offline_id)
    assert {d.records.require(record.id).acronym for d in (admin, courier, offline)} == {"COU"}
    assert courier.state.conflicts() == [] and offline.state.conflicts() == []
    # The offline device never connected; back online it sends nothing again, but hands in
    # the change the courier's download brought back as its own (the new record): only the
    # server's answer confirms it (PROTOCOL.md §12.3), and it answers accepted, applied once.
    assert offline.engine.transport.traffic.requests == 0
    assert offline.state.outbox() == []
    assert len(offline.state.returned()) == 1
    offline.engine.transport = online
    back = offline.sync()
    assert back.pushed == 0 and (back.own_confirmed, back.own_reopened) == (1, 0)
    assert offline.state.returned() == []
    assert offline.snapshot() == admin.snapshot()


def test_a_courier_needs_no_membership_and_cannot_widen_what_gets_in(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, editor, reader, removed) = network_of(server, make_device, 4)
    for device in (admin, editor, reader, removed):
        device.sync()
    admin.engine.change_role(space, _device_id(reader), Role.READER)
    for device in (admin, editor, reader, removed):
        device.sync()
    # A device of another network entirely carries the bundles.
    stranger = make_device("stranger")
    stranger.engine.enroll(server.operator_invite())
    stranger.engine.create_space()
    # Offline edits: the editor's may land; the reader's and the removed member's may not.
    for name, device in (("reader", reader), ("removed", removed)):
        device.records.save(organization(space, f"by {name}"))
        export_bundle(device.engine, tmp_path / f"{name}.mbundle")
    admin.engine.remove_member(space, _device_id(removed))
    admin.sync()
    editor.sync()  # it heard of the removal (a new epoch) before going offline
    editor.records.save(organization(space, "by editor"))
    export_bundle(editor.engine, tmp_path / "editor.mbundle")
    # The importing member refuses the reader's and the removed member's edits by name.
    for name in ("reader", "removed"):
        report = import_bundle(admin.engine, tmp_path / f"{name}.mbundle")
        assert report.problem is None
        assert [r.code for r in report.refused] == ["unknown_signer"], report.refused
        assert report.carried == 0 and report.merged == 0
    # The stranger holds no statement of the space: it carries all three unopened.
    for name in ("editor", "reader", "removed"):
        assert import_bundle(stranger.engine, tmp_path / f"{name}.mbundle").carried == 1
    relayed = stranger.engine.sync_once()
    assert relayed.relayed == 1
    assert sorted(r.code for r in relayed.relay_rejected) == [
        ErrorCode.ROLE_FORBIDDEN.value,
        ErrorCode.SPACE_NOT_FOUND.value,
    ]
    admin.sync()
    names = {getattr(admin.records.get(k), "name", None) for k in admin.snapshot()}
    assert "by editor" in names and "by reader" not in names and "by removed" not in names
    # Relayed twice (a second courier, the author online later): accepted once, same revision.
    entry = editor.state.outbox()[0]
    editor_again = editor.sync()
    assert editor_again.pushed == 1 and editor.state.outbox() == []
    assert admin.records.require(entry.record).revision == 1


def test_the_server_checks_the_authors_signature_and_the_envelope(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    member.sync()
    member.records.save(organization(space, "Sealed offline"))
    export_bundle(member.engine, tmp_path / "m.mbundle")
    entry = member.state.outbox()[0]
    member_id = _device_id(member)
    mutation = next(
        c.mutation
        for c in _carried_after_import(admin, tmp_path / "m.mbundle")
        if c.author == member_id
    )
    assert mutation.id == entry.mutation_id
    flipped = bytearray(mutation.blob or b"")
    flipped[-70] ^= 1
    tampered = [
        (member_id, replace(mutation, blob=bytes(flipped))),
        (member_id, replace(mutation, id="other-id", base=3)),
        (_device_id(admin), replace(mutation, id="claimed")),
    ]

    def push(token: str) -> Any:
        return admin.engine.transport.courier_push(CourierPush(tuple(tampered)), token)

    results = admin.engine.authorized(push)
    assert [r.code for r in results] == [
        ErrorCode.SIGNATURE_INVALID,
        ErrorCode.ENVELOPE_MISMATCH,
        ErrorCode.SIGNATURE_INVALID,
    ]
    # The genuine one, twice in two requests: accepted once, then answered the same.
    genuine = CourierPush(((member_id, mutation),))
    first = admin.engine.authorized(lambda t: admin.engine.transport.courier_push(genuine, t))
    second = admin.engine.authorized(lambda t: admin.engine.transport.courier_push(genuine, t))
    assert first[0].status is second[0].status is MutationStatus.ACCEPTED
    assert (first[0].revision, first[0].seq) == (second[0].revision, second[0].seq)


def _carried_after_import(device: Device, path: Path) -> Any:
    report = import_bundle(device.engine, path)
    assert report.problem is None and report.carried == 1
    return device.state.carried()


def test_files_travel_sealed_in_bundles_both_ways(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, courier, offline) = network_of(server, make_with_files(make_device), 3)
    for device in (admin, courier, offline):
        device.sync()
    _offline(offline)
    offline_id = _device_id(offline)
    # Evidence imported offline: its sealed chunks go in the bundle with the record.
    mine = import_evidence(offline, space, tmp_path / "files", 150_000, "statement.pdf")
    export_bundle(offline.engine, tmp_path / "o.mbundle")
    got = import_bundle(courier.engine, tmp_path / "o.mbundle")
    assert got.problem is None and got.refused == [] and got.chunks == 3 and got.files == 1
    assert opened(courier, mine.id) == opened(offline, mine.id)
    report = courier.sync()
    assert report.relayed >= 1 and report.relay_rejected == [], report
    admin.sync()
    assert opened(admin, mine.id) == opened(offline, mine.id)
    # A file the admin adds reaches the offline device when the courier exports with files.
    theirs = import_evidence(admin, space, tmp_path / "files", 70_000, "photo.jpg")
    admin.sync()
    courier.sync()
    export_for(courier.engine, tmp_path / "c.mbundle", offline_id, files=True)
    back = import_bundle(offline.engine, tmp_path / "c.mbundle")
    assert back.problem is None and back.refused == [] and back.files >= 1, back
    assert opened(offline, theirs.id) == opened(admin, theirs.id)
    assert files_containing([tmp_path / "o.mbundle", tmp_path / "c.mbundle"], "statement.pdf") == []


def test_a_kept_value_choice_carried_first_by_a_courier_is_not_overwritten(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    # Issue 14, seed 57, through a bundle: the offline device settles a conflict by keeping the
    # value held; its choice reaches the server first, relayed by the courier. The admin's
    # different choice, made apart and sent next, is asked about (the decision mark travels
    # in the carried content), not written over the offline person's decision.
    space, (admin, courier, offline) = network_of(server, make_device, 3)
    record = organization(space, "Casa Abierta")
    admin.records.save(record)
    for device in (admin, courier, offline):
        device.sync()
    _offline(offline)
    offline_id = _device_id(offline)
    _carry(offline, courier, tmp_path / "o0.mbundle")
    _carry(courier, offline, tmp_path / "c0.mbundle", courier_for=offline_id)
    for device, name in ((courier, "Casa Alba"), (admin, "Casa Admin"), (offline, "Casa Badu")):
        device.records.save(edit(device.records.require(record.id), name=name))
    courier.sync()
    assert admin.sync().conflicts == 1
    _carry(offline, courier, tmp_path / "o1.mbundle")
    assert courier.sync().relay_conflicts == 1
    got = _carry(courier, offline, tmp_path / "c1.mbundle", courier_for=offline_id)
    assert got.conflicts == 1, got
    [on_offline] = offline.state.conflicts()
    [on_admin] = admin.state.conflicts()
    assert on_offline.theirs == on_admin.theirs == "Casa Alba"
    assert admin.state.resolve_conflict(on_admin.id, "Casa Admin") == "settled"
    assert offline.state.resolve_conflict(on_offline.id, "Casa Alba") == "settled"
    _carry(offline, courier, tmp_path / "o2.mbundle")
    courier.sync()  # the offline person's choice reaches the server first
    admin.sync()
    for round_number in range(3):
        _carry(courier, offline, tmp_path / f"c{round_number + 2}.mbundle", courier_for=offline_id)
        _carry(offline, courier, tmp_path / f"o{round_number + 3}.mbundle")
        courier.sync()
        admin.sync()
    assert {d.records.require(record.id).name for d in (admin, courier, offline)} == {"Casa Alba"}
    asked = [(c.mine, c.theirs) for c in admin.state.conflicts() if c.record == record.id]
    assert asked == [("Casa Admin", "Casa Alba")]
