"""Storage and query cost of persistence on TSBS cpu-only data.

    python bench/storage.py [--hosts 100] [--hours 12] [--runs 5]

1. Bytes per field value: the data is written to flight-iox, persisted and compacted;
   the Parquet bytes in ``system.parquet_files`` are divided by the field values.
   The baseline, measured in the same run, is the same rows written with pyarrow's
   defaults plus zstd ("naive zstd Parquet").
2. Query time over buffer + files against files only: one server holds everything in
   files; a second holds the first half in files and the second half in its buffer.
   The TSBS SQL queries of ../shared/tsbs/queries.json run over Flight SQL (ADBC) on
   both, after a warm-up; the script checks both return the same rows, then prints the
   median time of each and the ratio, with the geometric mean.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adbc_driver_flight_iox import dbapi  # noqa: E402
from bench.ingest import make_bodies  # noqa: E402
from flight_iox.launcher import RunningServer, start_server  # noqa: E402

QUERIES = ROOT.parent / "shared" / "tsbs" / "queries.json"
FIELDS_PER_LINE = 10


def load(server: RunningServer, bodies: list[bytes]) -> None:
    """Post the bodies to ``/api/v2/write``."""
    session = requests.Session()
    for body in bodies:
        reply = session.post(f"{server.http_url}/api/v2/write", params={"bucket": "tsbs"},
                             data=body, timeout=300)  # fmt: skip
        reply.raise_for_status()


def admin(server: RunningServer, path: str, db: str = "tsbs") -> dict:
    """POST an admin endpoint for database ``db`` and return its JSON."""
    reply = requests.post(f"{server.http_url}{path}", params={"db": db}, timeout=3600)
    reply.raise_for_status()
    return reply.json()


def connect(server: RunningServer) -> dbapi.Connection:
    """The project's ADBC driver (queries without parameters run unprepared), database tsbs."""
    return dbapi.connect(server.flight_uri, database="tsbs")


def run(conn: dbapi.Connection, sql: str) -> pa.Table:
    """One query's result."""
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetch_arrow_table()


def timed(conn: dbapi.Connection, sql: str, runs: int) -> float:
    """Median seconds over ``runs`` after one warm-up."""
    run(conn, sql)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        run(conn, sql)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def naive_parquet_bytes(server: RunningServer) -> int:
    """The same rows as one pyarrow-default zstd Parquet file (the baseline)."""
    with connect(server) as conn:
        rows = run(conn, "SELECT * FROM cpu")
    plain = pa.table({n: (c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c)
                      for n, c in zip(rows.column_names, rows.columns, strict=True)})  # fmt: skip
    sink = io.BytesIO()
    pq.write_table(plain, sink, compression="zstd")
    return sink.tell()


def main() -> None:
    """Run both measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=12)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "storage.json")
    args = parser.parse_args()
    if not QUERIES.exists():
        print(f"skipped: {QUERIES} not found (../shared beside the checkout is needed)")
        return
    queries = json.loads(QUERIES.read_text())
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        lines = sum(b.count(b"\n") + 1 for b in bodies)
        values = lines * FIELDS_PER_LINE
        flags = ("--buffer-memory-limit", "16GiB", "--persist-max-rows", "100000000",
                 "--persist-max-age", "100000", "--log-level", "warning")  # fmt: skip
        files_only = start_server(Path(folder) / "files", *flags)
        mixed = start_server(Path(folder) / "mixed", *flags)
        try:
            load(files_only, bodies)
            admin(files_only, "/api/v3/persist")
            admin(files_only, "/api/v3/compact")
            with connect(files_only) as conn:
                parquet = run(conn, "SELECT sum(size_bytes) AS b FROM system.parquet_files")
            ours = parquet.column(0)[0].as_py()
            naive = naive_parquet_bytes(files_only)
            half = len(bodies) // 2
            load(mixed, bodies[:half])
            admin(mixed, "/api/v3/persist")
            load(mixed, bodies[half:])
            results = []
            with connect(files_only) as a, connect(mixed) as b:
                for query in queries:
                    sql = query["sql"]
                    left, right = run(a, sql), run(b, sql)
                    if left.num_rows != right.num_rows or left.to_pylist() != right.to_pylist():
                        raise SystemExit(f"{query['name']}: buffer+files and files differ")
                    files_s, mixed_s = timed(a, sql, args.runs), timed(b, sql, args.runs)
                    results.append((query["name"], files_s, mixed_s))
        finally:
            files_only.stop()
            mixed.stop()
    report(args, lines, values, ours, naive, results)


def report(args: argparse.Namespace, lines: int, values: int, ours: int, naive: int,
           results: list[tuple[str, float, float]]) -> None:  # fmt: skip
    """Print the tables and write the JSON."""
    print(f"{lines:,} lines, {values:,} field values ({args.hosts} hosts x {args.hours} h)")
    print(f"flight-iox Parquet after persist+compact: {ours:,} B = {ours / values:.3f} B/value")
    print(f"naive zstd Parquet (same run):            {naive:,} B = {naive / values:.3f} B/value")
    print(f"ratio: {ours / naive:.2f}x\n")
    print(f"{'query':<24} {'files ms':>9} {'buffer+files ms':>16} {'ratio':>7}")
    for name, files_s, mixed_s in results:
        ratio = mixed_s / files_s
        print(f"{name:<24} {files_s * 1000:>9.1f} {mixed_s * 1000:>16.1f} {ratio:>6.2f}x")
    geomean = math.exp(statistics.mean(math.log(m / f) for _, f, m in results))
    print(f"{'geometric mean':<24} {'':>9} {'':>16} {geomean:>6.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "hosts": args.hosts, "hours": args.hours, "lines": lines, "values": values,
        "bytes": ours, "bytes_per_value": ours / values, "naive_bytes": naive,
        "naive_bytes_per_value": naive / values, "queries": results, "geomean": geomean,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
