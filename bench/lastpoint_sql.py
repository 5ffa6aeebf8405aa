"""Natural lastpoint SQL with and without the latest-rows rewrite, same data, same run.

    python bench/lastpoint_sql.py [--hosts 100] [--hours 3] [--runs 30] [--writes]

TSBS cpu-only is written to two flight-iox servers, persisted and compacted: one as
started by default (natural lastpoint SQL answered from the latest row of each series,
``flight_iox/query/latest_plan.py``), one with ``--no-latest-rows-rewrite`` (planned as
written: the baseline). Each form of lastpoint (``DISTINCT ON``, ``row_number() = 1``,
the ``max(time)`` join, and ``last_cache('cpu')``) goes to both through plain
``adbc_driver_flightsql``; all answers are checked equal first, then ``--runs`` alternating
timed runs. With ``--writes``, one new point per host is written to both servers before
every timed run (as agents reporting every 10 s would), so the latest rows change each time.

Prints the median of each and the ratio rewrite / plain plan; writes
bench/results/lastpoint_sql.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import GENERATOR, make_bodies, start_bench_server  # noqa: E402
from bench.last_cache import START_NS, new_points  # noqa: E402
from bench.storage import admin, load, run  # noqa: E402
from bench.tsbs_queries import (  # noqa: E402
    JOIN_LASTPOINT_SQL,
    LASTPOINT_SQL,
    NATURAL_LASTPOINT_SQL,
    WINDOW_LASTPOINT_SQL,
)
from flight_iox.launcher import RunningServer  # noqa: E402

FORMS = {
    "DISTINCT ON": NATURAL_LASTPOINT_SQL,
    "row_number() = 1": WINDOW_LASTPOINT_SQL.replace("SELECT * FROM", "SELECT * EXCLUDE (rn) FROM"),
    "max(time) join": JOIN_LASTPOINT_SQL,
    "last_cache('cpu')": LASTPOINT_SQL,
}


def connect(server: RunningServer) -> flightsql.Connection:
    """Plain ``adbc_driver_flightsql``, database ``tsbs``."""
    header = {"adbc.flight.sql.rpc.call_header.database": "tsbs"}
    return flightsql.connect(server.flight_uri, autocommit=True, db_kwargs=header)


def canonical(table: pa.Table) -> list[tuple]:
    """Rows sorted, times as integers."""
    columns = sorted(table.column_names)
    rows = table.select(columns).to_pylist()
    return sorted((tuple(r.values()) for r in rows), key=repr)


def main() -> None:
    """Load both servers, check the answers, then time each form on each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--writes", action="store_true", help="a new point per host each run")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "lastpoint_sql.json"
    )
    args = parser.parse_args()
    if not GENERATOR.exists():
        print("skipped: needs ../shared/tsbs/gen_cpu.py")
        return
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        last_lines = [line for line in bodies[-1].split(b"\n") if line][-args.hosts :]
        servers = {
            "rewrite": start_bench_server(Path(folder) / "rewrite"),
            "plain plan": start_bench_server(Path(folder) / "plain", "--no-latest-rows-rewrite"),
        }
        try:
            for server in servers.values():
                load(server, bodies)
                admin(server, "/api/v3/persist")
                admin(server, "/api/v3/compact")
            conns = {name: connect(server) for name, server in servers.items()}
            expected = canonical(run(conns["plain plan"], FORMS["max(time) join"]))
            for form, sql in FORMS.items():
                for name, conn in conns.items():
                    if canonical(run(conn, sql)) != expected:
                        raise SystemExit(f"{form} on {name}: answer differs")
            samples = {(f, n): [] for f in FORMS for n in conns}
            at = START_NS + args.hours * 3_600_000_000_000
            session = requests.Session()
            for i in range(args.warmup + args.runs):
                for form, sql in FORMS.items():
                    order = list(conns.items())
                    for name, conn in order if i % 2 else reversed(order):
                        if args.writes:
                            at += 10_000_000_000
                            reply = session.post(
                                f"{servers[name].http_url}/api/v2/write",
                                params={"bucket": "tsbs"},
                                data=new_points(last_lines, at),
                                timeout=60,
                            )
                            reply.raise_for_status()
                        start = time.perf_counter()
                        run(conn, sql)
                        if i >= args.warmup:
                            samples[(form, name)].append(time.perf_counter() - start)
            for conn in conns.values():
                conn.close()
        finally:
            for server in servers.values():
                server.stop()
    medians = {key: statistics.median(values) * 1e3 for key, values in samples.items()}
    mode = "a new point per host before each run" if args.writes else "no writes while timed"
    print(f"\nlastpoint, {args.hosts} hosts x {args.hours} h, plain ADBC, {mode}, "
          f"median of {args.runs}\n")  # fmt: skip
    print("| form | plain plan ms | rewrite ms | rewrite / plain plan |\n|---|---:|---:|---:|")
    for form in FORMS:
        plain, fast = medians[(form, "plain plan")], medians[(form, "rewrite")]
        print(f"| {form} | {plain:.2f} | {fast:.2f} | **{fast / plain:.2f}x** |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "hosts": args.hosts,
                "hours": args.hours,
                "runs": args.runs,
                "writes": args.writes,
                "median_ms": {f"{f} / {n}": ms for (f, n), ms in medians.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
