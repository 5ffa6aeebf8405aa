"""Deduplicating overlapping files: hash everything, sort-merge everything, or hash the windows.

    python bench/dedupe_plan.py [--rows 1000000] [--runs 3]

Two Parquet files of ``--rows`` rows each (200 series, sorted by (host, time) as the
persister writes them), in two shapes: ``edge`` (the second starts where the first's last
10 % of time is, as consecutive persists of interleaving writers overlap) and ``full``
(the second rewrites every key of the first, a late backfill). One aggregate over the
deduplicated union (``host, count(*), avg(f) GROUP BY host``) is timed three ways, each in
a fresh process so its peak RSS is its own:

- ``hash all``: what queries did before issue 20, ``last_value(f ORDER BY source)`` grouped
  by key over the whole union (DataFusion's hash aggregation);
- ``sort-merge all``: the same SQL over files registered with their sort order
  (``file_sort_order``), so DataFusion runs the aggregation in ``ordering_mode=Sorted``: a
  streaming merge of the sorted inputs, nothing hashed whole;
- ``windowed hash``: the plan ``query/dedupe_plan.py`` builds, hashing only the rows in the
  time window both files hold and unioning the rest.

Prints median seconds and peak RSS per mode and shape, and each mode's ratio to ``hash all``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOSTS = 200
MODES = ("hash all", "sort-merge all", "windowed hash")
SHAPES = ("edge", "full")


def write_files(folder: Path, rows: int, shape: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Two sorted files of ``rows`` rows and their time ranges."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    per_host = rows // HOSTS
    start = {"edge": int(per_host * 0.9), "full": 0}[shape]
    paths, ranges = [], []
    for index, first in enumerate((0, start)):
        hosts = np.repeat(np.arange(HOSTS), per_host)
        times = np.tile(np.arange(first, first + per_host, dtype=np.int64), HOSTS)
        table = pa.table(
            {
                "host": pa.array([f"h{h:03d}" for h in range(HOSTS)]).take(pa.array(hosts)),
                "time": pa.array(times),
                "f": pa.array(np.random.default_rng(index).random(len(times))),
            }
        )
        path = folder / f"{shape}-{index}.parquet"
        sorting = [pq.SortingColumn(0), pq.SortingColumn(1)]
        pq.write_table(table, path, sorting_columns=sorting, row_group_size=262_144)
        paths.append(str(path))
        ranges.append((first, first + per_host - 1))
    return paths, ranges


def run_mode(mode: str, paths: list[str], ranges: list[tuple[int, int]], runs: int) -> dict:
    """Time the aggregate ``runs`` times in this process (a fresh one per mode)."""
    import datafusion
    from datafusion import SessionConfig, SessionContext

    context = SessionContext(SessionConfig({"datafusion.execution.collect_statistics": "false"}))
    order = [[datafusion.col("host").sort(), datafusion.col("time").sort()]]
    for index, path in enumerate(paths):
        sort = order if mode == "sort-merge all" else None
        context.register_parquet(f"s{index}", path, file_sort_order=sort)
    dedupe = (
        "SELECT host, time, last_value(f ORDER BY o) FILTER (WHERE f IS NOT NULL) AS f"
        " FROM ({}) AS u GROUP BY host, time"
    )
    if mode == "windowed hash":
        first, last = max(r[0] for r in ranges), min(r[1] for r in ranges)
        inside = f"time >= {first} AND time <= {last}"
        plain = " UNION ALL ".join(
            f"SELECT host, time, f FROM s{i} WHERE NOT ({inside})" for i in range(len(paths))
        )
        colliding = " UNION ALL ".join(
            f"SELECT host, time, f, {i} AS o FROM s{i} WHERE {inside}" for i in range(len(paths))
        )
        relation = f"{plain} UNION ALL {dedupe.format(colliding)}"
    else:
        union = " UNION ALL ".join(
            f"SELECT host, time, f, {i} AS o FROM s{i}" for i in range(len(paths))
        )
        relation = dedupe.format(union)
    sql = f"SELECT host, count(*) AS n, avg(f) AS f FROM ({relation}) AS d GROUP BY host"
    times, answer = [], None
    for _ in range(runs):
        started = time.perf_counter()
        table = context.sql(sql).to_arrow_table()
        times.append(time.perf_counter() - started)
        hosts, counts = table.column("host").to_pylist(), table.column("n").to_pylist()
        answer = sorted(zip(hosts, counts, strict=True))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": statistics.median(times), "peak_rss": peak, "counts": answer}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, paths, ranges = json.loads(args.child)
        print(json.dumps(run_mode(mode, paths, [tuple(r) for r in ranges], args.runs)))
        return
    with tempfile.TemporaryDirectory() as folder:
        print("| shape | mode | median s | peak RSS MiB | time / hash all | RSS / hash all |")
        print("|---|---|---:|---:|---:|---:|")
        for shape in SHAPES:
            paths, ranges = write_files(Path(folder), args.rows, shape)
            results = {}
            for mode in MODES:
                child = json.dumps([mode, paths, ranges])
                output = subprocess.run(
                    [sys.executable, __file__, "--runs", str(args.runs), "--child", child],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                results[mode] = json.loads(output.strip().splitlines()[-1])
            counts = {json.dumps(r["counts"]) for r in results.values()}
            assert len(counts) == 1, "the modes disagree"
            base = results["hash all"]
            for mode, result in results.items():
                print(
                    f"| {shape} | {mode} | {result['seconds']:.3f} | "
                    f"{result['peak_rss'] / 2**20:.0f} | "
                    f"{result['seconds'] / base['seconds']:.2f} | "
                    f"{result['peak_rss'] / base['peak_rss']:.2f} |"
                )


if __name__ == "__main__":
    main()
