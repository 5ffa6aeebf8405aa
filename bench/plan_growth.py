"""A repeated GROUP BY while files accumulate and the buffer moves between runs.

    python bench/plan_growth.py [--baseline REV] [--files 1,25,50,100,150] [--runs 15]
        [--out bench/results/plan_growth.json] [--smoke] [-- <extra serve flags>]

One server (defaults, no background persist); the soak's table (``bench/soak.py``): two
writers' series, 200 hosts each, 500 rows per host per file, persisted through
``POST /api/v3/persist`` until the table has each count of files. Before each timed run, 200
rows are written into the time gap after the newest file, as the soak's writers do between
its queries, so every run finds a new buffer and plans again. Timed: the soak's statement
``SELECT w, host, count(*), avg(f) FROM soak GROUP BY 1, 2`` through plain
``adbc_driver_flightsql`` (prepare, GetFlightInfo, DoGet), median of ``--runs``. The answer's
row count is checked. With ``--baseline REV`` the same runs first go to a server of that
revision and each count's ratio (this tree / baseline) is printed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from adbc_driver_flightsql import dbapi as flightsql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.trees import baseline_tree, remove_tree, start_in  # noqa: E402

QUERY = "SELECT w, host, count(*), avg(f) FROM soak GROUP BY 1, 2"
HOSTS = 200
ROWS_PER_HOST = 500
GAP = 10_000  # ns between files' time ranges; the churn rows go in it
DATABASE_OPTION = "adbc.flight.sql.rpc.call_header.database"


def _body(w: str, start: int, rows_per_host: int, rng: random.Random) -> str:
    return "\n".join(
        f"soak,w={w},host=h{h:03d} f={rng.random() * 100:.3f} {start + k}"
        for h in range(HOSTS)
        for k in range(rows_per_host)
    )


def measure(
    tree: Path, counts: list[int], runs: int, extra: list[str], rows_per_host: int = ROWS_PER_HOST
) -> dict[int, float]:
    """Median seconds of the statement at each file count, on a server of ``tree``."""
    folder = Path(tempfile.mkdtemp(prefix="plan-growth-"))
    flags = ("--persist-max-age", "100000", "--persist-max-rows", "1000000000")
    server = start_in(tree, folder / "data", *flags, "--log-level", "warning", *extra)
    http, rng, start, files, medians = requests.Session(), random.Random(1), 10**18, 0, {}
    url = f"{server.http_url}/api/v3"
    conn = flightsql.connect(
        server.flight_uri, autocommit=True, db_kwargs={DATABASE_OPTION: "soak"}
    )
    try:
        for count in counts:
            while files < count:
                for w in ("w0", "w1"):
                    body = _body(w, start, rows_per_host, rng)
                    http.post(
                        f"{url}/write_lp", params={"db": "soak"}, data=body
                    ).raise_for_status()
                start += rows_per_host + GAP
                http.post(f"{url}/persist").raise_for_status()
                files += 1
            samples = []
            for run in range(runs + 2):  # two warm-ups
                churn = "\n".join(
                    f"soak,w=w0,host=h{h:03d} f=1 {start - GAP + run * 20 + h % 10}"
                    for h in range(HOSTS)
                )
                http.post(f"{url}/write_lp", params={"db": "soak"}, data=churn).raise_for_status()
                began = time.perf_counter()
                with conn.cursor() as cursor:
                    cursor.execute(QUERY)
                    rows = cursor.fetch_arrow_table().num_rows
                if run >= 2:
                    samples.append(time.perf_counter() - began)
                if rows != 2 * HOSTS:
                    raise SystemExit(f"{count} files: {rows} groups, not {2 * HOSTS}")
            medians[count] = statistics.median(samples)
            print(f"{tree.name}: {count} files: {medians[count] * 1e3:.1f} ms", flush=True)
    finally:
        conn.close()
        server.stop()
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", help="git revision to measure first, for ratios")
    parser.add_argument("--files", default="1,25,50,100,150", help="file counts to time at")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "plan_growth.json")
    parser.add_argument("--smoke", action="store_true", help="1 and 3 small files, 2 runs (CI)")
    parser.add_argument("extra", nargs="*", help="extra flags for flight-iox serve (after --)")
    args = parser.parse_args()
    counts = [1, 3] if args.smoke else [int(n) for n in args.files.split(",")]
    runs = 2 if args.smoke else args.runs
    rows = 20 if args.smoke else ROWS_PER_HOST
    results: dict[str, dict[int, float]] = {}
    if args.baseline:
        tree = baseline_tree(args.baseline)
        try:
            results[f"baseline {args.baseline}"] = measure(
                Path(tree.name), counts, runs, args.extra
            )
        finally:
            remove_tree(tree)
    results["this tree"] = measure(ROOT, counts, runs, args.extra, rows)
    base = results.get(f"baseline {args.baseline}")
    print("| files | " + " | ".join(results) + (" | ratio |" if base else " |"))
    for count in counts:
        cells = " | ".join(f"{r[count] * 1e3:.1f} ms" for r in results.values())
        ratio = f" | {results['this tree'][count] / base[count]:.2f}" if base else ""
        print(f"| {count} | {cells}{ratio} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
