"""Per-query cost on one table while another is written: this tree against a baseline revision.

    python bench/query_while_writing.py [--baseline 2f83573] [--runs 300] [--rounds 2]
        [--writes other-database|other-table]

One in-process ``App`` with two databases of ``--rows`` buffered rows each. A thread
writes ``--lines`` lines every ``--every-ms`` (unsynced WAL, as a busy ingest would) to
table ``cpu`` of database ``written`` (``--writes other-database``) or to table ``mem`` of
``queried`` (``other-table``) while the main thread runs each statement over ``cpu`` of
``queried``, warm, and times it until its batches are read; the same statements are also
timed with the writer idle.

The baseline is the code of ``--baseline`` (a git revision), checked out with
``git worktree add`` into a temporary folder and run by this same script in a
subprocess with that tree first on ``PYTHONPATH``. Baseline and this tree run
alternately, ``--rounds`` times each, on the same machine in the same run; the script
prints the median of each (over the rounds' medians) and the ratio of this tree to the
baseline. With a global change counter (the baseline before per-database versions) every
write to ``written`` invalidates the plans of ``queried`` and makes its next query
re-snapshot ``written``'s table; with per-database versions neither happens. With
per-database versions (the baseline before per-table ones), a write to ``mem`` does both
to a query of ``cpu`` in the same database; with per-table versions neither happens.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATEMENTS = {
    "SELECT 1": "SELECT 1",
    "group by": "SELECT host, max(usage) AS m FROM cpu GROUP BY host ORDER BY host",
    "filter": "SELECT count(*) FROM cpu WHERE host = 'h7' AND usage > 100",
}


def measure(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Median ms per statement with the writer idle and busy (in the tree on sys.path)."""
    from flight_iox.app import build_app
    from flight_iox.auth.policy import ANONYMOUS
    from flight_iox.config import Settings

    medians: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Settings(data_dir=Path(folder) / "data", wal_fsync=False))
        target, table = (
            ("written", "cpu") if args.writes == "other-database" else ("queried", "mem")
        )
        for database, name in dict.fromkeys(
            [("written", "cpu"), ("queried", "cpu"), (target, table)]
        ):
            body = "\n".join(f"{name},host=h{i % 50} usage={i}.5 {i}" for i in range(args.rows))
            app.engine.write_line_protocol(
                database, body.encode(), principal=ANONYMOUS, no_sync=True
            )
        stop = threading.Event()
        busy = threading.Event()
        written = [0]

        def write() -> None:
            t = args.rows
            while not stop.is_set():
                if not busy.wait(0.05):
                    continue
                lines = "\n".join(
                    f"{table},host=h{i % 50} usage={i}.5 {t + i}" for i in range(args.lines)
                )
                app.engine.write_line_protocol(
                    target, lines.encode(), principal=ANONYMOUS, no_sync=True
                )
                t += args.lines
                written[0] += 1
                time.sleep(args.every_ms / 1e3)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        query = app.query
        for label, sql in STATEMENTS.items():
            expected = query.execute("queried", sql).read_all().to_pylist()
            for state in ("idle", "busy"):
                (busy.set if state == "busy" else busy.clear)()
                samples = []
                for i in range(args.warmup + args.runs):
                    start = time.perf_counter()
                    result = query.execute("queried", sql).read_all()
                    if i >= args.warmup:
                        samples.append(time.perf_counter() - start)
                    if i == 0:
                        assert result.to_pylist() == expected, label  # same answer, writes or not
                medians.setdefault(label, {})[state] = statistics.median(samples) * 1e3
        stop.set()
        writer.join()
        app.close()
    medians["_writes"] = {"batches": float(written[0])}
    return medians


def _run_tree(tree: Path, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """This script's ``--measure`` in a subprocess running the code of ``tree``."""
    env = dict(os.environ)
    paths = [str(tree), str(tree / "catalog"), str(tree / "clients")]
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")])
    options = ["--rows", args.rows, "--lines", args.lines, "--every-ms", args.every_ms]
    options += ["--runs", args.runs, "--warmup", args.warmup, "--writes", args.writes]
    command = [sys.executable, __file__, "--measure", *map(str, options)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tree)
    if out.returncode != 0:
        sys.exit(f"the run in {tree} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run the baseline and this tree alternately; print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--baseline",
        default="2f83573",
        help="git revision to compare against (default: the last main with one change counter)",
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--every-ms", type=float, default=2.0)
    parser.add_argument(
        "--writes", choices=("other-database", "other-table"), default="other-database"
    )
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args)))
        return
    revision = subprocess.run(
        ["git", "rev-parse", "--short", args.baseline],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    runs: dict[str, list[dict[str, dict[str, float]]]] = {"baseline": [], "this tree": []}
    with tempfile.TemporaryDirectory() as folder:
        old = Path(folder) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(old), revision], cwd=ROOT, check=True
        )
        try:
            for _ in range(args.rounds):
                runs["baseline"].append(_run_tree(old, args))
                runs["this tree"].append(_run_tree(ROOT, args))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=True)
    print(
        f"\nqueries on `queried.cpu` while {args.writes} takes {args.lines} lines every "
        f"{args.every_ms:g} ms; baseline {args.baseline} ({revision}); median ms of "
        f"{args.runs} runs, median over {args.rounds} alternating rounds\n"
    )
    print("| statement | writer | baseline ms | this tree ms | this / baseline |")
    print("|---|---|---:|---:|---:|")
    for label in STATEMENTS:
        for state in ("idle", "busy"):
            base = statistics.median(r[label][state] for r in runs["baseline"])
            new = statistics.median(r[label][state] for r in runs["this tree"])
            print(f"| {label} | {state} | {base:.3f} | {new:.3f} | {new / base:.2f}x |")


if __name__ == "__main__":
    main()
