"""A query's cost while two writers fill the buffer: this tree against a baseline revision.

    python bench/query_refresh.py [--baseline 7f89f86] [--batches 600] [--rounds 2]

One in-process ``App`` (unsynced WAL, no persist). Two writers' 2,000-line batches
(series ``w=w0``/``w=w1``, 200 hosts, as ``bench/soak.py`` writes them; every third batch
starts a little before the previous one ended, as concurrent writers' batches arrive) are
written one by one; after every 20th, the soak's query
``SELECT w, host, count(*), avg(f) FROM soak GROUP BY 1, 2`` runs (its refresh takes the
buffer snapshot and builds the table's provider, as every query after a write does) and is
timed. Reported: the median query time over the last half of the batches (buffer of
0.6-1.2M rows by default) and the median of the buffer's chunk count.

The baseline is the code of ``--baseline``, checked out with ``git worktree add`` into a
temporary folder and run by this script in a subprocess with that tree first on
``PYTHONPATH``; baseline and this tree alternate, ``--rounds`` times each, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERY = "SELECT w, host, count(*), avg(f) FROM soak GROUP BY 1, 2"
HOSTS = 200
LINES = 2_000


def body(w: str, base: int) -> bytes:
    """One writer's batch: 10 points for each of 200 hosts from ``base`` ns."""
    per_host = LINES // HOSTS
    return "\n".join(
        f"soak,w={w},host=h{h:03d} f={(h * 7 + k) % 100}.5 {base + k}"
        for h in range(HOSTS)
        for k in range(per_host)
    ).encode()


def measure(batches: int) -> dict:
    """Write ``batches`` batches, timing the query after every 20th (in this process)."""
    from flight_iox.app import build_app
    from flight_iox.auth.policy import ANONYMOUS
    from flight_iox.config import Settings

    folder = tempfile.mkdtemp(prefix="query-refresh-")
    settings = Settings(
        data_dir=Path(folder), wal_fsync=False, persist_max_age_seconds=36_000.0,
        persist_max_rows=100_000_000, buffer_memory_limit=8 * 2**30,
    )  # fmt: skip
    app = build_app(settings)
    times, chunks = [], []
    try:
        base = 1_700_000_000_000_000_000
        for i in range(batches):
            start = base + i * 1_000 - (1_500 if i % 3 == 2 else 0)  # some arrive late
            app.engine.write_line_protocol("soak", body(f"w{i % 2}", start), principal=ANONYMOUS)
            if i % 20 == 19:
                started = time.perf_counter()
                app.query.execute("soak", QUERY).read_all()
                if i >= batches // 2:
                    times.append(time.perf_counter() - started)
                    buffered = app.buffers.snapshot("soak", "soak", _schema(app)).buffered
                    chunks.append(len(buffered.to_batches()))
    finally:
        app.close()
    return {"median_s": statistics.median(times), "chunks": statistics.median(chunks)}


def _schema(app: object) -> object:
    catalog = app.catalog  # type: ignore[attr-defined]
    with catalog.lock:
        return catalog.database("soak").tables["soak"].arrow_schema()


def run_tree(tree: Path, batches: int) -> dict:
    """``measure`` in a subprocess running the code of ``tree``."""
    env = {**os.environ, "PYTHONPATH": f"{tree}:{tree}/catalog:{tree}/clients"}
    code = (
        f"import sys, json; sys.path.insert(0, {str(ROOT / 'bench')!r}); import query_refresh; "
        f"print(json.dumps(query_refresh.measure({batches})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tree, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default="7f89f86", help="git revision to compare with")
    parser.add_argument("--batches", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    out = ROOT / "bench" / "results" / "query_refresh.json"
    parser.add_argument("--out", type=Path, default=out)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="query-refresh-base-") as folder:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", folder, args.baseline],
            check=True, capture_output=True,
        )  # fmt: skip
        try:
            runs: dict[str, list[dict]] = {"baseline": [], "this tree": []}
            for _ in range(args.rounds):
                runs["baseline"].append(run_tree(Path(folder), args.batches))
                runs["this tree"].append(run_tree(ROOT, args.batches))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", folder])
    result = {
        name: {
            "median_s": round(statistics.median(r["median_s"] for r in rs), 4),
            "chunks": statistics.median(r["chunks"] for r in rs),
        }
        for name, rs in runs.items()
    }
    result["ratio"] = round(result["this tree"]["median_s"] / result["baseline"]["median_s"], 3)
    result["load_average"] = os.getloadavg()[0]
    print(json.dumps(result, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": vars(args) | {"out": str(args.out)}, **result}))


if __name__ == "__main__":
    main()
