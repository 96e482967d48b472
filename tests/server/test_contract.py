"""The server's storage and sync contract, run against SQLite and PostgreSQL alike.
Every test speaks HTTP through the real app, as a client would."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from sync.protocol import (
    LIMITS,
    ChallengeRequest,
    ErrorCode,
    Mutation,
    MutationStatus,
    Role,
    TokenRequest,
    challenge_statement,
    chunk_hash,
)
from sync.server import schema
from sync.server.auth import revoke_device
from sync.server.chunks import collect_chunks
from sync.server.db import Database
from tests.helpers.server_client import DeviceClient
from tests.server.conftest import Harness, make_harness


def test_enrolled_device_logs_in_and_polls_an_empty_space(server: Harness) -> None:
    device = server.device()
    space = device.create_space()
    response = device.sync(pull={space: 0})
    page = response.spaces[space]
    assert (page.changes, page.cursor, page.more, page.error) == ((), 0, False, None)
    assert response.results == ()


def test_create_and_update_use_compare_and_swap_on_the_base_revision(server: Harness) -> None:
    device = server.device()
    space = device.create_space()
    first = device.sync(push=[device.put(space, "r1", b"v1")]).results[0]
    assert (first.status, first.revision, first.seq) == (MutationStatus.ACCEPTED, 1, 1)
    second = device.sync(push=[device.put(space, "r1", b"v2", base=1)]).results[0]
    assert (second.status, second.revision, second.seq) == (MutationStatus.ACCEPTED, 2, 2)
    changes = device.pull_all(space)
    assert [(c.record, c.revision, c.blob) for c in changes] == [("r1", 2, b"v2")]


def test_a_stale_base_is_a_conflict_carrying_the_servers_sealed_blob(server: Harness) -> None:
    space, members = server.space_with(editor=1)
    alice, bob = members["admin"][0], members["editor"][0]
    alice.sync(push=[alice.put(space, "doc", b"alice-1")])
    alice.sync(push=[alice.put(space, "doc", b"alice-2", base=1)])
    result = bob.sync(push=[bob.put(space, "doc", b"bob-edit", base=1)]).results[0]
    assert result.status is MutationStatus.CONFLICT
    assert result.current is not None
    assert (result.current.blob, result.current.revision) == (b"alice-2", 2)
    assert result.current.author == alice.device_id
    # The conflict changed nothing: bob still reads alice's version.
    assert [c.blob for c in bob.pull_all(space)] == [b"alice-2"]
    # Creating a record that exists is a conflict too, not an overwrite.
    create = bob.sync(push=[bob.put(space, "doc", b"bob-new", base=0)]).results[0]
    assert create.status is MutationStatus.CONFLICT and create.revision == 2


def test_a_resent_push_is_a_no_op_not_a_self_conflict(server: Harness) -> None:
    device = server.device()
    space = device.create_space()
    mutation = device.put(space, "r", b"once", mutation="m-1")
    first = device.sync(push=[mutation]).results[0]
    again = device.sync(push=[mutation]).results[0]
    assert again.status is MutationStatus.ACCEPTED
    assert (again.revision, again.seq) == (first.revision, first.seq)
    assert len(device.pull_all(space)) == 1
    assert device.sync(pull={space: 0}).spaces[space].cursor == 1
    # Still a no-op after someone else's edit moved the record on.
    device.sync(push=[device.put(space, "r", b"twice", base=1)])
    late = device.sync(push=[mutation]).results[0]
    assert (late.status, late.revision) == (MutationStatus.ACCEPTED, 1)
    reused = device.sync(push=[device.put(space, "other", b"x", mutation="m-1")]).results[0]
    assert (reused.status, reused.code) == (MutationStatus.REJECTED, ErrorCode.MUTATION_ID_REUSED)


def test_same_mutation_id_from_two_devices_are_two_mutations(server: Harness) -> None:
    space, members = server.space_with(editor=1)
    a, b = members["admin"][0], members["editor"][0]
    assert a.sync(push=[a.put(space, "ra", b"a", mutation="same")]).results[0].revision == 1
    assert b.sync(push=[b.put(space, "rb", b"b", mutation="same")]).results[0].revision == 1
    assert {c.record for c in a.pull_all(space)} == {"ra", "rb"}


def test_tombstones_are_pulled_and_a_record_can_come_back(server: Harness) -> None:
    space, members = server.space_with(reader=1)
    admin, reader = members["admin"][0], members["reader"][0]
    admin.sync(push=[admin.put(space, "r", b"alive")])
    cursor = reader.sync(pull={space: 0}).spaces[space].cursor
    gone = admin.sync(push=[Mutation("del", space, "r", 1, None, deleted=True)]).results[0]
    assert (gone.status, gone.revision) == (MutationStatus.ACCEPTED, 2)
    page = reader.sync(pull={space: cursor}).spaces[space]
    assert [(c.record, c.deleted, c.blob, c.revision) for c in page.changes] == [
        ("r", True, None, 2)
    ]
    stale = admin.sync(push=[admin.put(space, "r", b"stale", base=1)]).results[0]
    assert stale.status is MutationStatus.CONFLICT and stale.current is not None
    assert stale.current.deleted
    back = admin.sync(push=[admin.put(space, "r", b"again", base=2)]).results[0]
    assert (back.status, back.revision) == (MutationStatus.ACCEPTED, 3)


def test_a_signed_tombstone_blob_travels_with_the_deletion(server: Harness) -> None:
    device = server.device()
    space = device.create_space()
    device.sync(push=[device.put(space, "r", b"x")])
    device.sync(push=[Mutation("d", space, "r", 1, b"signed-delete", deleted=True)])
    [change] = device.pull_all(space)
    assert (change.deleted, change.blob) == (True, b"signed-delete")


def test_pages_are_cut_by_bytes_and_skip_or_repeat_nothing(server: Harness) -> None:
    device = server.device()
    space = device.create_space()
    blobs = {f"r{i:03d}": secrets.token_bytes(700 + i) for i in range(60)}
    batch = [device.put(space, record, blob) for record, blob in blobs.items()]
    assert all(r.status is MutationStatus.ACCEPTED for r in device.sync(push=batch).results)
    cursor, seen, pages = 0, [], 0
    while True:
        page = device.sync(pull={space: cursor}, max_bytes=4096).spaces[space]
        pages += 1
        assert sum(len(c.blob or b"") for c in page.changes) <= 4096
        assert [c.seq for c in page.changes] == sorted(c.seq for c in page.changes)
        seen.extend(page.changes)
        cursor = page.cursor
        if not page.more:
            break
    assert pages >= 10
    assert [c.record for c in seen] == list(blobs)
    assert {c.record: c.blob for c in seen} == blobs
    assert device.sync(pull={space: cursor}).spaces[space].changes == ()


def test_a_blob_larger_than_the_page_still_comes_through(server: Harness) -> None:
    device = server.device()
    space = device.create_space()
    device.sync(push=[device.put(space, "big", b"x" * 50_000), device.put(space, "s", b"y")])
    page = device.sync(pull={space: 0}, max_bytes=1024).spaces[space]
    assert [c.record for c in page.changes] == ["big"] and page.more
    assert [c.record for c in device.pull_all(space, page.cursor, 1024)] == ["s"]


def test_an_updated_record_moves_to_the_end_of_the_feed(server: Harness) -> None:
    device = server.device()
    space = device.create_space()
    device.sync(push=[device.put(space, "a", b"a1"), device.put(space, "b", b"b1")])
    cursor = device.sync(pull={space: 0}).spaces[space].cursor
    device.sync(push=[device.put(space, "a", b"a2", base=1)])
    changes = device.pull_all(space, cursor)
    assert [(c.record, c.blob) for c in changes] == [("a", b"a2")]
    assert [c.record for c in device.pull_all(space)] == ["b", "a"]


def test_concurrent_writers_and_a_paging_reader_never_skip_a_row(server: Harness) -> None:
    space, members = server.space_with(editor=3)
    writers = members["editor"]
    reader = members["admin"][0]
    per_writer, batch = 40, 4
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: dict[str, int] = {}
    seqs: list[int] = []

    def write(client: DeviceClient, index: int) -> None:
        try:
            for start in range(0, per_writer, batch):
                push = [
                    client.put(space, f"w{index}-{n}", f"{index}:{n}".encode())
                    for n in range(start, start + batch)
                ]
                results = client.sync(push=push).results
                assert all(r.status is MutationStatus.ACCEPTED for r in results)
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    def read() -> None:
        cursor = 0
        try:
            for _ in range(5000):
                done = stop.is_set()
                page = reader.sync(pull={space: cursor}, max_bytes=1024).spaces[space]
                for change in page.changes:
                    seqs.append(change.seq)
                    seen[change.record] = change.seq
                cursor = page.cursor
                if done and not page.more:
                    return
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w, i)) for i, w in enumerate(writers)]
    reader_thread = threading.Thread(target=read)
    reader_thread.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    stop.set()
    reader_thread.join(timeout=120)
    assert not errors, errors
    assert len(seen) == len(writers) * per_writer  # every row read...
    assert len(seqs) == len(set(seqs)) == len(seen)  # ...exactly once (no record is rewritten)
    assert seqs == sorted(seqs)
    assert sorted(seqs) == list(range(1, len(seqs) + 1))  # no gaps in the sequence


def test_removal_cuts_access_at_once_even_with_a_live_token(server: Harness) -> None:
    space, members = server.space_with(editor=1)
    admin, editor = members["admin"][0], members["editor"][0]
    blob = secrets.token_bytes(100)
    assert editor.put_chunk(space, blob).status_code == 201
    editor.sync(push=[editor.put(space, "r", b"before")])
    assert admin.remove_member(space, editor.device_id).status_code == 204
    after = editor.sync(push=[editor.put(space, "r2", b"after")], pull={space: 0})
    assert after.results[0].code is ErrorCode.SPACE_NOT_FOUND
    assert after.spaces[space].error is ErrorCode.SPACE_NOT_FOUND
    digest = chunk_hash(blob)
    assert editor.get_chunk(space, digest).status_code == 404
    assert editor.head_chunk(space, digest).status_code == 404
    assert editor.call("GET", f"/v1/spaces/{space}/members").status_code == 404
    assert editor.call("GET", f"/v1/spaces/{space}/keys").status_code == 404
    assert [c.record for c in admin.pull_all(space)] == ["r"]
    listed = editor.body(editor.call("GET", "/v1/spaces"))["spaces"]
    assert listed == []


def test_a_member_may_leave_but_the_last_admin_may_not(server: Harness) -> None:
    space, members = server.space_with(reader=1)
    admin, reader = members["admin"][0], members["reader"][0]
    assert reader.remove_member(space, reader.device_id).status_code == 204
    response = admin.remove_member(space, admin.device_id)
    assert (response.status_code, response.json()["code"]) == (409, "last_admin")
    demote = admin.add_member(space, admin.device_id, "editor")
    assert (demote.status_code, demote.json()["code"]) == (409, "last_admin")


def test_roles_change_what_a_member_may_do(server: Harness) -> None:
    space, members = server.space_with(reader=1)
    admin, reader = members["admin"][0], members["reader"][0]
    denied = reader.sync(push=[reader.put(space, "r", b"x")]).results[0]
    assert (denied.status, denied.code) == (MutationStatus.REJECTED, ErrorCode.ROLE_FORBIDDEN)
    assert admin.add_member(space, reader.device_id, "editor").status_code == 200
    allowed = reader.sync(push=[reader.put(space, "r", b"x")]).results[0]
    assert allowed.status is MutationStatus.ACCEPTED


def test_members_and_their_public_keys_are_published_to_members(server: Harness) -> None:
    space, members = server.space_with(editor=1)
    admin, editor = members["admin"][0], members["editor"][0]
    listed = editor.body(editor.call("GET", f"/v1/spaces/{space}/members"))["members"]
    by_device = {m["device"]: m for m in listed}
    assert by_device[admin.device_id]["role"] == "admin"
    assert by_device[editor.device_id]["sign_key"] == editor.sign_public
    assert by_device[editor.device_id]["box_key"] == editor.box_public


def test_each_device_receives_only_its_own_key_wraps(server: Harness) -> None:
    space, members = server.space_with(editor=1, reader=1)
    admin, editor, reader = members["admin"][0], members["editor"][0], members["reader"][0]
    wraps = {d.device_id: b"wrap-for-" + d.device_id.encode() for d in (admin, editor, reader)}
    response = admin.call("PUT", f"/v1/spaces/{space}/keys/1", {"v": 1, "wraps": wraps})
    assert response.status_code == 200, response.text
    got = editor.body(editor.call("GET", f"/v1/spaces/{space}/keys"))["wraps"]
    assert got == [{"epoch": 1, "issuer": admin.device_id, "wrap": wraps[editor.device_id]}]
    assert editor.sync(pull={space: 0}).spaces[space].epoch == 1
    # Removing the reader and rotating: epoch 2 may not be wrapped for it.
    admin.remove_member(space, reader.device_id)
    refused = admin.call("PUT", f"/v1/spaces/{space}/keys/2", {"v": 1, "wraps": wraps})
    assert (refused.status_code, refused.json()["code"]) == (409, "recipient_not_member")
    del wraps[reader.device_id]
    assert (
        admin.call("PUT", f"/v1/spaces/{space}/keys/2", {"v": 1, "wraps": wraps}).status_code == 200
    )
    since = editor.body(editor.call("GET", f"/v1/spaces/{space}/keys?since=1"))["wraps"]
    assert [w["epoch"] for w in since] == [2]
    skipped = admin.call("PUT", f"/v1/spaces/{space}/keys/5", {"v": 1, "wraps": wraps})
    assert (skipped.status_code, skipped.json()["code"]) == (409, "epoch_invalid")
    as_editor = editor.call("PUT", f"/v1/spaces/{space}/keys/2", {"v": 1, "wraps": wraps})
    assert as_editor.status_code == 403


def test_chunks_upload_resumes_and_download_resumes_by_range(chunk_server: Harness) -> None:
    server = chunk_server
    device = server.device()
    space = device.create_space()
    pieces = [secrets.token_bytes(64 * 1024) for _ in range(4)]
    digests = [chunk_hash(p) for p in pieces]
    # The link dropped after two chunks: HEAD tells the client where to resume.
    for piece in pieces[:2]:
        assert device.put_chunk(space, piece).status_code == 201
    present = [device.head_chunk(space, d).status_code for d in digests]
    assert present == [200, 200, 404, 404]
    assert device.head_chunk(space, digests[0]).headers["content-length"] == str(64 * 1024)
    for piece, status in zip(pieces, present, strict=True):
        if status == 404:
            assert device.put_chunk(space, piece).status_code == 201
    assert device.put_chunk(space, pieces[0]).status_code == 200  # idempotent
    whole = device.get_chunk(space, digests[3])
    assert (whole.status_code, whole.content) == (200, pieces[3])
    part = device.get_chunk(space, digests[3], "bytes=40000-")
    assert part.status_code == 206
    assert part.content == pieces[3][40000:]
    assert part.headers["content-range"] == f"bytes 40000-{64 * 1024 - 1}/{64 * 1024}"
    tail = device.get_chunk(space, digests[3], "bytes=-10")
    assert tail.content == pieces[3][-10:]
    beyond = device.get_chunk(space, digests[3], "bytes=999999-")
    assert (beyond.status_code, beyond.json()["code"]) == (416, "range_not_satisfiable")
    assert beyond.headers["content-range"] == f"bytes */{64 * 1024}"
    for outside in ("bytes=65536-", "bytes=-0", "bytes=70000-70010"):
        refused = device.get_chunk(space, digests[3], outside)
        assert refused.status_code == 416, outside
        assert refused.headers["content-range"] == f"bytes */{64 * 1024}", outside
    # An end past the chunk is cut at its last byte (RFC 9110), not refused.
    clipped = device.get_chunk(space, digests[3], "bytes=65530-99999")
    assert (clipped.status_code, clipped.content) == (206, pieces[3][65530:])
    assert clipped.headers["content-range"] == f"bytes 65530-65535/{64 * 1024}"
    listed = device.body(device.call("GET", "/v1/spaces"))["spaces"]
    assert listed[0]["space"] == space


def test_a_chunk_must_hash_to_its_address_and_fit_the_limits(chunk_server: Harness) -> None:
    server = chunk_server
    device = server.device()
    space = device.create_space()
    data = b"ciphertext"
    wrong = device.call("PUT", f"/v1/spaces/{space}/chunks/{'0' * 64}", content=data)
    assert (wrong.status_code, wrong.json()["code"]) == (400, "chunk_hash_mismatch")
    assert device.head_chunk(space, "0" * 64).status_code == 404
    # A chunk someone else stored cannot be replaced by other bytes claiming its address.
    good = device.put_chunk(space, data)
    assert good.status_code == 201
    forged = device.call("PUT", f"/v1/spaces/{space}/chunks/{chunk_hash(data)}", content=b"evil")
    assert (forged.status_code, forged.json()["code"]) == (400, "chunk_hash_mismatch")
    assert device.get_chunk(space, chunk_hash(data)).content == data
    assert [c.digest for c in server.app.state.minga.store.listing()] == [chunk_hash(data)]
    big = b"x" * (1024 * 1024 + 1)
    too_big = device.put_chunk(space, big)
    assert (too_big.status_code, too_big.json()["code"]) == (413, "body_too_large")
    assert device.head_chunk(space, chunk_hash(big)).status_code == 404


def test_space_quota_limits_chunk_bytes(
    backend_db: tuple[str, Database], store_settings: dict[str, str], tmp_path: Path
) -> None:
    backend, db = backend_db
    harness = make_harness(backend, db, tmp_path / "q", space_quota_bytes=100_000, **store_settings)
    with harness.http:
        device = harness.device()
        space = device.create_space()
        assert device.put_chunk(space, secrets.token_bytes(60_000)).status_code == 201
        over = device.put_chunk(space, secrets.token_bytes(60_000))
        assert (over.status_code, over.json()["code"]) == (409, "quota_exceeded")
        assert device.put_chunk(space, secrets.token_bytes(30_000)).status_code == 201
        # The refused chunk left nothing behind in the store: two chunks, 90,000 bytes.
        stored = list(harness.app.state.minga.store.listing())
        assert len(stored) == 2


def test_chunks_of_deleted_records_make_room_under_the_quota_after_the_short_grace(
    backend_db: tuple[str, Database], store_settings: dict[str, str], tmp_path: Path
) -> None:
    """A deleted file's chunks are kept 30 days (released_chunk_grace_seconds) in case the
    deletion is undone; before, they also kept counting against the quota all that time, so a
    group that deleted files to make room could add nothing for a month (before migration
    0009 they went at the next collection). Past the short grace they yield to a new upload,
    the oldest release first; within it, and while a record names them, they do not."""
    backend, db = backend_db
    harness = make_harness(backend, db, tmp_path / "q", space_quota_bytes=100_000, **store_settings)
    grace = harness.settings.chunk_grace_seconds
    with harness.http:
        device = harness.device()
        space = device.create_space()
        old, kept = secrets.token_bytes(50_000), secrets.token_bytes(30_000)
        for data in (old, kept):
            assert device.put_chunk(space, data).status_code == 201
        named = [chunk_hash(old), chunk_hash(kept)]
        device.sync(push=[Mutation("m1", space, "old", 0, b"s", chunks=(named[0],))])
        device.sync(push=[Mutation("m2", space, "kept", 0, b"s", chunks=(named[1],))])
        device.sync(push=[Mutation("m3", space, "old", 1, None, deleted=True)])
        new = secrets.token_bytes(40_000)
        early = device.put_chunk(space, new)  # released a moment ago: an undo may come
        assert (early.status_code, early.json()["code"]) == (409, "quota_exceeded")
        harness.clock.advance(grace + 10)
        device.login()
        assert device.put_chunk(space, new).status_code == 201
        assert device.head_chunk(space, chunk_hash(old)).status_code == 404
        assert not harness.app.state.minga.store.exists(space, chunk_hash(old))
        assert device.get_chunk(space, chunk_hash(kept)).content == kept  # named: stays
        full = device.put_chunk(space, secrets.token_bytes(40_000))  # nothing left to yield
        assert (full.status_code, full.json()["code"]) == (409, "quota_exceeded")
        stored = sorted(c.digest for c in harness.app.state.minga.store.listing())
        assert stored == sorted([chunk_hash(kept), chunk_hash(new)])
        with db.read() as conn:
            used = conn.execute(
                select(schema.space.c.chunk_bytes).where(schema.space.c.id == space)
            ).scalar_one()
        assert used == 70_000


def test_records_reference_chunks_that_exist_and_unreferenced_ones_are_collected(
    chunk_server: Harness,
) -> None:
    server = chunk_server
    device = server.device()
    space = device.create_space()
    kept, dropped = secrets.token_bytes(1000), secrets.token_bytes(1000)
    missing = device.sync(
        push=[Mutation("m1", space, "att", 0, b"sealed", chunks=(chunk_hash(kept),))]
    ).results[0]
    assert (missing.status, missing.code) == (MutationStatus.REJECTED, ErrorCode.CHUNK_MISSING)
    assert missing.missing == (chunk_hash(kept),)
    device.put_chunk(space, kept)
    device.put_chunk(space, dropped)
    ok = device.sync(push=[Mutation("m2", space, "att", 0, b"sealed", chunks=(chunk_hash(kept),))])
    assert ok.results[0].status is MutationStatus.ACCEPTED
    store = server.app.state.minga.store
    grace = server.settings.chunk_grace_seconds
    # Within the grace period nothing goes: the client may be about to push the record.
    collect_chunks(server.db, store, int(server.clock()), grace)
    assert device.head_chunk(space, chunk_hash(dropped)).status_code == 200
    server.clock.advance(grace + 10)
    device.login()
    collect_chunks(server.db, store, int(server.clock()), grace)
    assert device.head_chunk(space, chunk_hash(dropped)).status_code == 404
    assert device.get_chunk(space, chunk_hash(kept)).content == kept
    assert not store.exists(space, chunk_hash(dropped))
    assert store.exists(space, chunk_hash(kept))
    # Deleting the record releases its chunk too, but only after the longer grace of a chunk
    # a record let go of: an edit that beats the deletion may bring the file back meanwhile.
    device.sync(push=[Mutation("m3", space, "att", 1, None, deleted=True)])
    released = server.settings.released_chunk_grace_seconds
    assert released > grace
    server.clock.advance(grace + 10)
    device.login()
    collect_chunks(server.db, store, int(server.clock()), grace, released_grace=released)
    assert device.get_chunk(space, chunk_hash(kept)).content == kept
    # Brought back within it (the record again, naming the chunk), then let go of again: the
    # longer grace counts from the new release, however old the chunk itself is.
    again = device.sync(push=[Mutation("m4", space, "att", 2, b"back", chunks=(chunk_hash(kept),))])
    assert again.results[0].status is MutationStatus.ACCEPTED
    server.clock.advance(released)
    device.login()
    device.sync(push=[Mutation("m5", space, "att", 3, None, deleted=True)])
    server.clock.advance(released - 10)
    device.login()
    collect_chunks(server.db, store, int(server.clock()), grace, released_grace=released)
    assert device.get_chunk(space, chunk_hash(kept)).status_code == 200  # a read, not a HEAD
    server.clock.advance(20)
    device.login()
    collect_chunks(server.db, store, int(server.clock()), grace, released_grace=released)
    assert device.head_chunk(space, chunk_hash(kept)).status_code == 404
    assert not store.exists(space, chunk_hash(kept))


def test_one_round_trip_carries_several_spaces_and_keeps_them_apart(server: Harness) -> None:
    space_a, members = server.space_with()
    admin = members["admin"][0]
    space_b = admin.create_space()
    outsider_space, _ = server.space_with()
    response = admin.sync(
        push=[
            admin.put(space_a, "r", b"in-a"),
            admin.put(space_b, "r", b"in-b"),
            admin.put(outsider_space, "r", b"nope"),
        ],
        pull={space_a: 0, space_b: 0, outsider_space: 0},
    )
    statuses = [(r.status, r.code) for r in response.results]
    assert statuses == [
        (MutationStatus.ACCEPTED, None),
        (MutationStatus.ACCEPTED, None),
        (MutationStatus.REJECTED, ErrorCode.SPACE_NOT_FOUND),
    ]
    # The pushed versions are not echoed (the results carry them); the cursors move past them.
    assert response.spaces[space_a].changes == () and response.spaces[space_a].cursor == 1
    assert response.spaces[space_b].changes == () and response.spaces[space_b].cursor == 1
    assert response.spaces[outsider_space].error is ErrorCode.SPACE_NOT_FOUND
    assert [c.blob for c in admin.pull_all(space_a)] == [b"in-a"]
    assert [c.blob for c in admin.pull_all(space_b)] == [b"in-b"]


def test_tokens_expire_and_can_be_revoked(server: Harness) -> None:
    device = server.device()
    assert device.call("GET", "/v1/spaces").status_code == 200
    server.clock.advance(server.settings.token_ttl + 1)
    expired = device.call("GET", "/v1/spaces")
    assert (expired.status_code, expired.json()["code"]) == (401, "token_expired")
    device.login()
    assert device.call("POST", "/v1/auth/revoke").status_code == 204
    revoked = device.call("GET", "/v1/spaces")
    assert (revoked.status_code, revoked.json()["code"]) == (401, "token_invalid")


def test_a_revoked_device_loses_its_live_token_and_cannot_log_in(server: Harness) -> None:
    device = server.device()
    assert revoke_device(server.db, device.device_id, int(server.clock()))
    response = device.call("GET", "/v1/spaces")
    assert response.status_code == 401
    challenge = device.call(
        "POST", "/v1/auth/challenge", ChallengeRequest(device.device_id).to_wire(), auth=False
    )
    assert (challenge.status_code, challenge.json()["code"]) == (401, "device_revoked")


def test_challenges_are_single_use_and_must_be_signed_by_the_device(server: Harness) -> None:
    device = server.device(login=False)
    impostor = DeviceClient(server.http)

    def challenge() -> bytes:
        response = device.call(
            "POST", "/v1/auth/challenge", ChallengeRequest(device.device_id).to_wire(), auth=False
        )
        return bytes(device.body(response)["challenge"])

    nonce = challenge()
    forged = impostor.sign_key.sign(challenge_statement(nonce, device.device_id))
    bad = device.call(
        "POST",
        "/v1/auth/token",
        TokenRequest(device.device_id, nonce, forged).to_wire(),
        auth=False,
    )
    assert (bad.status_code, bad.json()["code"]) == (401, "signature_invalid")
    # A forged answer writes nothing and spends nothing (challenges are stateless): the device's
    # own signature still works, once; the same answer again is refused, as is a challenge
    # issued for another device.
    good = device.sign_key.sign(challenge_statement(nonce, device.device_id))
    first = device.call(
        "POST", "/v1/auth/token", TokenRequest(device.device_id, nonce, good).to_wire(), auth=False
    )
    assert first.status_code == 200
    late = device.call(
        "POST", "/v1/auth/token", TokenRequest(device.device_id, nonce, good).to_wire(), auth=False
    )
    assert (late.status_code, late.json()["code"]) == (401, "challenge_invalid")
    other = server.device(login=False)
    theirs = device.call(
        "POST", "/v1/auth/challenge", ChallengeRequest(other.device_id).to_wire(), auth=False
    )
    moved = bytes(device.body(theirs)["challenge"])
    signed = device.sign_key.sign(challenge_statement(moved, device.device_id))
    swapped = device.call(
        "POST",
        "/v1/auth/token",
        TokenRequest(device.device_id, moved, signed).to_wire(),
        auth=False,
    )
    assert (swapped.status_code, swapped.json()["code"]) == (401, "challenge_invalid")
    nonce = challenge()
    server.clock.advance(server.settings.challenge_ttl + 1)
    good = device.sign_key.sign(challenge_statement(nonce, device.device_id))
    expired = device.call(
        "POST", "/v1/auth/token", TokenRequest(device.device_id, nonce, good).to_wire(), auth=False
    )
    assert expired.json()["code"] == "challenge_invalid"
    assert device.login()


def test_invites_work_once_before_they_expire_and_grant_their_spaces(server: Harness) -> None:
    space = server.operator_space()
    code = server.operator_invite([(space, Role.READER)])
    first = DeviceClient(server.http)
    joined = first.body(first.enroll(code))
    assert joined["spaces"] == [{"space": space, "role": "reader"}]
    assert joined["device"] == first.device_id
    second = DeviceClient(server.http).enroll(code)
    assert (second.status_code, second.json()["code"]) == (403, "invite_invalid")
    again = first.enroll(server.operator_invite())
    assert (again.status_code, again.json()["code"]) == (409, "device_exists")
    old = server.operator_invite(ttl=60)
    server.clock.advance(61)
    assert DeviceClient(server.http).enroll(old).json()["code"] == "invite_invalid"
    # A code is read aloud: lower case and missing dashes still work.
    relaxed = server.operator_invite().replace("-", "").lower()
    assert DeviceClient(server.http).enroll(relaxed).status_code == 201


def test_an_admin_invites_a_device_into_a_space(server: Harness) -> None:
    space, members = server.space_with(editor=1)
    admin, editor = members["admin"][0], members["editor"][0]
    response = admin.call("POST", f"/v1/spaces/{space}/invites", {"v": 1, "role": "editor"})
    assert response.status_code == 201
    newcomer = DeviceClient(server.http)
    assert newcomer.enroll(admin.body(response)["invite"]).status_code == 201
    newcomer.login()
    assert newcomer.sync(push=[newcomer.put(space, "n", b"x")]).results[0].revision == 1
    denied = editor.call("POST", f"/v1/spaces/{space}/invites", {"v": 1, "role": "admin"})
    assert denied.status_code == 403


def test_enrollment_and_challenges_are_rate_limited(server: Harness) -> None:
    # The limiter's sliding minute counts the last window's attempts in proportion to the part
    # of it still inside the minute, so what a minute's wait gives back depends on where in its
    # window the clock stands. The harness clock starts at the wall clock's time: set it half
    # way into a window instead, so the wait below always frees room for two enrollments (in
    # the first 5 s of a minute it left room for one, and the second device was refused).
    server.clock.advance(_seconds_to_half_past(server.clock()))
    limit = server.settings.enroll_per_minute
    codes = [
        DeviceClient(server.http).enroll("AAAA-" * 7 + "AAAA").status_code for _ in range(limit + 2)
    ]
    assert codes[:limit] == [403] * limit
    assert codes[limit:] == [429, 429]
    server.clock.advance(61)
    assert server.device(login=False).login()
    device = server.device(login=False)
    statuses = [
        device.call(
            "POST", "/v1/auth/challenge", ChallengeRequest(device.device_id).to_wire(), auth=False
        ).status_code
        for _ in range(server.settings.challenges_per_minute + 1)
    ]
    assert statuses[-1] == 429 and statuses[0] == 200


def _seconds_to_half_past(now: float) -> float:
    """How far to move a clock at ``now`` forward to the middle of the next limiter window."""
    return (now // 60 + 1) * 60 + 30 - now


def test_a_space_id_cannot_be_taken_twice(server: Harness) -> None:
    device = server.device()
    name = "space-" + secrets.token_hex(4)
    assert device.create_space(name) == name
    again = server.device().call("POST", "/v1/spaces", {"v": 1, "space": name})
    assert (again.status_code, again.json()["code"]) == (409, "space_exists")


@pytest.mark.parametrize("path", ["/v1/info"])
def test_info_publishes_the_protocol_version_and_limits(server: Harness, path: str) -> None:
    client = DeviceClient(server.http)
    info = client.body(client.call("GET", path, auth=False))
    assert info["v"] == 1
    assert info["limits"]["max_mutations"] == 500


def test_the_openapi_document_lists_the_api(server: Harness) -> None:
    document = server.http.get("/openapi.json").json()
    assert {"/v1/sync", "/v1/enroll", "/v1/spaces/{space_id}/chunks/{digest}"} <= set(
        document["paths"]
    )


def test_an_unexpected_failure_is_a_500_whose_log_holds_no_payload(
    server: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    device = server.device()
    space = device.create_space()
    secret = b"PAYLOAD-" + secrets.token_hex(8).encode()
    # Break the database under the server (an operator's mistake, not bad input): the insert
    # fails with an error whose text would quote the SQL parameters, i.e. the sealed blob.
    with server.db.write() as conn:
        conn.exec_driver_sql("ALTER TABLE applied_mutation RENAME TO applied_mutation_moved")
    try:
        response = device.sync_raw(push=[device.put(space, "r", secret)])
    finally:
        with server.db.write() as conn:
            conn.exec_driver_sql("ALTER TABLE applied_mutation_moved RENAME TO applied_mutation")
    assert (response.status_code, response.json()["code"]) == (500, "internal")
    assert "unexpected" in caplog.text
    assert secret.decode() not in caplog.text
    assert device.pull_all(space) == []  # and nothing was half-written


def test_the_same_push_sent_twice_at_once_lands_once(server: Harness) -> None:
    # A client retrying over a flaky link may have its first attempt still in flight.
    device = server.device()
    space = device.create_space()
    mutations = [device.put(space, f"r{n}", b"x", mutation=f"m{n}") for n in range(20)]
    answers: list[list[tuple[int | None, int | None]]] = []

    def send() -> None:
        results = device.sync(push=mutations).results
        answers.append([(r.revision, r.seq) for r in results])

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(answers) == 2 and answers[0] == answers[1]
    assert [c.record for c in device.pull_all(space)] == [f"r{n}" for n in range(20)]


def test_one_invite_enrolls_one_device_even_when_raced(server: Harness) -> None:
    code = server.operator_invite()
    statuses: list[int] = []

    def enroll() -> None:
        statuses.append(DeviceClient(server.http).enroll(code).status_code)

    threads = [threading.Thread(target=enroll) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [201, 403, 403, 403]


def test_a_push_is_not_echoed_in_its_own_pull_but_others_changes_are(server: Harness) -> None:
    space, members = server.space_with(editor=1)
    alice, bob = members["admin"][0], members["editor"][0]
    bob.sync(push=[bob.put(space, "bob-1", b"from bob")])
    response = alice.sync(
        push=[alice.put(space, "a-1", b"one"), alice.put(space, "a-2", b"two")], pull={space: 0}
    )
    seqs = sorted(r.seq for r in response.results)
    page = response.spaces[space]
    # Bob's change comes down; alice's two, whose revisions the results carry, do not, and
    # the cursor still moves past them so the next poll is empty.
    assert [c.record for c in page.changes] == ["bob-1"]
    assert page.cursor == seqs[-1] and page.more is False
    assert alice.sync(pull={space: page.cursor}).spaces[space].changes == ()
    # A later plain pull (another device of alice's restored, say) still gets everything.
    assert sorted(c.record for c in alice.pull_all(space)) == ["a-1", "a-2", "bob-1"]


def test_a_cut_upload_resumes_at_its_offset_and_only_for_its_device(server: Harness) -> None:
    space, members = server.space_with(editor=1)
    device, other = members["admin"][0], members["editor"][0]
    data = secrets.token_bytes(64 * 1024)
    digest = chunk_hash(data)
    path = f"/v1/spaces/{space}/chunks/{digest}"
    partials = server.app.state.minga.partials
    # What a PUT cut after 40,000 bytes leaves (the cut itself: tests/integration).
    partials.keep(space, device.device_id, digest, data[:40000])
    asked = device.head_chunk(space, digest)
    assert (asked.status_code, asked.headers["upload-offset"]) == (404, "40000")
    # Another device sees the chunk missing, with nothing of this device's bytes to resume.
    assert "upload-offset" not in other.head_chunk(space, digest).headers
    stale = other.call("PUT", path, content=data[40000:], headers={"upload-offset": "40000"})
    assert (stale.status_code, stale.json()["code"]) == (409, "upload_offset_mismatch")
    # An offset past what arrived is refused and says where the kept bytes end.
    wrong = device.call("PUT", path, content=data[50000:], headers={"upload-offset": "50000"})
    assert (wrong.status_code, wrong.headers["upload-offset"]) == (409, "40000")
    # The rest completes the chunk, hashed whole (from any offset up to what arrived).
    done = device.call("PUT", path, content=data[30000:], headers={"upload-offset": "30000"})
    assert done.status_code == 201
    assert device.get_chunk(space, digest).content == data
    # Tampered rest: the whole does not hash to the address, nothing is stored, nothing kept.
    other_data = secrets.token_bytes(64 * 1024)
    other_digest = chunk_hash(other_data)
    partials.keep(space, device.device_id, other_digest, other_data[:1000])
    forged = device.call(
        "PUT",
        f"/v1/spaces/{space}/chunks/{other_digest}",
        content=b"x" * (64 * 1024 - 1000),
        headers={"upload-offset": "1000"},
    )
    assert (forged.status_code, forged.json()["code"]) == (400, "chunk_hash_mismatch")
    assert device.head_chunk(space, other_digest).status_code == 404
    assert "upload-offset" not in device.head_chunk(space, other_digest).headers
    # The bound holds for the whole: kept bytes plus the rest at most max_chunk_bytes.
    partials.keep(space, device.device_id, other_digest, b"y" * 1000)
    big = device.call(
        "PUT",
        f"/v1/spaces/{space}/chunks/{other_digest}",
        content=b"y" * (1024 * 1024),
        headers={"upload-offset": "1000"},
    )
    assert (big.status_code, big.json()["code"]) == (413, "body_too_large")
    for bad in ("0", "-5", "1e3", "²"):
        malformed = device.call("PUT", path, content=b"z", headers={"upload-offset": bad.encode()})
        assert malformed.status_code == 400, bad


def test_one_request_says_which_of_a_files_chunks_are_missing(server: Harness) -> None:
    space, members = server.space_with(editor=1)
    device, other = members["admin"][0], members["editor"][0]
    stored = [secrets.token_bytes(100) for _ in range(3)]
    for data in stored:
        assert device.put_chunk(space, data).status_code == 201
    absent = [chunk_hash(secrets.token_bytes(100)) for _ in range(2)]
    asked = [absent[0], chunk_hash(stored[0]), absent[1], chunk_hash(stored[2]), absent[0]]
    answer = device.missing_chunks(space, asked)
    assert answer.status_code == 200
    body = device.body(answer)
    # In the order asked, each once; nothing of what is stored.
    assert (body["missing"], body["offsets"]) == (absent, {})
    # What arrived of this device's cut upload is told to it, and only to it.
    partials = server.app.state.minga.partials
    partials.keep(space, device.device_id, absent[1], b"x" * 4000)
    assert device.body(device.missing_chunks(space, absent))["offsets"] == {absent[1]: 4000}
    assert other.body(other.missing_chunks(space, absent))["offsets"] == {}
    # A stored chunk that was asked about is kept through collection's grace, as after a HEAD.
    grace = server.settings.chunk_grace_seconds
    server.clock.advance(grace - 5)
    device.login()
    assert device.missing_chunks(space, [chunk_hash(stored[1])]).status_code == 200
    server.clock.advance(10)
    device.login()
    collect_chunks(server.db, server.app.state.minga.store, int(server.clock()), grace)
    assert device.head_chunk(space, chunk_hash(stored[1])).status_code == 200
    assert device.head_chunk(space, chunk_hash(stored[0])).status_code == 404
    # Bounded: more addresses than a record may name, none, or not addresses, are refused.
    too_many = [chunk_hash(str(i).encode()) for i in range(LIMITS.max_chunk_refs + 1)]
    for chunks in (too_many, [], ["not-a-hash"]):
        path = f"/v1/spaces/{space}/chunks/missing"
        refused = device.call("POST", path, {"v": 1, "chunks": chunks})
        assert refused.status_code in (400, 413), (len(chunks), refused.text)
