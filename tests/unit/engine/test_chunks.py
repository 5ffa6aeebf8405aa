"""The buffer's chunks are combined in tiers: same rows in the same order, few chunks."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa

from flight_iox.engine.buffer import BufferSet
from flight_iox.engine.chunks import FANOUT, SETTLED_TIER, consolidated, tier
from flight_iox.engine.dedupe import deduplicate
from tests.unit.engine.test_dedupe import SCHEMA, batch

HOSTS = pa.array([f"h{i}" for i in range(7)])


def _grown(sizes: list[int]) -> pa.Table:
    """Append parts of ``sizes`` rows one by one (``n`` counts rows, ``host`` is ``n % 7``)."""
    table = None
    start = 0
    for size in sizes:
        numbers = np.arange(start, start + size)
        hosts = pa.DictionaryArray.from_arrays(pa.array(numbers % 7, pa.int32()), HOSTS)
        part = pa.table({"host": hosts, "n": numbers})
        start += size
        table = part if table is None else consolidated(pa.concat_tables([table, part]))
    assert table is not None
    return table


def test_rows_and_order_are_kept_and_chunks_stay_few() -> None:
    table = _grown([2_000] * 300)
    assert table.column("n").equals(pa.chunked_array([np.arange(600_000)]))
    assert table.column("host").to_pylist()[:8] == [f"h{i % 7}" for i in range(8)]
    unsettled = [b for b in table.to_batches() if tier(b.num_rows) < SETTLED_TIER]
    assert len(unsettled) < FANOUT
    assert len(table.to_batches()) <= 600_000 // FANOUT**SETTLED_TIER + FANOUT


def test_mixed_write_sizes_stay_bounded() -> None:
    rng = random.Random(7)
    sizes = [rng.choice([1, 3, 40, 700, 5_000]) for _ in range(1_500)]
    table = _grown(sizes)
    assert table.column("n").equals(pa.chunked_array([np.arange(sum(sizes))]))
    unsettled = [b for b in table.to_batches() if tier(b.num_rows) < SETTLED_TIER]
    assert len(unsettled) < FANOUT


def test_a_buffer_of_many_writes_is_exact_and_in_few_chunks() -> None:
    """Two writers whose batches interleave in time, some rewriting keys: the snapshot
    equals deduplicating every write at once."""
    buffers = BufferSet()
    rng = random.Random(3)
    written = []
    for sequence in range(400):
        base = sequence * 10 + rng.randint(-15, 0)  # late by up to 1.5 batches
        hosts = [rng.choice("ab") for _ in range(20)]
        times = [base + rng.randint(0, 9) for _ in range(20)]
        part = batch(hosts, [float(sequence)] * 20, [sequence] * 20, times)
        written.append(part)
        buffers.append("db", "t", sequence, part)
        if sequence % 7 == 0:
            buffers.snapshot("db", "t", SCHEMA)
    got = buffers.snapshot("db", "t", SCHEMA).buffered
    expected = deduplicate(pa.Table.from_batches(written))
    key = lambda r: (r["host"], r["time"])  # noqa: E731
    assert sorted(got.to_pylist(), key=key) == sorted(expected.to_pylist(), key=key)
    assert len(got.to_batches()) < 2 * FANOUT
