"""First sync in batches (issue 19 part 3; CRYPTO.md §5, PROTOCOL.md §13), over a real server.

Many records go up as batches sealed by their author and come down as those batches; a
one-record change stays one mutation; a replaced or deleted version stops reaching members who
join after the compaction; conflicts inside a batch are settled per record.
"""

from __future__ import annotations

import copy
from typing import Any

from desktop.domain.records import Organization, edit
from sync.client.batches import MIN_BATCH, open_delivery
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from sync.crypto.batch import open_batch, read_batch_header
from sync.protocol import ProtocolError, SyncResponse, decode_body
from tests.helpers.hostile_server import Exchange, HostileServer
from tests.integration.conftest import Device, Server, network_of, organization

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True

CANARY = "zq-canary-replaced-7731"


def _orgs(device: Device, space: str, count: int, prefix: str = "Org") -> list[str]:
    ids = []
    for index in range(count):
        record = organization(space, f"{prefix} {index}", description="Desalojo — إخلاء " * 3)
        device.records.save(record)
        ids.append(record.id)
    return ids


def _orgs_and_secret(device: Device, space: str, count: int) -> tuple[list[str], Organization]:
    """``count`` organizations and one whose description is the canary, saved on ``device``."""
    ids = _orgs(device, space, count)
    secret = organization(space, "Secret", description=CANARY)
    device.records.save(secret)
    return ids, secret


def _switch_transport(device: Device, transport: Transport) -> None:
    """``device`` syncs through ``transport`` from now on (a fresh engine, one page a request)."""
    old_engine = device.engine
    device.engine = SyncEngine(device.state, transport, page_bytes=None)
    old_engine.transport.close()


def _delivered_contents(device: Device, space: str) -> list[dict[str, Any]]:
    """Every content the device could read in the batches and blobs it was sent."""
    keyring, _pins = device.engine.verified_view()
    found: list[dict[str, Any]] = []
    for answer in device.received:
        try:
            body = decode_body(answer)
            response = SyncResponse.from_wire(body)
        except (ProtocolError, ValueError, TypeError, KeyError):  # not a sync answer
            continue
        page = response.spaces.get(space)
        if page is None:
            continue
        for delivery in page.batches:
            opened = open_batch(delivery.batch, space=space, author=delivery.author, keys=keyring)
            found.extend(c for c in opened.contents if c is not None)
    return found


def _holds_canary(contents: list[dict[str, Any]]) -> bool:
    return any(CANARY in str(c) for c in contents)


def test_a_first_sync_goes_up_and_down_in_batches(server: Server, make_device: Any) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    ids = _orgs(admin, space, 3 * MIN_BATCH)
    admin.sync()
    pushes = [b for b in admin.sent if b"batch" in b]
    assert pushes, "the records went up as single mutations"
    report = member.sync()
    assert report.pulled >= len(ids)
    for record_id in ids:
        assert member.records.get(record_id) is not None
    assert member.snapshot() == {k: v for k, v in admin.snapshot().items()}
    # A one-record change is one request, as before.
    admin.records.save(edit(admin.records.require(ids[0]), name="Renamed"))
    report = admin.engine.sync_once()
    assert (report.requests, report.pushed, report.compacted) == (1, 1, 0)
    member.sync()
    assert member.records.get(ids[0]).name == "Renamed"  # type: ignore[union-attr]


def device_of(device: Device) -> str:
    keys = device.state.device_keys()
    assert keys is not None
    return keys.device_id


def _join(admin: Device, make_device: Any, space: str, name: str) -> Device:
    device: Device = make_device(name)
    device.engine.enroll(admin.engine.invite(space))
    admin.engine.admit(space, admin.engine.pending_members(space))
    device.sync()
    device.engine.confirm_space(space)
    device.sync()
    return device


def test_deleted_content_stops_reaching_later_members_after_compaction(
    server: Server, make_device: Any
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    ids, secret = _orgs_and_secret(admin, space, MIN_BATCH)
    admin.sync()
    member.sync()
    member.records.delete(secret.id)
    member.sync()
    # The bound: until the author compacts, a newcomer still receives the deleted version.
    early = _join(admin, make_device, space, "early")
    assert _holds_canary(_delivered_contents(early, space))
    assert early.records.get(secret.id) is None  # deleted all the same
    report = admin.sync()
    assert report.compacted == len(ids) + 1  # and the space record, in the same batch
    # A member who joins after the compaction never receives the deleted content.
    late = _join(admin, make_device, space, "late")
    contents = _delivered_contents(late, space)
    assert len(contents) >= len(ids)
    assert not _holds_canary(contents)
    assert late.records.get(secret.id) is None
    for record_id in ids:
        assert late.records.get(record_id) is not None
    live = {k: v for k, v in admin.snapshot().items() if not v[0]}  # type: ignore[index]
    assert late.snapshot() == live


def test_a_hostile_server_cannot_tamper_relabel_or_roll_back_a_batch(
    server: Server, make_device: Any
) -> None:
    space, (admin, alba) = network_of(server, make_device, 2)
    with HostileServer(server.url) as hostile:
        _switch_transport(alba, Transport(hostile.url))
        ids = _orgs(admin, space, MIN_BATCH)
        admin.sync()
        alba.sync()
        (old,) = [
            batch
            for exchange in hostile.answers("/v1/sync")
            for batch in (exchange.original or {})
            .get("spaces", {})
            .get(space, {})
            .get("batches", [])
        ]
        admin.records.save(edit(admin.records.require(ids[0]), name="Corrected"))
        admin.sync()
        alba.sync()
        assert alba.records.require(ids[0]).revision == 2
        records = alba.snapshot()
        entries = read_batch_header(old["batch"])[0].entries
        index = [e.record for e in entries].index(ids[0])

        def deliver(batch: dict[str, Any]) -> None:
            def rewrite(exchange: Exchange) -> dict[str, Any] | None:
                if exchange.route != "/v1/sync" or exchange.answer is None:
                    return None
                answer = copy.deepcopy(exchange.answer)
                page = answer["spaces"][space]
                page["cursor"] += 1
                page["batches"] = [dict(batch, live=[[index, page["cursor"], 1]])]
                return answer

            hostile.rewrites[:] = [rewrite]

        flipped = bytearray(old["batch"])
        # A byte of the sealed content (the middle of the blob sometimes fell in the clear
        # manifest's framing, which is refused earlier as bad_format).
        flipped[read_batch_header(old["batch"])[1] + 1] ^= 1
        cases = [
            (dict(old), "rolled_back"),  # the old version served again as new
            (dict(old, batch=bytes(flipped)), "signature_invalid"),
            (dict(old, author=device_of(alba)), "wrong_author"),
        ]
        for batch, code in cases:
            deliver(batch)
            report = alba.engine.sync_once()
            assert [r.code for r in report.refused] == [code]
            assert alba.snapshot() == records


def test_an_admin_vouches_for_the_batches_of_a_member_who_left(
    server: Server, make_device: Any
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    ids, secret = _orgs_and_secret(member, space, MIN_BATCH)
    member.sync()
    admin.sync()
    admin.engine.remove_member(space, device_of(member))
    admin.records.delete(secret.id)
    # The admin's own sync vouches for them (the server counts them in an admin's `stale`).
    assert admin.sync().compacted == len(ids)
    assert admin.engine.compact_batches(space, as_admin=True) == 0  # nothing left to re-seal
    late = _join(admin, make_device, space, "late")
    contents = _delivered_contents(late, space)
    assert not _holds_canary(contents)
    for record_id in ids:
        assert late.records.get(record_id) is not None
    # Vouched for by the admin: the records now name the admin as their author.
    delivered = [d.author for answer in late.received for d in _pages(answer, space)]
    assert delivered and set(delivered) == {device_of(admin)}


def _pages(answer: bytes, space: str) -> list[Any]:
    try:
        page = SyncResponse.from_wire(decode_body(answer)).spaces.get(space)
    except (ProtocolError, ValueError, TypeError, KeyError):
        return []
    return list(page.batches) if page is not None else []


def test_an_admin_sync_vouches_for_a_departed_authors_stale_batches(
    server: Server, make_device: Any
) -> None:
    """Nobody has to call the snapshot: the admin's ordinary sync runs it once the server says
    a batch whose author is no longer a writer holds a deleted record (CRYPTO.md §5)."""
    space, (admin, member, other) = network_of(server, make_device, 3)
    ids, secret = _orgs_and_secret(member, space, MIN_BATCH)
    member.sync()
    admin.sync()
    other.sync()
    admin.engine.remove_member(space, device_of(member))
    admin.sync()
    other.sync()
    other.records.delete(secret.id)  # deleted by someone else, after the author left
    other.sync()
    report = admin.sync()
    assert report.compacted == len(ids)
    assert admin.engine.sync_once().compacted == 0  # done once, not at every sync
    late = _join(admin, make_device, space, "late")
    contents = _delivered_contents(late, space)
    assert len(contents) >= len(ids)
    assert not _holds_canary(contents)
    assert all(CANARY.encode() not in answer for answer in late.received)
    assert late.records.get(secret.id) is None
    for record_id in ids:
        assert late.records.get(record_id) is not None
    delivered = {d.author for answer in late.received for d in _pages(answer, space)}
    assert delivered == {device_of(admin)}
    # Each record says it was vouched for (what the conflict dialog shows), not written.
    assert _vouched(late, space) == {True}
    assert _vouched(other, space) == {False}  # its first sync: the author's own batch


def _vouched(device: Device, space: str) -> set[bool]:
    keyring, _pins = device.engine.verified_view()
    return {
        record.vouched
        for answer in device.received
        for delivery in _pages(answer, space)
        for record in open_delivery(space, delivery, keyring, 0, 2**31).records.values()
    }


def test_a_deletion_pushed_in_a_batch_makes_the_old_batch_due(
    server: Server, make_device: Any
) -> None:
    """Deleting many records at once goes up as a batch of deletions: the batches that held
    them must become due for compaction as a single deletion makes them, or the deleted
    content keeps reaching every newcomer until an eighth of the old batch is replaced."""
    space, (admin, member) = network_of(server, make_device, 2)
    ids, secret = _orgs_and_secret(admin, space, 8 * MIN_BATCH + 8)
    admin.sync()
    member.sync()
    for record_id in [secret.id, *ids[:MIN_BATCH]]:
        member.records.delete(record_id)
    member.sync()
    assert any(b"batch" in sent for sent in member.sent)  # the deletions went as a batch
    report = admin.sync()
    assert report.compacted == len(ids) - MIN_BATCH + 1  # and the space record
    late = _join(admin, make_device, space, "late")
    assert not _holds_canary(_delivered_contents(late, space))
    assert late.records.get(secret.id) is None


def test_a_hostile_server_cannot_roll_back_a_record_inside_one_page(
    server: Server, make_device: Any
) -> None:
    """The newest version and an older one of the same record in one page (a batch's stale
    entry stated after the record's newer single version): the older must not win because
    the page is applied at once against what was held before it."""
    space, (admin, alba) = network_of(server, make_device, 2)
    with HostileServer(server.url) as hostile:
        _switch_transport(alba, Transport(hostile.url))
        ids = _orgs(admin, space, MIN_BATCH)
        admin.sync()
        admin.records.save(edit(admin.records.require(ids[0]), name="Corrected"))
        admin.sync()

        def stale_entry_again(exchange: Exchange) -> dict[str, Any] | None:
            if exchange.route != "/v1/sync" or exchange.answer is None:
                return None
            answer = copy.deepcopy(exchange.answer)
            page = answer.get("spaces", {}).get(space)
            if not page or not page.get("batches"):
                return None
            (delivery,) = page["batches"]
            entries = read_batch_header(delivery["batch"])[0].entries
            index = [e.record for e in entries].index(ids[0])
            page["cursor"] += 1
            delivery["live"] = [*delivery["live"], [index, page["cursor"], 1]]
            return answer

        hostile.rewrites[:] = [stale_entry_again]
        report = alba.engine.sync_once()
        assert [r.code for r in report.refused] == ["rolled_back"]
        held = alba.records.require(ids[0])
        assert (held.revision, held.name) == (2, "Corrected")


class _RacingTransport(Transport):
    """A real transport after which, once, another device acts between the author's reading
    of its stale batches and its compaction (what a third device does at any moment)."""

    race: Any = None

    def stale_batches(self, space: str, token: str) -> list[dict[str, Any]]:
        found = super().stale_batches(space, token)
        if self.race is not None:
            race, self.race = self.race, None
            race()
        return found


def test_a_deletion_racing_the_authors_compaction_does_not_fail_the_sync(
    server: Server, make_device: Any
) -> None:
    space, (admin, member, third) = network_of(server, make_device, 3)
    ids, secret = _orgs_and_secret(admin, space, MIN_BATCH)
    admin.sync()
    member.sync()
    third.sync()
    member.records.delete(ids[0])
    member.sync()  # the batch is now due for compaction
    racing = _RacingTransport(server.url)
    _switch_transport(admin, racing)

    def third_deletes_the_secret() -> None:
        third.records.delete(secret.id)
        third.sync()

    racing.race = third_deletes_the_secret
    # The compaction names the secret's old revision: the server refuses it whole, and that
    # is no failure of the person's sync; the next one compacts from the newer state.
    report = admin.sync()
    assert report.compacted == 0
    report = admin.sync()
    assert report.compacted == len(ids)  # the space record and the others, less two deleted
    late = _join(admin, make_device, space, "late")
    assert not _holds_canary(_delivered_contents(late, space))
