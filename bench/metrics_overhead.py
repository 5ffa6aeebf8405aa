"""What the write-path metrics cost: the same writes with and without them, in one run.

    python bench/metrics_overhead.py [--writes 3000] [--lines 10] [--runs 5]

Two engines in this process (no fsync, so the CPU cost is not hidden behind the disk): one
counting into a ``ServerMetrics``, one whose event methods do nothing. Each run writes
``--writes`` line-protocol bodies of ``--lines`` lines to each engine, alternating which goes
first; small bodies make the per-write cost as visible as it can be. Prints the median
writes/s of each and the ratio (with metrics / without).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_iox.auth.policy import ANONYMOUS  # noqa: E402
from flight_iox.config import Settings  # noqa: E402
from flight_iox.engine.engine import Engine  # noqa: E402
from flight_iox.metrics import ServerMetrics  # noqa: E402


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


def run(engine: Engine, data: list[bytes], database: str) -> float:
    """Writes per second of ``data`` into ``database``."""
    started = time.perf_counter()
    for body in data:
        engine.write_line_protocol(database, body, principal=ANONYMOUS)
    return len(data) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data = bodies(args.writes, args.lines)
    with tempfile.TemporaryDirectory() as folder:
        engines = {
            name: Engine(Settings(data_dir=Path(folder) / name, wal_fsync=False), metrics=metrics)
            for name, metrics in (("with", ServerMetrics()), ("without", NoMetrics()))
        }
        rates: dict[str, list[float]] = {"with": [], "without": []}
        try:
            for number in range(args.runs):
                order = ["with", "without"] if number % 2 == 0 else ["without", "with"]
                for name in order:
                    rates[name].append(run(engines[name], data, f"bench{number}"))
        finally:
            for engine in engines.values():
                engine.close()
    with_metrics = statistics.median(rates["with"])
    without = statistics.median(rates["without"])
    print(f"{args.writes} writes of {args.lines} lines, median of {args.runs} runs")
    print(f"without metrics: {without:,.0f} writes/s")
    print(f"with metrics:    {with_metrics:,.0f} writes/s")
    print(f"ratio (with / without): {with_metrics / without:.3f}")


if __name__ == "__main__":
    main()
