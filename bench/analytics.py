"""A TSBS aggregate on Daft (on a local Ray cluster, and in one process) against flight-iox SQL.

    python bench/analytics.py [--hosts 100] [--hours 6] [--runs 5]
    python bench/analytics.py --full            # 1,000 hosts x 24 h (8.64 M rows)
    python bench/analytics.py --full --lp cpu.lp  # reuse line protocol gen_cpu.py wrote

1. **Data**: TSBS cpu-only from ../shared/tsbs/gen_cpu.py, written to flight-iox over
   ``/api/v2/write``, persisted and compacted (a local warehouse, ``day(time)`` partitions).
2. **The job** (bench/analytics_job.py): per host, max/sum/count of ``usage_user`` over the
   middle half of the data.
   - flight-iox: the SQL over Flight SQL (the project's ADBC driver), Parquet cache on.
   - Daft on Ray: a local cluster of a head node and one worker node (``ray start`` processes
     on 127.0.0.2, one CPU each: the machine's two cores), the table loaded through the
     Iceberg REST catalog (``/iceberg``) with PyIceberg's stock settings.
   - Daft in one process (its native runner, in a child process, since Daft sets its runner
     once per process), through the same catalog: the same reads without Ray's scheduling.
   Every answer is checked equal to flight-iox's first (that run is the warm-up); then
   ``--runs`` rounds, each timing every engine once, in a rotating order, so a load swing
   on the shared machine falls on all of them. Each Daft run loads the table through the
   catalog and plans anew, as a user's job does.
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
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.analytics_job import Window, daft_job, job_sql, normalized  # noqa: E402
from bench.ingest import BATCH_LINES, GENERATOR, make_bodies  # noqa: E402
from bench.ray_local import connect as ray_connect  # noqa: E402
from bench.ray_local import local_ray_cluster  # noqa: E402
from bench.storage import admin, connect, load, run  # noqa: E402
from flight_iox.launcher import start_server  # noqa: E402

FIRST = dt.datetime(2016, 1, 1)  # make_bodies' --start
DATABASE = "tsbs"  # bench.storage's helpers write and query this database
Rows = list[dict[str, object]]


class NativeDaft:
    """Daft's native runner in a child process, one job per request over its stdin."""

    def __init__(self, uri: str, window: Window) -> None:
        command = [sys.executable, __file__, "--daft-native-child", uri,
                   "--window", window.start.isoformat(), window.end.isoformat()]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def __call__(self) -> Rows:
        """Run the job once in the child; its rows."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        if not reply:
            raise SystemExit(f"daft (native) child exited with {self.process.wait()}")
        return list(json.loads(reply))

    def close(self) -> None:
        """End the child (closing its stdin ends its loop)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def child_main(uri: str, window: Window) -> None:
    """``--daft-native-child``: one job per ``run`` line; its rows as one JSON line each."""
    import daft

    daft.set_runner_native()
    for _ in sys.stdin:
        rows = normalized(daft_job(uri, "unused", DATABASE, window))
        print(json.dumps(rows), flush=True)


def rounds(engines: dict[str, Callable[[], Rows]], runs: int) -> dict[str, list[float]]:
    """Check every engine's answer against the first one's, then ``runs`` timed rounds."""
    names = list(engines)
    expected = engines[names[0]]()
    for name in names[1:]:
        if engines[name]() != expected:
            raise SystemExit(f"{name} and {names[0]} answer differently")
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for index in range(runs):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            start = time.perf_counter()
            engines[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def bodies_of(args: argparse.Namespace, folder: Path) -> list[bytes]:
    """5,000-line bodies: generated, or cut from ``--lp``."""
    if args.lp is None:
        return make_bodies(args.hosts, args.hours, folder)
    lines = args.lp.read_bytes().splitlines()
    return [b"\n".join(lines[i : i + BATCH_LINES]) for i in range(0, len(lines), BATCH_LINES)]


def measure(args: argparse.Namespace, folder: Path) -> dict[str, object]:
    """Load the data, then time the job on each engine."""
    flags = ("--buffer-memory-limit", "16GiB", "--max-request-bytes", "256MiB",
             "--persist-max-rows", "1000000000", "--persist-max-age", "100000",
             "--log-level", "warning")  # fmt: skip
    server = start_server(folder / "flight-iox-data", *flags, timeout=300)
    with ExitStack() as stack:
        stack.callback(server.stop)
        bodies = bodies_of(args, folder)
        started = time.perf_counter()
        load(server, bodies)
        loaded = time.perf_counter() - started
        del bodies
        admin(server, "/api/v3/persist")
        admin(server, "/api/v3/compact")
        window = Window.middle_half(FIRST, args.hours)
        uri = f"{server.http_url}/iceberg"
        conn = stack.enter_context(connect(server))
        files = run(conn, "SELECT count(*) AS n, sum(row_count) AS r FROM system.parquet_files")
        native = NativeDaft(uri, window)
        stack.callback(native.close)
        store = args.object_store_mib << 20
        cluster = stack.enter_context(
            local_ray_cluster(1, head_cpus=1, worker_cpus=1, object_store_bytes=store)
        )
        import daft
        import ray

        ray_connect(cluster)
        stack.callback(ray.shutdown)
        daft.set_runner_ray()
        engines: dict[str, Callable[[], Rows]] = {
            "flight-iox SQL": lambda: normalized(run(conn, job_sql(window))),
            "Daft (one process)": native,
            "Daft on Ray (head + 1 worker)": lambda: normalized(
                daft_job(uri, "unused", DATABASE, window)
            ),
        }
        seconds = rounds(engines, args.runs)
        return {"rows": files.column("r")[0].as_py(), "files": files.column("n")[0].as_py(),
                "load_seconds": loaded, "window": [window.start.isoformat(),
                window.end.isoformat()], "seconds": seconds}  # fmt: skip


def report(args: argparse.Namespace, result: dict, loads: tuple[float, float]) -> None:
    """Print the table and write the JSON."""
    seconds: dict[str, list[float]] = result["seconds"]
    medians = {engine: statistics.median(samples) for engine, samples in seconds.items()}
    baseline = medians["flight-iox SQL"]
    print(f"{args.hosts} hosts x {args.hours} h: {result['rows']:,} rows in {result['files']} "
          f"files; window {result['window'][0]} .. {result['window'][1]}; "
          f"median of {args.runs} rounds")  # fmt: skip
    print(f"{'engine':<32} {'median s':>9} {'x flight-iox':>13}  {'min s':>7} {'max s':>7}")
    for engine, median in medians.items():
        low, high = min(seconds[engine]), max(seconds[engine])
        print(f"{engine:<32} {median:>9.3f} {median / baseline:>12.2f}x  {low:>7.3f} {high:>7.3f}")
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
    parser.add_argument("--lp", type=Path, help="line protocol of --hosts x --hours to load")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--object-store-mib", type=int, default=1024)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "analytics.json")
    parser.add_argument("--daft-native-child", metavar="CATALOG_URI", help=argparse.SUPPRESS)
    parser.add_argument("--window", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.daft_native_child:
        start, end = (dt.datetime.fromisoformat(t) for t in args.window)
        child_main(args.daft_native_child, Window(start, end))
        return
    if args.full:
        args.hosts, args.hours = 1000, 24
    if args.lp is None and not GENERATOR.exists():
        print(f"skipped: TSBS generator not found at {GENERATOR}")
        return
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        result = measure(args, Path(folder))
    report(args, result, (before, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
