"""JSON query results: column-wise (flight_iox/query/json_rows.py) against row by row, same run.

    python bench/json_results.py [--runs 20]

Batches shaped like TSBS query answers (time, a dictionary tag, ten integer fields, one float
field half null) of several sizes are encoded both ways: the column-wise encoder that
``/api/v3/query_sql`` uses from ``formats.COLUMNWISE_MIN_ROWS`` rows on, and the row-by-row
encoder it falls back to (``formats.json_objects_row_by_row``: ``to_pylist`` + one
``json.JSONEncoder``). Both texts are parsed and
compared first. Prints the median time of each and the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_iox.query.formats import json_objects_row_by_row  # noqa: E402
from flight_iox.query.json_rows import json_rows  # noqa: E402

SIZES = (100, 256, 1_000, 10_000, 65_536)


def answer_batch(rows: int) -> pa.RecordBatch:
    """A TSBS-like answer: time, hostname, ten integer fields and a half-null float."""
    rng = np.random.default_rng(rows)
    columns: dict[str, pa.Array] = {
        "time": pa.array(np.arange(rows, dtype=np.int64) * 10**10, pa.timestamp("ns")),
        "hostname": pa.array([f"host_{i % 100}" for i in range(rows)]).dictionary_encode(),
    }
    for i in range(10):
        columns[f"usage_{i}"] = pa.array(rng.integers(0, 100, rows))
    mean = rng.random(rows) * 100
    columns["mean"] = pa.array(mean, mask=np.arange(rows) % 2 == 1)
    return pa.record_batch(columns)


def column_wise(batch: pa.RecordBatch) -> bytes:
    """The column-wise encoder's JSON array."""
    text = json_rows(batch, ",")
    assert text is not None
    return b"[" + text[:-1] + b"]"


def row_by_row(batch: pa.RecordBatch) -> bytes:
    """The row-by-row encoder's JSON array."""
    return b"[" + json_objects_row_by_row(batch, ",")[:-1] + b"]"


def median_ms(encode: Callable[[pa.RecordBatch], bytes], batch: pa.RecordBatch, runs: int) -> float:
    """Median milliseconds of ``runs`` encodings after one warm-up."""
    encode(batch)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        encode(batch)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def main() -> None:
    """Check, time and print each size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print("| rows | row by row ms | column-wise ms | column-wise / row by row |")
    print("|---:|---:|---:|---:|")
    for rows in SIZES:
        batch = answer_batch(rows)
        if json.loads(column_wise(batch)) != json.loads(row_by_row(batch)):
            raise SystemExit(f"{rows} rows: the two encoders disagree")
        slow = median_ms(row_by_row, batch, args.runs)
        fast = median_ms(column_wise, batch, args.runs)
        print(f"| {rows:,} | {slow:.2f} | {fast:.2f} | {fast / slow:.2f}x |")


if __name__ == "__main__":
    main()
