"""One Kinto device for tests/bench/bench_sync_peers.py, run in .venv-bench-peers (kinto-http).

    python kinto_peer.py <op> <server url> <state.json> <collection> [file or id]

ops: push <records.json> (a batch of creates: kinto-http splits it by the server's
batch_max_requests), pull (records since the last timestamp held), change <id> (edit one record),
attach <file> (kinto-attachment upload), fetch (the record, then its file from the attachment
base URL). Errors (a cut link) are retried as an app's sync loop would (PEER_MAX_TRIES times).
Prints one JSON line with the operation's own wall time (no interpreter start-up).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import requests
from kinto_http import Client

BUCKET = "bench"
MAX_TRIES = int(os.environ.get("PEER_MAX_TRIES", "12"))


def retried(call: Any) -> tuple[Any, int]:
    for tries in range(1, MAX_TRIES + 1):
        try:
            return call(), tries
        except Exception:  # a reset link shows as many exception types
            time.sleep(0.2)
    print(json.dumps({"ok": False, "tries": MAX_TRIES}))
    raise SystemExit(1)


def main() -> int:
    op, url, state_path, collection = sys.argv[1:5]
    argument = sys.argv[5] if len(sys.argv) > 5 else ""
    start = time.monotonic()
    path = Path(state_path)
    state: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    client = Client(
        server_url=url + "/v1", auth=("bench", "bench-secret"), bucket=BUCKET, collection=collection
    )
    out: dict[str, Any] = {"ok": True, "tries": 0, "docs": 0, "attachment_bytes": 0}
    if op == "setup":
        client.create_bucket(id=BUCKET, if_not_exists=True)
        client.create_collection(id=collection, if_not_exists=True)
    elif op == "push":
        records = json.loads(Path(argument).read_text(encoding="utf-8"))

        def push() -> list[Any]:
            with client.batch() as batch:
                for record in records:
                    batch.update_record(id=record["id"], data=record)
            return list(batch.results())

        answers, out["tries"] = retried(push)
        # The writer knows the collection's timestamp from its own writes, as an app would.
        state["since"] = max(int(a["data"]["last_modified"]) for a in answers)
        out["docs"] = len(records)
    elif op == "pull":
        since = state.get("since")

        def pull() -> list[dict[str, Any]]:
            if since is None:
                return client.get_records()
            return client.get_records(_since=since)

        records, out["tries"] = retried(pull)
        if records:
            state["since"] = max(int(r["last_modified"]) for r in records)
        out["docs"] = len(records)
    elif op == "change":
        # The app holds the record already: one PATCH of the field that changed.
        def change() -> dict[str, Any]:
            return client.patch_record(id=argument, data={"title": "edited"})

        answer, out["tries"] = retried(change)
        state["since"] = int(answer["data"]["last_modified"])
        out["docs"] = 1
    elif op == "attach":

        def attach() -> None:
            client.add_attachment(
                id="evidence-file", filepath=argument, mimetype="application/octet-stream"
            )

        _, out["tries"] = retried(attach)
        out["docs"] = 1
    elif op == "fetch":

        def fetch() -> bytes:
            record = client.get_record(id="evidence-file")["data"]
            location = record["attachment"]["location"]
            response = requests.get(location, timeout=120)
            response.raise_for_status()
            return response.content

        data, out["tries"] = retried(fetch)
        out["attachment_bytes"] = len(data)
    else:
        raise SystemExit(f"unknown op {op}")
    out["seconds"] = time.monotonic() - start
    path.write_text(json.dumps(state))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
