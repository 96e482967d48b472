"""Import a bundle in a separate process that stops, to be killed, inside the transaction
storing the first settled versions (records written, their kept batch written, not committed):
what a laptop losing power mid-import leaves. Used by test_bundle_batches_attacks.py."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from desktop.store import sync_state
from desktop.store.profile import unlock
from desktop.store.sync_state import ProfileSyncState
from sync.client.bundles import import_bundle
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from tests.helpers.profiles import PASSPHRASE

#: A paused runner that nobody kills ends by itself: a broken test must not leave it behind.
PAUSE_LIMIT_SECONDS = 60


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--bundle", type=Path, required=True)
    args = parser.parse_args(argv)
    profile = unlock(args.folder, PASSPHRASE)
    original = sync_state.keep_blobs

    def keep_blobs(connection: Any, kept: Any) -> None:
        original(connection, kept)
        print("PAUSED in-transaction", flush=True)
        time.sleep(PAUSE_LIMIT_SECONDS)
        sys.exit(3)

    sync_state.keep_blobs = keep_blobs  # type: ignore[assignment]
    state = ProfileSyncState(profile.engine, profile.attachments)
    engine = SyncEngine(state, Transport("http://127.0.0.1:9"))
    import_bundle(engine, args.bundle)
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
