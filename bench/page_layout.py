"""Parquet page layout of persisted files: bytes per value, write CPU and scans, one run.

    python bench/page_layout.py [--hosts 1000] [--hours 2] [--runs 9] [--page-rows 8192]
                                [--zstd-level 9] [--integer-level 12] [--old-integer-level 0]

The same TSBS rows are persisted twice by ``build_app`` (the real persister): "old" with
the current page rows and zstd level (``parquet_files.PAGE_ROWS`` / ``ZSTD_LEVEL``) and
pyarrow's own integer pages (``--old-integer-level 0``), "new" with the layout asked for;
``--integer-level`` is the zstd level of the byte-aligned integer pages
(``parquet_files.INTEGER_ZSTD_LEVEL``, flight_iox/persist/byte_aligned_delta.py; 0: off).
Printed: bytes per field value of each and the CPU time spent writing the files
(``encode_parts``: sorting, encoding, rewriting), then the TSBS queries of
bench/duckdb_side_by_side.py through ``QueryEngine.execute`` with the Parquet cache off
(every query decodes the files, so the page layout is what it reads: a host's rows prune
to fewer, larger pages), answers checked equal first, timed
alternately; medians, ratio new / old and the geometric mean. CPU time of this process
(DataFusion's threads included) is printed beside wall time, since wall time on a shared
machine moves with the load.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.duckdb_side_by_side import queries  # noqa: E402
from bench.ingest import GENERATOR, make_bodies  # noqa: E402
from bench.query_scan import DATABASE, app, same_rows  # noqa: E402
from flight_iox.app import App  # noqa: E402
from flight_iox.persist import encoder, parquet_files  # noqa: E402

Layout = tuple[int, int, int]  # page rows, zstd level, zstd level of the integer pages


def persisted(folder: Path, bodies: list[bytes], layout: Layout) -> tuple[App, float]:
    """Everything persisted with ``layout``, no Parquet cache; and the files' write CPU."""
    saved = parquet_files.PAGE_ROWS, parquet_files.ZSTD_LEVEL, parquet_files.INTEGER_ZSTD_LEVEL
    write = encoder.encode_parts  # the name the server's encoder calls (in this process)
    spent = [0.0]

    def timed_write(*args: Any) -> Any:
        started = time.process_time()
        try:
            return write(*args)
        finally:
            spent[0] += time.process_time() - started

    parquet_files.PAGE_ROWS, parquet_files.ZSTD_LEVEL, parquet_files.INTEGER_ZSTD_LEVEL = layout
    encoder.encode_parts = timed_write  # type: ignore[assignment]
    try:
        return app(folder, bodies, len(bodies), cache=False), spent[0]
    finally:
        encoder.encode_parts = write
        (parquet_files.PAGE_ROWS, parquet_files.ZSTD_LEVEL,
         parquet_files.INTEGER_ZSTD_LEVEL) = saved  # fmt: skip


def main() -> None:
    """Persist both layouts, compare sizes, check answers, time the scans alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=2)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--page-rows", type=int, default=parquet_files.PAGE_ROWS,
                        help="the new layout's pages")  # fmt: skip
    parser.add_argument("--zstd-level", type=int, default=parquet_files.ZSTD_LEVEL,
                        help="the new layout's level")  # fmt: skip
    parser.add_argument("--integer-level", type=int, default=parquet_files.INTEGER_ZSTD_LEVEL,
                        help="the new layout's byte-aligned integer pages (0: off)")  # fmt: skip
    parser.add_argument("--old-integer-level", type=int, default=0)
    args = parser.parse_args()
    if not GENERATOR.exists():
        print(f"skipped: {GENERATOR} not found")
        return
    layouts: dict[str, Layout] = {
        "old": (parquet_files.PAGE_ROWS, parquet_files.ZSTD_LEVEL, args.old_integer_level),
        "new": (args.page_rows, args.zstd_level, args.integer_level),
    }
    plan = queries(args.hosts, args.hours, seed=7)
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        values = sum(b.count(b"\n") + 1 for b in bodies) * 10
        built = {n: persisted(Path(folder) / n, bodies, layout) for n, layout in layouts.items()}
        apps = {n: target for n, (target, _) in built.items()}
        print("layout: (page rows, zstd level, integer pages' zstd level)")
        for name, (_, write_cpu) in built.items():
            size = sum(f.stat().st_size for f in (Path(folder) / name).rglob("*.parquet"))
            print(f"{name} {layouts[name]}: {size:,} bytes = {size / values:.4f} B/value; "
                  f"files written in {write_cpu:.2f} s CPU")  # fmt: skip
        for query in plan:
            old, new = (apps[n].query.execute(DATABASE, query.sql).read_all() for n in layouts)
            if not same_rows(old, new):
                raise SystemExit(f"{query.name}: the layouts answer differently")
        wall: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}
        for i in range(args.runs + 1):
            for query in plan:
                for name in layouts if i % 2 else reversed(layouts):
                    started, started_cpu = time.perf_counter(), time.process_time()
                    apps[name].query.execute(DATABASE, query.sql).read_all()
                    if i:
                        wall.setdefault((query.name, name), []).append(
                            time.perf_counter() - started
                        )
                        cpu.setdefault((query.name, name), []).append(
                            time.process_time() - started_cpu
                        )
        for target in apps.values():
            target.close()
    print("\n| query (cache off) | old ms | new ms | new / old | CPU new / old |")
    print("|---|---:|---:|---:|---:|")
    logs, cpu_logs = [], []
    for query in plan:
        old, new = (statistics.median(wall[(query.name, n)]) * 1e3 for n in layouts)
        old_cpu, new_cpu = (statistics.median(cpu[(query.name, n)]) for n in layouts)
        logs.append(math.log(new / old))
        cpu_logs.append(math.log(max(new_cpu, 1e-6) / max(old_cpu, 1e-6)))
        print(f"| {query.name} | {old:.1f} | {new:.1f} | {new / old:.2f}x | "
              f"{new_cpu / max(old_cpu, 1e-6):.2f}x |")  # fmt: skip
    print(f"| geometric mean | | | {math.exp(statistics.mean(logs)):.2f}x | "
          f"{math.exp(statistics.mean(cpu_logs)):.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
