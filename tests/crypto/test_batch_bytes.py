"""Bytes of a first sync's batches on the benchmark's data set (issue 19): what the edge and
2g links carry each way, against a bound, without a server in the way."""

from __future__ import annotations

import pytest

from sync.client.batches import creation_order, sealed_entries, split
from sync.client.state import PendingChange
from sync.crypto.batch import seal_batch
from sync.crypto.keys import DeviceKeys
from tests.bench.bench_sync_peers import as_documents, dataset

SPACE = "f" * 32


@pytest.mark.slow
def test_the_bench_data_set_seals_under_45_bytes_a_record() -> None:
    # 10,000 records: 38.4 B a record as one zstd-19 stream (the floor). Version 1 sealed 50.3
    # B a record (ids one by one, 19 B each, and references to records of the same batch
    # unmatched); version 2, 43.6 (ids packed, the batch's ids as the content's dictionary).
    count = 10_000
    changes = [PendingChange(SPACE, d["id"], 0, d) for d in as_documents(dataset(count, SPACE))]
    signer = DeviceKeys.generate()
    sealed = [
        seal_batch(
            sealed_entries(part),
            space=SPACE,
            epoch=1,
            space_key=bytes(32),
            signer=signer,
            statement=(1, bytes(32)),
        )
        for part in split(creation_order(changes))
    ]
    assert len(sealed) == 4
    assert sum(map(len, sealed)) / count < 45.0
