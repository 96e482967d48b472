"""Evidence files travel between members through a real server: chunks before the record, files
after records, verified before stored; a tampered chunk is refused; the key never reaches it."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from sqlalchemy import text

from desktop.domain.records import Evidence, edit
from sync.crypto.stream import CHUNK_SIZE, sealed_size
from tests.helpers.link import DOWN, Link, LinkProfile
from tests.helpers.profiles import files_containing
from tests.integration.conftest import Server, network_of
from tests.integration.devices import import_evidence, make_with_files, opened, with_files


def test_an_evidence_file_reaches_another_member_and_opens_there(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    size = 3 * CHUNK_SIZE + 1000  # four chunks, the last one short
    evidence = import_evidence(admin, space, tmp_path / "files", size, "photo.jpg")
    original = (tmp_path / "files" / "photo.jpg").read_bytes()
    assert len(evidence.attachment_chunks) == 4

    pushed = admin.sync()
    assert pushed.chunks_up == 4
    assert pushed.chunk_bytes_up == sealed_size(size) - 17  # every chunk once, header in record

    pulled = member.sync()
    assert pulled.files_received == 1 and pulled.chunks_down == 4
    assert pulled.chunk_bytes_down == pushed.chunk_bytes_up
    assert opened(member, evidence.id) == original

    # A second sync moves no file bytes either way.
    again = member.sync()
    assert (again.chunk_bytes_down, again.chunk_bytes_up, again.files_received) == (0, 0, 0)
    with member.profile.engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM sync_chunks_received")) == 0

    # An edit of the record on the member (without re-sending the file) reaches the admin.
    record = member.records.require(evidence.id)
    assert isinstance(record, Evidence)
    member.records.save(edit(record, description="Taken at the river bank"))
    edited = member.sync()
    assert edited.chunks_up == 0  # the server already holds them: asked about, not sent
    admin.sync()
    assert admin.records.require(evidence.id).description == "Taken at the river bank"  # type: ignore[attr-defined]

    # The server holds sealed chunks and sealed records: neither the file key nor the file.
    key_text = evidence.attachment_key
    server.process.stop()
    assert files_containing([server.data_dir], key_text) == []
    leaks = [
        path
        for path in server.data_dir.rglob("*")
        if path.is_file()
        and (
            base64.b64decode(key_text) in path.read_bytes() or original[:4096] in path.read_bytes()
        )
    ]
    assert leaks == []


def test_a_tampered_chunk_is_refused_and_never_stored(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    evidence = import_evidence(admin, space, tmp_path / "files", 2 * CHUNK_SIZE, "scan.pdf")
    admin.sync()
    # Someone with the server's disk flips one byte of the second chunk.
    address = evidence.attachment_chunks[1]
    [stored] = [p for p in (server.data_dir / "chunks").rglob(f"*{address}*") if p.is_file()]
    data = bytearray(stored.read_bytes())
    data[100] ^= 0x01
    stored.write_bytes(bytes(data))

    report = member.sync()
    assert report.files_received == 0
    assert report.attachments_refused == [(evidence.id, "chunk_hash_mismatch")]
    with member.profile.engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM attachment_keys")) == 0
        assert connection.scalar(text("SELECT count(*) FROM sync_chunks_received")) == 0
    assert not member.profile.attachments.path_of(evidence.attachment_ref).exists()
    # The record itself arrived: the person sees the evidence, its file "not arrived yet".
    assert member.records.require(evidence.id).sha256 == evidence.sha256  # type: ignore[attr-defined]


def test_the_reported_bytes_and_progress_match_the_wire(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    import_evidence(admin, space, tmp_path / "files", 2 * CHUNK_SIZE + 10, "memo.pdf")
    admin.sync()
    progress: list[tuple[str, int]] = []
    with Link(("127.0.0.1", server.process.port), LinkProfile(rtt=0.02)) as link:
        with_files(member, link.url)
        member.engine.chunks.progress = lambda way, done: progress.append((way, done))  # type: ignore[union-attr]
        report = member.sync()
        wire = link.counts.bytes[DOWN]
    assert report.files_received == 1
    # The report counts bodies; the wire adds only each answer's status line and headers.
    assert report.bytes_down <= wire <= report.bytes_down + 300 * report.requests
    downs = [done for way, done in progress if way == "down"]
    assert downs == sorted(downs) and downs[-1] == report.chunk_bytes_down
    assert report.chunk_bytes_down == sealed_size(2 * CHUNK_SIZE + 10) - 17
