"""Cluster throughput and latency: 1, 2 and 3 ingest nodes; a query node vs an all-in-one node.

    python bench/cluster.py [--seconds 5] [--queries 30] [--json bench/results/cluster.json]
                            [--parts writes,queries,pushdown]

Real processes on a fresh PostgreSQL database (127.0.0.1:5432) and a moto S3 server in
this process (``flight_iox.cluster_demo``'s helpers).

- Writes: with N ingest nodes (N = 1, 2, 3), one writer thread per node posts batches of
  1,000 lines of its own table (so each node owns the table it is sent: no forwarding);
  rows acknowledged per second over ``--seconds`` after a 2 s warm-up, and the ratio to
  one node.
- Queries: one ingest node holding 100,000 rows (persisted) plus 10,000 buffered, and a
  query node; the same data on an all-in-one node (SQLite, local files). Alternately,
  ``--queries`` times each: a ``GROUP BY`` over the table through the query node and
  through the all-in-one node; median ms, and the ratio.
- Pushdown: one ingest node buffering 200,000 rows (none persisted) and two query nodes,
  one with pushdown (the default) and one with ``--no-cluster-pushdown``. Alternately,
  ``--queries`` times each, a selective query (one host of 50, a tenth of the time
  range): median ms, and the bytes of ingest-node rows each query node received per query
  (``flight_iox_cluster_rows_received_bytes`` in ``/metrics``); ratios in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests

from flight_iox.cluster_demo import REGION, fresh_database, make_bucket, moto_server
from flight_iox.launcher import RunningServer, start_server

T0 = 1_700_000_000_000_000_000
WARM_UP_SECONDS = 2.0  # writes before the measured window starts
QUERY = "SELECT host, count(*) AS n, avg(v) AS v FROM cpu GROUP BY host ORDER BY host"
PUSHDOWN_ROWS = 200_000
# One host of 50, a tenth of the buffered time range (rows are 1 µs apart from T0).
SELECTIVE = (
    "SELECT count(*) AS n, avg(v) AS v, max(u) AS u FROM cpu WHERE host = 'h7' "
    f"AND time >= to_timestamp_nanos({T0 + 50_000_000}) "
    f"AND time < to_timestamp_nanos({T0 + 70_000_000})"
)
RECEIVED = "flight_iox_cluster_rows_received_bytes_total"


def _flags(catalog: str, endpoint: str, bucket: str) -> list[str]:
    return [
        "--catalog-uri", catalog, "--object-store", "s3", "--bucket", bucket,
        "--s3-endpoint", endpoint, "--s3-region", REGION, "--s3-allow-http", "--no-wal-fsync",
    ]  # fmt: skip


def _body(table: str, first: int, count: int) -> bytes:
    lines = (
        f"{table},host=h{i % 50} v={i}.5,u={i}i {T0 + i * 1000}"
        for i in range(first, first + count)
    )
    return "\n".join(lines).encode()


def write_throughput(root: Path, flags: list[str], nodes: int, seconds: float) -> float:
    """Rows per second acknowledged by ``nodes`` ingest nodes, one writer each."""
    servers = [
        start_server(
            root / f"in{n}", "--mode", "ingest", "--node-id", f"in{n}", *flags, timeout=120
        )
        for n in range(nodes)
    ]
    rows = [0] * nodes
    stop = threading.Event()

    def writer(n: int, server: RunningServer) -> None:
        first = 0
        while not stop.is_set():
            reply = requests.post(
                f"{server.http_url}/api/v3/write_lp", params={"db": "bench"},
                data=_body(f"w{n}", first, 1000), timeout=60,
            )  # fmt: skip
            if reply.status_code == 204:
                rows[n] += 1000
            first += 1000

    threads = [threading.Thread(target=writer, args=(n, s)) for n, s in enumerate(servers)]
    for thread in threads:
        thread.start()
    time.sleep(WARM_UP_SECONDS)  # the database, tables and first persists are made
    start, before = time.perf_counter(), sum(rows)
    time.sleep(seconds)
    elapsed, after = time.perf_counter() - start, sum(rows)
    stop.set()
    for thread in threads:
        thread.join()
    for server in servers:
        server.stop()
    return (after - before) / elapsed


def staleness(ingest: RunningServer, query: RunningServer, tries: int) -> list[float]:
    """Seconds from a write's acknowledgement on the ingest node until the query node
    shows it, ``tries`` times (0.0: the first query after the acknowledgement saw it)."""
    delays = []
    for n in range(tries):
        line = f"fresh,k=k{n} v={n} {T0 + n}"
        requests.post(f"{ingest.http_url}/api/v3/write_lp", params={"db": "q"}, data=line,
                      timeout=60).raise_for_status()  # fmt: skip
        acked = time.perf_counter()
        first = True
        while True:
            started = time.perf_counter()
            reply = requests.get(
                f"{query.http_url}/api/v3/query_sql",
                params={"db": "q", "q": f"SELECT v FROM fresh WHERE k = 'k{n}'"},
                timeout=60,
            )
            if reply.status_code == 200 and reply.json():
                delays.append(0.0 if first else started - acked)
                break
            first = False
    return delays


def query_latency(root: Path, flags: list[str], queries: int) -> tuple[float, float, list[float]]:
    """Median seconds of ``QUERY`` through a query node and through an all-in-one node,
    and the staleness samples (``staleness``)."""
    ingest = start_server(root / "qi", "--mode", "ingest", "--node-id", "qi", *flags, timeout=120)
    query = start_server(root / "qq", "--mode", "query", "--node-id", "qq", *flags, timeout=120)
    solo = start_server(root / "solo", "--no-wal-fsync", timeout=120)
    try:
        for server in (ingest, solo):
            write = f"{server.http_url}/api/v3/write_lp"
            for first in range(0, 100_000, 10_000):
                body = _body("cpu", first, 10_000)
                requests.post(write, params={"db": "q"}, data=body, timeout=60).raise_for_status()
            requests.post(f"{server.http_url}/api/v3/persist", timeout=300).raise_for_status()
            body = _body("cpu", 100_000, 10_000)
            requests.post(write, params={"db": "q"}, data=body, timeout=60).raise_for_status()
        times: dict[str, list[float]] = {"query node": [], "all-in-one": []}
        for _ in range(queries + 2):  # the first two warm both up
            for label, server in (("query node", query), ("all-in-one", solo)):
                start = time.perf_counter()
                reply = requests.get(f"{server.http_url}/api/v3/query_sql",
                                     params={"db": "q", "q": QUERY}, timeout=60)  # fmt: skip
                reply.raise_for_status()
                times[label].append(time.perf_counter() - start)
        answers = [
            requests.get(
                f"{s.http_url}/api/v3/query_sql", params={"db": "q", "q": QUERY}, timeout=60
            ).json()
            for s in (query, solo)
        ]
        assert answers[0] == answers[1], "the query node and the all-in-one node disagree"
        visible = staleness(ingest, query, queries)
        return (
            statistics.median(times["query node"][2:]),
            statistics.median(times["all-in-one"][2:]),
            visible,
        )
    finally:
        for server in (ingest, query, solo):
            server.stop()


def _received(server: RunningServer) -> float:
    """The query node's ``RECEIVED`` counter."""
    text = requests.get(f"{server.http_url}/metrics", timeout=60).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(RECEIVED))


def pushdown(root: Path, flags: list[str], queries: int) -> dict[str, dict[str, float]]:
    """Median ms and bytes received per ``SELECTIVE`` query, with and without pushdown."""
    hold = ["--persist-max-rows", "10000000", "--persist-max-age", "3600"]
    ingest = start_server(
        root / "pi", "--mode", "ingest", "--node-id", "pi", *flags, *hold, timeout=120
    )
    nodes = {
        "pushdown": start_server(
            root / "pq", "--mode", "query", "--node-id", "pq", *flags, timeout=120
        ),
        "no pushdown": start_server(
            root / "pn",
            "--mode",
            "query",
            "--node-id",
            "pn",
            "--no-cluster-pushdown",
            *flags,
            timeout=120,
        ),
    }
    try:
        write = f"{ingest.http_url}/api/v3/write_lp"
        for first in range(0, PUSHDOWN_ROWS, 10_000):
            body = _body("cpu", first, 10_000)
            requests.post(write, params={"db": "p"}, data=body, timeout=60).raise_for_status()
        times: dict[str, list[float]] = {label: [] for label in nodes}
        sizes: dict[str, list[float]] = {label: [] for label in nodes}
        answers = {}
        for _ in range(queries + 2):  # the first two warm both up
            for label, server in nodes.items():
                before = _received(server)
                start = time.perf_counter()
                reply = requests.get(f"{server.http_url}/api/v3/query_sql",
                                     params={"db": "p", "q": SELECTIVE}, timeout=60)  # fmt: skip
                reply.raise_for_status()
                times[label].append(time.perf_counter() - start)
                sizes[label].append(_received(server) - before)
                answers[label] = reply.json()
        assert answers["pushdown"] == answers["no pushdown"], "pushdown changed the answer"
        assert answers["pushdown"][0]["n"] > 0, answers
        return {
            label: {
                "ms": statistics.median(times[label][2:]) * 1e3,
                "bytes": statistics.median(sizes[label][2:]),
            }
            for label in nodes
        }
    finally:
        for server in (ingest, *nodes.values()):
            server.stop()


def _print_pushdown(measured: dict[str, dict[str, float]], queries: int) -> None:
    print(f"\npushdown: median of {queries}, `{SELECTIVE}` over {PUSHDOWN_ROWS:,} buffered rows\n")
    print("| query node | ms | / no pushdown | bytes received per query | / no pushdown |")
    print("|---|---:|---:|---:|---:|")
    base = measured["no pushdown"]
    for label, m in measured.items():
        print(f"| {label} | {m['ms']:.1f} | {m['ms'] / base['ms']:.2f}x | {m['bytes']:,.0f} | "
              f"{m['bytes'] / base['bytes']:.4f}x |")  # fmt: skip


def main() -> None:
    """Run both measurements; print tables and ratios; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--parts", default="writes,queries,pushdown")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "bench")
    results: dict[str, object] = {"cores": os.cpu_count(), "load": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as folder, moto_server() as endpoint:
        make_bucket(endpoint, "bench")
        writes: dict[int, float] = {}
        for nodes in (1, 2, 3) if "writes" in parts else ():
            with fresh_database(args.postgres) as catalog:
                root = Path(folder) / f"w{nodes}"
                writes[nodes] = write_throughput(
                    root, _flags(catalog, endpoint, f"bench/w{nodes}"), nodes, args.seconds
                )
        if "pushdown" in parts:
            with fresh_database(args.postgres) as catalog:
                measured = pushdown(
                    Path(folder) / "p", _flags(catalog, endpoint, "bench/p"), args.queries
                )
            _print_pushdown(measured, args.queries)
            results["pushdown"] = measured
        if "queries" in parts:
            with fresh_database(args.postgres) as catalog:
                through_query, all_in_one, visible = query_latency(
                    Path(folder) / "q", _flags(catalog, endpoint, "bench/q"), args.queries
                )
    if "queries" in parts:
        _print_queries(writes, args, results, through_query, all_in_one, visible)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def _print_queries(
    writes: dict[int, float],
    args: argparse.Namespace,
    results: dict[str, object],
    through_query: float,
    all_in_one: float,
    visible: list[float],
) -> None:
    print(f"\nwrites: {args.seconds:.0f} s per setup, batches of 1,000 lines, no fsync, "
          f"{os.cpu_count()} cores, load {results['load']:.1f}\n")  # fmt: skip
    print("| ingest nodes | rows/s | / one node |")
    print("|---:|---:|---:|")
    for nodes, rate in writes.items() if writes else ():
        print(f"| {nodes} | {rate:,.0f} | {rate / writes[1]:.2f}x |")
    print(f"\nqueries: median of {args.queries}, `{QUERY}` over 110,000 rows\n")
    print("| through | ms | / all-in-one |")
    print("|---|---:|---:|")
    print(f"| all-in-one node | {all_in_one * 1e3:.1f} | 1.00x |")
    print(f"| query node (+1 ingest node) | {through_query * 1e3:.1f} | "
          f"{through_query / all_in_one:.2f}x |")  # fmt: skip
    seen_at_once = sum(1 for d in visible if d == 0.0)
    worst = max(visible) * 1e3
    print(f"\nstaleness: {seen_at_once}/{len(visible)} writes seen by the first query on the "
          f"query node after the acknowledgement; max delay {worst:.1f} ms")  # fmt: skip
    results.update(
        staleness_seen_at_once=seen_at_once,
        staleness_tries=len(visible),
        staleness_max_ms=max(visible) * 1e3,
        writes_rows_per_second={str(k): v for k, v in writes.items()},
        query_ms={"query_node": through_query * 1e3, "all_in_one": all_in_one * 1e3},
    )


if __name__ == "__main__":
    main()
