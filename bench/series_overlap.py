"""Two writers with their own clocks: compaction and queries with and without series ranges.

    python bench/series_overlap.py [--persists 6] [--rows 200000] [--lag 2.0] [--rounds 2]
        [--out bench/results/series_overlap.json]

One in-process app (defaults, Parquet cache on) per run. Two writers each write their own
series (``w=w0`` / ``w=w1``, 200 hosts); ``w1``'s clock is ``--lag`` seconds behind
``w0``'s, as two agents flushing at different moments are. After each persist of about
``--rows`` rows a compaction pass runs (files of ``--rows`` rows count as full, so only
overlap makes it rewrite one), as the persister's background thread runs one, and
the soak's statement (``bench/soak.py``) is timed once the buffer holds half a persist again.
Every file's time range and tag bounds meet the one before (``w1``'s newest rows are older
than ``w0``'s), but no series meets itself: with series ranges (``query/series_index.py``)
nothing needs deduplicating; with bounds alone (the check turned off) each persist's file
is merged with the one before. Runs alternate on, off, off, on (``--rounds`` pairs), each in
a fresh process. Prints the files compaction rewrote, its seconds, the statement's median
time, and the ratios on/off; the answers of both are checked equal first.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "catalog"))

from bench.soak import QUERY  # noqa: E402

HOSTS = 200
BATCH_SECONDS = 0.05  # each batch: 10 points a host, 5 ms apart


def run(series: bool, persists: int, rows: int, lag: float) -> dict:
    """One app, one mode: what compaction rewrote and the statement's times."""
    from flight_iox.app import build_app
    from flight_iox.auth.policy import ANONYMOUS
    from flight_iox.config import Settings
    from flight_iox.query.series_index import SeriesIndex

    if not series:  # bounds alone decide, as before series ranges
        SeriesIndex.check = lambda self, buffered=None: None  # type: ignore[method-assign]
    app = build_app(Settings(data_dir=Path(tempfile.mkdtemp()), wal_fsync=False))
    rng = random.Random(7)
    start = time.time_ns()
    clocks = {"w0": start, "w1": start - int(lag * 1e9)}

    def write(lines: int) -> None:
        for _ in range(max(1, lines // (2 * HOSTS * 10))):
            for w in ("w0", "w1"):
                base = clocks[w]
                clocks[w] += int(BATCH_SECONDS * 1e9)
                body = "\n".join(
                    f"soak,w={w},host=h{h:03d} f={rng.random() * 100:.3f} {base + k * 5_000_000}"
                    for h in range(HOSTS)
                    for k in range(10)
                )
                app.engine.write_line_protocol("soak", body.encode(), principal=ANONYMOUS)

    rewritten, compact_s, query_s = 0, 0.0, []
    for _ in range(persists):
        write(rows)
        app.persister.persist()
        began = time.perf_counter()
        report = app.persister.compact(min_files=4, target_rows=rows)  # each file: full size
        compact_s += time.perf_counter() - began
        rewritten += report.files_before
        write(rows // 2)
        for _ in range(5):
            began = time.perf_counter()
            app.query.execute("soak", QUERY).read_all()
            query_s.append(time.perf_counter() - began)
    files = app.buffers.table("soak", "soak").files
    answer = app.query.execute("soak", QUERY).read_all().to_pylist()
    app.close()
    return {
        "files_rewritten": rewritten,
        "compact_s": round(compact_s, 3),
        "query_ms": round(statistics.median(query_s) * 1000, 2),
        "files": len(files),
        "answer": sorted(  # float sums may differ in the last bits (order of addition)
            [{k: round(v, 6) if isinstance(v, float) else v for k, v in r.items()} for r in answer],
            key=lambda r: (r["w"], r["host"]),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persists", type=int, default=6)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--lag", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the runs and the medians as JSON")
    parser.add_argument("--one", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run(args.one == "on", args.persists, args.rows, args.lag)))
        return
    found: dict[str, list[dict]] = {"on": [], "off": []}
    for mode in ["on", "off", "off", "on"] * args.rounds:
        if len(found[mode]) >= args.rounds:
            continue
        command = [sys.executable, __file__, "--one", mode, "--persists", str(args.persists),
                   "--rows", str(args.rows), "--lag", str(args.lag)]  # fmt: skip
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        found[mode].append(json.loads(out.strip().splitlines()[-1]))
    on, off = found["on"], found["off"]
    assert all(r["answer"] == off[0]["answer"] for r in on + off), "answers differ"
    summary = {}
    for name in ("files_rewritten", "compact_s", "query_ms"):
        a = round(statistics.median(r[name] for r in on), 3)
        b = round(statistics.median(r[name] for r in off), 3)
        ratio = f"{a / b:.3f}" if b else "n/a"
        summary[name] = {"series_ranges": a, "bounds_alone": b, "ratio": ratio}
        print(f"{name}: series ranges {a} | bounds alone {b} | ratio {ratio}")
    print(f"files at the end: {on[0]['files']} | {off[0]['files']}")
    if args.out is not None:
        runs = {mode: [{k: v for k, v in r.items() if k != "answer"} for r in found[mode]]
                for mode in found}  # fmt: skip
        args.out.write_text(json.dumps({"args": vars(args) | {"out": str(args.out)},
                                        "medians": summary, "runs": runs}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
