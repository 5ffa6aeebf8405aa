"""flight-iox through plain ADBC against DuckDB in process, on the very same Parquet files.

    python bench/duckdb_side_by_side.py [--hosts 1000] [--hours 2] [--runs 7] [--smoke]

1. **Data**: TSBS cpu-only (../shared/tsbs/gen_cpu.py), 5,000-line bodies written to
   flight-iox, then persisted and compacted. ``system.parquet_files`` names the files.
2. **DuckDB** (in this process, its default settings) gets a view ``cpu`` over exactly those
   files (``read_parquet``), with the columns in flight-iox's order and no remainder column
   (TSBS times are whole seconds, so microseconds are exact).
3. **Queries**: every TSBS type of bench/tsbs_queries.py plus ``count(*)``, in natural SQL:
   lastpoint is ``SELECT DISTINCT ON (hostname) * … ORDER BY hostname, time DESC``, not
   ``last_cache``. flight-iox gets them through ``adbc_driver_flightsql`` as it comes (what BI
   tools run: every ``execute`` prepares, then GetFlightInfo and DoGet), so our RPC is
   included. DuckDB's dialect differs only in ``time_bucket`` for ``date_bin``.
4. Both answers are checked equal first (times as ns, tags as strings, floats to 1e-9), then
   warm-up runs and ``--runs`` alternating timed runs; the median of each and the ratio
   flight-iox / DuckDB, with the geometric mean. This runs twice on the same files: with
   flight-iox's Parquet cache (the default) and, after a restart, with
   ``--parquet-cache-size 0`` (every query decodes the Parquet files, as DuckDB does).

Targets (issue 17): geometric mean <= 1.0x and no query above 2x. Prints the table, writes
bench/results/duckdb_side_by_side.json and docs/duckdb-side-by-side.png.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
import duckdb
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import GENERATOR, make_bodies, start_bench_server  # noqa: E402
from bench.query_scan import same_rows  # noqa: E402
from bench.storage import admin, load  # noqa: E402
from bench.tsbs_queries import tsbs_queries  # noqa: E402
from flight_iox.launcher import RunningServer  # noqa: E402

DATABASE = "tsbs"  # bench.storage's helpers write to this database
DATABASE_OPTION = "adbc.flight.sql.rpc.call_header.database"
DISTINCT_ON_LASTPOINT = 'SELECT DISTINCT ON (hostname) * FROM cpu ORDER BY hostname, "time" DESC'
DATE_BIN = "date_bin(INTERVAL '{}', \"time\", TIMESTAMP '1970-01-01 00:00:00')"
TARGET_GEOMEAN, TARGET_MAX = 1.0, 2.0


@dataclass(frozen=True)
class SideBySide:
    """One query in flight-iox's SQL (DataFusion) and in DuckDB's."""

    name: str
    sql: str
    duckdb_sql: str


def duckdb_dialect(sql: str) -> str:
    """DataFusion SQL as DuckDB writes it: ``time_bucket`` for ``date_bin`` (origins agree
    for minutes and hours: DuckDB's default origin is a whole day)."""
    for width in ("1 minute", "1 hour"):
        sql = sql.replace(DATE_BIN.format(width), f"time_bucket(INTERVAL '{width}', \"time\")")
    return sql


def queries(hosts: int, hours: int, seed: int) -> list[SideBySide]:
    """count(*) and each TSBS type, lastpoint as DISTINCT ON."""
    sql = {
        "count(*)": "SELECT count(*) AS n FROM cpu",
        **{
            q.name: q.sql
            for q in tsbs_queries(hosts, hours, seed)
            if not q.name.startswith("lastpoint")  # each form of it is one below
        },
        "lastpoint (DISTINCT ON)": DISTINCT_ON_LASTPOINT,
    }
    return [SideBySide(name, text, duckdb_dialect(text)) for name, text in sql.items()]


def normal(table: pa.Table) -> pa.Table:
    """Times as int64 nanoseconds and tags as plain strings, so both engines compare."""
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("ns", column.type.tz)).cast(pa.int64())
        elif pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
            column = column.cast(pa.string())
        columns[name] = column
    return pa.table(columns)


def duckdb_over(files: list[str], columns: list[str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with view ``cpu`` over ``files``, columns in ``columns``' order."""
    connection = duckdb.connect()
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    projection = ", ".join(f'"{c}"' for c in columns)
    connection.execute(f"CREATE VIEW cpu AS SELECT {projection} FROM read_parquet([{listed}])")
    return connection


def flight_connection(server: RunningServer) -> flightsql.Connection:
    """``adbc_driver_flightsql`` as it comes, database ``tsbs`` by its gRPC header."""
    return flightsql.connect(
        server.flight_uri, autocommit=True, db_kwargs={DATABASE_OPTION: DATABASE}
    )


def flight_run(conn: flightsql.Connection, sql: str) -> pa.Table:
    """One query over Flight SQL (the driver prepares, gets the flight info, then DoGet)."""
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetch_arrow_table()


def local_path(uri: str) -> str:
    """A file URI of the local warehouse as a path DuckDB opens."""
    return uri.removeprefix("file://")


def measure(
    label: str,
    runners: dict[str, Callable[[str], pa.Table]],
    plan: list[SideBySide],
    runs: int,
    warmup: int,
) -> list[dict]:
    """Check each query's answers agree, then time both engines alternately."""
    results = []
    for query in plan:
        ours = normal(runners["flight_iox"](query.sql))
        theirs = normal(runners["duckdb"](query.duckdb_sql))
        if not same_rows(theirs, ours):
            raise SystemExit(
                f"{label} {query.name}: answers differ ({theirs.num_rows} rows from DuckDB, "
                f"{ours.num_rows} from flight-iox; columns {theirs.column_names} vs "
                f"{ours.column_names})"
            )
        samples: dict[str, list[float]] = {"flight_iox": [], "duckdb": []}
        texts = {"flight_iox": query.sql, "duckdb": query.duckdb_sql}
        for i in range(warmup + runs):
            for name in sorted(samples, reverse=bool(i % 2)):  # alternate who goes first
                started = time.perf_counter()
                runners[name](texts[name])
                if i >= warmup:
                    samples[name].append(time.perf_counter() - started)
        ours_ms = statistics.median(samples["flight_iox"]) * 1e3
        theirs_ms = statistics.median(samples["duckdb"]) * 1e3
        results.append({"name": query.name, "rows": ours.num_rows, "duckdb_ms": theirs_ms,
                        "flight_iox_ms": ours_ms, "ratio": ours_ms / theirs_ms,
                        "sql": query.sql, "duckdb_sql": query.duckdb_sql})  # fmt: skip
        ratio = ours_ms / theirs_ms
        print(f"  {label:<9} {query.name:<24} {ours.num_rows:>6} rows  DuckDB "
              f"{theirs_ms:8.1f} ms  flight-iox {ours_ms:8.1f} ms  {ratio:6.2f}x")  # fmt: skip
    return results


def geomean(ratios: list[float]) -> float:
    """The geometric mean."""
    return math.exp(statistics.mean(math.log(r) for r in ratios))


def main(argv: list[str] | None = None) -> None:
    """Load, persist and compact once; then each cache mode against DuckDB on those files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=2)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per query and engine")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7, help="query generator seed")
    parser.add_argument("--smoke", action="store_true", help="3 hosts x 1 h, 1 run (CI)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/duckdb_side_by_side.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "duckdb-side-by-side.png")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.hosts, args.hours, args.runs, args.warmup = 3, 1, 1, 0
    if not GENERATOR.exists():
        print(f"skipped: {GENERATOR} not found (../shared beside the checkout is needed)")
        return
    plan = queries(args.hosts, args.hours, args.seed)
    modes: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        lines = sum(b.count(b"\n") + 1 for b in bodies)
        print(f"{lines:,} lines ({lines * 10:,} field values), {len(bodies)} bodies")
        server = start_bench_server(Path(folder))  # the Parquet cache on: the default
        try:
            load(server, bodies)
            admin(server, "/api/v3/persist")
            admin(server, "/api/v3/compact")
            with flight_connection(server) as conn:
                files = flight_run(conn, "SELECT path, size_bytes FROM system.parquet_files")
                columns = flight_run(conn, "SELECT * FROM cpu LIMIT 0").column_names
                paths = [local_path(p) for p in files.column("path").to_pylist()]
                file_bytes = sum(files.column("size_bytes").to_pylist())
                print(f"{len(paths)} Parquet files, {file_bytes:,} bytes")
                duck = duckdb_over(paths, columns)
                runners = {"flight_iox": lambda s: flight_run(conn, s),
                           "duckdb": lambda s: duck.sql(s).to_arrow_table()}  # fmt: skip
                modes["cache on"] = measure("cache on", runners, plan, args.runs, args.warmup)
        finally:
            server.kill()  # all persisted; a graceful stop waits seconds for nothing
        # The same files, decoded by every query (as DuckDB does): a restart without the cache.
        server = start_bench_server(Path(folder), "--parquet-cache-size", "0")
        try:
            with flight_connection(server) as conn:
                runners["flight_iox"] = lambda s: flight_run(conn, s)
                modes["cache off"] = measure("cache off", runners, plan, args.runs, args.warmup)
        finally:
            server.kill()
        duck.close()
    summary = {
        "hosts": args.hosts, "hours": args.hours, "lines": lines, "values": lines * 10,
        "files": len(paths), "file_bytes": file_bytes, "runs": args.runs,
        "warmup": args.warmup, "duckdb_version": duckdb.__version__,
        "load_average": os.getloadavg(),
        "modes": {label: {"queries": rows, "geomean": geomean([r["ratio"] for r in rows]),
                          "max": max(r["ratio"] for r in rows)}
                  for label, rows in modes.items()},
    }  # fmt: skip
    report(summary)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {args.out}")
    if not args.no_plot:
        from bench.plot_peers import plot_side_by_side

        plot_side_by_side(summary, args.plot)
        print(f"wrote {args.plot}")


def report(summary: dict) -> None:
    """Print the markdown table docs/benchmarks.md shows."""
    labels = list(summary["modes"])
    print(f"\nflight-iox (plain ADBC) / DuckDB in process, {summary['hosts']} hosts x "
          f"{summary['hours']} h, same {summary['files']} Parquet files, load "
          f"{summary['load_average'][0]:.2f}\n")  # fmt: skip
    header = " | ".join(f"DuckDB ms | flight-iox ms ({label}) | ratio" for label in labels)
    print(f"| query | {header} |\n|---|" + "---:|---:|---:|" * len(labels))
    by_name = [{r["name"]: r for r in summary["modes"][label]["queries"]} for label in labels]
    for name in by_name[0]:
        cells = []
        for rows in by_name:
            r = rows[name]
            cells.append(f"{r['duckdb_ms']:.1f} | {r['flight_iox_ms']:.1f} | {r['ratio']:.2f}x")
        print(f"| {name} | {' | '.join(cells)} |")
    geo = " | ".join(f" | | {summary['modes'][m]['geomean']:.2f}x" for m in labels)
    print(f"| geometric mean | {geo} |")
    for label in labels:
        mode = summary["modes"][label]
        met = mode["geomean"] <= TARGET_GEOMEAN and mode["max"] <= TARGET_MAX
        verdict = "met" if met else "NOT met"
        print(f"{label}: geomean {mode['geomean']:.2f}x (target <= {TARGET_GEOMEAN}), worst "
              f"{mode['max']:.2f}x (target <= {TARGET_MAX}): {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
