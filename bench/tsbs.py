"""TSBS cpu-only, side by side: flight-iox against InfluxDB 1.x on the same machine, one run.

    python bench/tsbs.py [--hosts 100] [--hours 3] [--runs 7] [--ingest-runs 3]

1. **Data**: ../shared/tsbs/gen_cpu.py, cut into the same 5,000-line bodies for both.
2. **Ingest**: the bodies go to InfluxDB 1.x ``/write`` and flight-iox ``/api/v2/write`` from
   1 and 2 client processes, alternating runs, each run into a fresh database (bench/ingest.py's
   functions). Median lines/s of each and the ratio.
3. **Queries**: the data is loaded once more into database ``tsbs`` on both; flight-iox persists
   and compacts it, InfluxDB is left to compact its TSM files. Each TSBS query type
   (bench/tsbs_queries.py) goes to InfluxDB as InfluxQL over ``/query``, and to flight-iox over
   Flight SQL two ways:

   - **generic** (the headline): ``adbc_driver_flightsql`` as it comes (every query prepared:
     CreatePreparedStatement, GetFlightInfo, DoGet, ClosePreparedStatement) with the natural
     SQL, lastpoint as ``SELECT DISTINCT ON (hostname) * FROM cpu ORDER BY hostname, time DESC``;
   - **tuned**: the project's driver (``adbc_driver_flight_iox``: a query without parameters
     runs unprepared) with lastpoint through ``last_cache('cpu')``.

   All three answers are checked equal first; then warm-up runs and ``--runs`` alternating
   timed runs; the median of each, the ratios and their geometric means. flight-iox reads its
   files from its Parquet cache (the default); ``--parquet-cache-size 0`` makes it decode the
   Parquet files on every query. Repeated aggregates combine kept per-file partials (the
   default); ``--aggregate-cache-size 0`` aggregates every file at every run.
4. **Storage**: bytes per field value on disk: flight-iox's Parquet files, and InfluxDB's TSM
   files once its full compaction has run (the JSON also has its whole data folder).

Prints the table, writes JSON (bench/results/tsbs.json) and a PNG of the ratios.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.influxdb1 import InfluxDB1  # noqa: E402
from bench.ingest import (  # noqa: E402
    BATCH_LINES,
    GENERATOR,
    make_bodies,
    start_bench_server,
    timed_ingest,
)
from bench.storage import admin, connect, load, run  # noqa: E402
from bench.tsbs_answers import (  # noqa: E402
    DATABASE,
    INFLUX_DATA_OPTIONS,
    check_equal,
    influx_disk,
    influx_rows,
    iox_rows,
)
from bench.tsbs_queries import Query, tsbs_queries  # noqa: E402
from flight_iox.launcher import RunningServer  # noqa: E402

FIELDS_PER_LINE = 10


def time_all(
    query: Query,
    peer: InfluxDB1,
    session: requests.Session,
    generic: object,
    tuned: object,
    runs: int,
    warmup: int,
) -> tuple[float, float, float]:
    """Median seconds of InfluxDB, generic and tuned flight-iox, alternating, after warm-ups."""
    steps = {
        "influxdb1": lambda: influx_rows(peer, session, query.influxql),
        "generic": lambda: run(generic, query.sql),
        "tuned": lambda: run(tuned, query.tuned),
    }
    for _ in range(warmup):
        for step in steps.values():
            step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for i in range(runs):
        order = list(steps.items())
        for name, step in order if i % 2 else reversed(order):
            start = time.perf_counter()
            step()
            samples[name].append(time.perf_counter() - start)
    return tuple(statistics.median(samples[name]) for name in steps)  # type: ignore[return-value]


def generic_connection(server: RunningServer) -> flightsql.Connection:
    """``adbc_driver_flightsql`` as it comes, database ``tsbs`` in the call header."""
    header = {"adbc.flight.sql.rpc.call_header.database": DATABASE}
    return flightsql.connect(server.flight_uri, autocommit=True, db_kwargs=header)


def geomean(ratios: list[float]) -> float:
    """The geometric mean."""
    return math.exp(statistics.mean(math.log(r) for r in ratios))


# --- the run --------------------------------------------------------------------------------


def ingest(
    server: RunningServer,
    peer: InfluxDB1,
    bodies: list[bytes],
    lines: int,
    clients_list: list[int],
    runs: int,
) -> dict:
    """Median lines/s of both servers per client count, alternating runs."""
    rates: dict[int, dict[str, list[float]]] = {}
    with multiprocessing.Pool(max(clients_list)) as pool:
        for clients in clients_list:
            mine = rates.setdefault(clients, {"flight_iox": [], "influxdb1": []})
            for r in range(runs):
                db = f"ingest_c{clients}_r{r}"
                peer.query(f"CREATE DATABASE {db}")
                targets = {
                    "flight_iox": (
                        f"{server.http_url}/api/v2/write",
                        {"bucket": db, "precision": "ns"},
                    ),
                    "influxdb1": (f"{peer.url}/write", {"db": db, "precision": "n"}),
                }
                names = sorted(targets, reverse=bool(r % 2))  # alternate who goes first
                for name in names:
                    url, params = targets[name]
                    mine[name].append(lines / timed_ingest(pool, url, params, bodies, clients))
                print(
                    f"  ingest clients={clients} run {r + 1}: flight-iox "
                    f"{mine['flight_iox'][-1]:,.0f} lines/s, InfluxDB {mine['influxdb1'][-1]:,.0f}"
                )
    return {
        c: {
            "flight_iox_lines_per_s": statistics.median(v["flight_iox"]),
            "influxdb1_lines_per_s": statistics.median(v["influxdb1"]),
            "ratio": statistics.median(v["flight_iox"]) / statistics.median(v["influxdb1"]),
            "runs": v,
        }
        for c, v in rates.items()
    }


def main(argv: list[str] | None = None) -> None:
    """Run everything and print the side-by-side table (``argv``: the flags, for a test that
    runs it in its own process, so its server forks from the tests' zygote)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per query")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--ingest-runs", type=int, default=3)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=7, help="query generator seed")
    parser.add_argument("--lastpoint-sql", default=None, help="tuned lastpoint SQL")
    parser.add_argument("--only", nargs="*", default=None, help="query names to run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tsbs.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "tsbs-ratios.png")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG (no matplotlib)")
    parser.add_argument(
        "--parquet-cache-size",
        default=None,
        help="flight-iox's --parquet-cache-size (default: the server's; 0 reads Parquet)",
    )
    parser.add_argument(
        "--aggregate-cache-size",
        default=None,
        help="flight-iox's --aggregate-cache-size (default: the server's; 0 aggregates every "
        "file at every query instead of combining kept per-file partials)",
    )
    args = parser.parse_args(argv)
    if not GENERATOR.exists() or not InfluxDB1.available():
        print("skipped: needs ../shared/tsbs/gen_cpu.py and Debian's influxd")
        return
    extra = {"lastpoint_sql": args.lastpoint_sql} if args.lastpoint_sql else {}
    queries = tsbs_queries(args.hosts, args.hours, args.seed, **extra)
    if args.only:
        queries = [q for q in queries if q.name in args.only]
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        lines = sum(b.count(b"\n") + 1 for b in bodies)
        values = lines * FIELDS_PER_LINE
        print(
            f"{lines:,} lines ({values:,} field values) in {len(bodies)} bodies "
            f"of {BATCH_LINES} lines"
        )
        cache = ("--parquet-cache-size", args.parquet_cache_size) if args.parquet_cache_size else ()
        if args.aggregate_cache_size:
            cache = (*cache, "--aggregate-cache-size", args.aggregate_cache_size)
        server = start_bench_server(Path(folder), *cache)
        peer = InfluxDB1(data_options=INFLUX_DATA_OPTIONS).__enter__()
        try:
            ingested = (
                ingest(server, peer, bodies, lines, args.clients, args.ingest_runs)
                if args.ingest_runs
                else {}
            )
            peer.query(f"CREATE DATABASE {DATABASE}")
            with multiprocessing.Pool(1) as pool:
                timed_ingest(
                    pool, f"{peer.url}/write", {"db": DATABASE, "precision": "n"}, bodies, 1
                )
            load(server, bodies)
            admin(server, "/api/v3/persist")
            admin(server, "/api/v3/compact")
            with connect(server) as conn:
                parquet = run(conn, "SELECT sum(size_bytes) FROM system.parquet_files")
            ours_bytes = parquet.column(0)[0].as_py()
            their_bytes, their_total, compacted = influx_disk(peer, timeout=120)
            results = []
            session = requests.Session()
            with connect(server) as tuned, generic_connection(server) as generic:
                for query in queries:
                    theirs_rows = influx_rows(peer, session, query.influxql)
                    count = check_equal(query, theirs_rows, iox_rows(generic, query.sql))
                    check_equal(query, theirs_rows, iox_rows(tuned, query.tuned))
                    theirs, ours, fast = time_all(
                        query, peer, session, generic, tuned, args.runs, args.warmup
                    )
                    results.append(
                        {
                            "name": query.name,
                            "rows": count,
                            "influxdb1_ms": theirs * 1e3,
                            "flight_iox_ms": ours * 1e3,
                            "ratio": ours / theirs,
                            "tuned_ms": fast * 1e3,
                            "tuned_ratio": fast / theirs,
                            "extra": query.extra,
                            "window_hours": query.window_hours,
                            "influxql": query.influxql,
                            "sql": query.sql,
                            "tuned_sql": query.tuned,
                        }
                    )
                    print(
                        f"  {query.name:<30} {count:>6} rows  InfluxDB {theirs * 1e3:8.1f} ms"
                        f"  generic {ours * 1e3:8.1f} ms {ours / theirs:6.2f}x"
                        f"  tuned {fast * 1e3:8.1f} ms {fast / theirs:6.2f}x"
                    )
        finally:
            server.stop()
            peer.__exit__(None, None, None)
    summary = {
        "parquet_cache_size": args.parquet_cache_size or "server default (1GiB)",
        "hosts": args.hosts,
        "hours": args.hours,
        "lines": lines,
        "values": values,
        "runs": args.runs,
        "warmup": args.warmup,
        "ingest": ingested,
        "queries": results,
        "clients": {
            "generic": "adbc_driver_flightsql, natural SQL (lastpoint: DISTINCT ON)",
            "tuned": "adbc_driver_flight_iox, lastpoint through last_cache()",
        },
        "geomean": geomean([r["ratio"] for r in results if not r["extra"]]) if results else None,
        "geomean_tuned": (
            geomean([r["tuned_ratio"] for r in results if not r["extra"]]) if results else None
        ),
        "storage": {
            "flight_iox_bytes": ours_bytes,
            "flight_iox_bytes_per_value": ours_bytes / values,
            "influxdb1_bytes": their_bytes,
            "influxdb1_bytes_per_value": their_bytes / values,
            "influxdb1_all_files_bytes": their_total,
            "influxdb1_fully_compacted": compacted,
        },
    }
    report(summary)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {args.out}")
    if not args.no_plot:
        from bench.plot_tsbs import plot

        plot(summary, args.plot)
        print(f"wrote {args.plot}")


def report(summary: dict) -> None:
    """Print the side-by-side table (markdown, as docs/benchmarks.md shows it)."""
    print(
        f"\nTSBS cpu-only, {summary['hosts']} hosts x {summary['hours']} h: "
        f"{summary['lines']:,} lines\n"
    )
    print(
        "Queries: generic = plain adbc_driver_flightsql with natural SQL (the headline); "
        "tuned = the project's driver, lastpoint through last_cache().\n"
    )
    print(
        "| | InfluxDB 1.x | flight-iox generic | generic / InfluxDB "
        "| flight-iox tuned | tuned / InfluxDB |\n|---|---:|---:|---:|---:|---:|"
    )
    for clients, row in summary["ingest"].items():
        print(
            f"| ingest, {clients} client(s), lines/s | {row['influxdb1_lines_per_s']:,.0f} | "
            f"{row['flight_iox_lines_per_s']:,.0f} | **{row['ratio']:.2f}x** | | |"
        )
    for row in summary["queries"]:
        note = f" ({row['window_hours']:g} h window)" if row["window_hours"] else ""
        note += " (reference: not in the mean)" if row["extra"] else ""
        print(
            f"| {row['name']}{note}, ms | {row['influxdb1_ms']:.1f} | "
            f"{row['flight_iox_ms']:.1f} | **{row['ratio']:.2f}x** | "
            f"{row['tuned_ms']:.1f} | {row['tuned_ratio']:.2f}x |"
        )
    if summary["geomean"]:
        print(
            f"| query geometric mean | | | **{summary['geomean']:.2f}x** | | "
            f"{summary['geomean_tuned']:.2f}x |"
        )
    s = summary["storage"]
    flag = "" if s["influxdb1_fully_compacted"] else " (not fully compacted)"
    print(
        "| bytes per field value (InfluxDB: TSM files) | "
        f"{s['influxdb1_bytes_per_value']:.3f}{flag} | "
        f"{s['flight_iox_bytes_per_value']:.3f} | "
        f"{s['flight_iox_bytes'] / s['influxdb1_bytes']:.2f}x | | |"
    )


if __name__ == "__main__":
    main()
