"""What the metrics and the query log cost: the same writes and queries with and without them.

    python bench/metrics_overhead.py [--writes 3000] [--lines 10] [--queries 2000] [--runs 5]

Two apps in this process (no fsync, so the CPU cost is not hidden behind the disk): one
counting into a ``ServerMetrics``, one whose event methods do nothing. Each run writes
``--writes`` line-protocol bodies of ``--lines`` lines to each app, 20 bodies to one,
then 20 to the other, and so on (a busy shared machine drifts; interleaving makes the drift
weigh on both alike); small bodies make the per-write cost as visible as it can be.
Prints the median writes/s of each and the ratio (with metrics / without).

Queries: ``--queries`` runs of ``SELECT usage_user FROM cpu WHERE host = 'h1'`` on one app, bare
and wrapped as a transport wraps them (``QueryLog.begin``, ``watch`` counting the rows,
the end counted into the metrics), alternating; prints queries/s and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_iox.app import App, build_app  # noqa: E402
from flight_iox.auth.policy import ANONYMOUS  # noqa: E402
from flight_iox.config import Settings  # noqa: E402
from flight_iox.metrics import ServerMetrics  # noqa: E402
from flight_iox.query.query_log import QueryLog  # noqa: E402

SLICE = 20  # writes or queries per side before the other side's turn
QUERY = "SELECT usage_user FROM cpu WHERE host = 'h1'"


class NoMetrics(ServerMetrics):
    """The baseline: every event the write path reports is dropped."""

    def received(self, database: str, lines: int, size: int) -> None:
        """Dropped."""

    def stored(self, database: str, rows: int, rejected: int) -> None:
        """Dropped."""

    def wal_synced(self, seconds: float, entries: int) -> None:
        """Dropped."""


def bodies(writes: int, lines: int) -> list[bytes]:
    """``writes`` bodies of ``lines`` lines each, over ten series."""
    return [
        "\n".join(
            f"cpu,host=h{n % 10} usage_user={n * 0.5},usage_system={n}i {1_000_000 + w * lines + n}"
            for n in range(lines)
        ).encode()
        for w in range(writes)
    ]


def write_seconds(app: App, data: list[bytes], database: str) -> float:
    """Seconds to write ``data`` into ``database``."""
    started = time.perf_counter()
    for body in data:
        app.engine.write_line_protocol(database, body, principal=ANONYMOUS)
    return time.perf_counter() - started


def query_seconds(app: App, count: int, log: QueryLog | None) -> float:
    """Seconds to run ``QUERY`` ``count`` times, each logged in ``log`` if given."""
    started = time.perf_counter()
    for _ in range(count):
        if log is None:
            app.query.execute("q", QUERY).read_all()
            continue
        record = log.begin("http_sql", QUERY, "q", ANONYMOUS, threading.Event())
        log.watch(record, app.query.execute("q", QUERY)).read_all()
    return time.perf_counter() - started


def interleaved(step: Callable[[str, int], float], total: int) -> dict[str, float]:
    """Per-second rates of ``step(name, count)`` for both sides, in slices of ``SLICE``.

    The sides alternate slice by slice (and which goes first), so a machine that slows
    down or speeds up during the run weighs on both alike.
    """
    seconds = {"with": 0.0, "without": 0.0}
    for number, first in enumerate(range(0, total, SLICE)):
        order = ("with", "without") if number % 2 == 0 else ("without", "with")
        for name in order:
            seconds[name] += step(name, first)
    return {name: total / spent for name, spent in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data = bodies(args.writes, args.lines)
    with tempfile.TemporaryDirectory() as folder:
        apps = {
            name: build_app(
                Settings(data_dir=Path(folder) / name, wal_fsync=False), metrics=metrics
            )
            for name, metrics in (("with", ServerMetrics()), ("without", NoMetrics()))
        }
        rates: dict[str, list[float]] = {"with": [], "without": []}
        query_rates: dict[str, list[float]] = {"with": [], "without": []}
        try:
            for number in range(args.runs):

                def write(name: str, first: int, number: int = number) -> float:
                    data_slice = data[first : first + SLICE]
                    return write_seconds(apps[name], data_slice, f"bench{number}")

                for name, rate in interleaved(write, len(data)).items():
                    rates[name].append(rate)
            app = apps["with"]
            app.engine.write_line_protocol("q", b"\n".join(data[:100]), principal=ANONYMOUS)
            log = QueryLog(1000, ServerMetrics())
            query_seconds(app, 50, log)  # warm: plans cached, contexts made

            def query(name: str, first: int) -> float:
                count = min(SLICE, args.queries - first)
                return query_seconds(app, count, log if name == "with" else None)

            for _ in range(args.runs):
                for name, rate in interleaved(query, args.queries).items():
                    query_rates[name].append(rate)
        finally:
            for app in apps.values():
                app.close()
    with_metrics = statistics.median(rates["with"])
    without = statistics.median(rates["without"])
    print(f"{args.writes} writes of {args.lines} lines, median of {args.runs} runs")
    print(f"without metrics: {without:,.0f} writes/s")
    print(f"with metrics:    {with_metrics:,.0f} writes/s")
    print(f"ratio (with / without): {with_metrics / without:.3f}")
    logged = statistics.median(query_rates["with"])
    bare = statistics.median(query_rates["without"])
    print(f"{args.queries} queries {QUERY!r}, median of {args.runs} runs")
    print(f"without the query log: {bare:,.0f} queries/s")
    print(f"with the query log:    {logged:,.0f} queries/s")
    print(f"ratio (with / without): {logged / bare:.3f}")


if __name__ == "__main__":
    main()
