"""Where a full-day query's time goes with the Parquet cache on and off (issue 17, target 6).

    python bench/day_query_profile.py --folder DIR [--seconds 15] [--runs 20]
                                      [--query cpu-max-all-8 ...] [--spy "--idle --native"]

``DIR`` is a server folder holding the day, persisted and compacted (``bench/day_profile.py
--keep DIR``). For the cache on, then off (``--parquet-cache-size 0``), a server is started
over it as bench/day_run.py starts it, and for each query (bench/duckdb_side_by_side.py's
full-day queries): one check run, ``--runs`` timed runs (median ms), then the query in a loop
for ``--seconds`` with ``py-spy record --format raw`` attached to the server, each sample
put in an area (``AREAS``: the Flight SQL RPC, planning, the table's registration and file
pruning, partial aggregates kept or made, DataFusion running, the loopback file endpoint),
shown as ms per query (samples x 10 ms / queries run). Then ``EXPLAIN ANALYZE`` of the
statement, whose scan metrics (decode, pruning, bytes read) are summed per plan.
Writes bench/results/day_query_profile.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.day_profile import IDLE, RATE, Spy  # noqa: E402
from bench.day_run import start  # noqa: E402
from bench.duckdb_side_by_side import flight_connection, flight_run, queries  # noqa: E402

WANTED = ("cpu-max-all-8", "single-groupby-5-8-1", "double-groupby-all")
# (area, substrings of the stack, first match wins): the work under a Flight SQL RPC.
AREAS = (
    ("loopback file endpoint (HTTP)", ("loopback_http.py",)),
    ("partials: final aggregate", ("final (",)),
    ("partials: aggregate a file (DataFusion)", ("partial_runs.py",)),
    ("partials: eligibility, pruning", ("_eligible (", "partial_aggs.py")),
    ("table registration, providers", ("_refresh", "registry.py", "tables.py")),
    ("probe / pruned planning", ("probe_plans.py", "pruned_plans.py", "pruning.py")),
    ("planning (SQL to plan)", ("_plan (", "context.py", "sql (")),
    ("DataFusion run, streaming", ("execution.py", "reader", "collect")),
    ("Flight SQL RPC, other", ("flightsql/",)),
)
METRIC = re.compile(r"(\w+)=([\d.]+)(ns|µs|us|ms|s|K|M|B)?\b")
SCALE = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3, "K": 1e3, "M": 1e6, "B": 1e9}


def area(stack: str) -> str | None:
    """The area of a sample under an RPC (None: a thread not serving the query, or one
    waiting for another thread: the handler for the work started ahead of it)."""
    python = [f for f in stack.split(";")[1:] if ".py:" in f]
    if not python or any(frame in python[-1] for frame in IDLE):
        return None
    for label, parts in AREAS:
        if any(part in stack for part in parts):
            return label
    thread = stack.split(";", 1)[0]
    return "other (under an RPC)" if "flight" in thread else None


def explain_metrics(conn: object, sql: str) -> dict[str, float]:
    """``EXPLAIN ANALYZE``'s metrics summed by name over the plan (times in ms)."""
    table = flight_run(conn, f"EXPLAIN ANALYZE {sql}")  # type: ignore[arg-type]
    text = "\n".join(str(v) for v in table.column(table.num_columns - 1).to_pylist())
    sums: Counter[str] = Counter()
    for line in text.splitlines():
        operator = line.strip().split(":", 1)[0]
        for name, value, unit in METRIC.findall(line.split("metrics=", 1)[-1]):
            sums[f"{operator}.{name}"] += float(value) * SCALE.get(unit or "", 1.0)
    return dict(sums) | {"_plan": text}  # type: ignore[dict-item]


def median_ms(conn: object, sql: str, runs: int) -> float:
    """The median ms of ``runs`` runs of ``sql``, after one check run (not timed)."""
    flight_run(conn, sql)  # type: ignore[arg-type]
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        flight_run(conn, sql)  # type: ignore[arg-type]
        samples.append((time.perf_counter() - began) * 1e3)
    return statistics.median(samples)


def profile(folder: Path, flags: tuple[str, ...], args: argparse.Namespace) -> dict:
    """Each wanted query over a server started with ``flags``."""
    plan = [q for q in queries(1000, 24, seed=7) if q.name in args.query]
    server = start(folder, *flags)
    out: dict[str, dict] = {}
    try:
        with flight_connection(server) as conn:
            for query in plan:
                median = median_ms(conn, query.sql, args.runs)
                spy = Spy(server.process.pid, args.raw / f"{query.name}{flags}.txt", args.spy)
                ran, began = 0, time.perf_counter()
                while time.perf_counter() - began < args.seconds:
                    flight_run(conn, query.sql)
                    ran += 1
                looped = (time.perf_counter() - began) * 1e3 / ran
                areas: Counter[str] = Counter()
                for stack, count in spy.stop().items():
                    label = area(stack)
                    if label is not None:
                        areas[label] += count
                per_query = {k: v * 1e3 / RATE / ran for k, v in areas.most_common()}
                out[query.name] = {
                    "median_ms": median, "looped_ms": looped,
                    "runs_profiled": ran, "ms_per_query": per_query,
                    "explain": explain_metrics(conn, query.sql),
                }  # fmt: skip
    finally:
        server.kill()
    return out


def main() -> None:
    """Cache on, then off; print and write."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--query", nargs="*", default=list(WANTED))
    parser.add_argument("--spy", default="--idle", help="py-spy flags")
    parser.add_argument("--label", default="run")
    args = parser.parse_args()
    args.spy = args.spy.split()
    args.raw = ROOT / "bench" / "results" / f"day_query_profile-{args.label}"
    args.raw.mkdir(parents=True, exist_ok=True)
    modes = {"cache on": (), "cache off": ("--parquet-cache-size", "0")}
    result = {label: profile(args.folder, flags, args) for label, flags in modes.items()}
    result["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())  # type: ignore[assignment]
    out = ROOT / "bench" / "results" / f"day_query_profile-{args.label}.json"
    out.write_text(json.dumps(result, indent=2))
    for mode in modes:
        for name, q in result[mode].items():
            print(f"{mode} | {name}: median {q['median_ms']:.1f} ms, looped {q['looped_ms']:.1f}")
            for label, ms in q["ms_per_query"].items():
                print(f"    {label:42s} {ms:8.2f} ms")


if __name__ == "__main__":
    main()
