"""Soak: two writers, a Flight SQL reader and background persistence for minutes; RSS, latency.

    python bench/soak.py [--duration 600] [--baseline REV] [--out bench/results/soak.json]
        [--png docs/soak.png] [-- <extra serve flags>]

One real server (``flight-iox serve``, defaults except ``--persist-max-age 60``). Two
writer processes each write their own series (tag ``w=w0`` / ``w=w1``, 200 hosts) in
2,000-line batches about every 50 ms over ``/api/v3/write_lp``; one Flight SQL client
(``adbc_driver_flightsql``) runs ``SELECT w, host, count(*), avg(f) FROM soak GROUP BY 1, 2``
every 200 ms. The server's RSS, with its persist encoder's, is read from ``/proc`` every 5 s.
At the end the writers stop, and a final ``count(*)`` is compared with the lines acknowledged.

Reported: acknowledged against found, write and query errors, ingest rate, query p50/p99,
peak and final RSS; written to ``--out`` (JSON) and plotted to ``--png`` (RSS and query
latency over time). With ``--baseline REV`` the same soak first runs against that git
revision (checked out with ``git worktree add`` in a temporary folder, first on the
server's ``PYTHONPATH``), and the ratios of this tree to it are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from multiprocessing.synchronize import Event
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.process_memory import rss_bytes  # noqa: E402
from bench.soak_report import by_event, by_window, events, percentile, plot, summary  # noqa: E402
from bench.trees import baseline_tree, remove_tree, start_in  # noqa: E402
from flight_iox.launcher import RunningServer  # noqa: E402

DATABASE = "soak"
QUERY = "SELECT w, host, count(*), avg(f) FROM soak GROUP BY 1, 2"
HOSTS = 200
LINES = 2_000
EVERY = 0.05
QUERY_EVERY = 0.2
RSS_EVERY = 5.0
METRICS_EVERY = 1.0
START_TIMEOUT = 300.0  # seconds for the server to start: the shared machine can be loaded
MEMORY_TERMS = ("rss", "arrow", "cache", "buffer")
# What the metrics sampler keeps from GET /metrics (the memory terms and the server's events).
METRICS = {
    "process_resident_memory_bytes": "rss",
    "flight_iox_arrow_allocated_bytes": "arrow",
    "flight_iox_parquet_cache_bytes": "cache",
    "flight_iox_buffer_bytes": "buffer",
    "flight_iox_persist_seconds_count": "persists",
    "flight_iox_persist_seconds_sum": "persist_s",
    "flight_iox_compaction_seconds_count": "compactions",
    "flight_iox_compaction_seconds_sum": "compaction_s",
    'python_gc_collections_total{generation="2"}': "gc2",
}
SEED = "soak,w=seed,host=seed f=0 1"  # makes the columns, so the first queries plan
FILES_QUERY = "SELECT file_count, overlapping_files FROM system.tables WHERE table_name = 'soak'"


def writer(url: str, w: str, stop: Event, out: multiprocessing.Queue) -> None:
    """Write 2,000-line batches of series ``w=<w>,host=h000..h199`` until told to stop."""
    session = requests.Session()
    acked = errors = batches = 0
    per_host = LINES // HOSTS
    rng = random.Random(w)
    while not stop.is_set():
        started = time.monotonic()
        base = time.time_ns()
        body = "\n".join(
            f"soak,w={w},host=h{h:03d} f={rng.random() * 100:.3f} {base + k}"
            for h in range(HOSTS)
            for k in range(per_host)
        )
        try:
            answer = session.post(
                f"{url}/api/v3/write_lp", params={"db": DATABASE}, data=body, timeout=60
            )
            if answer.status_code == 204:
                acked += LINES
            else:
                errors += 1
        except requests.RequestException:
            errors += 1
        batches += 1
        time.sleep(max(0.0, EVERY - (time.monotonic() - started)))
    out.put({"w": w, "acked": acked, "errors": errors, "batches": batches})


def scrape(session: requests.Session, url: str) -> dict[str, float]:
    """The values of ``METRICS`` from the server's ``/metrics`` (by their short names)."""
    found: dict[str, float] = {}
    for line in session.get(f"{url}/metrics", timeout=30).text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in METRICS:
            found[METRICS[name]] = float(value)
    return found


def soak(duration: float, extra: list[str], tree: Path) -> dict:
    """Run the load against a fresh server of the code in ``tree``; the measurements."""

    folder = tempfile.mkdtemp(prefix="soak-")
    server = start_in(
        tree, Path(folder) / "data", "--persist-max-age", "60", "--log-level", "warning",
        *extra, timeout=START_TIMEOUT,
    )  # fmt: skip
    try:
        return _measure(server, duration)
    finally:  # a failed run must not leave its server running (and eating the CPU)
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _measure(server: RunningServer, duration: float) -> dict:
    """The load against ``server`` for ``duration`` seconds; the measurements."""
    import adbc_driver_flightsql.dbapi as flightsql

    pid = server.process.pid
    requests.post(
        f"{server.http_url}/api/v3/write_lp", params={"db": DATABASE}, data=SEED
    ).raise_for_status()
    stop = multiprocessing.Event()
    results: multiprocessing.Queue = multiprocessing.Queue()
    writers = [
        multiprocessing.Process(
            target=writer, args=(server.http_url, w, stop, results), daemon=True
        )
        for w in ("w0", "w1")
    ]
    started = time.monotonic()
    for process in writers:
        process.start()
    rss: list[tuple[float, int]] = []
    queries: list[tuple[float, float]] = []  # (seconds since start, latency)
    query_errors: list[str] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss.append((time.monotonic() - started, rss_bytes(pid)))
            done.wait(RSS_EVERY)

    samples: list[tuple[float, dict[str, float]]] = []

    def sample_metrics() -> None:
        session = requests.Session()
        while not done.is_set():
            # A missed sample is a gap in the series, not a failed soak.
            with contextlib.suppress(requests.RequestException):
                samples.append((time.monotonic() - started, scrape(session, server.http_url)))
            done.wait(METRICS_EVERY)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    scraper = threading.Thread(target=sample_metrics, daemon=True)
    scraper.start()
    header = {"adbc.flight.sql.rpc.call_header.database": DATABASE}
    with flightsql.connect(server.flight_uri, autocommit=True, db_kwargs=header) as conn:
        while time.monotonic() - started < duration:
            begun = time.monotonic()
            try:
                with conn.cursor() as cursor:
                    cursor.execute(QUERY)
                    cursor.fetch_arrow_table()
                queries.append((begun - started, time.monotonic() - begun))
            except Exception as error:  # a query error is a finding, not a crash
                query_errors.append(str(error)[:300])
            time.sleep(max(0.0, QUERY_EVERY - (time.monotonic() - begun)))
        stop.set()
        written = [results.get(timeout=120) for _ in writers]
        for process in writers:
            process.join(timeout=60)
        elapsed = time.monotonic() - started
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM soak WHERE w IN ('w0', 'w1')")
                found: object = cursor.fetchone()[0]
        except Exception as error:  # the baseline may fail it: record, do not crash
            found = f"error: {str(error)[:300]}"
        try:
            at_end: dict = against_duckdb(server.http_url, conn)
        except Exception as error:
            at_end = {"error": str(error)[:300]}
    done.set()
    sampler.join()
    scraper.join()
    final_rss = rss_bytes(pid)
    rss.append((time.monotonic() - started, final_rss))
    files = requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": DATABASE, "q": FILES_QUERY},
        timeout=60,
    )
    acked = sum(r["acked"] for r in written)
    latencies = [latency for _, latency in queries]
    spans = events(samples, METRICS_EVERY)
    last = samples[-1][1] if samples else {}
    peak = max(samples, key=lambda s: s[1].get("rss", 0))[1] if samples else {}
    return {
        "duration_s": round(elapsed, 1),
        "acknowledged": acked,
        "found": found,
        "write_errors": sum(r["errors"] for r in written),
        "query_errors": len(query_errors),
        "query_error_samples": query_errors[:3],
        "ingest_points_per_s": round(acked / elapsed),
        "queries": len(queries),
        "query_p50_s": round(percentile(latencies, 0.5), 4),
        "query_p99_s": round(percentile(latencies, 0.99), 4),
        "peak_rss_mib": round(max(b for _, b in rss) / 2**20),
        "final_rss_mib": round(final_rss / 2**20),
        "memory_at_peak_mib": {k: round(peak.get(k, 0) / 2**20) for k in MEMORY_TERMS},
        "memory_at_end_mib": {k: round(last.get(k, 0) / 2**20) for k in MEMORY_TERMS},
        "persists": len(spans["persist"]),
        "compactions": len(spans["compaction"]),
        "full_gcs": len(spans["gc2"]),
        "latency_by_event": by_event(queries, spans),
        "latency_by_window": by_window(queries, duration),
        "files": files.json() if files.ok else files.text[:300],
        "at_end": at_end,
        "rss_series": [(round(t, 1), b) for t, b in rss],
        "latency_series": [(round(t, 2), round(v, 4)) for t, v in queries],
        "metrics_series": [
            (round(t, 1), {k: round(v / 2**20) for k, v in m.items() if k in MEMORY_TERMS})
            for t, m in samples
        ],
        "event_series": spans,
    }


def against_duckdb(url: str, conn: object) -> dict:
    """With every row persisted, the soak query here and on DuckDB over the same files.

    Median of five runs each (the server's over Flight SQL, as during the soak); the
    answers are compared first.
    """
    import duckdb

    requests.post(f"{url}/api/v3/persist", params={"db": DATABASE}, timeout=600)
    listed = requests.get(
        f"{url}/api/v3/query_sql",
        params={"db": DATABASE, "q": "SELECT path FROM system.parquet_files"},
        timeout=60,
    ).json()
    paths = [row["path"].removeprefix("file://") for row in listed]
    ours, theirs = [], []
    answer = reference = None
    duck = duckdb.connect()
    files = "[" + ", ".join(f"'{p}'" for p in paths) + "]"
    for _ in range(5):
        started = time.monotonic()
        with conn.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute(QUERY)
            answer = cursor.fetch_arrow_table()
        ours.append(time.monotonic() - started)
        started = time.monotonic()
        reference = duck.sql(QUERY.replace("FROM soak", f"FROM read_parquet({files})")).fetchall()
        theirs.append(time.monotonic() - started)
    got = sorted(tuple(row[:3]) for row in zip(*answer.to_pydict().values(), strict=True))
    want = sorted(tuple(row[:3]) for row in reference)
    return {
        "files": len(paths),
        "same_counts": got == want,
        "flight_iox_s": round(statistics.median(ours), 4),
        "duckdb_s": round(statistics.median(theirs), 4),
        "ratio": round(statistics.median(ours) / statistics.median(theirs), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--baseline", help="git revision to soak first, for ratios")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak.json")
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "soak.png")
    parser.add_argument("extra", nargs="*", help="extra flags for flight-iox serve (after --)")
    args = parser.parse_args()
    runs: dict[str, dict] = {}
    if args.baseline:
        tree = baseline_tree(args.baseline)
        try:
            runs[f"baseline {args.baseline}"] = soak(args.duration, args.extra, Path(tree.name))
        finally:
            remove_tree(tree)
        print(json.dumps(summary(next(iter(runs.values()))), indent=1), flush=True)
    runs["this tree"] = soak(args.duration, args.extra, ROOT)
    print(json.dumps(summary(runs["this tree"]), indent=1))
    if args.baseline:
        base, new = runs[f"baseline {args.baseline}"], runs["this tree"]
        for key in ("peak_rss_mib", "final_rss_mib", "query_p50_s", "query_p99_s"):
            print(f"{key}: this tree / baseline = {new[key] / base[key]:.3f}")
        print(f"queries: {new['queries']} against {base['queries']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(runs, indent=1))
    plot(runs, args.png)


if __name__ == "__main__":
    main()
