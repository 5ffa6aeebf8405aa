"""Per-query cost of authorization in the query engine, against the unscoped path, same run.

    python bench/scoped_query.py [--runs 400] [--databases 4] [--rows 2000]

One in-process ``App`` with ``--databases`` databases of ``--rows`` buffered rows each.
Each target runs the same statements on database ``db0``, alternately, warm:

- ``unscoped``: ``app.query.execute``, the engine's full contexts (the path every query
  took before principals reached the engine);
- ``scoped admin``: ``app.sql.scoped(admin).execute`` (admin tokens and auth off);
- ``scoped reader``: a token reading ``db0`` only: its own warm context holding one catalog;
- ``plan walk``: the alternative design, unscoped plus reading the table references out
  of DataFusion's logical plan (a lower bound: the text of the plan, not a tree walk, and
  subqueries inside expressions would need more);
- ``unscoped, replanned`` and ``scoped reader, cold`` (measured apart): with the plan cache
  emptied first, and for the reader its context too (the first query of a new readable set).

Targets run in three groups, each against its own baseline measured alternately with it:
(unscoped, scoped admin, scoped reader), (unscoped, plan walk), (unscoped replanned, scoped
reader cold). Prints each median and its ratio to the first target of its group.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_iox.app import App, build_app  # noqa: E402
from flight_iox.auth.policy import ANONYMOUS, Principal  # noqa: E402
from flight_iox.auth.tokens import Action, Permission, TokenRecord  # noqa: E402
from flight_iox.config import Settings  # noqa: E402

STATEMENTS = {
    "SELECT 1": "SELECT 1",
    "group by": "SELECT host, max(usage) AS m FROM cpu GROUP BY host ORDER BY host",
}
_SCAN = re.compile(r"TableScan: (\S+)")


def _load(app: App, databases: int, rows: int) -> None:
    for d in range(databases):
        body = "\n".join(f"cpu,host=h{i % 50} usage={i}.5 {i}" for i in range(rows))
        app.engine.write_line_protocol(f"db{d}", body.encode(), principal=ANONYMOUS, no_sync=True)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = time.perf_counter


def _time(run: Callable[[], object]) -> float:
    start = _clock()
    run()
    return _clock() - start


def main() -> None:
    """Load, warm up, then time every target alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--databases", type=int, default=4)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="cpu: this process's CPU time (every thread), steadier on a shared machine",
    )
    args = parser.parse_args()
    global _clock
    _clock = CLOCKS[args.clock]
    reader = Principal(
        "r",
        False,
        TokenRecord("r", "r", "h", False, (Permission("db0", frozenset({Action.READ})),)),
    )
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Settings(data_dir=Path(folder) / "data", wal_fsync=False))
        _load(app, args.databases, args.rows)
        query = app.query
        rows: list[tuple[str, str, float, float]] = []
        for label, sql in STATEMENTS.items():

            def plan_walk(sql: str = sql) -> object:
                reader_ = query.execute("db0", sql)
                context = query._refreshed_context("db0", sql)
                _SCAN.findall(context.sql(sql).logical_plan().display_indent())
                return reader_.read_all()

            def replanned(sql: str = sql) -> object:
                query._statements.forget_plans()
                return query.execute("db0", sql).read_all()

            def cold(sql: str = sql) -> object:
                query._contexts._scoped.clear()
                query._statements.forget_plans()
                return query.scoped(reader).execute("db0", sql).read_all()

            def unscoped(sql: str = sql) -> object:
                return query.execute("db0", sql).read_all()

            warm: dict[str, Callable[[], object]] = {
                "unscoped": unscoped,
                "scoped admin": lambda sql=sql: (
                    query.scoped(ANONYMOUS).execute("db0", sql).read_all()
                ),
                "scoped reader": lambda sql=sql: (
                    query.scoped(reader).execute("db0", sql).read_all()
                ),
            }
            # Each group apart, against its own baseline: planning in one target (the plan
            # walk, an emptied plan cache) would weigh on whichever target runs next.
            groups = (
                warm,
                {"unscoped": unscoped, "plan walk": plan_walk},
                {"unscoped, replanned": replanned, "scoped reader, cold": cold},
            )
            for group in groups:
                medians = _medians(group, args.runs, args.warmup)
                base = next(iter(medians.values()))
                rows.extend((label, name, ms, ms / base) for name, ms in medians.items())
        app.close()
    print(f"\nin-process query engine, {args.clock} time, median of {args.runs} alternating runs\n")
    print("| statement | target | median ms | / first of its group |")
    print("|---|---|---:|---:|")
    for label, name, ms, ratio in rows:
        print(f"| {label} | {name} | {ms:.3f} | {ratio:.3f}x |")


def _medians(targets: dict[str, Callable[[], object]], runs: int, warmup: int) -> dict[str, float]:
    """Each target's median in ms, the targets run alternately (forwards, then backwards)."""
    samples: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(warmup):
        for run in targets.values():
            run()
    for i in range(runs):
        order = list(targets.items())
        for name, run in order if i % 2 else reversed(order):
            samples[name].append(_time(run))
    return {name: statistics.median(values) * 1e3 for name, values in samples.items()}


if __name__ == "__main__":
    main()
