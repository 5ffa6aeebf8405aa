"""Where a plain-ADBC query's server CPU goes, by thread: gRPC, tokio, workers, ended threads.

    python bench/query_threads.py [--runs 800] [--sql "SELECT 1"]

Starts flight-iox (``python -m flight_iox serve``, as ``bench/query_overhead.py`` does) and the
trivial ``pyarrow.flight`` server of ``bench/query_overhead.py``, runs ``--runs`` queries
through ``adbc_driver_flightsql`` against each (flight-iox first, then the trivial one), and
prints each server's CPU per query split by thread name, from ``/proc/<pid>/task`` (Linux
only; clock ticks, so only sums over many queries mean anything):

- ``grpcpp_sync_ser``: gRPC's sync-server threads that were alive before and after, and
  the Python threads they started (Python 3.11 names no thread: a new one keeps its
  creator's name), such as the statement workers of ``flightsql/prefetch.py``;
- ``event_engine``: gRPC's I/O threads; ``tokio-rt-worker``: DataFusion's runtime;
- ``ended threads``: threads that started and ended during the run, which is what gRPC's
  sync server does with a handler thread when its pool has more than it needs.

What no profiler of Python shows: DataFusion's threads, gRPC's own, and the cost of the
threads gRPC starts for its handlers. Writes nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.query_overhead import _serve, cpu_seconds  # noqa: E402
from bench.storage import run  # noqa: E402
from flight_iox.launcher import start_server  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[str, tuple[str, float]]:
    """Each live thread of ``pid``: its name and its user + system seconds so far."""
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except FileNotFoundError:  # ended meanwhile
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")].rstrip("0123456789-_ ")
        fields = stat.rsplit(")", 1)[1].split()
        threads[tid] = (name, (int(fields[11]) + int(fields[12])) / TICK)
    return threads


def split(uri: str, pid: int, sql: str, runs: int, headers: dict[str, str]) -> float:
    """Run ``runs`` queries against ``uri``, print the server's CPU per query by thread, and
    return its total CPU per query (seconds)."""
    with flightsql.connect(uri, autocommit=True, db_kwargs=headers) as conn:
        for _ in range(runs // 10):
            run(conn, sql)
        before, total = thread_cpu(pid), cpu_seconds(pid)
        start = time.perf_counter()
        for _ in range(runs):
            run(conn, sql)
        wall = time.perf_counter() - start
        after, total = thread_cpu(pid), cpu_seconds(pid) - total
    by_name: Counter[str] = Counter()
    for tid, (name, seconds) in after.items():
        by_name[name] += seconds - before.get(tid, (name, 0.0))[1]
    ended = total - sum(by_name.values())
    print(f"{wall / runs * 1e3:.2f} ms per query, server CPU {total / runs * 1e3:.2f} ms per query")
    print("| thread | server CPU ms per query |\n|---|---:|")
    for name, seconds in [*by_name.most_common(), ("ended threads", ended)]:
        if seconds > 0:
            print(f"| {name} | {seconds / runs * 1e3:.2f} |")
    return total / runs


def main() -> None:
    """flight-iox, then the trivial server, each split by thread."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=800)
    parser.add_argument("--sql", default="SELECT 1")
    args = parser.parse_args()
    queue: multiprocessing.Queue = multiprocessing.Queue()
    trivial = multiprocessing.Process(target=_serve, args=(queue,), daemon=True)
    trivial.start()
    port = queue.get(timeout=30)
    try:
        with tempfile.TemporaryDirectory() as folder:
            server = start_server(Path(folder) / "data", "--log-level", "warning")
            try:
                print(f"\nflight-iox, plain ADBC, {args.sql!r}")
                ours = split(server.flight_uri, server.process.pid, args.sql, args.runs, {})
            finally:
                server.stop()
        print(f"\ntrivial server, plain ADBC, {args.sql!r}")
        theirs = split(f"grpc://127.0.0.1:{port}", trivial.pid, args.sql, args.runs, {})
        print(f"\nserver CPU per query, flight-iox / trivial server: {ours / theirs:.2f}x")
    finally:
        trivial.terminate()


if __name__ == "__main__":
    main()
