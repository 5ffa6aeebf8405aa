"""What handing the bodies to the client processes adds to a timed ingest run.

    python bench/client_handover.py [--hosts 100] [--hours 3] [--runs 5] [--smoke]

Posts the same TSBS bodies to one flight-iox from 1 and 4 client processes, each run into a
fresh database, timed two ways in turns: (a) the parent's whole ``pool.map``, inside which
the bodies are pickled to the clients (how ``bench/ingest.py::timed_ingest`` timed a run
before 2026-12-07), and (b) the clients' own span from their common start (how it times one
now). Prints each way's median lines/s, (b) over (a), and the median seconds the hand-over
added per run; writes them to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import GENERATOR, make_bodies, start_bench_server, timed_ingest  # noqa: E402
from bench.ingest import _post_share as post_share  # noqa: E402


def parent_timed(
    pool: multiprocessing.pool.Pool, url: str, params: dict[str, str], bodies: list[bytes],
    clients: int,
) -> float:  # fmt: skip
    """Seconds of the whole ``pool.map``, the bodies' hand-over included (the old way)."""
    shares = [(url, params, bodies[i::clients], 0.0) for i in range(clients)]
    start = time.perf_counter()
    pool.map(post_share, shares, chunksize=1)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    """Run both ways in turns and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="3 hosts x 1 h, 1 run (CI)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "handover.json")
    args = parser.parse_args(argv)
    if args.smoke:
        args.hosts, args.hours, args.runs = 3, 1, 1
    if not GENERATOR.exists():
        print(f"skipped: TSBS generator not found at {GENERATOR}")
        return
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        lines = sum(body.count(b"\n") + 1 for body in bodies)
        megabytes = sum(len(body) for body in bodies) / 1e6
        server = start_bench_server(Path(folder))
        summary: dict[str, dict[str, float]] = {}
        try:
            with multiprocessing.Pool(4) as pool:
                for clients in (1, 4):
                    seconds: dict[str, list[float]] = {"parent": [], "clients": []}
                    for run in range(args.runs):
                        for way in ("parent", "clients") if run % 2 == 0 else ("clients", "parent"):
                            url = f"{server.http_url}/api/v2/write"
                            params = {"bucket": f"h_{clients}_{run}_{way}", "precision": "ns"}
                            timer = parent_timed if way == "parent" else timed_ingest
                            seconds[way].append(timer(pool, url, params, bodies, clients))
                    old, new = (statistics.median(seconds[w]) for w in ("parent", "clients"))
                    summary[str(clients)] = {
                        "parent_lines_per_s": lines / old,
                        "clients_lines_per_s": lines / new,
                        "ratio": old / new,
                        "handover_s": old - new,
                    }
        finally:
            server.stop()
    print(f"TSBS cpu, {args.hosts} hosts x {args.hours} h: {lines:,} lines, {megabytes:.1f} MB")
    for clients, row in summary.items():
        print(
            f"{clients} client(s): timed by the parent {row['parent_lines_per_s']:,.0f} lines/s, "
            f"by the clients {row['clients_lines_per_s']:,.0f} lines/s = {row['ratio']:.2f}x; "
            f"the hand-over added {row['handover_s'] * 1e3:.0f} ms a run"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"lines": lines, "megabytes": megabytes, "clients": summary}))


if __name__ == "__main__":
    main()
