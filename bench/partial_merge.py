"""The soak's statement over a table of many files, with settled files' partials merged or not.

    python bench/partial_merge.py [--files 20,60,120] [--file-rows 40000] [--runs 21]
        [--out bench/results/partial_merge.json] [--smoke]

In process, one real server's engine (``build_app``, defaults, no background persist) per
file count. The table is filled as ``bench/soak.py``'s two writers fill it (series ``w=w0``
and ``w=w1``, 200 hosts each) and persisted every ``--file-rows`` rows, so each file holds
all 400 series over its own time range, as the soak's compacted files do; a last half file
stays in the write buffer. Then ``SELECT w, host, count(*), avg(f) FROM soak GROUP BY 1, 2``
runs ``--runs`` times each with settled files' partials merged (``query/partial_merge.py``,
the default) and off (one kept partial per file, as before), alternated, answers checked
equal first. Prints each file count's medians and the ratio merged / off.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.soak import DATABASE, HOSTS, LINES, QUERY  # noqa: E402  (the soak's statement)
from flight_iox.app import App, build_app  # noqa: E402
from flight_iox.auth.policy import ANONYMOUS, AuthMode, Authorizer  # noqa: E402
from flight_iox.auth.tokens import FileTokenStore  # noqa: E402
from flight_iox.config import Settings  # noqa: E402
from flight_iox.query.partial_merge import MERGE_STEP  # noqa: E402


def write_batch(app: App, batch: int) -> None:
    """One writer's 2,000-line batch, the writers taking turns on one clock."""
    start = 1_000_000_000 + batch * LINES * 1_000
    body = "\n".join(
        f"soak,w=w{batch % 2},host=h{n % HOSTS:03d} f={(n * 37 + batch) % 1000 / 10} "
        f"{start + n * 1_000}"
        for n in range(LINES)
    )
    app.engine.write_line_protocol(DATABASE, body.encode(), principal=ANONYMOUS)


def _rows(app: App, step: int) -> list[tuple]:
    app.query.partial_aggregates.prefixes.step = step
    table = app.sql.scoped(ANONYMOUS).execute(DATABASE, QUERY).read_all()
    return sorted((r["w"], r["host"], r["count(*)"], round(r["avg(soak.f)"], 9))
                  for r in table.to_pylist())  # fmt: skip


def _timed(app: App, step: int) -> float:
    app.query.partial_aggregates.prefixes.step = step
    started = time.perf_counter()
    app.sql.scoped(ANONYMOUS).execute(DATABASE, QUERY).read_all()
    return time.perf_counter() - started


def measure(files: int, file_rows: int, runs: int) -> dict:
    """Medians with merging on and off over ``files`` persisted files and half a buffer."""
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder) / "data", wal_fsync=False)
        app = build_app(settings, Authorizer(AuthMode.OFF, FileTokenStore(Path(folder) / "t")))
        try:
            batches = max(1, file_rows // LINES)
            batch = 0
            for _ in range(files):
                for _ in range(batches):
                    write_batch(app, batch)
                    batch += 1
                app.persister.persist(DATABASE)
            for _ in range(batches // 2):
                write_batch(app, batch)
                batch += 1
            merged_answer = _rows(app, MERGE_STEP)
            if _rows(app, 0) != merged_answer or _rows(app, MERGE_STEP) != merged_answer:
                raise SystemExit(f"answers differ at {files} files")
            merged, off = [], []
            for run in range(runs + 2):  # two warm-up rounds
                if run % 2:  # alternate which goes first
                    off_s, merged_s = _timed(app, 0), _timed(app, MERGE_STEP)
                else:
                    merged_s, off_s = _timed(app, MERGE_STEP), _timed(app, 0)
                if run >= 2:
                    merged.append(merged_s)
                    off.append(off_s)
            made = app.query.partial_aggregates.prefixes.merges
        finally:
            app.close()
    result = {
        "files": files,
        "merged_ms": round(statistics.median(merged) * 1000, 2),
        "off_ms": round(statistics.median(off) * 1000, 2),
        "merges_made": made,
    }
    result["merged_over_off"] = round(result["merged_ms"] / result["off_ms"], 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", default="20,60,120")
    parser.add_argument("--file-rows", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/partial_merge.json")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    args = parser.parse_args()
    counts = [14] if args.smoke else [int(n) for n in args.files.split(",")]
    file_rows, runs = (6_000, 2) if args.smoke else (args.file_rows, args.runs)
    results = []
    for files in counts:
        results.append(measure(files, file_rows, runs))
        print(json.dumps(results[-1]), flush=True)
    args.out.write_text(json.dumps({"file_rows": file_rows, "counts": results}, indent=1))


if __name__ == "__main__":
    main()
