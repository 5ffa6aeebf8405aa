"""Parquet page size and zstd level of persisted files: bytes per value and scans, one run.

    python bench/page_layout.py [--hosts 1000] [--hours 2] [--runs 9] [--page-rows 32768]
                                [--zstd-level 15]

The same TSBS rows are persisted twice by ``build_app`` (the real persister): with the
current layout (``parquet_files.PAGE_ROWS`` / ``ZSTD_LEVEL``: "old") and with the one asked
for ("new"). Printed: bytes per field value of each,
then the TSBS queries of bench/duckdb_side_by_side.py through ``QueryEngine.execute``
with the Parquet cache off (every query decodes the files, so the page size is what it
reads: a host's rows prune to fewer, larger pages), answers checked equal first, timed
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.duckdb_side_by_side import queries  # noqa: E402
from bench.ingest import GENERATOR, make_bodies  # noqa: E402
from bench.query_scan import DATABASE, app, same_rows  # noqa: E402
from flight_iox.app import App  # noqa: E402
from flight_iox.persist import parquet_files  # noqa: E402


def persisted(folder: Path, bodies: list[bytes], layout: tuple[int, int]) -> App:
    """Everything persisted with ``layout`` (page rows, zstd level); no Parquet cache."""
    saved = parquet_files.PAGE_ROWS, parquet_files.ZSTD_LEVEL
    parquet_files.PAGE_ROWS, parquet_files.ZSTD_LEVEL = layout
    try:
        return app(folder, bodies, len(bodies), cache=False)
    finally:
        parquet_files.PAGE_ROWS, parquet_files.ZSTD_LEVEL = saved


def main() -> None:
    """Persist both layouts, compare sizes, check answers, time the scans alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=2)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--page-rows", type=int, default=32_768, help="the new layout's pages")
    parser.add_argument("--zstd-level", type=int, default=15, help="the new layout's level")
    args = parser.parse_args()
    if not GENERATOR.exists():
        print(f"skipped: {GENERATOR} not found")
        return
    layouts = {
        "old": (parquet_files.PAGE_ROWS, parquet_files.ZSTD_LEVEL),
        "new": (args.page_rows, args.zstd_level),
    }
    plan = queries(args.hosts, args.hours, seed=7)
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        values = sum(b.count(b"\n") + 1 for b in bodies) * 10
        apps = {n: persisted(Path(folder) / n, bodies, layout) for n, layout in layouts.items()}
        for name in apps:
            size = sum(f.stat().st_size for f in (Path(folder) / name).rglob("*.parquet"))
            print(f"{name} {layouts[name]}: {size:,} bytes = {size / values:.4f} B/value")
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
