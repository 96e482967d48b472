"""The client process killed with SIGKILL mid-push, mid-pull and mid-upload, then restarted:
nothing lost, nothing applied twice, and a resumed upload sends only what had not arrived."""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from desktop.domain.records import edit
from desktop.store.profile import unlock
from desktop.store.records import RecordStore
from sync.client.batches import MIN_BATCH
from sync.crypto.stream import CHUNK_SIZE
from tests.helpers.profiles import PASSPHRASE
from tests.integration.conftest import Device, Server, network_of, organization
from tests.integration.devices import import_evidence, make_with_files, opened, with_files

ROOT = Path(__file__).resolve().parents[2]


def run_sync(
    device: Device, url: str, pause: str | None = None, page_bytes: int | None = None
) -> dict[str, Any] | None:
    """Sync ``device``'s profile in a child process; with ``pause``, SIGKILL it there.

    The profile is closed here first so only the child writes it, as on a real machine.
    """
    folder = device.profile.folder
    device.profile.close()
    command = [sys.executable, "-m", "tests.helpers.sync_runner", "--folder", str(folder)]
    command += ["--url", url]
    if pause:
        command += ["--pause", pause]
    if page_bytes:
        command += ["--page-bytes", str(page_bytes)]
    child = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        if pause is None:
            out, err = child.communicate(timeout=90)
            assert child.returncode == 0, err
            return dict(json.loads(out.strip().splitlines()[-1]))
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and not line:
            ready, _, _ = select.select([child.stdout], [], [], 1.0)
            if ready:
                line = child.stdout.readline()  # type: ignore[union-attr]
                if not line:
                    break
        os.kill(child.pid, signal.SIGKILL)
        if line.strip() != f"PAUSED {pause}":
            # Read only once the child is gone: a live child never closes stderr, and reading it
            # in the assertion's message hung a full run for good.
            child.wait(timeout=10)
            raise AssertionError(f"{line!r}: {child.stderr.read()}")  # type: ignore[union-attr]
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
        return None
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        reopen(device)


def reopen(device: Device) -> None:
    """Unlock the profile again in this process, as the app does after a restart."""
    profile = unlock(device.profile.folder, PASSPHRASE)
    device.profile = profile
    device.records = RecordStore(profile.engine)
    with_files(device)


@pytest.mark.parametrize("phase", ["before-send", "after-answer"])
def test_a_client_killed_mid_push_loses_nothing_and_applies_nothing_twice(
    server: Server, make_device: Any, phase: str
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    admin.sync()
    made = [organization(space, f"Cooperative {i}", description="x" * 200) for i in range(25)]
    admin.records.save_all(made)

    assert run_sync(admin, server.url, pause=phase) is None
    with admin.profile.engine.connect() as connection:
        # The sealed outbox survived the kill: the restart re-sends the same mutation ids.
        assert connection.scalar(text("SELECT count(*) FROM sync_outbox")) == 25
    report = run_sync(admin, server.url)
    assert report is not None
    assert (report["pushed"], report["conflicts"], report["rejected"]) == (25, 0, 0)

    assert admin.records.dirty_count() == 0
    assert admin.state.conflicts() == []
    member.sync()
    assert member.snapshot() == admin.snapshot()
    ids = set(member.snapshot())
    assert {org.id for org in made} <= ids and len(ids) == 26  # the space and 25, once each
    assert all(revision == 1 for _d, revision, _c in admin.snapshot().values())  # type: ignore[misc]


def test_a_client_killed_mid_pull_resumes_from_its_last_stored_page(
    server: Server, make_device: Any
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    member.sync()
    admin.records.save_all(
        [organization(space, f"Union {i}", description="y" * 400) for i in range(30)]
    )
    admin.sync()

    assert run_sync(member, server.url, pause="mid-pull", page_bytes=2048) is None
    kept = len(member.snapshot())
    assert 1 <= kept - 1 < 30  # the space, and some but not all of the page run
    report = run_sync(member, server.url, page_bytes=2048)
    assert report is not None
    # Only what the killed run had not stored comes again.
    assert report["pulled"] == 31 - kept
    assert member.snapshot() == admin.snapshot()
    assert member.records.dirty_count() == 0 and member.state.conflicts() == []


def test_a_client_killed_mid_upload_resumes_without_resending_a_chunk(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    # More chunks than the window holds: the kill comes with some sent and some not.
    evidence = import_evidence(admin, space, tmp_path / "files", 12 * CHUNK_SIZE, "video.mp4")
    original = (tmp_path / "files" / "video.mp4").read_bytes()

    assert run_sync(admin, server.url, pause="mid-upload") is None
    # Chunks go up several at once: at least the first arrived before the kill, perhaps more.
    arrived = [
        a
        for a in evidence.attachment_chunks
        if any(p.is_file() for p in (server.data_dir / "chunks").rglob(f"*{a}*"))
    ]
    assert 1 <= len(arrived) < 12
    report = run_sync(admin, server.url)
    assert report is not None
    assert report["chunks_up"] == 12 - len(arrived)  # what arrived before the kill: not sent again
    assert report["pushed"] >= 2  # the incident and the evidence record, after the chunks

    member.sync()
    assert opened(member, evidence.id) == original


@pytest.mark.parametrize("phase", ["batch-before-send", "batch-after-answer", "batch-after-store"])
def test_a_client_killed_mid_batch_push_loses_nothing_and_applies_nothing_twice(
    server: Server, make_device: Any, phase: str
) -> None:
    """Killed with the sealed batch kept and unsent, with the server's answer in hand but not
    stored, or with it stored but the kept batch not yet dropped; then a record of the batch is
    edited before the app syncs again. The batch is taken once, its answer recorded once, no
    record meets its own version as a conflict, and the later edit goes up."""
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    admin.sync()
    member.sync()
    made = [organization(space, f"Cooperative {i}") for i in range(MIN_BATCH)]
    admin.records.save_all(made)

    assert run_sync(admin, server.url, pause=phase) is None
    with admin.profile.engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM sync_sent_batches")) == 1
    admin.records.save(edit(admin.records.require(made[0].id), acronym="LATER"))
    report = run_sync(admin, server.url)
    assert report is not None
    assert (report["conflicts"], report["rejected"], report["refused"]) == (0, 0, 0)
    with admin.profile.engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM sync_sent_batches")) == 0
    assert admin.records.dirty_count() == 0
    assert admin.state.conflicts() == []
    path = server.data_dir / "minga-server.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        kept = db.execute("SELECT count(*) FROM batch_push WHERE space_id = ?", (space,))
        assert kept.fetchone()[0] == 1  # one batch, taken once
    member.sync()
    assert member.snapshot() == admin.snapshot()
    assert member.records.require(made[0].id).acronym == "LATER"
    revisions = {i: r for i, (_d, r, _c) in admin.snapshot().items()}  # type: ignore[misc]
    assert revisions[made[0].id] == 2
    assert all(revisions[m.id] == 1 for m in made[1:])
