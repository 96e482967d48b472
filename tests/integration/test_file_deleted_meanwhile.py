"""A file whose upload is cut, while another member deletes the incident it belongs to
(issue 19's probe and offsets in the field): the upload resumes from what the server holds
(one probe, the cut chunk's rest), the records converge on both devices, and nothing is
refused or sent twice."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from desktop.domain.records import Incident
from desktop.store.evidence import EvidenceStore
from sync.client.transport import Offline
from sync.crypto.stream import CHUNK_SIZE, TAG_BYTES
from tests.helpers.link import UP, Link, LinkProfile
from tests.integration.conftest import Server, network_of
from tests.integration.devices import make_with_files, with_files

SEALED_CHUNK = CHUNK_SIZE + TAG_BYTES


def test_an_upload_cut_while_another_member_deletes_its_incident_resumes_and_converges(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (author, other) = network_of(server, make_with_files(make_device), 2)
    port = int(server.url.rsplit(":", 1)[1])
    fast = LinkProfile(up_bps=8_000_000, down_bps=8_000_000)
    with Link(("127.0.0.1", port), fast, max_lifetime=120) as link:
        with_files(author, link.url)
        incident = author.records.save(Incident(space_id=space, title="Desalojo"))
        author.sync()
        other.sync()  # the other member has the incident and may delete it
        folder = tmp_path / "f"
        folder.mkdir()
        (folder / "a.pdf").write_bytes(os.urandom(5 * CHUNK_SIZE))
        assert isinstance(incident, Incident)
        EvidenceStore.of(author.profile).import_file(incident, folder / "a.pdf", actor="t")
        # The link cuts in the middle of the third chunk and stays down (a sync recovers a
        # cut inside itself only while the link comes back): this sync fails.
        cut_once = link.cut

        def cut_and_stay_down(first: Any = None) -> None:
            cut_once(first)
            link.stop()

        link.cut = cut_and_stay_down  # type: ignore[method-assign]
        link.cut_after(UP, int(2.5 * SEALED_CHUNK))
        try:
            author.sync()
            cut = False
        except Offline:
            cut = True
        assert cut, "the link was to cut the upload"
    # Meanwhile the other member deletes the incident the file belongs to.
    assert isinstance(other.records.get(incident.id), Incident)
    EvidenceStore.of(other.profile).delete_incident(incident.id)
    other.sync()
    with Link(("127.0.0.1", port), fast, max_lifetime=120) as link:
        with_files(author, link.url)
        author.sync()  # the next sync, once the link is back, completes
        resent = link.counts.bytes[UP]
        assert author.engine.chunks is not None
        report = author.engine.chunks.report
        # One probe asks what the server holds. How many chunk requests follow depends on how
        # the window's lanes shared the 2.5 chunks' bytes before the cut (two lanes may each
        # hold part of a chunk), so the claim is in bytes: the 2.5 chunks' worth that arrived is
        # not sent again (without resuming at the offsets, 3 whole chunks or more would go again).
        assert report.probes == 1, report
        assert resent < 3 * SEALED_CHUNK, (resent, report)
    other.sync()
    with_files(author, server.url).sync()
    assert author.snapshot() == other.snapshot()
