"""Splitting a persisted batch by its partition spec, against the old fixed day split.

    python bench/partition_split.py [--rows 1000000] [--rounds 5]

The writer used to split sorted file rows by day itself (``micros // US_PER_DAY``, a
``numpy.unique`` and one filter per day); it now asks the table's spec
(``iox_catalog.partitioning.Partitioning.split``: PyIceberg's Arrow transform, one group
id per row, one stable sort when there is more than one partition). Both run here, in
the same process on the same rows (sorted by tags, then time, in the file shape), for a
batch inside one day, a batch over three days, and, for scale, ``hour(time)`` +
``bucket(4, host)``. Prints the medians and the ratio new/old (below 1: faster).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "catalog"))

from flight_iox.columns import TIME_COLUMN, TIME_TYPE, ColumnRole, FieldType, role_field  # noqa: E402
from flight_iox.persist.parquet_files import sort_rows, to_file_columns  # noqa: E402
from iox_catalog.partition_specs import standalone_partitioning  # noqa: E402
from iox_catalog.schema import ColumnKinds  # noqa: E402

US_PER_DAY = 86_400_000_000
NS_PER_DAY = 86_400 * 10**9
KINDS: ColumnKinds = {
    "host": ColumnRole.TAG,
    "region": ColumnRole.TAG,
    "usage": FieldType.FLOAT,
    "n": FieldType.INTEGER,
}
SCHEMA = pa.schema(
    [
        role_field("host", pa.dictionary(pa.int32(), pa.string()), ColumnRole.TAG),
        role_field("n", pa.int64(), ColumnRole.FIELD),
        role_field("region", pa.dictionary(pa.int32(), pa.string()), ColumnRole.TAG),
        role_field(TIME_COLUMN, TIME_TYPE, ColumnRole.TIME),
        role_field("usage", pa.float64(), ColumnRole.FIELD),
    ]
)


def file_rows(count: int, days: int) -> pa.Table:
    """``count`` rows over 1,000 hosts spread evenly over ``days`` days, sorted as written."""
    rng = np.random.default_rng(1)
    span = days * NS_PER_DAY - 1
    times = 1_700_006_400 * 10**9 + np.sort(rng.integers(0, span, count))  # from 00:00 UTC
    hosts = pa.array([f"host-{i % 1000}" for i in range(count)]).dictionary_encode()
    regions = pa.array([f"r{i % 7}" for i in range(count)]).dictionary_encode()
    data = pa.table(
        [hosts, pa.array(np.arange(count)), regions, pa.array(times).cast(TIME_TYPE),
         pa.array(rng.random(count))],
        schema=SCHEMA,
    )  # fmt: skip
    return to_file_columns(sort_rows(data, KINDS), KINDS)


def old_day_split(rows: pa.Table) -> list[pa.Table]:
    """The writer's split before specs were read (``parquet_files._write_days``)."""
    micros = rows.column(TIME_COLUMN).cast(pa.int64()).to_numpy()
    days = micros // US_PER_DAY
    parts = []
    for day in np.unique(days):
        parts.append(rows.filter(pa.array(days == day)) if len(np.unique(days)) > 1 else rows)
    return parts


def timed(split: Callable[[pa.Table], list], rows: pa.Table, rounds: int) -> tuple[float, int]:
    """Median milliseconds of ``split(rows)``, and how many partitions it made."""
    times, parts = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        parts = len(split(rows))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    day = standalone_partitioning(KINDS, ["day(time)"])
    hour_bucket = standalone_partitioning(KINDS, ["hour(time)", "bucket(4, host)"])
    print(f"{args.rows:,} rows, median of {args.rounds} rounds\n")
    print("| batch | split | partitions | ms | ratio new/old |")
    print("|---|---|---:|---:|---:|")
    for days in (1, 3):
        rows = file_rows(args.rows, days)
        old_ms, old_parts = timed(old_day_split, rows, args.rounds)
        new_ms, new_parts = timed(day.split, rows, args.rounds)
        assert old_parts == new_parts == days
        label = f"{days} day{'s' if days > 1 else ''}"
        old = "old: days in numpy, a filter per day"
        print(f"| {label} | {old} | {old_parts} | {old_ms:.1f} | 1.00x |")
        print(f"| {label} | new: spec `day(time)` | {new_parts} | {new_ms:.1f} | "
              f"{new_ms / old_ms:.2f}x |")  # fmt: skip
        if days == 3:
            ms, parts = timed(hour_bucket.split, rows, args.rounds)
            print(f"| {label} | new: `hour(time)`, `bucket(4, host)` | {parts} | {ms:.1f} | "
                  f"{ms / old_ms:.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
