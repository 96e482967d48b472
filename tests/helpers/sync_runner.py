"""One client sync in its own process, so a test can kill it with SIGKILL at a chosen point.
``--pause PHASE`` prints ``PAUSED <phase>`` there and waits (bounded) to be killed by pid.

    python -m tests.helpers.sync_runner --folder F --url U [--pause after-answer] [--page-bytes N]

Phases: ``before-send`` (outbox sealed and stored, nothing sent), ``after-answer`` (the server
applied the push, its answer not yet stored), ``mid-pull`` (the first page stored, more to
come), ``mid-upload`` (one chunk sent, the others not); for a batch push, ``batch-before-send``
(the sealed batch kept, nothing sent), ``batch-after-answer`` (the server took the batch, its
answer not yet stored) and ``batch-after-store`` (the answer stored, the kept batch not yet
dropped). Without a pause it syncs and prints the report as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from desktop.store.profile import unlock
from desktop.store.sync_state import ProfileSyncState
from sync.client.chunks import ChunkTransfer
from sync.client.engine import SyncEngine
from sync.client.transport import Offline, Transport
from tests.helpers.profiles import PASSPHRASE

PHASES = (
    "before-send",
    "after-answer",
    "mid-pull",
    "mid-upload",
    "batch-before-send",
    "batch-after-answer",
    "batch-after-store",
)
#: A paused runner that nobody kills ends by itself: a broken test must not leave it behind.
PAUSE_LIMIT_SECONDS = 60


_PAUSING = threading.Lock()


def _pause(phase: str) -> None:
    """Say PAUSED once, in one write, and stay until killed. Chunks go up on several threads:
    two of them pausing together printed their words and newlines interleaved ("PAUSED
    mid-uploadPAUSED mid-upload"), which the test could not read; and ``sys.exit`` on a worker
    thread ended only that thread, so a runner nobody killed lived on. Only the first thread
    to get here speaks; the process ends whole after the limit."""
    if _PAUSING.acquire(blocking=False):
        sys.stdout.write(f"PAUSED {phase}\n")
        sys.stdout.flush()
    time.sleep(PAUSE_LIMIT_SECONDS)
    os._exit(3)


def _install_pause(phase: str, engine: SyncEngine, state: ProfileSyncState) -> None:
    transport = engine.transport
    if phase in ("before-send", "after-answer"):
        original_sync = transport.sync

        def sync(request: Any, token: str, on_more: Any = None) -> Any:
            if request.push and phase == "before-send":
                _pause(phase)
            response = original_sync(request, token, on_more)
            if request.push and phase == "after-answer":
                _pause(phase)
            return response

        transport.sync = sync  # type: ignore[method-assign]
    elif phase in ("batch-before-send", "batch-after-answer"):
        original_push = transport.push_batch

        def push_batch(space: str, blob: bytes, cursor: int | None, token: str) -> Any:
            if phase == "batch-before-send":
                _pause(phase)
            answer = original_push(space, blob, cursor, token)
            _pause(phase)
            return answer

        transport.push_batch = push_batch  # type: ignore[method-assign]
    elif phase == "batch-after-store":
        original_drop = state.drop_sent_batch

        def drop_sent_batch(batch_id: str) -> None:
            _pause(phase)
            original_drop(batch_id)

        state.drop_sent_batch = drop_sent_batch  # type: ignore[method-assign]
    elif phase == "mid-pull":
        original_apply = state.apply_page

        def apply_page(space: str, cursor: int, settlements: Any) -> None:
            original_apply(space, cursor, settlements)
            _pause(phase)

        state.apply_page = apply_page  # type: ignore[method-assign]
    elif phase == "mid-upload":
        chunks = engine.chunks
        assert isinstance(chunks, ChunkTransfer)
        original_put = chunks._put

        def put(lane: Any, space: str, address: str, data: bytes, token: str, at: int = 0) -> int:
            sent = original_put(lane, space, address, data, token, at)
            _pause(phase)
            return sent

        chunks._put = put  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--pause", choices=PHASES)
    parser.add_argument("--page-bytes", type=int)
    args = parser.parse_args(argv)
    profile = unlock(args.folder, PASSPHRASE)
    try:
        state = ProfileSyncState(profile.engine, profile.attachments)
        engine = SyncEngine(state, Transport(args.url), page_bytes=args.page_bytes)
        if args.pause:
            _install_pause(args.pause, engine, state)
        try:
            report = engine.sync_once(discover=True)
        except Offline as error:
            print(json.dumps({"offline": str(error)}), flush=True)
            return 2
        print(
            json.dumps(
                {
                    "pushed": report.pushed,
                    "pulled": report.pulled,
                    "conflicts": report.conflicts,
                    "refused": len(report.refused),
                    "rejected": len(report.rejected),
                    "bytes_down": report.bytes_down,
                    "bytes_up": report.bytes_up,
                    "chunks_up": report.chunks_up,
                    "chunks_down": report.chunks_down,
                    "files_received": report.files_received,
                }
            ),
            flush=True,
        )
        return 0
    finally:
        profile.close()


if __name__ == "__main__":
    raise SystemExit(main())
