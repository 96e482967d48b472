"""What a removed member, a malicious server and a network observer get: nothing they can use.
Rotation on removal, swapped/flipped/rolled-back blobs refused and reported, canary scans."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import msgpack
import pytest

from desktop.domain.records import edit
from sync.crypto.envelope import open_record, read_header
from sync.crypto.errors import CryptoError, CryptoErrorCode
from sync.protocol import decode_body
from tests.helpers.profiles import canary_encodings, files_containing
from tests.integration.conftest import Device, Server, network_of, organization


def _server_db(server: Server) -> sqlite3.Connection:
    return sqlite3.connect(server.data_dir / "minga-server.sqlite3", timeout=30)


def _blob(server: Server, record: str) -> tuple[bytes, int]:
    with _server_db(server) as db:
        blob, revision = db.execute(
            "SELECT blob, revision FROM record WHERE record_id = ?", (record,)
        ).fetchone()
    return bytes(blob), int(revision)


def _device_id(device: Device) -> str:
    keys = device.state.device_keys()
    assert keys is not None
    return keys.device_id


def test_a_removed_member_cannot_read_what_is_written_after(
    server: Server, make_device: Any
) -> None:
    space, devices = network_of(server, make_device, 3)
    admin, alba, badu = devices
    before = organization(space, "Written before the removal")
    admin.records.save(before)
    for device in devices:
        device.sync()
    assert badu.records.require(before.id).name == "Written before the removal"

    assert admin.engine.remove_member(space, _device_id(badu)) == 2
    alba.sync()  # learns the new statement and its epoch-2 key from its poll
    after = organization(space, "Written after the removal")
    alba.records.save(after)
    alba.sync()

    report = badu.engine.sync_once()
    assert report.lost_spaces == [space]
    assert badu.records.get(after.id) is None
    blob, revision = _blob(server, after.id)
    assert read_header(blob)[0].epoch == 2
    keyring, _pins = badu.engine._keyring()
    # Even told the new membership (statements are public), it holds no key for epoch 2.
    with _server_db(server) as db:
        for (statement,) in db.execute(
            "SELECT blob FROM membership_statement WHERE space_id = ? AND version > ? "
            "ORDER BY version",
            (space, keyring.logs[space].latest.version),
        ):
            keyring.logs[space].accept(bytes(statement))
    assert keyring.logs[space].latest.epoch == 2
    assert (space, 2) not in keyring.keys
    with pytest.raises(CryptoError) as refused:
        open_record(blob, space=space, record=after.id, revision=revision, keys=keyring)
    assert refused.value.code is CryptoErrorCode.KEY_UNAVAILABLE
    # The members who stay read it, and the removed one keeps what it had.
    admin.sync()
    assert admin.records.require(after.id).name == "Written after the removal"
    assert badu.records.require(before.id).name == "Written before the removal"


def test_swapped_and_flipped_blobs_are_refused_and_never_applied(
    server: Server, make_device: Any
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    first, second, third = (organization(space, f"Org {n}") for n in (1, 2, 3))
    admin.records.save_all([first, second, third])
    admin.sync()
    a, _ = _blob(server, first.id)
    b, _ = _blob(server, second.id)
    c, _ = _blob(server, third.id)
    flipped = c[:-70] + bytes([c[-70] ^ 1]) + c[-69:]
    with _server_db(server) as db:  # a malicious (or hacked) server rewrites its rows
        for record, blob in ((first.id, b), (second.id, a), (third.id, flipped)):
            db.execute("UPDATE record SET blob = ? WHERE record_id = ?", (blob, record))

    report = member.engine.sync_once(discover=True)
    refused = {r.record: r.code for r in report.refused}
    assert refused == {
        first.id: CryptoErrorCode.WRONG_RECORD.value,
        second.id: CryptoErrorCode.WRONG_RECORD.value,
        third.id: CryptoErrorCode.SIGNATURE_INVALID.value,
    }
    assert all(member.records.get(r.id) is None for r in (first, second, third))
    assert member.records.get(space) is not None  # the untouched space record was applied


def test_a_rolled_back_record_is_refused(server: Server, make_device: Any) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    org = organization(space, "Original name")
    admin.records.save(org)
    admin.sync()
    old_blob, old_revision = _blob(server, org.id)
    admin.records.save(edit(admin.records.require(org.id), name="Corrected name"))
    admin.sync()
    member.sync()
    assert member.records.require(org.id).revision == 2
    with _server_db(server) as db:  # serve the old version again, as a new change
        db.execute("UPDATE space SET last_seq = last_seq + 1 WHERE id = ?", (space,))
        (seq,) = db.execute("SELECT last_seq FROM space WHERE id = ?", (space,)).fetchone()
        db.execute(
            "UPDATE record SET blob = ?, revision = ?, seq = ? WHERE record_id = ?",
            (old_blob, old_revision, seq, org.id),
        )
    report = member.engine.sync_once()
    assert [(r.record, r.code) for r in report.refused] == [(org.id, "rolled_back")]
    kept = member.records.require(org.id)
    assert (kept.name, kept.revision) == ("Corrected name", 2)


def test_no_plaintext_reaches_the_server_or_the_wire(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    canaries = ["CANARY-7f3a9c-Kibera-Eviction", "كناري-شاهد-سري"]
    space, devices = network_of(server, make_device, 2)
    admin, member = devices
    org = organization(space, canaries[0], description=f"{canaries[1]}\nwitness statement\n")
    admin.records.save(org)
    admin.sync()
    member.sync()
    member.records.save(edit(member.records.require(org.id), acronym=canaries[0][:20]))
    member.sync()
    admin.sync()
    # It did travel (so the scans below look for something that exists).
    assert member.records.require(org.id).description.startswith(canaries[1])
    for canary in canaries:
        assert files_containing([server.data_dir], canary) == []
        for device in devices:
            for body in device.sent + device.received:
                decoded = msgpack.packb(decode_body(body)) if _is_message(body) else body
                assert not any(n in decoded or n in body for n in canary_encodings(canary))


def _is_message(body: bytes) -> bool:
    try:
        decode_body(body)
    except Exception:
        return False
    return True
