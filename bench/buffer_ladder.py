"""The soak's statement over a buffer growing at the soak's rate: this tree against big buffer
segments alone and the rest aggregated in a run of its own, by percentile.

    python bench/buffer_ladder.py [--cycles 3] [--out bench/results/buffer_ladder.json] [--smoke]

In process, two real server engines (``build_app``, defaults, no background persist) take the
same writes, as ``bench/soak.py``'s two writers make them (2,000-line batches of ``w=w0`` or
``w=w1``, 200 hosts, every seventh batch late: ``bench/buffer_segments.Writers``):

- this tree: the buffer's settled front as a ladder (``query/buffer_ladder.py``: segments of
  131,072 rows merged from ``SEGMENT_STEP`` smaller ones), and the rest's partial states read by the
  final aggregate's own plan (``query/partial_runs.py``);
- the ladder with the rest aggregated in a run of its own;
- before both: 131,072-row segments alone (``segment_step = 1``), the rest in its own run.

Each run writes 16,000 lines (the soak's two writers over 0.2 s, its statement's period),
then runs ``SELECT w, host, count(*), avg(f) FROM soak GROUP BY 1, 2`` on each, in an order
that rotates, their answers checked equal. A cycle grows the buffer to a million rows (the
default ``--persist-max-rows``) and persists it. Prints each one's p50, p90, p99 and slowest
run, and the ratios of this tree to the one before both.

A median hides what the ladder is for: with big segments alone, the run at which one settles
aggregates all 131,072 of its rows, and the runs before it up to 131,071 rows afresh.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.buffer_segments import Writers, _rows  # noqa: E402  (the soak's writes, answers)
from bench.soak import DATABASE, LINES, QUERY  # noqa: E402
from flight_iox.app import App, build_app  # noqa: E402
from flight_iox.auth.policy import ANONYMOUS, AuthMode, Authorizer  # noqa: E402
from flight_iox.auth.tokens import FileTokenStore  # noqa: E402
from flight_iox.config import Settings  # noqa: E402
from flight_iox.query.buffer_ladder import SEGMENT_STEP  # noqa: E402

THIS, BEFORE = "this tree", "before (big segments, rest alone)"
VARIANTS = {THIS: (SEGMENT_STEP, True), "ladder, rest alone": (SEGMENT_STEP, False)}
VARIANTS[BEFORE] = (1, False)
LINES_PER_RUN = 16_000  # the soak's ingest (about 80,000 lines/s) over its 0.2 s period
CYCLE_ROWS = 1_000_000  # rows buffered before a persist: the default --persist-max-rows


def _timed(app: App) -> float:
    started = time.perf_counter()
    app.sql.scoped(ANONYMOUS).execute(DATABASE, QUERY).read_all()
    return time.perf_counter() - started


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def measure(cycles: int, cycle_rows: int) -> dict[str, list[float]]:
    """Seconds of each run, by variant, over ``cycles`` buffers grown to ``cycle_rows``."""
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as folder:
        apps: dict[str, App] = {}
        writers: dict[str, Writers] = {}
        try:
            for name, (step, fuse) in VARIANTS.items():
                settings = Settings(data_dir=Path(folder) / name, wal_fsync=False)
                tokens = FileTokenStore(Path(folder) / f"{name}.tokens")
                apps[name] = build_app(settings, Authorizer(AuthMode.OFF, tokens))
                apps[name].query.partial_aggregates.segment_step = step
                apps[name].query.partial_aggregates._runs.fuse = fuse
                writers[name] = Writers(apps[name])
            run = 0
            for _ in range(cycles):
                for _ in range(cycle_rows // LINES_PER_RUN):
                    for writer in writers.values():
                        for _ in range(LINES_PER_RUN // LINES):
                            writer.write()
                    names = list(VARIANTS)
                    for name in names[run % 3 :] + names[: run % 3]:
                        times[name].append(_timed(apps[name]))
                    answers = [_rows(apps[name]) for name in VARIANTS]
                    if any(answer != answers[0] for answer in answers):
                        raise SystemExit(f"answers differ at run {run}")
                    run += 1
                for app in apps.values():
                    app.persister.persist(DATABASE)
        finally:
            for app in apps.values():
                app.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/buffer_ladder.json")
    parser.add_argument("--smoke", action="store_true", help="one small cycle, for CI")
    args = parser.parse_args()
    cycles, cycle_rows = (1, 64_000) if args.smoke else (args.cycles, CYCLE_ROWS)
    times = measure(cycles, cycle_rows)
    report: dict[str, object] = {"runs": len(times[THIS]), "lines_per_run": LINES_PER_RUN}
    for name, seconds in times.items():
        report[name] = {
            label: round(_percentile(seconds, fraction) * 1000, 2)
            for label, fraction in (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99))
        } | {"max_ms": round(max(seconds) * 1000, 2)}
        print(f"{name:36s} " + "  ".join(f"{k} {v:7.2f}" for k, v in report[name].items()))
    this, before = report[THIS], report[BEFORE]
    assert isinstance(this, dict) and isinstance(before, dict)
    for label in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
        report[f"this_over_before_{label[:-3]}"] = round(this[label] / before[label], 3)
    print(json.dumps({k: v for k, v in report.items() if k.startswith("this_over")}))
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
