"""Membership statements on the server, run against SQLite and PostgreSQL alike: kept in order,
never replaced or gapped, paged by bytes, bounded in size, readable by members only."""

from __future__ import annotations

import secrets
import threading

from sync.protocol import LIMITS, ErrorCode
from tests.helpers.server_client import DeviceClient
from tests.server.conftest import Harness


def statement(version: int, size: int = 200) -> bytes:
    # Not a real MNGS statement on purpose: the server must store whatever an admin signed,
    # byte for byte, without parsing it.
    return f"statement-{version}-".encode() + secrets.token_bytes(size)


def refused(response: object, current: int) -> None:
    assert getattr(response, "status_code", None) == 409, getattr(response, "text", response)
    body = response.json()  # type: ignore[attr-defined]
    assert body["code"] == ErrorCode.STATEMENT_VERSION_INVALID.value
    assert body["current"] == current


def held(client: DeviceClient, space: str) -> list[tuple[int, bytes]]:
    page = client.statements(space)
    assert not page.more
    return [(s.version, s.statement) for s in page.statements]


def test_statements_are_kept_in_order_and_reported_in_every_poll(server: Harness) -> None:
    space, members = server.space_with(reader=1)
    admin, reader = members["admin"][0], members["reader"][0]
    assert reader.sync(pull={space: 0}).spaces[space].statement == 0
    assert reader.statements(space).statements == ()
    blobs = {v: statement(v) for v in (1, 2, 3)}
    for version, blob in blobs.items():
        response = admin.put_statement(space, version, blob)
        assert response.status_code == 201, response.text
        assert admin.body(response)["version"] == version
    assert held(reader, space) == list(blobs.items())
    assert [(s.version, s.statement) for s in reader.statements(space, since=2).statements] == [
        (3, blobs[3])
    ]
    assert reader.statements(space, since=3).statements == ()
    assert reader.statements(space, since=99).statements == ()
    # The poll a client already makes says a new statement exists: no extra round trip.
    page = reader.sync(pull={space: 0}).spaces[space]
    assert (page.statement, page.epoch, page.changes) == (3, 0, ())
    admin.sync(push=[admin.put(space, "r", b"x")])
    assert reader.sync(pull={space: 0}).spaces[space].statement == 3
    listed = reader.body(reader.call("GET", "/v1/spaces"))["spaces"]
    assert listed[0]["statement"] == 3


def test_a_gap_a_replay_or_a_different_blob_is_refused_with_the_current_version(
    server: Harness,
) -> None:
    admin = server.device()
    space = admin.create_space()
    first, second = statement(1), statement(2)
    refused(admin.put_statement(space, 2, second), current=0)  # the first one is version 1
    assert admin.put_statement(space, 1, first).status_code == 201
    refused(admin.put_statement(space, 3, statement(3)), current=1)  # a gap
    refused(admin.put_statement(space, 1, statement(1)), current=1)  # a fork at the current one
    # A retry after a lost answer: the identical blob at the current version is a no-op.
    again = admin.put_statement(space, 1, first)
    assert (again.status_code, admin.body(again)["version"]) == (200, 1)
    assert admin.put_statement(space, 2, second).status_code == 201
    # Replaying an older statement, identical or not, is refused: it is no longer current.
    refused(admin.put_statement(space, 1, first), current=2)
    refused(admin.put_statement(space, 1, statement(1)), current=2)
    assert held(admin, space) == [(1, first), (2, second)]
    assert admin.sync(pull={space: 0}).spaces[space].statement == 2


def test_the_size_limit_is_published_and_enforced(server: Harness) -> None:
    admin = server.device()
    space = admin.create_space()
    info = admin.body(admin.call("GET", "/v1/info", auth=False))
    limit = info["limits"]["max_statement_bytes"]
    assert limit == LIMITS.max_statement_bytes == 256 * 1024
    too_big = admin.put_statement(space, 1, secrets.token_bytes(limit + 1))
    assert (too_big.status_code, too_big.json()["code"]) == (413, "body_too_large")
    empty = admin.put_statement(space, 1, b"")
    assert (empty.status_code, empty.json()["code"]) == (400, "bad_message")
    assert admin.statements(space).statements == ()
    largest = secrets.token_bytes(limit)
    assert admin.put_statement(space, 1, largest).status_code == 201
    assert held(admin, space) == [(1, largest)]


def test_pages_are_cut_by_bytes_and_skip_or_repeat_nothing(server: Harness) -> None:
    admin = server.device()
    space = admin.create_space()
    blobs = {v: statement(v, 300) for v in range(1, 11)}
    blobs[7] = statement(7, 5000)  # larger than the page: still comes through, alone
    for version, blob in blobs.items():
        assert admin.put_statement(space, version, blob).status_code == 201
    since, seen, pages = 0, [], []
    for _ in range(20):
        page = admin.statements(space, since=since, max_bytes=1024)
        versions = [s.version for s in page.statements]
        pages.append(versions)
        assert versions and versions == list(range(since + 1, since + 1 + len(versions)))
        assert len(versions) == 1 or sum(len(s.statement) for s in page.statements) <= 1024
        seen.extend((s.version, s.statement) for s in page.statements)
        since = versions[-1]
        if not page.more:
            break
    assert seen == list(blobs.items())
    assert [7] in pages and len(pages) >= 4
    assert admin.statements(space, since=since).statements == ()
    bad = admin.get_statements(space, max_bytes=10)
    assert (bad.status_code, bad.json()["code"]) == (400, "bad_request")


def test_only_members_read_and_only_admins_write_and_removal_cuts_access(
    server: Harness,
) -> None:
    space, members = server.space_with(editor=1, reader=1)
    admin, editor, reader = members["admin"][0], members["editor"][0], members["reader"][0]
    first = statement(1)
    assert admin.put_statement(space, 1, first).status_code == 201
    for member in (editor, reader):
        denied = member.put_statement(space, 2, statement(2))
        assert (denied.status_code, denied.json()["code"]) == (403, "role_forbidden")
        assert held(member, space) == [(1, first)]
    outsider = server.device()
    assert outsider.get_statements(space).status_code == 404
    assert outsider.put_statement(space, 2, statement(2)).status_code == 404
    assert admin.remove_member(space, reader.device_id).status_code == 204
    gone = reader.get_statements(space)
    assert (gone.status_code, gone.json()["code"]) == (404, "space_not_found")
    assert first not in gone.content
    # An admin demoted to editor loses the right to publish at once.
    assert admin.add_member(space, editor.device_id, "admin").status_code == 200
    assert editor.put_statement(space, 2, statement(2)).status_code == 201
    assert admin.add_member(space, editor.device_id, "editor").status_code == 200
    assert editor.put_statement(space, 3, statement(3)).status_code == 403
    assert [v for v, _ in held(admin, space)] == [1, 2]


def test_two_admins_racing_for_the_next_version_store_exactly_one(server: Harness) -> None:
    space, members = server.space_with(admin=2)  # three admins in all
    admins = members["admin"]
    assert admins[0].put_statement(space, 1, statement(1)).status_code == 201
    blobs = [statement(2) for _ in admins]
    statuses: list[int] = []

    def put(client: DeviceClient, blob: bytes) -> None:
        statuses.append(client.put_statement(space, 2, blob).status_code)

    threads = [threading.Thread(target=put, args=pair) for pair in zip(admins, blobs, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [201, 409, 409]
    [(_, winner)] = held(admins[1], space)[1:]
    assert winner in blobs


def test_versions_in_the_path_are_plain_ascii_numbers(server: Harness) -> None:
    admin = server.device()
    space = admin.create_space()
    # "²" and "١" pass str.isdigit(); the first once made int() raise (a 500), the second
    # would have been read as a number in another script.
    for version in ("%C2%B2", "%D9%A1", "-1", "0", "1.0", "99999999999", "2147483648"):
        for path in (f"statements/{version}", f"keys/{version}", f"statements?since={version}"):
            response = admin.call("PUT" if "?" not in path else "GET", f"/v1/spaces/{space}/{path}")
            if path.startswith("statements?") and version == "0":
                assert response.status_code == 200
                continue
            assert (response.status_code, response.json()["code"]) == (400, "bad_request"), path
