"""A hostile server's answer to the chunk probe (issue 19): it may name chunks never asked
about, claim it holds bytes of a cut upload it never got, or claim to hold a file it does
not. The app never skips a byte because of it: a claimed offset the real storage does not
hold is met with the whole chunk, a malformed answer is refused, and the file that arrives
at another member is the one imported, verified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sync.client.transport import ProtocolViolation
from sync.crypto.stream import CHUNK_SIZE
from sync.protocol import chunk_hash
from tests.helpers.hostile_server import Exchange, HostileServer
from tests.integration.conftest import Server, network_of
from tests.integration.devices import import_evidence, make_with_files, opened, with_files

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True

PROBE = "/chunks/missing"


def _probe(exchange: Exchange) -> bool:
    return exchange.method == "POST" and exchange.route.endswith(PROBE)


@pytest.mark.parametrize("claimed", [1, CHUNK_SIZE // 2, CHUNK_SIZE + 15])
def test_a_claimed_offset_the_server_does_not_hold_costs_a_whole_chunk_not_a_byte_skipped(
    server: Server, make_device: Any, tmp_path: Path, claimed: int
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    with HostileServer(server.url) as hostile:
        with_files(admin, hostile.url)
        evidence = import_evidence(admin, space, tmp_path / "f", 3 * CHUNK_SIZE, "a.pdf")

        def lie(exchange: Exchange) -> dict[str, Any] | None:
            if not _probe(exchange) or exchange.answer is None:
                return None
            missing = exchange.answer["missing"]
            return {**exchange.answer, "offsets": {address: claimed for address in missing}}

        hostile.rewrites.append(lie)
        pushed = admin.sync()
        assert hostile.tampered >= 1 and pushed.rejected == []
        assert pushed.chunks_up == 3
        # Each chunk's tail was tried from the claimed offset (the real server has no such
        # bytes: upload_offset_mismatch), then the whole chunk went.
        puts = [route for method, route in hostile.requests if method == "PUT"]
        assert len(puts) == 3 * 2, puts
    member.sync()
    assert opened(member, evidence.id) == (tmp_path / "f" / "a.pdf").read_bytes()


@pytest.mark.parametrize(
    "answer",
    [
        "names a chunk never asked about",
        "an offset for a chunk it says it holds",
        "an offset past any chunk",
        "a negative offset",
    ],
)
def test_a_malformed_probe_answer_is_refused_and_the_next_honest_sync_sends_the_file(
    server: Server, make_device: Any, tmp_path: Path, answer: str
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    with HostileServer(server.url) as hostile:
        with_files(admin, hostile.url)
        evidence = import_evidence(admin, space, tmp_path / "f", 2 * CHUNK_SIZE, "a.pdf")
        stranger = chunk_hash(b"a chunk of another file")
        first, second = evidence.attachment_chunks[:2]

        def malformed(exchange: Exchange) -> dict[str, Any] | None:
            if not _probe(exchange) or exchange.answer is None:
                return None
            lies = {
                "names a chunk never asked about": {"missing": [first, second, stranger]},
                "an offset for a chunk it says it holds": {
                    "missing": [second],
                    "offsets": {first: 10},
                },
                "an offset past any chunk": {"offsets": {first: 1 << 40}},
                "a negative offset": {"offsets": {first: -1}},
            }
            return {**exchange.answer, **lies[answer]}

        hostile.rewrites.append(malformed)
        with pytest.raises(ProtocolViolation):
            admin.sync()
        # Nothing was taken as held on its word: no chunk went, none is marked held.
        assert [route for method, route in hostile.requests if method == "PUT"] == []
        assert not set(evidence.attachment_chunks) & admin.state.chunks_held(space)
        hostile.rewrites.clear()
        pushed = admin.sync()
        assert pushed.chunks_up == 2 and pushed.rejected == []
    member.sync()
    assert opened(member, evidence.id) == (tmp_path / "f" / "a.pdf").read_bytes()


def test_a_server_claiming_it_holds_a_file_it_lacks_does_not_lose_it_for_good(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """The probe says nothing is missing: the chunks are marked held and the record goes up,
    which the real server refuses (chunk_missing). The file must still reach the others once
    the server answers honestly: the marks made on a lie may not stand."""
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    with HostileServer(server.url) as hostile:
        with_files(admin, hostile.url)
        evidence = import_evidence(admin, space, tmp_path / "f", 2 * CHUNK_SIZE, "a.pdf")

        def all_held(exchange: Exchange) -> dict[str, Any] | None:
            if not _probe(exchange) or exchange.answer is None:
                return None
            return {**exchange.answer, "missing": [], "offsets": {}}

        hostile.rewrites.append(all_held)
        first = admin.engine.sync_once()
        assert first.chunks_up == 0
        assert [r.code for r in first.rejected] == ["chunk_missing"]
        hostile.rewrites.clear()
        again = admin.engine.sync_once()
        assert again.rejected == [] and again.chunks_up == 2
    member.sync()
    assert opened(member, evidence.id) == (tmp_path / "f" / "a.pdf").read_bytes()
