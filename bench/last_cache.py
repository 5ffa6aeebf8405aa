"""lastpoint while data arrives: ``last_cache('cpu')`` right after a write, against the window SQL.

    python bench/last_cache.py [--hosts 100] [--hours 3] [--rounds 40]

TSBS cpu-only is written, persisted and compacted. Then, each round, one new point per host
is written (as an agent reporting every 10 s would) and the latest row of every host is
queried twice, alternately: through ``last_cache('cpu')`` and through the window query
``row_number() OVER (PARTITION BY hostname ORDER BY time DESC)`` over the table, which is
what the cache computed after every write before it kept the files' part. Both answers are
compared every round. Prints the median latency of each (ADBC, the project's driver) and
the ratio.

It also times a configured last cache (``POST /api/v3/configure/last_cache``, key
``hostname``, count 1, a ttl reaching back to the data's 2016 start) through
``last_cache('cpu', 'lc')``: right after the write (its rows are recomputed by one query
over the table) and again without a write in between (its held rows are served), in as
many further write rounds, after the rounds above (with a configured cache on the table,
``last_cache('cpu')`` would name it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adbc_driver_flight_iox import dbapi  # noqa: E402
from bench.ingest import GENERATOR, make_bodies  # noqa: E402
from bench.storage import admin, connect, load, run  # noqa: E402
from flight_iox.launcher import start_server  # noqa: E402

CACHE_SQL = "SELECT * FROM last_cache('cpu') ORDER BY hostname"
CONFIGURED_SQL = "SELECT * FROM last_cache('cpu', 'lc') ORDER BY hostname"
TWENTY_YEARS_S = 20 * 365 * 86_400
WINDOW_SQL = (
    "SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER (PARTITION BY hostname "
    'ORDER BY "time" DESC) AS rn FROM cpu) AS t WHERE rn = 1 ORDER BY hostname'
)
START_NS = 1_451_606_400_000_000_000  # 2016-01-01T00:00:00Z, the generator's start


def new_points(last_lines: list[bytes], at_ns: int) -> bytes:
    """Each host's last line again (same series, same fields), at ``at_ns``."""
    return b"\n".join(line.rsplit(b" ", 1)[0] + b" %d" % at_ns for line in last_lines)


def _timed(conn: dbapi.Connection, sql: str) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    table = run(conn, sql)
    return time.perf_counter() - start, table.to_pylist()


def main() -> None:
    """Load, persist, compact; then write-then-query rounds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    if not GENERATOR.exists():
        print("skipped: needs ../shared/tsbs/gen_cpu.py")
        return
    samples: dict[str, list[float]] = {
        "last_cache": [],
        "configured, after the write": [],
        "configured, again": [],
        "window SQL": [],
    }
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        last_lines = bodies[-1].strip().split(b"\n")[-args.hosts :]
        server = start_server(Path(folder) / "data", "--log-level", "warning")
        try:
            load(server, bodies)
            admin(server, "/api/v3/persist")
            admin(server, "/api/v3/compact")
            session = requests.Session()
            body = {
                "db": "tsbs",
                "table": "cpu",
                "name": "lc",
                "key_columns": ["hostname"],
                "ttl": TWENTY_YEARS_S,
            }
            with connect(server) as conn:
                for i in range(2 * args.rounds):
                    if i == args.rounds:  # second phase: the configured cache
                        url = f"{server.http_url}/api/v3/configure/last_cache"
                        session.post(url, json=body, timeout=60).raise_for_status()
                    at = START_NS + (args.hours * 3600 + 10 * (i + 1)) * 1_000_000_000
                    reply = session.post(
                        f"{server.http_url}/api/v2/write",
                        params={"bucket": "tsbs"},
                        data=new_points(last_lines, at),
                        timeout=60,
                    )
                    reply.raise_for_status()
                    if i >= args.rounds:
                        for name in ("configured, after the write", "configured, again"):
                            seconds, rows = _timed(conn, CONFIGURED_SQL)
                            samples[name].append(seconds)
                            if len(rows) != args.hosts:
                                raise SystemExit(
                                    f"round {i}: the configured cache gave {len(rows)}"
                                )
                        continue
                    order = [CACHE_SQL, WINDOW_SQL] if i % 2 else [WINDOW_SQL, CACHE_SQL]
                    answers = {}
                    for sql in order:
                        seconds, answers[sql] = _timed(conn, sql)
                        name = "last_cache" if sql == CACHE_SQL else "window SQL"
                        samples[name].append(seconds)
                    if answers[CACHE_SQL] != answers[WINDOW_SQL]:
                        raise SystemExit(f"round {i}: last_cache and the window query differ")
        finally:
            server.stop()
    medians = {name: statistics.median(s) * 1e3 for name, s in samples.items()}
    rounds = f"{args.rounds} write-then-query rounds"
    print(f"\n{args.hosts} hosts x {args.hours} h, persisted; {rounds}")
    print("\n| query after each write | median ms | / window SQL |\n|---|---:|---:|")
    for name, ms in medians.items():
        print(f"| {name} | {ms:.2f} | {ms / medians['window SQL']:.2f}x |")


if __name__ == "__main__":
    main()
