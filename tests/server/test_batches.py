"""Batches on the server (PROTOCOL.md §13), on SQLite and PostgreSQL: per-record compare-and-
swap inside a batch, only the signer may push it, compactions only of current versions (and
only one's own, unless an admin vouches), old batches dropped once nothing points at them, and
clients that do not ask for batches served as before."""

from __future__ import annotations

import hashlib
import secrets
import struct
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func, select

from sync.crypto.batch import SIGN_CONTEXT, VERSION, BatchKind, read_batch_header
from sync.crypto.envelope import carries_facts, seal_tombstone
from sync.crypto.keys import SIGNATURE_BYTES, DeviceKeys
from sync.protocol import (
    GRANT_CONTEXT,
    CourierDownload,
    CourierGrant,
    CourierPull,
    ErrorCode,
    Mutation,
    MutationStatus,
    SyncRequest,
    SyncResponse,
)
from sync.server import schema
from tests.helpers.server_client import (
    DeviceClient,
    batch_blob,
    device_keys_of,
    push_batch,
    sealed_blob,
)
from tests.server.conftest import Harness


def _ids(count: int) -> list[str]:
    return [secrets.token_hex(16) for _ in range(count)]


def _keyed(admin: DeviceClient, space: str, devices: list[DeviceClient]) -> None:
    wraps = {d.device_id: b"wrap" for d in devices}
    response = admin.call("PUT", f"/v1/spaces/{space}/keys/1", {"v": 1, "wraps": wraps})
    assert response.status_code == 200, response.text


def _pull(
    client: DeviceClient,
    space: str,
    cursor: int = 0,
    batches: bool = True,
    batch_version: int = VERSION,
) -> Any:
    request = SyncRequest(pull={space: cursor}, batches=batches, batch_version=batch_version)
    response = client.call("POST", "/v1/sync", request.to_wire())
    assert response.status_code == 200, response.text
    return SyncResponse.from_wire(client.body(response)).spaces[space]


def test_each_record_in_a_batch_is_compared_and_swapped_alone(server: Harness) -> None:
    space, members = server.space_with(editor=1)
    admin, editor = members["admin"][0], members["editor"][0]
    _keyed(admin, space, [admin, editor])
    first, *rest = _ids(4)
    landed = editor.sync(push=[editor.put(space, first, sealed_blob(space, first, 1))])
    assert landed.results[0].status is MutationStatus.ACCEPTED
    blob = batch_blob(editor, space, {first: 0, **{r: 0 for r in rest}})
    answer = editor.body(push_batch(editor, space, blob, cursor=1))
    # The record created meanwhile conflicts alone; the three others land, seqs 2-4.
    assert answer["conflicts"] == [[0, 1]]
    assert answer["accepted"] == [[1, 2, 3]]
    assert answer["cursor"] == 4  # nothing else came in between: the pusher moves past it
    page = _pull(admin, space)
    assert [c.record for c in page.changes] == [first]
    (delivery,) = page.batches
    assert delivery.author == editor.device_id and delivery.live == ((1, 2, 3),)
    assert delivery.batch == blob
    # A sync client from before batches does not ask for them: its page ends before the first
    # version that lives in a batch, and its cursor stays there (it would refuse a version
    # without content and move past it for good). Polling again moves nothing; once it asks
    # for batches it goes on from there and gets them.
    old = _pull(admin, space, batches=False)
    assert [(c.record, c.blob is None) for c in old.changes] == [(first, False)]
    assert (old.cursor, old.more) == (1, False)
    again = _pull(admin, space, cursor=old.cursor, batches=False)
    assert (again.changes, again.cursor, again.more) == ((), 1, False)
    upgraded = _pull(admin, space, cursor=old.cursor)
    (delivery,) = upgraded.batches
    assert delivery.live == ((1, 2, 3),) and upgraded.cursor == 4
    # A reader that opens only batch version 1 (it sends no "bv": an app from before batch
    # versions were declared) is held the same way before this version-2 batch, and goes on
    # from there once it declares version 2 (§13 "Batch versions").
    assert read_batch_header(blob)[0].version == 2
    v1 = _pull(admin, space, batch_version=1)
    assert [c.record for c in v1.changes] == [first] and v1.batches == ()
    assert (v1.cursor, v1.more, v1.held) == (1, False, True)
    assert SyncRequest(pull={space: 1}, batches=True).to_wire().get("bv") is None
    v2 = _pull(admin, space, cursor=v1.cursor, batch_version=2)
    assert [d.live for d in v2.batches] == [((1, 2, 3),)] and v2.cursor == 4
    assert not v2.held
    # A courier's download (§12.4) is held the same for the device whose grant it carries.
    grant = CourierGrant(
        device=admin.device_id,
        expires=int(server.clock()) + 86400,
        pull={space: 0},
        statements={},
        epochs={},
    ).to_bytes()
    signature = admin.sign_key.sign(GRANT_CONTEXT + grant)
    for version, runs, cursor in ((1, [], 1), (2, [((1, 2, 3),)], 4)):
        message = CourierPull(grant, signature, batches=True, batch_version=version)
        answer = editor.call("POST", "/v1/courier/pull", message.to_wire())
        assert answer.status_code == 200, answer.text
        page = CourierDownload.from_wire(editor.body(answer)).spaces[space]
        assert ([d.live for d in page.batches], page.cursor, page.more) == (runs, cursor, False)


def test_only_the_signer_pushes_its_batch_and_only_at_the_current_epoch(server: Harness) -> None:
    space, members = server.space_with(editor=2)
    admin, editor, other = members["admin"][0], *members["editor"]
    _keyed(admin, space, [admin, editor, other])
    signed_by_editor = batch_blob(editor, space, {r: 0 for r in _ids(2)})
    refused = push_batch(other, space, signed_by_editor)
    assert (refused.status_code, refused.json()["code"]) == (400, ErrorCode.ENVELOPE_MISMATCH)
    forged = bytearray(signed_by_editor)
    forged[-1] ^= 1
    refused = push_batch(editor, space, bytes(forged))
    assert (refused.status_code, refused.json()["code"]) == (400, ErrorCode.SIGNATURE_INVALID)
    moved = push_batch(editor, "elsewhere", signed_by_editor)
    assert moved.status_code in (400, 404)
    stale = batch_blob(editor, space, {r: 0 for r in _ids(2)}, epoch=0)
    refused = push_batch(editor, space, stale)
    assert (refused.status_code, refused.json()["code"]) == (409, ErrorCode.STALE_EPOCH)
    assert _pull(admin, space).batches == ()


def test_compactions_move_current_versions_and_drop_the_old_batch(server: Harness) -> None:
    space, members = server.space_with(editor=2)
    admin, editor, other = members["admin"][0], *members["editor"]
    _keyed(admin, space, [admin, editor, other])
    ids = _ids(4)
    first = batch_blob(editor, space, dict.fromkeys(ids, 0))
    assert push_batch(editor, space, first).status_code == 200
    # Another member deletes one of them: the batch is due for compaction.
    gone = ids[1]
    tombstone = sealed_blob(space, gone, 1, base=1)
    deletion = editor.put(space, gone, tombstone, base=1)
    other.sync(push=[deletion.__class__(deletion.id, space, gone, 1, tombstone, deleted=True)])
    stale = editor.body(editor.call("GET", f"/v1/spaces/{space}/batches"))["stale"]
    assert [(s["author"], [e[0] for e in s["live"]]) for s in stale] == [
        (editor.device_id, [ids[0], ids[2], ids[3]])
    ]
    assert _pull(editor, space, cursor=4).stale == 1
    kept = {r: 0 for r in ids if r != gone}
    # Someone else's compaction of the editor's records, or one naming a stale revision, fails.
    by_other = batch_blob(other, space, kept, kind=BatchKind.COMPACTION)
    refused = push_batch(other, space, by_other)
    assert (refused.status_code, refused.json()["code"]) == (409, ErrorCode.COMPACTION_MISMATCH)
    wrong = batch_blob(editor, space, {**kept, gone: 0}, kind=BatchKind.COMPACTION)
    assert push_batch(editor, space, wrong).status_code == 409
    compaction = batch_blob(editor, space, kept, kind=BatchKind.COMPACTION)
    assert push_batch(editor, space, compaction).status_code == 200
    page = _pull(admin, space)
    assert [d.batch for d in page.batches] == [compaction]  # the old batch is gone
    assert sorted(page.batches[0].live) == [(0, 1, 1), (1, 3, 2)]  # same seqs as before
    assert editor.body(editor.call("GET", f"/v1/spaces/{space}/batches"))["stale"] == []
    # An admin may vouch for anyone's records (a snapshot); their author becomes the admin.
    snapshot = batch_blob(admin, space, kept, kind=BatchKind.SNAPSHOT)
    assert push_batch(admin, space, snapshot).status_code == 200
    (delivery,) = _pull(editor, space).batches
    assert delivery.author == admin.device_id
    assert read_batch_header(delivery.batch)[0].kind is BatchKind.SNAPSHOT
    snapshot_by_editor = batch_blob(editor, space, kept, kind=BatchKind.SNAPSHOT)
    assert push_batch(editor, space, snapshot_by_editor).status_code == 403


@contextmanager
def _statements(server: Harness) -> Iterator[list[str]]:
    """The SQL statements the server runs meanwhile (its one engine, writes included)."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement.lstrip().split(None, 1)[0].upper())

    event.listen(server.db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(server.db.engine, "before_cursor_execute", note)


def _rows(server: Harness, space: str) -> tuple[int, int, int, int]:
    """Batches, records, kept batch answers of ``space``, and its last seq."""
    with server.db.read() as conn:
        counts = tuple(
            int(
                conn.execute(
                    select(func.count()).select_from(table).where(table.c.space_id == space)
                ).scalar_one()
            )
            for table in (schema.batch, schema.record, schema.batch_push)
        )
        last = conn.execute(
            select(schema.space.c.last_seq).where(schema.space.c.id == space)
        ).scalar_one()
    return counts[0], counts[1], counts[2], int(last)


def _with_id_of(blob: bytes, other: bytes, signer: DeviceClient) -> bytes:
    """``other`` relabelled with ``blob``'s batch id and signed again by ``signer``: a well-
    signed batch, other bytes under the same id."""
    at = struct.calcsize(">4sBBI16s12sI32s32s")
    relabelled = bytearray(other[:-SIGNATURE_BYTES])
    relabelled[at : at + 16] = blob[at : at + 16]
    signature = device_keys_of(signer).sign(SIGN_CONTEXT + bytes(relabelled))
    return bytes(relabelled) + signature


def test_a_batch_sent_again_is_answered_as_the_first_time_and_stored_once(
    server: Harness,
) -> None:
    """Its answer was lost after the server committed: the re-sent batch gets the same answer
    (accepted seqs, conflicts, cursor), nothing is applied or stored twice, and it costs the
    server fewer statements than the first send (no signature, manifest or record reads)."""
    space, members = server.space_with(editor=1)
    admin, editor = members["admin"][0], members["editor"][0]
    _keyed(admin, space, [admin, editor])
    first, *rest = _ids(4)
    editor.sync(push=[editor.put(space, first, sealed_blob(space, first, 1))])
    blob = batch_blob(editor, space, {first: 0, **{r: 0 for r in rest}})
    with _statements(server) as sent_once:
        answer = push_batch(editor, space, blob, cursor=1)
    assert answer.status_code == 200, answer.text
    stored = _rows(server, space)
    assert stored == (1, 4, 1, 4)
    with _statements(server) as sent_again:
        again = push_batch(editor, space, blob, cursor=1)
    assert again.status_code == 200, again.text
    assert again.content == answer.content
    assert editor.body(again) == {
        "v": 1,
        "accepted": [[1, 2, 3]],
        "conflicts": [[0, 1]],
        "cursor": 4,
    }
    assert _rows(server, space) == stored
    assert "INSERT" not in sent_again and "UPDATE" not in sent_again, sent_again
    assert len(sent_again) < len(sent_once), (sent_again, sent_once)
    # Or asked by id and hash alone, without sending the batch again: the same answer.
    digest = hashlib.sha256(blob).hexdigest()
    batch_id = read_batch_header(blob)[0].batch_id.hex()
    asked = editor.call("GET", f"/v1/spaces/{space}/batches/{batch_id}?digest={digest}&cursor=1")
    assert asked.status_code == 200, asked.text
    assert asked.content == answer.content
    unknown = editor.call("GET", f"/v1/spaces/{space}/batches/{'0' * 32}?digest={digest}")
    assert (unknown.status_code, unknown.json()["code"]) == (404, ErrorCode.BATCH_NOT_FOUND)
    other = editor.call("GET", f"/v1/spaces/{space}/batches/{batch_id}?digest={'0' * 64}")
    assert (other.status_code, other.json()["code"]) == (409, ErrorCode.BATCH_ID_REUSED)
    assert editor.call("GET", f"/v1/spaces/{space}/batches/{batch_id}").status_code == 400
    assert _rows(server, space) == stored
    # From a cursor other than the one the space had then, the pusher is not moved past
    # anything: something may have come in between that it has not pulled.
    later = editor.body(push_batch(editor, space, blob, cursor=0))
    assert (later["accepted"], "cursor" in later) == ([[1, 2, 3]], False)
    # A batch that only conflicted is answered the same again too.
    clash = batch_blob(editor, space, dict.fromkeys(rest, 0))
    answers = [editor.body(push_batch(editor, space, clash, cursor=4)) for _ in range(2)]
    assert answers[0] == answers[1]
    assert answers[0] == {"v": 1, "accepted": [], "conflicts": [[0, 1], [1, 1], [2, 1]]}
    assert _rows(server, space) == (1, 4, 2, 4)


def test_the_same_batch_id_with_other_bytes_is_refused_by_name(server: Harness) -> None:
    space, members = server.space_with(editor=2)
    admin, editor, other = members["admin"][0], *members["editor"]
    _keyed(admin, space, [admin, editor, other])
    ids = _ids(3)
    blob = batch_blob(editor, space, dict.fromkeys(ids, 0))
    assert push_batch(editor, space, blob).status_code == 200
    stored = _rows(server, space)
    # Well signed, other records under the same id: never taken for the first batch's answer.
    swapped = _with_id_of(blob, batch_blob(editor, space, dict.fromkeys(_ids(3), 0)), editor)
    assert read_batch_header(swapped)[0].batch_id == read_batch_header(blob)[0].batch_id
    refused = push_batch(editor, space, swapped)
    assert (refused.status_code, refused.json()["code"]) == (409, ErrorCode.BATCH_ID_REUSED)
    # Nor from another device with its own signature over the same id.
    theirs = _with_id_of(blob, batch_blob(other, space, dict.fromkeys(_ids(3), 0)), other)
    refused = push_batch(other, space, theirs)
    assert (refused.status_code, refused.json()["code"]) == (409, ErrorCode.BATCH_ID_REUSED)
    assert _rows(server, space) == stored


def test_a_compaction_sent_again_is_answered_and_stored_once(server: Harness) -> None:
    space, members = server.space_with(editor=1)
    admin, editor = members["admin"][0], members["editor"][0]
    _keyed(admin, space, [admin, editor])
    ids = _ids(3)
    assert push_batch(editor, space, batch_blob(editor, space, dict.fromkeys(ids, 0))).is_success
    compaction = batch_blob(editor, space, dict.fromkeys(ids, 0), kind=BatchKind.COMPACTION)
    answers = [push_batch(editor, space, compaction) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200], answers[1].text
    assert answers[0].content == answers[1].content
    assert _rows(server, space) == (1, 3, 2, 3)
    (delivery,) = _pull(admin, space).batches
    assert delivery.batch == compaction


def test_the_same_batch_sent_at_once_on_several_connections_is_stored_once(
    server: Harness,
) -> None:
    """A client that retries on a new connection while the first is still in flight (or a
    hostile one racing itself): every send gets the same answer and the batch is applied once."""
    space, members = server.space_with(editor=1)
    admin, editor = members["admin"][0], members["editor"][0]
    _keyed(admin, space, [admin, editor])
    blob = batch_blob(editor, space, {r: 0 for r in _ids(40)})
    start = threading.Barrier(6)

    def send(_: int) -> tuple[int, bytes]:
        start.wait()
        answer = push_batch(editor, space, blob, cursor=1)
        return answer.status_code, answer.content

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(send, range(6)))
    assert {status for status, _ in answers} == {200}, answers
    assert len({content for _, content in answers}) == 1
    assert _rows(server, space) == (1, 40, 1, 40)


def test_a_batch_answer_tells_nothing_to_a_device_that_did_not_push_it(server: Harness) -> None:
    """Batch ids reach every member in deliveries: a reader, another writer or an outsider
    holding one learns by asking neither whether it was pushed nor by whom; only its pusher is
    answered."""
    space, members = server.space_with(editor=1, reader=1)
    admin, editor, reader = members["admin"][0], members["editor"][0], members["reader"][0]
    _keyed(admin, space, [admin, editor, reader])
    outsider = server.device()
    blob = batch_blob(editor, space, {r: 0 for r in _ids(2)})
    assert push_batch(editor, space, blob).status_code == 200
    batch_id = read_batch_header(blob)[0].batch_id.hex()
    digest = hashlib.sha256(blob).hexdigest()
    path = f"/v1/spaces/{space}/batches/{batch_id}?digest={digest}"
    never = f"/v1/spaces/{space}/batches/{secrets.token_hex(16)}?digest={digest}"
    for device in (admin, reader, outsider):
        asked, unknown = device.call("GET", path), device.call("GET", never)
        assert (asked.status_code, asked.json()["code"]) == (404, ErrorCode.BATCH_NOT_FOUND)
        assert asked.content == unknown.content
    assert editor.call("GET", path).status_code == 200


def _forget_answers(server: Harness) -> None:
    """Housekeeping drops every kept answer (as after the retention's 90 days)."""
    from sync.server.batches import prune_batch_answers

    server.clock.advance(1)
    prune_batch_answers(server.db, int(server.clock()) + 10, 0)


def test_a_compaction_sent_again_after_its_answer_went_is_answered_not_a_server_error(
    server: Harness,
) -> None:
    """A member must never make the server fail: its compaction (or an admin's snapshot) re-sent
    with the same bytes after retention forgot the answer names a batch stored already. The
    records already point at it, so it is answered as taken and nothing is stored twice."""
    space, members = server.space_with(editor=1)
    admin, editor = members["admin"][0], members["editor"][0]
    _keyed(admin, space, [admin, editor])
    ids = _ids(3)
    assert push_batch(editor, space, batch_blob(editor, space, dict.fromkeys(ids, 0))).is_success
    compaction = batch_blob(editor, space, dict.fromkeys(ids, 0), kind=BatchKind.COMPACTION)
    first = push_batch(editor, space, compaction)
    assert first.status_code == 200, first.text
    _forget_answers(server)
    assert _rows(server, space)[2] == 0
    again = push_batch(editor, space, compaction)
    assert again.status_code == 200, again.text
    assert again.content == first.content
    assert _rows(server, space) == (1, 3, 1, 3)
    snapshot = batch_blob(admin, space, dict.fromkeys(ids, 0), kind=BatchKind.SNAPSHOT)
    assert push_batch(admin, space, snapshot).status_code == 200
    _forget_answers(server)
    assert push_batch(admin, space, snapshot).status_code == 200
    assert _rows(server, space) == (1, 3, 1, 3)
    (delivery,) = _pull(editor, space).batches
    assert delivery.batch == snapshot
    # The editor's compaction is no longer current (the admin vouched since): refused as before.
    late = push_batch(editor, space, compaction)
    assert (late.status_code, late.json()["code"]) == (409, ErrorCode.COMPACTION_MISMATCH)
    # A later snapshot of the same versions still moves them (other bytes, a new id).
    snapshot_again = batch_blob(admin, space, dict.fromkeys(ids, 0), kind=BatchKind.SNAPSHOT)
    assert push_batch(admin, space, snapshot_again).status_code == 200
    (delivery,) = _pull(editor, space).batches
    assert delivery.batch == snapshot_again


def test_a_compaction_under_a_stored_batch_id_is_refused_by_name_not_a_server_error(
    server: Harness,
) -> None:
    """A hostile member relabels its own well-signed compaction, or a batch of its own, with the
    id of a batch stored in the space (ids reach every member in deliveries) whose answer
    retention forgot: refused by name, never a 500, and the stored batch is untouched."""
    space, members = server.space_with(editor=2)
    admin, editor, other = members["admin"][0], *members["editor"]
    _keyed(admin, space, [admin, editor, other])
    theirs = batch_blob(editor, space, dict.fromkeys(_ids(3), 0))
    assert push_batch(editor, space, theirs).status_code == 200
    mine = _ids(2)
    assert push_batch(other, space, batch_blob(other, space, dict.fromkeys(mine, 0))).is_success
    _forget_answers(server)
    stored = _rows(server, space)
    compaction = batch_blob(other, space, dict.fromkeys(mine, 0), kind=BatchKind.COMPACTION)
    relabelled = _with_id_of(theirs, compaction, other)
    refused = push_batch(other, space, relabelled)
    assert (refused.status_code, refused.json()["code"]) == (409, ErrorCode.BATCH_ID_REUSED)
    fresh = batch_blob(other, space, dict.fromkeys(_ids(2), 0))
    refused = push_batch(other, space, _with_id_of(theirs, fresh, other))
    assert refused.status_code == 409, refused.text
    assert _rows(server, space) == stored
    assert theirs in [d.batch for d in _pull(admin, space).batches]


def test_a_reader_from_before_tombstone_facts_is_held_before_the_first_one(
    server: Harness,
) -> None:
    """PROTOCOL.md §13: a reader declaring a batch version below 3 would refuse a tombstone
    with sealed facts (``bad_content``) and move past the deletion for good; the server holds
    it before the first such tombstone (from its clear header and length, nothing opened), a
    fact-less tombstone (an app from before facts) goes through, and a reader declaring 3
    goes on from the held seq. On SQLite and PostgreSQL."""
    space, members = server.space_with(editor=1)
    admin, editor = members["admin"][0], members["editor"][0]
    _keyed(admin, space, [admin, editor])
    old, new, after = _ids(3)
    author = DeviceKeys.generate()  # the server verifies no signature: any author does
    for record in (old, new, after):
        landed = editor.sync(push=[editor.put(space, record, sealed_blob(space, record, 1))])
        assert landed.results[0].status is MutationStatus.ACCEPTED

    def deleted(record: str, facts: dict[str, bool] | None) -> None:
        blob = seal_tombstone(
            space=space,
            record=record,
            revision=2,
            base=1,
            epoch=1,
            space_key=b"k" * 32,
            author=author,
            facts=facts,
        )
        assert carries_facts(blob) is (facts is not None)
        mutation = Mutation(secrets.token_hex(8), space, record, 1, blob, deleted=True)
        assert editor.sync(push=[mutation]).results[0].status is MutationStatus.ACCEPTED

    deleted(old, None)  # seq 4: a fact-less tombstone, as an app from before facts seals
    deleted(new, {"alone": False})  # seq 5
    deleted(after, None)  # seq 6
    held = _pull(admin, space, batch_version=2)
    assert [(c.record, c.deleted) for c in held.changes] == [(old, True)]
    assert (held.cursor, held.more, held.held) == (4, False, True)
    again = _pull(admin, space, cursor=held.cursor, batch_version=2)
    assert (again.changes, again.cursor, again.more, again.held) == ((), 4, False, True)
    upgraded = _pull(admin, space, cursor=held.cursor, batch_version=3)
    assert [c.record for c in upgraded.changes] == [new, after]
    assert (upgraded.cursor, upgraded.held) == (6, False)
