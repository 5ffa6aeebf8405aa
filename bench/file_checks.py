"""Registering a table's files: checked with pyarrow first, against DataFusion's inference.

    python bench/file_checks.py [--files 200] [--rows 20000] [--rounds 5]

Before DataFusion sees a data file, flight-iox checks it (``query/file_checks.py``: its size
against the catalog, its footer with pyarrow) and registers it with the schema read, where
DataFusion inferred the schema itself before (one footer read either way). This times the
first registration of one table of ``--files`` local files both ways (a fresh builder each
round, so nothing is cached), plus one scan of the table to show queries are unchanged, and
prints the medians and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "catalog"))

from datafusion import SessionContext  # noqa: E402

from flight_iox.columns import TIME_COLUMN, TIME_TYPE, ColumnRole, FieldType, role_field  # noqa: E402
from flight_iox.engine.buffer import TableSnapshot  # noqa: E402
from flight_iox.persist.parquet_files import write_partitioned  # noqa: E402
from flight_iox.query.file_checks import checked_schema  # noqa: E402
from flight_iox.query.tables import TableBuilder  # noqa: E402
from iox_catalog.config import CatalogConfig  # noqa: E402
from iox_catalog.files import DataFile  # noqa: E402
from iox_catalog.partition_specs import DEFAULT_PARTITION_BY, standalone_partitioning  # noqa: E402
from iox_catalog.partitioning import WriteTarget  # noqa: E402
from iox_catalog.schema import ColumnKinds  # noqa: E402
from iox_catalog.storage import open_storage  # noqa: E402

SCHEMA = pa.schema(
    [
        role_field("host", pa.dictionary(pa.int32(), pa.string()), ColumnRole.TAG),
        role_field(TIME_COLUMN, TIME_TYPE, ColumnRole.TIME),
        role_field("usage", pa.float64(), ColumnRole.FIELD),
    ]
)
KINDS: ColumnKinds = {"host": ColumnRole.TAG, "usage": FieldType.FLOAT}
DAY_NS = 86_400 * 10**9


def make_files(folder: Path, count: int, rows: int) -> list[DataFile]:
    """``count`` files of ``rows`` rows, one day each (so no two overlap)."""
    storage = open_storage(CatalogConfig.local(folder).store)
    target = WriteTarget(
        f"file://{folder}/warehouse/t", standalone_partitioning(KINDS, DEFAULT_PARTITION_BY)
    )
    files = []
    for i in range(count):
        times = pa.array(range(i * DAY_NS, i * DAY_NS + rows), pa.int64()).cast(TIME_TYPE)
        hosts = pa.array([f"h{j % 50}" for j in range(rows)]).dictionary_encode()
        data = pa.table([hosts, times, pa.array([float(j) for j in range(rows)])], schema=SCHEMA)
        (written,) = write_partitioned(data, KINDS, target, storage)
        uri = written.uri
        path = Path(uri.removeprefix("file://"))
        micros = i * DAY_NS // 1000
        files.append(DataFile(uri, rows, path.stat().st_size, micros, micros + rows, i + 1))
    return files


def timed_registration(files: list[DataFile], checked: bool, folder: Path) -> tuple[float, int]:
    """Seconds to build the table's provider from scratch, and its row count."""
    storage = open_storage(CatalogConfig.local(folder).store)
    check = (lambda file: checked_schema(file, storage)) if checked else None
    builder = TableBuilder(2, None, check)
    start = time.perf_counter()
    provider = builder.provider(SCHEMA, TableSnapshot(tuple(files), SCHEMA.empty_table()))
    seconds = time.perf_counter() - start
    context = SessionContext()
    context.register_table("t", provider)
    rows = context.sql("SELECT count(*) AS n FROM t").to_pylist()[0]["n"]
    return seconds, rows


def main() -> None:
    """Write the files, then alternate the two registrations."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {"DataFusion infers": [], "pyarrow checks": []}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        files = make_files(folder, args.files, args.rows)
        for i in range(args.rounds):
            for checked in (i % 2 == 0, i % 2 != 0):
                seconds, rows = timed_registration(files, checked, folder)
                assert rows == args.files * args.rows
                samples["pyarrow checks" if checked else "DataFusion infers"].append(seconds)
    medians = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
    base = medians["DataFusion infers"]
    print(f"\nfirst registration of one table of {args.files} local files, {args.rounds} rounds")
    print("\n| schema from | median ms | / DataFusion |\n|---|---:|---:|")
    for name, ms in medians.items():
        print(f"| {name} | {ms:.1f} | {ms / base:.2f}x |")


if __name__ == "__main__":
    main()
