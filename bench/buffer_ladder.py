"""The soak's statement over a buffer growing at the soak's rate: this tree against big buffer
segments alone and the rest aggregated in a run of its own, by percentile and DataFusion runs.

    python bench/buffer_ladder.py [--cycles 3] [--out bench/results/buffer_ladder.json] [--smoke]

In process, real server engines (``build_app``, defaults, no background persist) take the
same writes, as ``bench/soak.py``'s two writers make them (2,000-line batches of ``w=w0`` or
``w=w1``, 200 hosts, every seventh batch late: ``bench/buffer_segments.Writers``):

- this tree: the buffer's settled front as a ladder (``query/buffer_ladder.py``: segments of
  131,072 rows merged from ``SEGMENT_STEP`` smaller ones), and the rest's partial states read by the
  final aggregate's own plan (``query/partial_runs.py``);
- the ladder with small segments of 16,384 rows (a step of 8), the rest read by the final;
- the ladder with the rest aggregated in a run of its own;
- before both: 131,072-row segments alone (``segment_step = 1``), the rest in its own run.

Each run writes 16,000 lines (the soak's two writers over 0.2 s, its statement's period),
then runs ``SELECT w, host, count(*), avg(f) FROM soak GROUP BY 1, 2`` on each, in an order
that rotates, each timed run's answer checked against the plain plan's (one more engine,
without partial aggregates). A cycle grows the buffer to a million rows (the default
``--persist-max-rows``) and persists it. Prints each one's p50, p90, p99 and slowest run, the
DataFusion runs a statement made besides its final aggregate (partial aggregates and merges,
counted around the timed runs only), and the ratios of this tree to the one before both.

A median hides what the ladder is for: with big segments alone, the run at which one settles
aggregates all 131,072 of its rows, and the runs before it up to 131,071 rows afresh.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.buffer_segments import Writers  # noqa: E402  (the soak's writes)
from bench.soak import DATABASE, LINES, QUERY  # noqa: E402
from bench.soak_report import percentile  # noqa: E402
from flight_iox.app import App, build_app  # noqa: E402
from flight_iox.auth.policy import ANONYMOUS, AuthMode, Authorizer  # noqa: E402
from flight_iox.auth.tokens import FileTokenStore  # noqa: E402
from flight_iox.config import Settings  # noqa: E402
from flight_iox.interpreter_tuning import steady_interpreter  # noqa: E402
from flight_iox.query.buffer_ladder import SEGMENT_STEP  # noqa: E402
from flight_iox.query.partial_aggs import MIN_ROWS  # noqa: E402
from flight_iox.query.partial_parts import SEGMENT_ROWS  # noqa: E402

THIS, BEFORE, PLAIN = "this tree", "before (big segments, rest alone)", "plain plan"
VARIANTS = {THIS: (SEGMENT_STEP, True), "step 8, rest read by the final": (8, True)}
VARIANTS |= {"ladder, rest alone": (SEGMENT_STEP, False), BEFORE: (1, False)}
LINES_PER_RUN = 16_000  # the soak's ingest (about 80,000 lines/s) over its 0.2 s period
CYCLE_ROWS = 1_000_000  # rows buffered before a persist: the default --persist-max-rows


def _timed(app: App) -> tuple[float, list[tuple]]:
    """Seconds of one run of the statement, and its answer (sorted; avg to 6 places: float
    sums differ in their last bits with the order of addition)."""
    started = time.perf_counter()
    table = app.sql.scoped(ANONYMOUS).execute(DATABASE, QUERY).read_all()
    seconds = time.perf_counter() - started
    rows = zip(*(table.column(i).to_pylist() for i in range(table.num_columns)), strict=True)
    return seconds, sorted((w, host, n, round(avg, 6)) for w, host, n, avg in rows)


def _app(folder: Path, name: str, cache_bytes: int | None = None) -> App:
    options = {} if cache_bytes is None else {"aggregate_cache_size": cache_bytes}
    settings = Settings(data_dir=folder / name, wal_fsync=False, **options)
    return build_app(settings, Authorizer(AuthMode.OFF, FileTokenStore(folder / f"{name}.t")))


def _counting(app: App) -> list[int]:
    """A count of the partial-aggregate and merge runs ``app``'s statements make (the real
    runs, wrapped on this engine's instance)."""
    runs, count = app.query.partial_aggregates._runs, [0]
    for name in ("aggregate", "merge"):
        real = getattr(runs, name)

        def counted(*args: object, real: Callable[..., object] = real) -> object:
            count[0] += 1
            return real(*args)

        setattr(runs, name, counted)
    return count


def measure(cycles: int, cycle_rows: int, segment_rows: int, min_rows: int) -> dict:
    """Seconds of each run, by variant, over ``cycles`` buffers grown to ``cycle_rows``, each
    timed run's answer checked against the plain plan's (no partials); and the partials
    this tree found kept."""
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    runs = dict.fromkeys(VARIANTS, 0)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        apps: dict[str, App] = {PLAIN: _app(folder, "plain", 0)}
        try:
            for name, (step, fuse) in VARIANTS.items():
                apps[name] = _app(folder, f"variant{len(apps)}")
                partials = apps[name].query.partial_aggregates
                partials.segment_rows, partials.segment_step = segment_rows, step
                partials.min_rows = min_rows
                partials._runs.fuse = fuse
            counts = {name: _counting(apps[name]) for name in VARIANTS}
            writers = [Writers(app) for app in apps.values()]
            steady_interpreter()  # as ``serve`` does once built: no full collection mid-run
            run = 0
            for _ in range(cycles):
                for _ in range(cycle_rows // LINES_PER_RUN):
                    for writer in writers:
                        for _ in range(LINES_PER_RUN // LINES):
                            writer.write()
                    want = _timed(apps[PLAIN])[1]
                    names = list(VARIANTS)
                    turn = run % len(names)
                    for name in names[turn:] + names[:turn]:
                        before = counts[name][0]
                        seconds, answer = _timed(apps[name])
                        runs[name] += counts[name][0] - before
                        if answer != want:
                            raise SystemExit(f"{name}: answer differs from the plan's at run {run}")
                        times[name].append(seconds)
                    run += 1
                for app in apps.values():
                    app.persister.persist(DATABASE)
            hits = apps[THIS].query.partial_aggregates.hits
        finally:
            for app in apps.values():
                app.close()
    return {"times": times, "runs": runs, "hits": hits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/buffer_ladder.json")
    parser.add_argument("--smoke", action="store_true", help="one small cycle, for CI")
    args = parser.parse_args()
    if args.smoke:  # small segments, and partials over small buffers: the same code paths
        measured = measure(1, 64_000, 8_192, 0)
    else:
        measured = measure(args.cycles, CYCLE_ROWS, SEGMENT_ROWS, MIN_ROWS)
    times = measured["times"]
    report: dict[str, object] = {
        "runs": len(times[THIS]), "lines_per_run": LINES_PER_RUN, "partial_hits": measured["hits"]
    }  # fmt: skip
    for name, seconds in times.items():
        report[name] = {
            label: round(percentile(seconds, fraction) * 1000, 2)
            for label, fraction in (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99))
        } | {
            "max_ms": round(max(seconds) * 1000, 2),
            "runs_per_statement": round(measured["runs"][name] / len(seconds), 2),
        }
        print(f"{name:34s} " + "  ".join(f"{k} {v:6.2f}" for k, v in report[name].items()))
    this, before = report[THIS], report[BEFORE]
    assert isinstance(this, dict) and isinstance(before, dict)
    for label in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
        report[f"this_over_before_{label[:-3]}"] = round(this[label] / before[label], 3)
    print(json.dumps({k: v for k, v in report.items() if k.startswith("this_over")}))
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
