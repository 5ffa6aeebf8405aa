"""Statements answered from kept partial aggregates: this tree against a baseline revision.

    python bench/partial_final.py [--baseline 8a7ab15] [--hosts 1000] [--hours 2] [--runs 200]
        [--rounds 3] [--smoke] [--out bench/results/partial_final.json]

In process, with the server's own engine (``build_app``, defaults): TSBS cpu-only data
(../shared/tsbs/gen_cpu.py) written, persisted and compacted, so the table is one Parquet
file, held by the Parquet cache. Each statement is then run as Flight SQL runs it (its
schema, then its rows) ``--runs`` times after warm-up runs: ``count(*)`` and every TSBS type
in natural SQL (those over enough rows are answered from kept partials; the others run as
planned and show that nothing else moved). For each, the median wall time and the median
CPU of the whole process (DataFusion's threads included), in this tree and, in a child
process, in a ``git worktree`` of ``--baseline`` over the same data; answers checked equal.
Each tree runs in ``--rounds`` processes, alternating with the other's (baseline first),
and each figure is the median of its rounds: the same tree's medians differ by up to 20%
from one process to the next (single-groupby-1-1-1: 0.30 or 0.36 ms of CPU).

Prints, per statement, both medians, the ratios this tree / baseline and their geometric
mean. No timings are asserted anywhere (``--smoke`` runs 3 hosts, 1 h, 3 runs in CI).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COUNT = "SELECT count(*) AS n FROM cpu"


def measure(tree: Path, bodies: Path, hosts: int, hours: int, runs: int) -> dict[str, Any]:
    """Every statement's medians with the code in ``tree`` (imported here: call it in a
    process of its own per tree)."""
    for path in (tree / "clients", tree / "catalog", tree):
        sys.path.insert(0, str(path))
    from bench.tsbs_queries import tsbs_queries
    from flight_iox.app import build_app
    from flight_iox.auth.policy import ANONYMOUS
    from flight_iox.config import Settings

    statements = {"count(*)": COUNT} | {
        q.name: q.sql for q in tsbs_queries(hosts, hours) if "reference" not in q.name
    }
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Settings(data_dir=Path(folder), wal_fsync=False, log_level="warning"))
        try:
            for body in bodies.read_bytes().split(b"\n\n"):
                app.engine.write_line_protocol("tsbs", body, principal=ANONYMOUS)
            app.persister.persist("tsbs")
            app.persister.compact("tsbs")
            sql = app.sql.scoped(ANONYMOUS)

            def run(text: str) -> Any:
                sql.query_schema("tsbs", text)
                return sql.execute("tsbs", text).read_all()

            found: dict[str, Any] = {}
            for name, text in statements.items():
                answer = run(text)
                for _ in range(max(2, runs // 10)):
                    run(text)
                walls, cpus = [], []
                for _ in range(runs):
                    wall, cpu = time.perf_counter(), time.process_time()
                    run(text)
                    cpus.append(time.process_time() - cpu)
                    walls.append(time.perf_counter() - wall)
                found[name] = {
                    "wall_ms": statistics.median(walls) * 1e3,
                    "cpu_ms": statistics.median(cpus) * 1e3,
                    "rows": answer.num_rows,
                    "digest": _digest(answer),
                }
            return found
        finally:
            app.close()


def _digest(table: Any) -> str:
    """A hash of the answer, rounded so float sums in another order still match (the
    answers themselves would make the report 100 MB)."""
    rows = []
    for row in table.to_pylist():
        rows.append(tuple(round(v, 6) if isinstance(v, float) else str(v) for v in row.values()))
    return hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()


def _in_child(tree: Path, bodies: Path, hosts: int, hours: int, runs: int) -> dict[str, Any]:
    out = bodies.with_suffix(".json")
    env = {**os.environ, "PYTHONPATH": f"{tree}:{tree}/catalog:{tree}/clients"}
    subprocess.run(
        [sys.executable, __file__, "--measure", str(tree), "--bodies", str(bodies),
         "--hosts", str(hosts), "--hours", str(hours), "--runs", str(runs), "--out", str(out)],
        check=True, env=env, cwd=tree,
    )  # fmt: skip
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="8a7ab15", help="git revision to compare with")
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=2)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="processes per tree, alternated")
    parser.add_argument("--smoke", action="store_true", help="3 hosts, 1 h, 3 runs (CI)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # a child: one tree
    parser.add_argument("--bodies", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/partial_final.json")
    args = parser.parse_args()
    if args.measure:
        found = measure(args.measure, args.bodies, args.hosts, args.hours, args.runs)
        args.out.write_text(json.dumps(found))
        return
    if args.smoke:
        args.hosts, args.hours, args.runs, args.rounds = 3, 1, 3, 1
    sys.path.insert(0, str(ROOT))
    from bench.ingest import GENERATOR, make_bodies
    from bench.trees import baseline_tree, remove_tree

    if not GENERATOR.exists():
        print(f"skipped: {GENERATOR} not found (../shared beside the checkout is needed)")
        return
    with tempfile.TemporaryDirectory() as folder:
        bodies = Path(folder) / "bodies.lp"
        bodies.write_bytes(b"\n\n".join(make_bodies(args.hosts, args.hours, Path(folder))))
        tree = baseline_tree(args.baseline)
        rounds: dict[str, list[dict[str, Any]]] = {"base": [], "new": []}
        try:
            for _ in range(args.rounds):
                for side, code in (("base", Path(tree.name)), ("new", ROOT)):
                    measured = _in_child(code, bodies, args.hosts, args.hours, args.runs)
                    rounds[side].append(measured)
        finally:
            remove_tree(tree)
    base, new = _median_of(rounds["base"]), _median_of(rounds["new"])
    report(new, base, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"baseline": args.baseline, "hosts": args.hosts, "hours": args.hours,
              "runs": args.runs, "rounds": rounds, "this tree": new,
              "baseline run": base}  # fmt: skip
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}")


def _median_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per statement, the median over the rounds of each figure (the answer: the first's)."""
    found = {}
    for name, first in rounds[0].items():
        medians = {
            key: statistics.median(r[name][key] for r in rounds) for key in ("wall_ms", "cpu_ms")
        }
        found[name] = {**first, **medians}
    return found


def report(new: dict[str, Any], base: dict[str, Any], args: argparse.Namespace) -> None:
    """The table docs/benchmarks.md shows; raises if an answer differs."""
    print(f"\n{args.hosts} hosts x {args.hours} h, one compacted file, median of {args.runs} "
          f"runs, of {args.rounds} rounds; this tree / baseline {args.baseline}\n")  # fmt: skip
    print("| statement | wall ms (base) | wall ms (new) | ratio | CPU ms (base) | CPU ms (new) "
          "| ratio |\n|---|---:|---:|---:|---:|---:|---:|")  # fmt: skip
    walls, cpus = [], []
    for name, now in new.items():
        was = base[name]
        if now["digest"] != was["digest"]:
            raise SystemExit(f"{name}: the answers differ between the trees")
        wall, cpu = now["wall_ms"] / was["wall_ms"], now["cpu_ms"] / max(was["cpu_ms"], 1e-3)
        walls.append(wall)
        cpus.append(cpu)
        print(f"| {name} | {was['wall_ms']:.2f} | {now['wall_ms']:.2f} | {wall:.2f}x "
              f"| {was['cpu_ms']:.2f} | {now['cpu_ms']:.2f} | {cpu:.2f}x |")  # fmt: skip
    print(f"| geometric mean | | | {_geomean(walls):.2f}x | | | {_geomean(cpus):.2f}x |")


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


if __name__ == "__main__":
    main()
