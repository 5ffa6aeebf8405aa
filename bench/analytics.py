"""A TSBS aggregate on Daft (on a local Ray cluster, and in one process) against flight-iox SQL.

    python bench/analytics.py [--hosts 100] [--hours 6] [--runs 5]
    python bench/analytics.py --full            # 1,000 hosts x 24 h (8.64 M rows)

1. **Data**: TSBS cpu-only from ../shared/tsbs/gen_cpu.py, written to flight-iox over
   ``/api/v2/write``, persisted and compacted (a local warehouse, ``day(time)`` partitions).
2. **The job** (bench/analytics_job.py): per host, max/sum/count of ``usage_user`` over the
   middle half of the data.
   - flight-iox: the SQL over Flight SQL (the project's ADBC driver), Parquet cache on.
   - Daft on Ray: a local cluster of a head node and one worker node (``ray start`` processes
     on 127.0.0.2, one CPU each: the machine's two cores), the table loaded through the
     Iceberg REST catalog (``/iceberg``) with PyIceberg's stock settings.
   - Daft in one process (its native runner, in a child process: Daft sets its runner once
     per process), through the same catalog: the same reads without Ray's scheduling.
   Every answer is checked equal to flight-iox's first; then ``--runs`` timed runs of each
   after one warm-up. Each Daft run loads the table through the catalog and plans anew, as a
   user's job does.
3. Prints the median seconds, each engine's ratio to flight-iox, and the load average;
   writes bench/results/analytics.json.

Ballista is not compared: PyPI has no wheel of ``ballista`` for this platform, and its
source distribution builds with cargo, which must download crates (not reachable here).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.analytics_job import Window, daft_job, job_sql, normalized  # noqa: E402
from bench.ingest import GENERATOR, make_bodies  # noqa: E402
from bench.ray_local import connect as ray_connect  # noqa: E402
from bench.ray_local import local_ray_cluster  # noqa: E402
from bench.storage import admin, connect, load, run  # noqa: E402
from flight_iox.launcher import start_server  # noqa: E402

FIRST = dt.datetime(2016, 1, 1)  # make_bodies' --start
DATABASE = "tsbs"  # bench.storage's helpers write and query this database


def timed(job: Callable[[], pa.Table], runs: int) -> tuple[pa.Table, list[float]]:
    """The answer of a warm-up run, then the seconds of ``runs`` more."""
    answer = job()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        job()
        samples.append(time.perf_counter() - start)
    return answer, samples


def daft_native_child(uri: str, window: Window, runs: int) -> tuple[list[dict], list[float]]:
    """The Daft job on its native runner, in a child process (this one may set Ray's)."""
    command = [sys.executable, __file__, "--daft-native-child", uri, "--runs", str(runs),
               "--window", window.start.isoformat(), window.end.isoformat()]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=7200)
    if done.returncode != 0:
        raise SystemExit(f"daft (native) failed:\n{done.stderr[-3000:]}")
    reply = json.loads(done.stdout.splitlines()[-1])
    return reply["rows"], reply["seconds"]


def child_main(uri: str, window: Window, runs: int) -> None:
    """``--daft-native-child``: run the job here and print rows and seconds as JSON."""
    import daft

    daft.set_runner_native()
    answer, seconds = timed(lambda: daft_job(uri, "unused", DATABASE, window), runs)
    print(json.dumps({"rows": normalized(answer), "seconds": seconds}))


def measure(args: argparse.Namespace, folder: Path) -> dict[str, object]:
    """Load the data, run the job on each engine, check the answers, return the timings."""
    bodies = make_bodies(args.hosts, args.hours, folder)
    flags = ("--buffer-memory-limit", "16GiB", "--max-request-bytes", "256MiB",
             "--persist-max-rows", "1000000000", "--persist-max-age", "100000",
             "--log-level", "warning")  # fmt: skip
    server = start_server(folder / "flight-iox-data", *flags, timeout=300)
    try:
        started = time.perf_counter()
        load(server, bodies)
        loaded = time.perf_counter() - started
        del bodies
        admin(server, "/api/v3/persist")
        admin(server, "/api/v3/compact")
        window = Window.middle_half(FIRST, args.hours)
        uri = f"{server.http_url}/iceberg"
        with connect(server) as conn:
            files = run(conn, "SELECT count(*) AS n, sum(row_count) AS r FROM system.parquet_files")
            sql_answer, sql_s = timed(lambda: run(conn, job_sql(window)), args.runs)
        expected = normalized(sql_answer)
        seconds: dict[str, list[float]] = {"flight-iox SQL": sql_s}
        native_rows, seconds["Daft (one process)"] = daft_native_child(uri, window, args.runs)
        if native_rows != expected:
            raise SystemExit("Daft (one process) and flight-iox answer differently")
        store = args.object_store_mib << 20
        with local_ray_cluster(1, head_cpus=1, worker_cpus=1, object_store_bytes=store) as cluster:
            import daft
            import ray

            ray_connect(cluster)
            try:
                daft.set_runner_ray()
                job = lambda: daft_job(uri, "unused", DATABASE, window)  # noqa: E731
                ray_answer, seconds["Daft on Ray (head + 1 worker)"] = timed(job, args.runs)
            finally:
                ray.shutdown()
        if normalized(ray_answer) != expected:
            raise SystemExit("Daft on Ray and flight-iox answer differently")
        return {"rows": files.column("r")[0].as_py(), "files": files.column("n")[0].as_py(),
                "load_seconds": loaded, "window": [window.start.isoformat(),
                window.end.isoformat()], "groups": len(expected), "seconds": seconds}  # fmt: skip
    finally:
        server.stop()


def report(args: argparse.Namespace, result: dict, loads: tuple[float, float]) -> None:
    """Print the table and write the JSON."""
    seconds: dict[str, list[float]] = result["seconds"]
    medians = {engine: statistics.median(samples) for engine, samples in seconds.items()}
    baseline = medians["flight-iox SQL"]
    print(f"{args.hosts} hosts x {args.hours} h: {result['rows']:,} rows in {result['files']} "
          f"files; window {result['window'][0]} .. {result['window'][1]}, "
          f"{result['groups']} groups; median of {args.runs} runs")  # fmt: skip
    print(f"{'engine':<32} {'median s':>9} {'x flight-iox':>13}")
    for engine, median in medians.items():
        print(f"{engine:<32} {median:>9.3f} {median / baseline:>12.1f}x")
    print(f"load average (1 min) before {loads[0]:.1f}, after {loads[1]:.1f}; "
          f"{os.cpu_count()} cores")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"hosts": args.hosts, "hours": args.hours, "runs": args.runs, **result,
               "medians": medians, "load_before": loads[0], "load_after": loads[1],
               "cores": os.cpu_count()}  # fmt: skip
    args.out.write_text(json.dumps(summary, indent=2))


def main() -> None:
    """Parse the flags and run the benchmark (or, as a child, the native Daft job)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--full", action="store_true", help="1,000 hosts x 24 h")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--object-store-mib", type=int, default=1024)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "analytics.json")
    parser.add_argument("--daft-native-child", metavar="CATALOG_URI", help=argparse.SUPPRESS)
    parser.add_argument("--window", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.daft_native_child:
        start, end = (dt.datetime.fromisoformat(t) for t in args.window)
        child_main(args.daft_native_child, Window(start, end), args.runs)
        return
    if args.full:
        args.hosts, args.hours = 1000, 24
    if not GENERATOR.exists():
        print(f"skipped: TSBS generator not found at {GENERATOR}")
        return
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        result = measure(args, Path(folder))
    report(args, result, (before, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
