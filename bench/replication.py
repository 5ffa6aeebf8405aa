"""Write throughput with WAL replication: none vs async vs sync (one replica).

    python bench/replication.py [--seconds 5] [--writers 4] [--lines 100] [--rounds 2]
                                [--json bench/results/replication.json]

Real processes on loopback, WAL fsync on (the default), one replica (``--replica``) per
replicated setup. ``--writers`` threads each post batches of ``--lines`` lines to the
leader; writes and rows acknowledged per second over ``--seconds`` after a 1 s warm-up,
and the median write latency. The setups alternate (none, async, sync) for ``--rounds``
rounds and each figure is the best round, so a burst of load elsewhere on the machine
hurts one round, not one setup; the ratios are to "none" in the same run. The replica's
count is checked at the end of each replicated round: every acknowledged row is there.
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

from flight_iox.launcher import RunningServer, start_server

T0 = 1_700_000_000_000_000_000
WARM_UP_SECONDS = 1.0
SETUPS = ("none", "async", "sync")


def _body(writer: int, first: int, count: int) -> bytes:
    return "\n".join(
        f"cpu,host=h{writer}_{i % 20} v={i}.5,u={i}i {T0 + i}" for i in range(first, first + count)
    ).encode()


def _count(server: RunningServer) -> int:
    reply = requests.get(f"{server.http_url}/api/v3/query_sql",
                         params={"db": "bench", "q": "SELECT count(*) AS c FROM cpu"},
                         timeout=60)  # fmt: skip
    return int(reply.json()[0]["c"]) if reply.status_code == 200 else 0


def run_setup(root: Path, setup: str, seconds: float, writers: int, lines: int) -> dict:
    """One setup's writes/s, rows/s and median latency (ms)."""
    servers: list[RunningServer] = []
    flags: list[str] = []
    if setup != "none":
        replica = start_server(root / "replica", "--replica", timeout=120)
        servers.append(replica)
        flags = ["--replicate-to", replica.flight_uri, "--replication", setup]
    leader = start_server(root / "leader", *flags, timeout=120)
    servers.append(leader)
    counts = [0] * writers
    latencies: list[list[float]] = [[] for _ in range(writers)]
    measuring = threading.Event()
    stop = threading.Event()

    def writer(n: int) -> None:
        first = 0
        with requests.Session() as session:
            while not stop.is_set():
                started = time.perf_counter()
                reply = session.post(f"{leader.http_url}/api/v3/write_lp",
                                     params={"db": "bench"}, data=_body(n, first, lines),
                                     timeout=60)  # fmt: skip
                assert reply.status_code == 204, reply.text
                first += lines
                if measuring.is_set():
                    counts[n] += 1
                    latencies[n].append(time.perf_counter() - started)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(WARM_UP_SECONDS)
        measuring.set()
        start = time.perf_counter()
        time.sleep(seconds)
        measuring.clear()
        elapsed = time.perf_counter() - start
        stop.set()
        for thread in threads:
            thread.join()
        if setup != "none":
            expected = _count(leader)
            deadline = time.monotonic() + 60
            while _count(servers[0]) != expected and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _count(servers[0]) == expected, "the replica is missing rows"
    finally:
        for server in servers:
            server.stop()
    writes = sum(counts)
    return {
        "writes_per_second": writes / elapsed,
        "rows_per_second": writes * lines / elapsed,
        "median_ms": statistics.median(x for w in latencies for x in w) * 1e3,
    }


def main() -> None:
    """Run the setups in alternating rounds; print the table and ratios; optionally JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rounds: dict[str, list[dict]] = {s: [] for s in SETUPS}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            for setup in SETUPS:
                root = Path(folder) / f"{setup}-{round_}"
                rounds[setup].append(run_setup(root, setup, args.seconds, args.writers, args.lines))
    best = {s: max(r, key=lambda x: x["rows_per_second"]) for s, r in rounds.items()}
    base = best["none"]["rows_per_second"]
    print(f"\n{args.writers} writers x {args.lines} lines per write, {args.seconds:.0f} s per "
          f"setup, best of {args.rounds} rounds, WAL fsync on, {os.cpu_count()} cores, "
          f"load {load:.1f} at start, {os.getloadavg()[0]:.1f} at end\n")  # fmt: skip
    print("| replication | writes/s | rows/s | median write ms | / none |")
    print("|---|---:|---:|---:|---:|")
    for setup, result in best.items():
        print(f"| {setup} | {result['writes_per_second']:,.0f} | "
              f"{result['rows_per_second']:,.0f} | {result['median_ms']:.1f} | "
              f"{result['rows_per_second'] / base:.2f}x |")  # fmt: skip
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        results = {"load_start": load, "load_end": os.getloadavg()[0], "args": vars(args)}
        results["rounds"] = rounds
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
