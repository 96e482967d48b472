"""A server that answers a chunk's resuming ``Range`` wrongly: from another offset than asked,
with more bytes than its range says, or with fewer. The client names it (a protocol
violation), keeps only the right bytes it had, stores nothing, and the next sync with an honest
server resumes from them (the real server, real profiles, the hostile relay in between)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sync.client.transport import ProtocolViolation
from sync.crypto.stream import CHUNK_SIZE
from sync.protocol import CHUNK_MEDIA_TYPE
from tests.helpers.hostile_server import HostileServer
from tests.integration.conftest import Server, network_of
from tests.integration.devices import import_evidence, make_with_files, opened, with_files

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True

#: Bytes of the first chunk the device holds from an earlier cut (what it asks a Range after).
HELD = 20_000
#: Bytes a wrong answer has too many or too few.
OFF = 5_000

Answer = tuple[int, dict[str, str], bytes]


@pytest.fixture
def hostile(server: Server) -> Iterator[HostileServer]:
    with HostileServer(server.url) as relay:
        yield relay


def _range_asked(headers: dict[str, str]) -> bool:
    return any(name.lower() == "range" for name in headers)


def _from_elsewhere(chunk: bytes, real: requests.Response) -> Answer:
    """The whole chunk from byte 0, as a 206 that says so (the asked start ignored)."""
    end = len(chunk) - 1
    return 206, {"Content-Range": f"bytes 0-{end}/{len(chunk)}"}, chunk


def _more(chunk: bytes, real: requests.Response) -> Answer:
    """The right range, its right header, and bytes past its end."""
    return 206, {"Content-Range": real.headers["content-range"]}, real.content + b"\0" * OFF


def _fewer(chunk: bytes, real: requests.Response) -> Answer:
    """The right range's header, but a body that stops short of its end (declared so)."""
    return 206, {"Content-Range": real.headers["content-range"]}, real.content[:-OFF]


@pytest.mark.parametrize("wrong", [_from_elsewhere, _more, _fewer], ids=lambda f: f.__name__)
def test_a_wrong_range_answer_is_named_and_nothing_wrong_is_kept(
    server: Server,
    hostile: HostileServer,
    make_device: Any,
    tmp_path: Path,
    wrong: Callable[[bytes, requests.Response], Answer],
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    evidence = import_evidence(admin, space, tmp_path / "f", 3 * CHUNK_SIZE, "recording.ogg")
    admin.sync()
    member.engine.fetch_attachments = False
    member.sync()
    [ref] = member.state.wanted_attachments(10)
    chunk = admin.state.sealed_chunk(ref, 0)
    assert chunk is not None
    # What a cut left: the first bytes of the first chunk, saved as received.
    member.state.save_received(space, ref.chunks[0], chunk[:HELD], False)

    def answer(method: str, headers: dict[str, str], real: requests.Response) -> Answer | None:
        if method != "GET" or not _range_asked(headers) or real.status_code != 206:
            return None
        status, extra, body = wrong(chunk, real)
        return status, {"Content-Type": CHUNK_MEDIA_TYPE, **extra}, body

    hostile.chunk_answer = answer
    with_files(member, hostile.url)
    with pytest.raises(ProtocolViolation, match="range"):
        member.sync()
    # Nothing wrong kept: the chunk's bytes held are still a prefix of the real chunk, and the
    # file is not in the vault.
    held = member.state.received(space, ref.chunks[0])
    assert held is not None and len(held[0]) >= HELD and chunk.startswith(held[0])
    assert [r.ref for r in member.state.wanted_attachments(10)] == [ref.ref]
    # The honest server then resumes from them: the bytes held are not fetched again.
    with_files(member, server.url)
    report = member.sync()
    assert report.files_received == 1 and not report.attachments_refused
    assert report.chunk_bytes_down <= 3 * len(chunk) - HELD
    assert opened(member, evidence.id) == (tmp_path / "f" / "recording.ogg").read_bytes()


def _held_wrong(chunk: bytes) -> bytes:
    """Bytes held that are not the chunk's (a damaged partial, or one a broken proxy gave)."""
    return bytes(b ^ 0xFF for b in chunk[:HELD])


@pytest.mark.parametrize("fault", ["prefix_held_wrong", "ranged_answer_wrong"])
def test_a_resumed_chunk_that_does_not_match_is_fetched_whole_once(
    server: Server, hostile: HostileServer, make_device: Any, tmp_path: Path, fault: str
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    evidence = import_evidence(admin, space, tmp_path / "f", 3 * CHUNK_SIZE, "recording.ogg")
    admin.sync()
    member.engine.fetch_attachments = False
    member.sync()
    [ref] = member.state.wanted_attachments(10)
    chunk = admin.state.sealed_chunk(ref, 0)
    assert chunk is not None
    if fault == "prefix_held_wrong":
        member.state.save_received(space, ref.chunks[0], _held_wrong(chunk), False)
    else:
        member.state.save_received(space, ref.chunks[0], chunk[:HELD], False)

        def answer(method: str, headers: dict[str, str], real: requests.Response) -> Answer | None:
            # A proxy that damages ranged answers only: the right range, one byte flipped.
            if method != "GET" or not _range_asked(headers) or real.status_code != 206:
                return None
            body = bytes([real.content[0] ^ 1]) + real.content[1:]
            extra = {"Content-Range": real.headers["content-range"]}
            return 206, {"Content-Type": CHUNK_MEDIA_TYPE, **extra}, body

        hostile.chunk_answer = answer
    with_files(member, hostile.url)
    report = member.sync()
    # The chunk was resumed on bytes held, so those may be what is wrong: it is fetched whole
    # once (no Range) before the file would be refused, and the file arrives in this sync;
    # the other chunks, verified, are not fetched again.
    assert report.files_received == 1 and not report.attachments_refused
    assert report.chunk_bytes_down <= 4 * len(chunk) - HELD
    assert opened(member, evidence.id) == (tmp_path / "f" / "recording.ogg").read_bytes()


def test_a_chunk_wrong_even_whole_refuses_the_file_and_stores_nothing(
    server: Server, hostile: HostileServer, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    import_evidence(admin, space, tmp_path / "f", 3 * CHUNK_SIZE, "recording.ogg")
    admin.sync()
    member.engine.fetch_attachments = False
    member.sync()
    [ref] = member.state.wanted_attachments(10)
    chunk = admin.state.sealed_chunk(ref, 0)
    assert chunk is not None
    member.state.save_received(space, ref.chunks[0], chunk[:HELD], False)
    asked: list[str] = []

    def answer(method: str, headers: dict[str, str], real: requests.Response) -> Answer | None:
        # A server whose every answer for the first chunk is damaged, ranged or whole.
        if method != "GET" or real.status_code not in (200, 206) or real.content[:1] == b"":
            return None
        if not (chunk.endswith(real.content)):
            return None
        asked.append(headers.get("Range", "whole"))
        extra = {k: v for k, v in real.headers.items() if k.lower() == "content-range"}
        body = bytes([real.content[0] ^ 1]) + real.content[1:]
        return real.status_code, {"Content-Type": CHUNK_MEDIA_TYPE, **extra}, body

    hostile.chunk_answer = answer
    with_files(member, hostile.url)
    report = member.sync()
    # Refused and named, after one whole try: the retry is bounded, nothing is stored.
    assert report.files_received == 0
    assert report.attachments_refused == [(ref.record, "chunk_hash_mismatch")]
    assert asked == [f"bytes={HELD}-", "whole"], asked
    assert [r.ref for r in member.state.wanted_attachments(10)] == [ref.ref]
    assert member.state.received(space, ref.chunks[0]) is None
