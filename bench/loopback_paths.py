"""Full-day queries without the Parquet cache: this checkout against another, alternating.

    python bench/loopback_paths.py --folder DIR --baseline-checkout DIR2 [--rounds 6]
                                   [--runs 21] [--cache-on]

Written for resolving each served file once in ``query/loopback_files.py`` (a request used
to walk its path with ``realpath``): ``DIR`` holds the day, persisted and compacted
(``bench/day_profile.py --keep DIR``); ``DIR2`` is a worktree of the commit before. Each
round starts a server of each checkout in turn over ``DIR`` (the order swaps every round),
with ``--parquet-cache-size 0`` (and, with ``--cache-on``, again with the cache), and takes
the median of ``--runs`` runs of each query of bench/day_query_profile.py. Writes
bench/results/loopback_paths.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.day_query_profile import WANTED, median_ms  # noqa: E402
from bench.day_run import start  # noqa: E402
from bench.duckdb_side_by_side import flight_connection, queries  # noqa: E402

CACHE_OFF = ("--parquet-cache-size", "0")


def medians(checkout: Path, folder: Path, flags: tuple[str, ...], runs: int) -> dict[str, float]:
    """Each query's median ms over a server running ``checkout``'s code."""
    paths = [checkout, checkout / "catalog", checkout / "clients"]
    saved = dict(os.environ)
    # PYTHONSAFEPATH: `python -m` would put our working directory (our checkout) first.
    os.environ |= {"PYTHONPATH": os.pathsep.join(map(str, paths)), "PYTHONSAFEPATH": "1"}
    try:
        server = start(folder, *flags)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    plan = [q for q in queries(1000, 24, seed=7) if q.name in WANTED]
    try:
        with flight_connection(server) as conn:
            return {query.name: median_ms(conn, query.sql, runs) for query in plan}
    finally:
        server.kill()


def main() -> None:
    """Alternate the two checkouts; print each round and write every median."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-checkout", type=Path, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--cache-on", action="store_true")
    args = parser.parse_args()
    checkouts = [("before", args.baseline_checkout), ("after", ROOT)]
    modes = [("cache off", CACHE_OFF)] + ([("cache on", ())] if args.cache_on else [])
    results: dict[str, dict[str, list[float]]] = {}
    for round_ in range(args.rounds):
        for name, checkout in checkouts if round_ % 2 == 0 else checkouts[::-1]:
            for mode, flags in modes:
                label = f"{name}, {mode}"
                for query, ms in medians(checkout, args.folder, flags, args.runs).items():
                    results.setdefault(label, {}).setdefault(query, []).append(ms)
                    print(f"round {round_}: {label}: {query} {ms:.1f} ms", flush=True)
    summary = {"results": results, "load_average": os.getloadavg(),
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    (ROOT / "bench" / "results" / "loopback_paths.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
