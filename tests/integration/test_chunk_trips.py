"""Fewer round trips for files (issue 19): a file's chunks are asked about in one request, not
a HEAD each, and one sync's files share their connections instead of opening a window of them
per file. Counted on the wire (requests sent, connections the link accepted), never timed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from desktop.domain.records import Incident
from sync.client.chunks import MAX_WINDOW
from sync.crypto.stream import CHUNK_SIZE
from tests.helpers.link import Link, LinkProfile
from tests.integration.conftest import Server, network_of
from tests.integration.devices import import_evidence, make_with_files, opened, with_files

CHUNKS = 12  # more than one window of HEADs (8) asked before


def test_a_files_chunks_are_asked_about_in_one_request(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    admin.sync()
    # What the two records cost without a file: the sync request itself.
    admin.records.save(Incident(space_id=space, title="Without a file"))
    admin.records.save(Incident(space_id=space, title="Another"))
    plain = admin.sync().requests
    evidence = import_evidence(admin, space, tmp_path / "f", CHUNKS * CHUNK_SIZE - 100, "a.pdf")
    assert len(evidence.attachment_chunks) == CHUNKS
    pushed = admin.sync()
    assert pushed.chunks_up == CHUNKS
    # One probe and a PUT per chunk beside the sync (before: a HEAD per chunk of the first
    # window, eight more requests and four more round trips on the way).
    assert pushed.requests == plain + 1 + CHUNKS, pushed.requests
    assert admin.engine.chunks is not None and admin.engine.chunks.report.heads == 0
    member.sync()
    assert opened(member, evidence.id) == (tmp_path / "f" / "a.pdf").read_bytes()


def test_one_syncs_files_share_their_connections(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    port = int(server.url.rsplit(":", 1)[1])
    fast = LinkProfile(40_000_000, 40_000_000)
    with (
        Link(("127.0.0.1", port), fast, max_lifetime=120) as up,
        Link(("127.0.0.1", port), fast, max_lifetime=120) as down,
    ):
        with_files(admin, up.url).sync()
        with_files(member, down.url).sync()
        files = [
            import_evidence(admin, space, tmp_path / "f", CHUNKS * CHUNK_SIZE, f"{n}.mp4")
            for n in range(3)
        ]
        before = up.counts.connections
        assert admin.sync().chunks_up == 3 * CHUNKS
        opened_up = up.counts.connections - before
        before = down.counts.connections
        assert member.sync().files_received == 3
        opened_down = down.counts.connections - before
        # Closed once the sync ends: a server counts an address's connections.
        assert admin.engine.transport._lanes == [] and member.engine.transport._lanes == []
    # At most one window of lanes for all three files (before: a window's worth per file,
    # each new connection a handshake's round trip before its first chunk).
    assert opened_up <= MAX_WINDOW, opened_up
    assert opened_down <= MAX_WINDOW, opened_down
    for evidence in files:
        assert opened(member, evidence.id) == opened(admin, evidence.id)


def test_a_person_asking_for_one_file_gets_its_connections_closed_after(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    evidence = import_evidence(admin, space, tmp_path / "f", 3 * CHUNK_SIZE, "scan.pdf")
    admin.sync()
    member.engine.fetch_attachments = False
    member.sync()
    chunks = member.engine.chunks
    assert chunks is not None
    [ref] = member.state.wanted_attachments(5)
    assert chunks.download(ref)
    assert member.engine.transport._lanes == []
    assert opened(member, evidence.id) == (tmp_path / "f" / "scan.pdf").read_bytes()
