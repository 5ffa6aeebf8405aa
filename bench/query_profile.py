"""Where a plain-ADBC query's fixed cost goes: client and transport against the server's Python.

    python bench/query_profile.py [--runs 300] [--top 25] [--sql "SELECT 1"]

The server runs in this process (the app and its Flight SQL server, auth off), so each
Flight RPC handler can be timed and profiled; the client runs in a child process (so it does
not compete with the server for this process's GIL): every ``get_flight_info``, ``do_get`` and
``do_action`` call runs under one ``cProfile.Profile`` (the client is sequential, so one
handler runs at a time) and its wall time is added up per RPC. The client is
``adbc_driver_flightsql`` as it comes: ``cursor.execute`` + ``fetch_arrow_table``, which
sends CreatePreparedStatement, GetFlightInfo, DoGet and ClosePreparedStatement.

Prints the median query time, the server's share per RPC (mean ms per query), what is
left for the client, gRPC and the batches streamed after ``do_get`` returns, the profile's
split by area (DataFusion, the asyncio loop that awaits each batch, the Flight SQL
handlers, the engine around DataFusion, handle encoding, protobuf) and its top functions.
``--timer cpu`` profiles each thread's CPU time instead of wall time (what a busy machine
makes of waits does not count). Since GetFlightInfo starts the statement ahead of its DoGet
(``flightsql/prefetch.py``), the work ahead runs on a worker thread: it is timed as its own
row and profiled too. Writes bench/results/query_profile.json.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import adbc_driver_flightsql.dbapi as flightsql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_iox.app import build_app  # noqa: E402
from flight_iox.auth.policy import ANONYMOUS  # noqa: E402
from flight_iox.auth.setup import authorizer_for  # noqa: E402
from flight_iox.config import Settings  # noqa: E402
from flight_iox.flightsql import prefetch  # noqa: E402
from flight_iox.flightsql.server import FlightSqlServer  # noqa: E402
from flight_iox.server import _flight_server  # noqa: E402

RPCS = ("get_flight_info", "do_get", "do_action")
DATA = "\n".join(f"cpu,host=h{i % 10} usage={i} {i * 10**9}" for i in range(1000))
AHEAD = "work ahead of do_get"
# Where a profiled function's own time goes, by where it is defined (first match wins).
AREAS = (
    ("DataFusion (physical plan, batches)", ("datafusion", "execute_stream", "to_pyarrow")),
    ("asyncio loop awaiting batches", ("asyncio", "selectors", "epoll", "socket")),
    ("handle and ticket encoding", ("flightsql/handles", "json", "base64", "client_json")),
    ("Flight SQL handlers and auth", ("/flightsql/", "/auth/")),
    ("engine around DataFusion", ("/query/",)),
    ("protobuf", ("protobuf", "ParseFromString", "SerializeToString")),
)


def area(file: str, function: str) -> str:
    """The area of ``AREAS`` a profiled function belongs to."""
    for name, marks in AREAS:
        if any(mark in file or mark in function for mark in marks):
            return name
    return "other"


def by_area(stats: pstats.Stats, runs: int) -> dict[str, float]:
    """Own time per query (ms) of each area, largest first."""
    spent: dict[str, float] = defaultdict(float)
    for (file, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        spent[area(file, function)] += row[2] * 1e3 / runs
    return dict(sorted(spent.items(), key=lambda item: -item[1]))


def instrument_ahead(
    profile: cProfile.Profile, spent: dict[str, list[float]], on: list[bool]
) -> None:
    """Time and profile the statements GetFlightInfo runs ahead (on a worker thread)."""
    original = prefetch._Ahead.read_ahead

    def timed(*args: Any) -> Any:
        if not on[0]:
            return original(*args)
        start = time.perf_counter()
        profile.enable()
        try:
            return original(*args)
        finally:
            profile.disable()
            spent[AHEAD].append(time.perf_counter() - start)

    prefetch._Ahead.read_ahead = timed  # type: ignore[method-assign]


def instrument(profile: cProfile.Profile, spent: dict[str, list[float]], on: list[bool]) -> None:
    """Time and profile each RPC handler of ``FlightSqlServer`` (class-wide), while ``on[0]``."""
    for name in RPCS:
        original = getattr(FlightSqlServer, name)

        def timed(*args: Any, _original: Callable = original, _name: str = name) -> Any:
            if not on[0]:
                return _original(*args)
            start = time.perf_counter()
            profile.enable()
            try:
                return _original(*args)
            finally:
                profile.disable()
                spent[_name].append(time.perf_counter() - start)

        setattr(FlightSqlServer, name, timed)


def client(uri: str, sql: str, warmup: int, runs: int) -> list[float]:
    """Seconds per query of ``runs`` queries after ``warmup`` (run in a child process)."""
    header = {"adbc.flight.sql.rpc.call_header.database": "db"}
    totals = []
    with flightsql.connect(uri, autocommit=True, db_kwargs=header) as conn:
        for i in range(warmup + runs):
            start = time.perf_counter()
            with conn.cursor() as cursor:
                cursor.execute(sql)
                cursor.fetch_arrow_table()
            if i >= warmup:
                totals.append(time.perf_counter() - start)
    return totals


def main() -> None:
    """Run the queries, then print the split and the profile."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sql", default="SELECT 1")
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime")
    parser.add_argument("--timer", choices=("wall", "cpu"), default="wall")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "query_profile.json"
    )
    args = parser.parse_args()
    timer = time.thread_time if args.timer == "cpu" else time.perf_counter
    profile, ahead = cProfile.Profile(timer), cProfile.Profile(timer)
    spent: dict[str, list[float]] = defaultdict(list)
    on = [False]
    instrument(profile, spent, on)
    instrument_ahead(ahead, spent, on)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), wal_fsync=False, log_level="warning")
        app = build_app(settings)
        app.engine.write_line_protocol("db", DATA.encode(), principal=ANONYMOUS)
        server = _flight_server("grpc://127.0.0.1:0", app, authorizer_for(settings))
        uri = f"grpc://127.0.0.1:{server.port}"
        spawn = multiprocessing.get_context("spawn")
        try:
            with spawn.Pool(1) as pool:
                pool.apply(client, (uri, args.sql, args.warmup, 1))  # warm the server
                on[0] = True
                totals = pool.apply(client, (uri, args.sql, 0, args.runs))
        finally:
            server.shutdown()
            app.close()
    median = statistics.median(totals) * 1e3
    mean = statistics.mean(totals) * 1e3
    per_query = {name: sum(spent[name]) * 1e3 / args.runs for name in RPCS}
    server_ms = sum(per_query.values())
    print(
        f"\nplain ADBC, {args.sql!r}, {args.runs} queries: median {median:.2f} ms, mean {mean:.2f}"
    )
    print("| part | ms per query (mean) | share |\n|---|---:|---:|")
    for name, ms in per_query.items():
        print(f"| server {name} (Python handler) | {ms:.2f} | {ms / mean:.0%} |")
    rest = mean - server_ms
    print(f"| client, gRPC, streaming after do_get returns | {rest:.2f} | {rest / mean:.0%} |")
    ahead_ms = sum(spent[AHEAD]) * 1e3 / args.runs
    print(f"| server: {AHEAD} (a worker thread, overlaps the above) | {ahead_ms:.2f} | |")
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    if spent[AHEAD]:
        stats.add(ahead)
    areas = by_area(stats, args.runs)
    print(f"\nprofiled {args.timer} time by area, ms per query (profiler overhead included)")
    print("| area | ms per query |\n|---|---:|")
    for name, ms in areas.items():
        print(f"| {name} | {ms:.2f} |")
    stats.sort_stats(args.sort).print_stats(args.top)
    print(text.getvalue())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "sql": args.sql,
                "runs": args.runs,
                "median_ms": median,
                "mean_ms": mean,
                "server_ms_per_query": per_query,
                "client_and_transport_ms": rest,
                "ahead_ms_per_query": ahead_ms,
                "profiled_ms_by_area": areas,
                "timer": args.timer,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
