"""Batches on the server (PROTOCOL.md §13), on SQLite and PostgreSQL: per-record compare-and-
swap inside a batch, only the signer may push it, compactions only of current versions (and
only one's own, unless an admin vouches), old batches dropped once nothing points at them, and
clients that do not ask for batches served as before."""

from __future__ import annotations

import secrets
from typing import Any

from sync.crypto.batch import BatchKind, read_batch_header
from sync.protocol import ErrorCode, MutationStatus, SyncRequest, SyncResponse
from tests.helpers.server_client import DeviceClient, batch_blob, push_batch, sealed_blob
from tests.server.conftest import Harness


def _ids(count: int) -> list[str]:
    return [secrets.token_hex(16) for _ in range(count)]


def _keyed(admin: DeviceClient, space: str, devices: list[DeviceClient]) -> None:
    wraps = {d.device_id: b"wrap" for d in devices}
    response = admin.call("PUT", f"/v1/spaces/{space}/keys/1", {"v": 1, "wraps": wraps})
    assert response.status_code == 200, response.text


def _pull(client: DeviceClient, space: str, cursor: int = 0, batches: bool = True) -> Any:
    request = SyncRequest(pull={space: cursor}, batches=batches)
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
