"""A malicious server between a real client engine and the real server process: swapped member
keys, statements signed by keys it made up, old statements replayed as current after a removal,
blobs moved between records and spaces, records rolled back (on a pull and in a conflict answer).
Each is refused and reported by the engine, and nothing of it reaches the store, the pins or the
keyring. The attacker is tests/helpers/hostile_server.py, rewriting what it relays."""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest

from desktop.domain.records import Organization, edit
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from sync.crypto.envelope import read_header
from sync.crypto.errors import CryptoErrorCode, KeyChanged
from sync.crypto.keys import DeviceKeys
from sync.crypto.spaces import Member, MembershipStatement
from sync.protocol import Role
from tests.helpers.hostile_server import Exchange, HostileServer
from tests.integration.conftest import Device, Server, network_of, organization


@pytest.fixture
def hostile(server: Server) -> Iterator[HostileServer]:
    with HostileServer(server.url) as relay:
        yield relay


def behind(device: Device, url: str) -> Device:
    """Route ``device``'s engine through another URL (its keys and store stay)."""
    old = device.engine
    transport = Transport(url, observer=old.transport.observer)
    old.transport.close()
    device.engine = SyncEngine(device.state, transport, page_bytes=old.page_bytes)
    return device


def device_id(device: Device) -> str:
    keys = device.state.device_keys()
    assert keys is not None
    return keys.device_id


def trust(device: Device) -> dict[str, object]:
    """Everything the device believes about members and keys, as stored."""
    spaces = sorted({wrap.space for wrap in device.state.wraps()})
    return {
        "statements": {space: device.state.statements(space) for space in spaces},
        "wraps": sorted((w.space, w.epoch, w.issuer, w.wrap) for w in device.state.wraps()),
        "pins": sorted(
            (p.keys.device_id, p.keys.sign_key, p.keys.box_key, p.verified)
            for p in device.state.pins()
        ),
    }


def latest_statement(device: Device, space: str) -> MembershipStatement:
    return MembershipStatement.from_bytes(device.state.statements(space)[-1])


def pages(exchange: Exchange) -> dict[str, Any]:
    """The pages of a relayed sync answer as the real server sent them."""
    assert exchange.original is not None
    spaces: dict[str, Any] = exchange.original["spaces"]
    return spaces


def _server_db(server: Server) -> sqlite3.Connection:
    return sqlite3.connect(server.data_dir / "minga-server.sqlite3", timeout=30)


def announce_statement(version: int, statement: bytes, epoch: int | None = None) -> Any:
    """Pages claim a newer statement (so the engine fetches it) and ``statement`` is served."""

    def rewrite(exchange: Exchange) -> dict[str, Any] | None:
        answer = copy.deepcopy(exchange.answer)
        assert answer is not None
        if exchange.route == "/v1/sync":
            for page in answer["spaces"].values():
                if "statement" in page:
                    page["statement"] = version
                    if epoch is not None:
                        page["epoch"] = epoch
            return answer
        if exchange.route.endswith("/statements"):
            answer["statements"] = [{"version": version, "statement": statement}]
            answer["more"] = False
            return answer
        return None

    return rewrite


# --- (a) swapped member keys -------------------------------------------------------------------


def test_a_statement_with_a_swapped_key_or_a_made_up_signer_is_refused(
    server: Server, make_device: Any, hostile: HostileServer
) -> None:
    space, (admin, alba, badu) = network_of(server, make_device, 3)
    behind(alba, hostile.url)
    for device in (admin, alba, badu):
        device.sync()
    believed, records = trust(alba), alba.snapshot()
    latest = latest_statement(alba, space)
    impostor = DeviceKeys.generate()  # the server's own key: it has no member's private key

    # 1. Badu's box key replaced by the server's in a copy of the admin's latest statement,
    #    moved one version on; the admin's signature cannot follow.
    body = msgpack.unpackb(latest.blob[5:-64])
    body["version"], body["previous"] = latest.version + 1, latest.hash
    for member in body["members"]:
        if member[0] == device_id(badu):
            member[3] = impostor.public.box_key
    swapped = latest.blob[:5] + msgpack.packb(body) + latest.blob[-64:]
    # 2. The same swap, signed by a key it made up and listed as an admin.
    members = [Member(m.keys, m.role) for m in latest.members if m.device != device_id(badu)] + [
        Member(type(m.keys)(m.keys.sign_key, impostor.public.box_key), m.role)
        for m in latest.members
        if m.device == device_id(badu)
    ]
    made_up = MembershipStatement.issue(
        space=space,
        version=latest.version + 1,
        epoch=latest.epoch,
        previous=latest.hash,
        members=[*members, Member(impostor.public, Role.ADMIN)],
        issuer=impostor,
    ).blob

    for forged, code in (
        (swapped, CryptoErrorCode.SIGNATURE_INVALID),
        (made_up, CryptoErrorCode.UNKNOWN_SIGNER),
    ):
        hostile.rewrites[:] = [announce_statement(latest.version + 1, forged)]
        tampered = hostile.tampered
        report = alba.engine.sync_once()
        assert hostile.tampered > tampered  # the forgery was delivered
        assert [(r.space, r.record, r.code, r.detail) for r in report.refused] == [
            (space, "", code.value, "statement")
        ]
        assert trust(alba) == believed
        assert alba.snapshot() == records
        keyring, _pins = alba.engine._keyring()
        assert keyring.logs[space].latest.hash == latest.hash


def test_a_member_listing_with_swapped_keys_is_never_admitted(
    server: Server, make_device: Any, hostile: HostileServer
) -> None:
    _space, (admin, alba) = network_of(server, make_device, 2)
    admin.sync()
    behind(admin, hostile.url)
    second = admin.engine.create_space()
    admin.engine._authorized(
        lambda token: admin.engine.transport.put_member(second, device_id(alba), Role.EDITOR, token)
    )
    impostor = DeviceKeys.generate().public
    real = alba.state.device_keys()
    assert real is not None

    def swap(field: str) -> Any:
        def rewrite(exchange: Exchange) -> dict[str, Any] | None:
            if not exchange.route.endswith("/members"):
                return None
            answer = copy.deepcopy(exchange.answer)
            assert answer is not None
            for entry in answer["members"]:
                if entry["device"] == device_id(alba):
                    entry[field] = getattr(impostor, field)
            return answer

        return rewrite

    # A signing key that is not the one its id is the hash of: refused at once.
    hostile.rewrites[:] = [swap("sign_key")]
    with pytest.raises(KeyChanged):
        admin.engine.pending_members(second)
    # A box key of the server's (wraps to it would open for the server): the fingerprint the
    # admin is shown is not Alba's, and the pin from the first space refuses the admission.
    hostile.rewrites[:] = [swap("box_key")]
    (pending,) = admin.engine.pending_members(second)
    assert pending.fingerprint != real.public.fingerprint
    pins = trust(admin)["pins"]
    with pytest.raises(KeyChanged):
        admin.engine.admit(second, [pending])
    assert len(admin.state.statements(second)) == 1
    assert trust(admin)["pins"] == pins
    with _server_db(server) as db:
        (versions,) = db.execute(
            "SELECT COUNT(*) FROM membership_statement WHERE space_id = ?", (second,)
        ).fetchone()
    assert versions == 1  # nothing was published

    # The honest listing is admitted (so the refusal above was the swap, not the setup).
    hostile.rewrites.clear()
    (pending,) = admin.engine.pending_members(second)
    assert pending.fingerprint == real.public.fingerprint
    assert admin.engine.admit(second, [pending]) == 1


# --- (b) an old statement replayed as current --------------------------------------------------


def test_the_statement_before_a_removal_replayed_as_current_is_refused(
    server: Server, make_device: Any, hostile: HostileServer
) -> None:
    space, (admin, alba, badu) = network_of(server, make_device, 3)
    behind(alba, hostile.url)
    for device in (admin, alba, badu):
        device.sync()
    before_removal = alba.state.statements(space)[-1]
    (epoch_one_wrap,) = [w for w in alba.state.wraps() if w.space == space and w.epoch == 1]
    assert admin.engine.remove_member(space, device_id(badu)) == 2
    alba.sync()
    latest = latest_statement(alba, space)
    assert latest.epoch == 2
    believed, records = trust(alba), alba.snapshot()

    # The pre-removal statement announced as the newest, the pre-rotation epoch as current,
    # and the epoch-1 wrap served as the key of epoch 3.
    def old_wrap(exchange: Exchange) -> dict[str, Any] | None:
        if "/keys" not in exchange.route:
            return None
        issuer = epoch_one_wrap.issuer
        return {"v": 1, "wraps": [{"epoch": 3, "issuer": issuer, "wrap": epoch_one_wrap.wrap}]}

    hostile.rewrites[:] = [
        announce_statement(latest.version + 1, before_removal, epoch=1),
        old_wrap,
    ]
    report = alba.engine.sync_once()
    assert {(r.record, r.code, r.detail) for r in report.refused} == {
        ("", CryptoErrorCode.MEMBERSHIP_ROLLBACK.value, "statement"),
        ("", CryptoErrorCode.WRONG_EPOCH.value, "key wrap"),
    }
    assert trust(alba) == believed
    assert alba.snapshot() == records

    # Told only that epoch 1 is current (no newer version to fetch): still sealed at epoch 2.
    hostile.rewrites[:] = [announce_statement(latest.version - 1, before_removal, epoch=1)]
    org = organization(space, "Written after the removal")
    alba.records.save(org)
    report = alba.engine.sync_once()
    assert report.pushed == 1 and report.refused == []
    keyring, _pins = alba.engine._keyring()
    assert keyring.current_key(space) is not None
    assert keyring.current_key(space)[0] == 2  # type: ignore[index]
    with _server_db(server) as db:
        (blob,) = db.execute("SELECT blob FROM record WHERE record_id = ?", (org.id,)).fetchone()
    assert read_header(bytes(blob))[0].epoch == 2
    assert (space, 2) not in badu.engine._keyring()[0].keys


# --- (c) a blob moved to another record or space -----------------------------------------------


def test_blobs_moved_to_another_record_or_space_are_refused(
    server: Server, make_device: Any, hostile: HostileServer
) -> None:
    space, (admin, alba) = network_of(server, make_device, 2)
    second = admin.engine.create_space()
    admin.engine._authorized(
        lambda token: admin.engine.transport.put_member(second, device_id(alba), Role.EDITOR, token)
    )
    admin.engine.admit(second, admin.engine.pending_members(second))
    behind(alba, hostile.url)
    admin.sync()
    alba.sync()
    assert alba.engine._keyring()[0].current_key(second) is not None
    first, other = organization(space, "First"), organization(space, "Other")
    elsewhere = organization(second, "In the second space")
    admin.records.save_all([first, other, elsewhere])
    admin.sync()

    def move(exchange: Exchange) -> dict[str, Any] | None:
        if exchange.route != "/v1/sync":
            return None
        answer = copy.deepcopy(exchange.answer)
        assert answer is not None
        changes = {c["record"]: c for page in answer["spaces"].values() for c in page["changes"]}
        if not {first.id, other.id, elsewhere.id} <= changes.keys():
            return None
        blobs = {record: change["blob"] for record, change in changes.items()}
        changes[first.id]["blob"] = blobs[other.id]
        changes[other.id]["blob"] = blobs[first.id]
        changes[elsewhere.id]["blob"] = blobs[first.id]  # a blob of space 1 served in space 2
        return answer

    hostile.rewrites[:] = [move]
    report = alba.engine.sync_once()
    assert hostile.tampered == 1
    assert {(r.space, r.record): r.code for r in report.refused} == {
        (space, first.id): CryptoErrorCode.WRONG_RECORD.value,
        (space, other.id): CryptoErrorCode.WRONG_RECORD.value,
        (second, elsewhere.id): CryptoErrorCode.WRONG_SPACE.value,
    }
    assert all(alba.records.get(r.id) is None for r in (first, other, elsewhere))

    # In a conflict answer: Alba's new record answered with "conflict, current is" a blob of
    # another record (the real server did accept it; the hostile one hides that too).
    (moved,) = [
        change
        for exchange in hostile.answers("/v1/sync")
        for change in pages(exchange).get(space, {}).get("changes", [])
        if change["record"] == first.id
    ]
    mine = organization(space, "Alba's own")
    alba.records.save(mine)
    relabel = True  # first the blob under Alba's record id, then as the record it is

    def conflict(exchange: Exchange) -> dict[str, Any] | None:
        if exchange.route != "/v1/sync" or not (exchange.request or {}).get("push"):
            return None
        answer = copy.deepcopy(exchange.answer)
        assert answer is not None and exchange.request is not None
        mutation = exchange.request["push"][0]["id"]
        current = dict(moved, record=mine.id) if relabel else moved
        answer["results"] = [
            {"id": mutation, "status": "conflict", "revision": 1, "current": current}
        ]
        answer["spaces"][space]["changes"] = []
        return answer

    hostile.rewrites[:] = [conflict]
    report = alba.engine.sync_once()
    assert [(r.record, r.code) for r in report.refused] == [
        (mine.id, CryptoErrorCode.WRONG_RECORD.value)
    ]
    relabel = False
    report = alba.engine.sync_once()
    assert [(r.record, r.code, r.detail) for r in report.refused] == [
        (mine.id, CryptoErrorCode.WRONG_RECORD.value, "conflict answer")
    ]
    kept = alba.records.require(mine.id)
    assert isinstance(kept, Organization)
    assert (kept.name, kept.dirty) == ("Alba's own", True)
    assert alba.records.get(first.id) is None


# --- (d) a record rolled back ------------------------------------------------------------------


def test_a_record_rolled_back_on_a_pull_or_in_a_conflict_answer_is_refused(
    server: Server, make_device: Any, hostile: HostileServer
) -> None:
    space, (admin, alba) = network_of(server, make_device, 2)
    behind(alba, hostile.url)
    org = organization(space, "Original name")
    admin.records.save(org)
    admin.sync()
    alba.sync()
    (old,) = [
        change
        for exchange in hostile.answers("/v1/sync")
        for change in pages(exchange).get(space, {}).get("changes", [])
        if change["record"] == org.id
    ]
    assert old["revision"] == 1
    admin.records.save(edit(admin.records.require(org.id), name="Corrected name"))
    admin.sync()
    alba.sync()
    records, believed = alba.snapshot(), trust(alba)
    assert alba.records.require(org.id).revision == 2

    # On a pull: revision 1 served again as a new change.
    def replay(exchange: Exchange) -> dict[str, Any] | None:
        if exchange.route != "/v1/sync":
            return None
        answer = copy.deepcopy(exchange.answer)
        assert answer is not None
        page = answer["spaces"][space]
        page["changes"].append(dict(old, seq=page["cursor"]))
        return answer

    hostile.rewrites[:] = [replay]
    report = alba.engine.sync_once()
    assert [(r.record, r.revision, r.code) for r in report.refused] == [(org.id, 1, "rolled_back")]
    assert alba.snapshot() == records and trust(alba) == believed

    # In a conflict answer: Alba's edit (base 2) answered with "conflict, current is rev 1".
    alba.records.save(edit(alba.records.require(org.id), acronym="ALBA"))

    def conflict(exchange: Exchange) -> dict[str, Any] | None:
        if exchange.route != "/v1/sync" or not (exchange.request or {}).get("push"):
            return None
        answer = copy.deepcopy(exchange.answer)
        assert answer is not None and exchange.request is not None
        mutation = exchange.request["push"][0]["id"]
        answer["results"] = [{"id": mutation, "status": "conflict", "revision": 1, "current": old}]
        answer["spaces"][space]["changes"] = []  # and it hides the edit it applied
        return answer

    hostile.rewrites[:] = [conflict]
    report = alba.engine.sync_once()
    assert hostile.tampered >= 2
    assert [(r.record, r.revision, r.code) for r in report.refused] == [(org.id, 1, "rolled_back")]
    kept = alba.records.require(org.id)
    assert isinstance(kept, Organization)
    assert (kept.name, kept.acronym, kept.revision, kept.dirty) == (
        "Corrected name",
        "ALBA",
        2,
        True,  # the edit is kept, to be sent again
    )
    assert trust(alba) == believed
    hostile.rewrites.clear()  # an honest answer again: the edit settles (it had been applied)
    alba.sync()
    kept = alba.records.require(org.id)
    assert isinstance(kept, Organization)
    assert (kept.acronym, kept.revision, kept.dirty) == ("ALBA", 3, False)
