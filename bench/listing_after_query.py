"""A table listing after each query: system tables left alone, against rebuilt each time.

    python bench/listing_after_query.py [--queries 200] [--repeats 3]

Every query moves the query log, whose ``system.queries`` is a live system table. A
listing through ``information_schema`` reads every table of the databases it holds, and
until now that also rebuilt all their ``system`` tables (a provider each, the cluster
node list read again) and planned the listing again, since the log had moved: the
authorization tests' fingerprint of ``other`` after each cell, or a client's table browser
between queries. A listing reads names and columns, never a system table's rows, so only
statements naming ``system`` rebuild them now (``reads_system_rows``). This runs a small
query and then the auth matrix's fingerprint listing, ``--queries`` times, as an admin with
each query recorded in the log as the HTTP handler does, with the rule now and with the
rule before (every listing rebuilds), alternating, and prints the time per pair and the
ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "catalog"))

from flight_iox.app import App, build_app  # noqa: E402
from flight_iox.auth.policy import ANONYMOUS  # noqa: E402
from flight_iox.config import Settings  # noqa: E402
from flight_iox.query import registry  # noqa: E402

LISTING = (
    "SELECT (SELECT count(*) FROM other.iox.cpu) AS n, "
    "(SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables "
    " WHERE table_catalog = 'other' AND table_schema = 'iox') AS tables"
)
QUERY = "SELECT host FROM cpu"


def logged(app: App, sql: str) -> None:
    """Run ``sql`` on ``mine`` as the HTTP handler does: recorded in the query log."""
    record = app.queries.begin("http_sql", sql, "mine", ANONYMOUS, threading.Event())
    reader = app.sql.scoped(ANONYMOUS).execute("mine", sql, ())
    app.queries.watch(record, reader).read_all()
    app.queries.end(record)


def per_pair_ms(app: App, queries: int, before: bool) -> float:
    """Milliseconds per query-and-listing pair (``before``: every listing rebuilds)."""
    now_rule = registry.reads_system_rows
    if before:
        registry.reads_system_rows = lambda sql: True  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        for _ in range(queries):
            logged(app, QUERY)
            logged(app, LISTING)
        return (time.perf_counter() - started) / queries * 1000
    finally:
        registry.reads_system_rows = now_rule


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Settings(data_dir=Path(folder) / "data", wal_fsync=False))
        try:
            for db in ("mine", "other"):
                rows = "\n".join(f"cpu,host=h{i} usage={i} {i * 10**9}" for i in range(20))
                app.engine.write_line_protocol(db, rows.encode(), principal=ANONYMOUS)
            app.persister.persist()
            per_pair_ms(app, 20, False)  # warm
            now, before = [], []
            for _ in range(args.repeats):
                now.append(per_pair_ms(app, args.queries, False))
                before.append(per_pair_ms(app, args.queries, True))
        finally:
            app.close()
    n, b = statistics.median(now), statistics.median(before)
    print(f"a query, then an information_schema listing; {args.queries} pairs, median of runs")
    print(f"  every listing rebuilds system tables (before): {b:.2f} ms per pair")
    print(f"  only statements naming system do (now):        {n:.2f} ms per pair")
    print(f"  ratio now/before: {n / b:.2f}")


if __name__ == "__main__":
    main()
