"""CPU of a persist of the soak's rows, this tree against a baseline revision.

    python bench/persist_cpu.py [--baseline REV] [--persists 7] [--rounds 2]
        [--out bench/results/persist_cpu.json] [--smoke]

A persist's CPU is what slows the queries that run beside it on a 2-core machine
(``bench/soak.py`` splits their latency by it). In a fresh process per run, one real
server's engine (``build_app``, defaults, the server's interpreter settings) takes
``bench/soak.py``'s rows, 2,000-line batches of ``w=w0``/``w=w1`` and 200 hosts, with the
soak's statement run after every tenth batch (as its reader merges the buffer), and is
persisted every million rows. The process CPU of each ``persist`` is read (its thread and
any it starts: DataFusion's aggregate of the new file for the recent statement included);
the first persist is a warm-up. Runs alternate baseline and this tree (``--rounds`` of
each, A B B A ...), in a ``git worktree`` of ``--baseline``. Prints the median per tree and
the ratio this tree / baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.trees import baseline_tree, remove_tree  # noqa: E402

CHILD = """
import json, sys, tempfile, time
from pathlib import Path
from flight_iox.app import build_app
from flight_iox.auth.policy import ANONYMOUS, AuthMode, Authorizer
from flight_iox.auth.tokens import FileTokenStore
from flight_iox.config import Settings
from flight_iox.interpreter_tuning import steady_interpreter

persists, batches = int(sys.argv[1]), int(sys.argv[2])
query = "SELECT w, host, count(*), avg(f) FROM soak GROUP BY 1, 2"
with tempfile.TemporaryDirectory() as folder:
    settings = Settings(data_dir=Path(folder) / "data", wal_fsync=False)
    app = build_app(settings, Authorizer(AuthMode.OFF, FileTokenStore(Path(folder) / "t")))
    steady_interpreter()
    if hasattr(app.tables, "encoder"):  # all of a persist's CPU in this process, to count it
        app.tables.encoder.min_rows = 0
    cpu, batch = [], 0
    for _ in range(persists):
        for k in range(batches):
            start = 1_000_000_000 + batch * 2_000_000
            body = "\\n".join(
                f"soak,w=w{batch % 2},host=h{n % 200:03d} f={(n * 37 + batch) % 1000 / 10} "
                f"{start + n * 1000}" for n in range(2000)
            )
            app.engine.write_line_protocol("soak", body.encode(), principal=ANONYMOUS)
            batch += 1
            if k % 10 == 0:
                app.sql.scoped(ANONYMOUS).execute("soak", query).read_all()
        began = time.process_time()
        app.persister.persist("soak")
        cpu.append(time.process_time() - began)
    rows = app.sql.scoped(ANONYMOUS).execute("soak", "SELECT count(*) AS n FROM soak")
    print(json.dumps({"cpu_s": cpu, "rows": rows.read_all().column("n")[0].as_py()}))
    app.close()
"""


def run(tree: Path, persists: int, batches: int) -> dict:
    """One fresh process of ``tree``'s code: each persist's CPU seconds."""
    env = {**os.environ, "PYTHONPATH": f"{tree}:{tree}/catalog:{tree}/clients"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(persists), str(batches)],
        cwd=tree, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare with")
    parser.add_argument("--persists", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/persist_cpu.json")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    args = parser.parse_args()
    persists, batches, rounds = (2, 5, 1) if args.smoke else (args.persists, 500, args.rounds)
    tree = baseline_tree(args.baseline)
    try:
        order = []
        for index in range(rounds):  # A B, then B A, ...
            pair = [("baseline", Path(tree.name)), ("this tree", ROOT)]
            order += pair if index % 2 == 0 else pair[::-1]
        cpu: dict[str, list[float]] = {"baseline": [], "this tree": []}
        counts = set()
        for name, code in order:
            result = run(code, persists, batches)
            cpu[name] += result["cpu_s"][1:]  # the first persist warms up
            counts.add(result["rows"])
            print(name, [round(c * 1000) for c in result["cpu_s"]], flush=True)
        if len(counts) != 1:
            raise SystemExit(f"the trees kept different row counts: {sorted(counts)}")
    finally:
        remove_tree(tree)
    medians = {name: round(statistics.median(values) * 1000, 1) for name, values in cpu.items()}
    report = {
        "baseline": args.baseline,
        "rows_per_persist": batches * 2000,
        "persist_cpu_ms": medians,
        "ratio": round(medians["this tree"] / medians["baseline"], 3),
    }
    print(json.dumps(report, indent=1))
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
