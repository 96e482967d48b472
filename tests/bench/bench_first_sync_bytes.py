"""Bytes of a first sync, per record, against the floor (issue 19 part 3).

A real minga-server and two real profiles (tests/bench/bench_sync_peers.py's pair and data
set): the writer pushes N records, the reader pulls them from cursor 0. Body bytes as the
app's transport counts them (HTTP headers aside), per record, up and down, once with single
mutations (before: each record sealed alone) and once with batches (CRYPTO.md §5). The floor
is computed as in bench_sync_peers: the data set's JSON in creation order, one zstd-19 stream.

    .venv/bin/python -m tests.bench.bench_first_sync_bytes [--count 10000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from desktop.store.demo import DEMO_TODAY
from tests.bench.bench_sync_peers import MingaPair, as_documents, dataset, zstd_size


def measure(count: int, batches: bool, work: Path) -> dict[str, float]:
    pair = MingaPair(work / ("batches" if batches else "single"))
    try:
        pair.writer.engine.batches.supported = batches
        records = dataset(count, pair.space)
        pair.writer.records.save_all(records, today=DEMO_TODAY)
        writer, reader = pair.writer.engine.transport.traffic, pair.reader.engine.transport.traffic
        up0, wdown0, req0 = writer.bytes_up, writer.bytes_down, writer.requests
        started = time.process_time()
        for _ in range(50):
            if pair.writer.push_all():
                break
        push_cpu = time.process_time() - started
        down0, rup0, rreq0 = reader.bytes_down, reader.bytes_up, reader.requests
        started = time.process_time()
        pair.reader.pull()
        pull_cpu = time.process_time() - started
        assert pair.reader.count(pair.space) == count + 1, "the reader did not get everything"
        return {
            "up": (writer.bytes_up - up0) / count,
            "up_answers": (writer.bytes_down - wdown0) / count,
            "down": (reader.bytes_down - down0) / count,
            "down_requests": (reader.bytes_up - rup0) / count,
            "push_requests": writer.requests - req0,
            "pull_requests": reader.requests - rreq0,
            "push_cpu": push_cpu,
            "pull_cpu": pull_cpu,
        }
    finally:
        pair.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--only", choices=("single", "batches"), help="one of the two runs")
    args = parser.parse_args()
    docs = json.dumps(as_documents(dataset(args.count, "bench"))).encode()
    floor = zstd_size(docs) / args.count
    print(f"{args.count:,} records; floor {floor:.1f} B a record (zstd-19, creation order)")
    with tempfile.TemporaryDirectory(prefix="minga-first-sync-") as folder:
        for label, batches in (("single records (before)", False), ("batches", True)):
            if args.only and args.only != ("batches" if batches else "single"):
                continue
            found = measure(args.count, batches, Path(folder))
            print(
                f"{label}: up {found['up']:.1f} B/record ({found['up'] / floor:.2f}× floor, "
                f"answers {found['up_answers']:.1f}), down {found['down']:.1f} B/record "
                f"({found['down'] / floor:.2f}× floor, requests {found['down_requests']:.1f}); "
                f"{found['push_requests']:.0f} + {found['pull_requests']:.0f} requests; "
                f"CPU push {found['push_cpu']:.1f} s, pull {found['pull_cpu']:.1f} s"
            )


if __name__ == "__main__":
    main()
