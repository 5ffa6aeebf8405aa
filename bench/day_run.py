"""10x the data: 1,000 hosts x 24 h of TSBS cpu-only (8.64M lines) into one flight-iox.

    python bench/peers.py --day [--day-hosts 1000] [--day-hours 24] [--smoke]

Run from bench/peers.py. The server has its default limits (1 GiB write buffer, 1 GiB
Parquet cache) and persists and compacts in the background as it does in production.

1. **Baseline**: 100 hosts x 3 h (the peers.py data) into a fresh database, 1 client:
   lines/s, the median of ``BASELINE_POSTS`` posts (each into its own database; one post
   is 22 bodies, half a second, and varied 160k-203k lines/s between runs). Those rows
   are then persisted, so the day starts with an empty buffer.
2. **Sustained ingest**: the day, hour by hour (each hour generated up front, so generation
   does not share the CPU), into database ``tsbs``, 1 client. Lines/s per hour and over the
   day, against the baseline (target: within 15%). The server's RSS is sampled every 0.5 s
   throughout, and again while the full-day queries run (target: <= buffer limit + cache
   limit + 500 MB).
3. **Full-day queries**: everything persisted and compacted; the queries of
   bench/duckdb_side_by_side.py over the whole day, timed with the Parquet cache, then after
   a restart without it (``--parquet-cache-size 0``); answers checked equal (target: cache
   off <= 2x cache on).
4. **WAL replay**: a second server that never persists gets the first ``--replay-hours``
   hours and is killed (``kill -9``). Recovery (``build_app``: catalog load and WAL replay)
   is timed in this process: lines/s = lines / its seconds. Then the server restarts over
   the same folder (its time to ready is reported too) and ``count(*)`` is checked.
"""

from __future__ import annotations

import multiprocessing
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.duckdb_side_by_side import flight_connection, flight_run, normal, queries
from bench.ingest import BATCH_LINES, GENERATOR, make_bodies, timed_ingest
from bench.process_memory import rss_bytes
from bench.query_scan import same_rows
from bench.storage import admin
from flight_iox.app import build_app
from flight_iox.config import Settings
from flight_iox.launcher import RunningServer, start_server

MIB = 1 << 20
BUFFER_LIMIT = PARQUET_CACHE = 1024 * MIB  # the server defaults, named for the RSS bound
RSS_ALLOWANCE = 500 * MIB
HOUR_NS = 3600 * 10**9
START = "2016-01-01T{:02d}:00:00Z"
BASELINE_POSTS = 5


def generate_hour(args: tuple[int, int, Path]) -> Path:
    """One hour of ``hosts`` as a line protocol file (its own seed: one walk per hour)."""
    hosts, hour, folder = args
    out = folder / f"hour-{hour:02d}.lp"
    subprocess.run([sys.executable, str(GENERATOR), "--hosts", str(hosts), "--hours", "1",
                    "--start", START.format(hour), "--seed", str(42 + hour), "--out", str(out)],
                   check=True, capture_output=True)  # fmt: skip
    return out


def bodies_of(path: Path) -> list[bytes]:
    """A file's lines as 5,000-line bodies."""
    lines = path.read_bytes().splitlines()
    return [b"\n".join(lines[i : i + BATCH_LINES]) for i in range(0, len(lines), BATCH_LINES)]


class RssSampler:
    """Samples a process's resident set size from /proc every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        """Starts sampling at once, in a daemon thread."""
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(self.interval):
            rss = rss_bytes(self.pid)  # with the persist encoder's
            if not rss:
                return
            self.samples.append((time.monotonic() - started, rss))

    def stop(self) -> int:
        """Stop; the largest RSS seen, in bytes."""
        self._stop.set()
        self._thread.join()
        return max((rss for _, rss in self.samples), default=0)


def post(
    pool: multiprocessing.pool.Pool, server: RunningServer, db: str, bodies: list[bytes]
) -> float:
    """Lines/s of posting ``bodies`` from one client."""
    lines = sum(b.count(b"\n") + 1 for b in bodies)
    url, params = f"{server.http_url}/api/v2/write", {"bucket": db, "precision": "ns"}
    return lines / timed_ingest(pool, url, params, bodies, 1)


def start(folder: Path, *flags: str, timeout: float = 60) -> RunningServer:
    """flight-iox with its default buffer and cache limits, quiet logs."""
    return start_server(
        folder, "--max-request-bytes", "256MiB", "--log-level", "warning", *flags, timeout=timeout
    )


def full_day_queries(
    folder: Path, hosts: int, hours: int, runs: int
) -> tuple[dict[str, int], list[dict]]:
    """Peak RSS per mode, and each query's median ms with the cache and without it (both
    after a restart over the persisted day)."""
    plan = queries(hosts, hours, seed=7)
    peaks: dict[str, int] = {}
    timings: dict[str, dict[str, float]] = {}
    answers = {}
    for label, flags in (("cache on", ()), ("cache off", ("--parquet-cache-size", "0"))):
        server = start(folder, *flags)
        sampler = RssSampler(server.process.pid)
        try:
            with flight_connection(server) as conn:
                for query in plan:
                    answer = normal(flight_run(conn, query.sql))
                    if query.name in answers and not same_rows(answers[query.name], answer):
                        raise SystemExit(f"{query.name}: cache on and off answer differently")
                    answers[query.name] = answer
                    samples = []
                    for _ in range(runs):
                        started = time.perf_counter()
                        flight_run(conn, query.sql)
                        samples.append(time.perf_counter() - started)
                    timings.setdefault(query.name, {})[label] = statistics.median(samples) * 1e3
        finally:
            peaks[label] = sampler.stop()
            server.kill()  # everything is persisted
    return peaks, [
        {
            "name": name,
            "cache_on_ms": t["cache on"],
            "cache_off_ms": t["cache off"],
            "off_over_on": t["cache off"] / t["cache on"],
        }
        for name, t in timings.items()
    ]


def wal_replay(folder: Path, hours: list[Path]) -> dict:
    """Lines/s of a restart that replays a WAL holding ``hours`` (never persisted)."""
    flags = ("--persist-max-rows", "1000000000", "--persist-max-age", "1000000",
             "--buffer-memory-limit", "16GiB")  # fmt: skip
    started = time.perf_counter()
    server = start(folder / "replay", *flags)
    empty_start = time.perf_counter() - started
    lines = 0
    with multiprocessing.Pool(1) as pool:
        for path in hours:
            bodies = bodies_of(path)
            lines += sum(b.count(b"\n") + 1 for b in bodies)
            post(pool, server, "tsbs", bodies)
    server.kill()
    # Recovery (catalog load + WAL replay) timed in this process: a server start adds an
    # interpreter and its imports, seconds that move with the machine's load.
    settings = Settings(data_dir=folder / "replay", buffer_memory_limit=16 << 30,
                        persist_max_rows=10**9, persist_max_age_seconds=10**6)  # fmt: skip
    started = time.perf_counter()
    recovered = build_app(settings)
    recovery = time.perf_counter() - started
    entries = recovered.replayed_entries
    recovered.close()
    started = time.perf_counter()
    server = start(folder / "replay", *flags, timeout=3600)
    replay_start = time.perf_counter() - started
    try:
        with flight_connection(server) as conn:
            counted = flight_run(conn, "SELECT count(*) AS n FROM cpu").column(0)[0].as_py()
    finally:
        server.kill()
    if counted != lines:
        raise SystemExit(f"WAL replay: {counted:,} rows after the restart, {lines:,} written")
    return {"lines": lines, "entries": entries, "recovery_s": recovery,
            "lines_per_s": lines / recovery, "empty_start_s": empty_start,
            "server_restart_s": replay_start}  # fmt: skip


def day_run(folder: Path, hosts: int, hours: int, replay_hours: int, runs: int) -> dict:
    """Everything above; the summary for peers.py's JSON."""
    with multiprocessing.Pool(2) as pool:
        files = pool.map(generate_hour, [(hosts, h, folder) for h in range(hours)])
    baseline_bodies = make_bodies(100, 3, folder)
    server = start(folder / "day")
    sampler = RssSampler(server.process.pid)
    per_hour = []
    try:
        with multiprocessing.Pool(1) as pool:
            baseline_runs = [
                post(pool, server, f"baseline_100_hosts_{i}", baseline_bodies)
                for i in range(BASELINE_POSTS)
            ]
            baseline = statistics.median(baseline_runs)
            for i in range(BASELINE_POSTS):
                admin(server, "/api/v3/persist", f"baseline_100_hosts_{i}")
            print(
                f"  baseline, 100 hosts x 3 h: {baseline:,.0f} lines/s (median of "
                + ", ".join(f"{rate:,.0f}" for rate in baseline_runs)
                + ")"
            )
            for hour, path in enumerate(files):
                bodies = bodies_of(path)
                lines = sum(b.count(b"\n") + 1 for b in bodies)
                seconds = lines / post(pool, server, "tsbs", bodies)
                per_hour.append((lines, seconds))
                rss = sampler.samples[-1][1] / MIB if sampler.samples else 0
                print(f"  hour {hour:2d}: {lines / seconds:,.0f} lines/s, RSS {rss:,.0f} MiB")
        admin(server, "/api/v3/persist")
        admin(server, "/api/v3/compact")
    finally:
        peak = sampler.stop()
        server.kill()
    total_lines = sum(lines for lines, _ in per_hour)
    sustained = total_lines / sum(seconds for _, seconds in per_hour)
    query_peaks, day_queries = full_day_queries(folder / "day", hosts, hours, runs)
    replay = wal_replay(folder, files[:replay_hours])
    return {
        "hosts": hosts, "hours": hours, "lines": total_lines,
        "baseline_100_hosts_lines_per_s": baseline, "baseline_100_hosts_runs": baseline_runs,
        "sustained_lines_per_s": sustained,
        "sustained_over_baseline": sustained / baseline,
        "per_hour_lines_per_s": [lines / seconds for lines, seconds in per_hour],
        "rss_peak_bytes": max(peak, *query_peaks.values()), "rss_peak_ingest_bytes": peak,
        "rss_peak_queries_bytes": query_peaks,
        "rss_bound_bytes": BUFFER_LIMIT + PARQUET_CACHE + RSS_ALLOWANCE,
        "rss_samples": sampler.samples[:: max(1, len(sampler.samples) // 500)],
        "queries": day_queries, "wal_replay": replay,
    }  # fmt: skip


def report(day: dict) -> None:
    """Print the 10x-data figures and which targets are met."""
    ratio = day["sustained_over_baseline"]
    print(f"\n10x data: {day['hosts']} hosts x {day['hours']} h, {day['lines']:,} lines")
    print(f"| sustained ingest | {day['sustained_lines_per_s']:,.0f} lines/s = {ratio:.2f}x the "
          f"100-host rate ({day['baseline_100_hosts_lines_per_s']:,.0f}) | target >= 0.85x: "
          f"{'met' if ratio >= 0.85 else 'NOT met'} |")  # fmt: skip
    peak, bound = day["rss_peak_bytes"], day["rss_bound_bytes"]
    print(f"| peak RSS | {peak / MIB:,.0f} MiB (bound {bound / MIB:,.0f} MiB) | "
          f"{'met' if peak <= bound else 'NOT met'} |")  # fmt: skip
    for q in day["queries"]:
        print(f"| full day: {q['name']} | cache on {q['cache_on_ms']:.1f} ms, off "
              f"{q['cache_off_ms']:.1f} ms = {q['off_over_on']:.2f}x | "
              f"{'met' if q['off_over_on'] <= 2 else 'NOT met'} |")  # fmt: skip
    replay = day["wal_replay"]
    print(f"| WAL replay | {replay['lines']:,} lines in {replay['recovery_s']:.2f} s = "
          f"{replay['lines_per_s']:,.0f} lines/s (server restart "
          f"{replay['server_restart_s']:.1f} s, empty start {replay['empty_start_s']:.1f} s) | "
          f"target >= 1M: "
          f"{'met' if replay['lines_per_s'] >= 1e6 else 'NOT met'} |")  # fmt: skip
