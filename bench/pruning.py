"""Pruning before planning: one hour and one host out of 30 days of hourly partitions.

    python bench/pruning.py [--days 30] [--hosts 10] [--buckets 2] [--rounds 15]

Three tables, in-process (the server's ``App``), Parquet cache off, each persisted under
``hour(time)`` + ``bucket(B, hostname)``:

- ``big``: ``--days`` days, every host every 5 minutes (30 days x 24 h x 2 buckets = 1,440
  files);
- ``small``: only the queried hour, the same rows (the baseline: ``B`` files);

and the query ``avg/max(usage_user)`` of one host over one hour, a different host each
round (and a different literal, so no plan is reused). Prints the median per query over
``big`` and over ``small`` and their ratio (issue 16's target: within 2x), then the same
query over ``big`` with ``--no-query-file-pruning`` (the app reopened over the same files)
and the off/on ratio (one query: it takes more than a minute; ``--no-off`` skips it). The
first query over ``big`` (which also registers every file's scan) and the query right after
a one-row write (a new table version: the table is registered again) are reported apart.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "catalog"))

from flight_iox.app import App, build_app  # noqa: E402
from flight_iox.auth.policy import ANONYMOUS  # noqa: E402
from flight_iox.config import Settings  # noqa: E402

HOUR = 3_600_000_000_000
STEP = 300_000_000_000  # a row per host every 5 minutes
T0 = 1_700_006_400_000_000_000  # 2023-11-15T00:00:00Z


def lines(first: int, hours: int, hosts: int) -> bytes:
    rows = [
        f"cpu,hostname=host_{h},region=r{h % 3} usage_user={(t // STEP + h) % 100},"
        f"usage_system={h}i {t}"
        for t in range(first, first + hours * HOUR, STEP)
        for h in range(hosts)
    ]
    return "\n".join(rows).encode()


def app_at(folder: Path, pruning: bool) -> App:
    settings = Settings(
        data_dir=folder, wal_fsync=False, parquet_cache_size=0, query_file_pruning=pruning
    )
    return build_app(settings)


def load(app: App, database: str, first: int, hours: int, args: argparse.Namespace) -> None:
    spec = ["hour(time)", f"bucket({args.buckets}, hostname)"]
    app.engine.create_database(database, None, spec)
    for day in range(0, hours, 24):
        app.engine.write_line_protocol(
            database,
            lines(first + day * HOUR, min(24, hours - day), args.hosts),
            principal=ANONYMOUS,
        )
    app.persister.persist()


_QUERIES = itertools.count()  # a new literal in every query, so no plan is ever reused


def timed(app: App, database: str, hour: int, rounds: int, hosts: int) -> list[float]:
    times = []
    for _ in range(rounds):
        i = next(_QUERIES)
        sql = (
            f"SELECT avg(usage_user) AS a, max(usage_user) AS m FROM cpu "
            f"WHERE hostname = 'host_{i % hosts}' AND usage_system > {-1 - i} "
            f"AND time >= arrow_cast({hour}, 'Timestamp(Nanosecond, None)') "
            f"AND time < arrow_cast({hour + HOUR}, 'Timestamp(Nanosecond, None)')"
        )
        start = time.perf_counter()
        rows = app.query.execute(database, sql).read_all()
        times.append(time.perf_counter() - start)
        assert rows.num_rows == 1 and rows.column("a")[0].is_valid, rows
    return times


def after_writes(app: App, database: str, hour: int, rounds: int, hosts: int) -> list[float]:
    """The query right after a one-row write into the queried hour (a new table version)."""
    times = []
    for i in range(rounds):
        line = f"cpu,hostname=host_0,region=r0 usage_user=1,usage_system=0i {hour + 1 + i}"
        app.engine.write_line_protocol(database, line.encode(), principal=ANONYMOUS)
        times += timed(app, database, hour, 1, hosts)
    return times


def file_count(app: App, database: str) -> int:
    result = app.query.execute(database, "SELECT count(*) AS n FROM system.parquet_files")
    return int(result.read_all().column("n")[0].as_py())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--buckets", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-off", action="store_true", help="Skip the (minutes-long) off run.")
    args = parser.parse_args()
    hour = T0 + (args.days * 24 // 2) * HOUR  # in the middle of the month
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        app = app_at(data, pruning=True)
        try:
            started = time.perf_counter()
            load(app, "big", T0, args.days * 24, args)
            load(app, "small", hour, 1, args)
            loaded = time.perf_counter() - started
            first = timed(app, "big", hour, 1, args.hosts)[0]
            counts = file_count(app, "big"), file_count(app, "small")
            print(f"loaded in {loaded:.1f} s: big {counts[0]} files, small {counts[1]}")
            for name in ("big", "small"):  # warm both before measuring
                timed(app, name, hour, args.rounds, args.hosts)
            big = statistics.median(timed(app, "big", hour, args.rounds, args.hosts))
            small = statistics.median(timed(app, "small", hour, args.rounds, args.hosts))
            written = [
                statistics.median(after_writes(app, name, hour, args.rounds, args.hosts))
                for name in ("big", "small")
            ]
        finally:
            app.close()
        off = float("nan")
        if not args.no_off:
            app = app_at(data, pruning=False)
            try:
                # The second query: the first also registers every file's scan. One is
                # enough: over 1,440 files it takes minutes.
                off = timed(app, "big", hour, 2, args.hosts)[1]
            finally:
                app.close()
    print(f"first query over big (registered, its pruned view built): {first * 1000:.1f} ms")
    print(f"pruning on:  big {big * 1000:.2f} ms, small {small * 1000:.2f} ms, "
          f"big/small = {big / small:.2f}x (target: within 2x)")  # fmt: skip
    print(f"after a write: big {written[0] * 1000:.2f} ms, small {written[1] * 1000:.2f} ms, "
          f"big/small = {written[0] / written[1]:.2f}x")  # fmt: skip
    print(f"pruning off: big {off * 1000:.2f} ms; off/on = {off / big:.1f}x")
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
