"""A query's snapshot of a table while a persist runs: the view of the frozen rows, merged as
writes arrive, against the frozen rows merged again with the new ones at every snapshot.

    python bench/persist_snapshot.py [--cycles 3] [--smoke]
        [--out bench/results/persist_snapshot.json]

In process, two real server engines (``build_app``, defaults, no background persist) take
the same writes, as ``bench/soak.py``'s two writers make them (2,000-line batches of
``w=w0`` or ``w=w1``, 200 hosts, every seventh batch late: ``bench/buffer_segments.Writers``).
A cycle fills each buffer to a million rows (the default ``--persist-max-rows``) and freezes
it, as a persist does; then, ``ROUNDS`` times, 16,000 more lines arrive (the soak's writers
over 0.2 s, its statement's period) and each engine's snapshot of the table is timed:

- this tree: ``TableBuffer.snapshot`` merges the new rows into its view of the frozen ones
  (and into the rows that stay buffered), and counts the view's bytes;
- before (the code up to 703a403): the new rows are merged into the rows that stay buffered,
  then the frozen rows are merged with all of those again (``merge_ordered``), at every
  snapshot.

Both give the same rows (checked: count and sum of ``f``). The cycle ends as a persist
does (the frozen rows leave). Prints the p50, p90 and slowest snapshot of each and the
ratios this tree / before.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.buffer_segments import Writers  # noqa: E402  (the soak's writes)
from bench.soak import DATABASE, LINES  # noqa: E402
from bench.soak_report import percentile  # noqa: E402
from flight_iox.app import App, build_app  # noqa: E402
from flight_iox.auth.policy import AuthMode, Authorizer  # noqa: E402
from flight_iox.auth.tokens import FileTokenStore  # noqa: E402
from flight_iox.config import Settings  # noqa: E402
from flight_iox.engine.buffer import TableBuffer, conform  # noqa: E402
from flight_iox.engine.buffer_merge import max_time, merge_ordered  # noqa: E402

TABLE = "soak"
THIS, BEFORE = "this tree", "before (merged again at each snapshot)"
ROUNDS = 12  # snapshots per persist: 2.4 s of the soak's writes (its persists took 0.6-1.7 s)
LINES_PER_ROUND = 16_000
CYCLE_ROWS = 1_000_000


def _app(folder: Path, name: str) -> App:
    settings = Settings(data_dir=folder / name, wal_fsync=False)
    return build_app(settings, Authorizer(AuthMode.OFF, FileTokenStore(folder / f"{name}.t")))


def _this(state: TableBuffer, schema: pa.Schema) -> pa.Table:
    return state.snapshot(schema)[0].buffered


def _before(state: TableBuffer, schema: pa.Schema) -> pa.Table:
    """The snapshot as it was made before the view: the pending rows merged into ``merged``,
    then the frozen rows merged with all of them again."""
    with state.lock:
        state._merge_pending(schema)  # no view is kept on this engine: ``merged`` alone
        frozen = conform(state.frozen, schema) if state.frozen is not None else None
        merged = conform(state.merged, schema) if state.merged is not None else None
        if frozen is None:
            return merged if merged is not None else schema.empty_table()
        if merged is None:
            return frozen
        return merge_ordered(frozen, merged, max_time(frozen))[0]


def _digest(rows: pa.Table) -> tuple[int, float]:
    return rows.num_rows, round(pc.sum(rows.column("f")).as_py() or 0.0, 3)


def measure(cycles: int, cycle_rows: int, rounds: int) -> dict[str, list[float]]:
    """Seconds of each snapshot taken during a persist, by variant."""
    times: dict[str, list[float]] = {THIS: [], BEFORE: []}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        apps = {THIS: _app(folder, "this"), BEFORE: _app(folder, "before")}
        takes = {THIS: _this, BEFORE: _before}
        try:
            writers = {name: Writers(app) for name, app in apps.items()}
            for _ in range(cycles):
                for _ in range(cycle_rows // LINES):
                    for writer in writers.values():
                        writer.write()
                schema = apps[THIS].persister.tables.schema(DATABASE, TABLE)
                assert schema is not None
                for app in apps.values():
                    app.buffers.freeze(DATABASE, TABLE, schema)
                apps[BEFORE].buffers.table(DATABASE, TABLE).view = None  # as before: none
                for turn in range(rounds):
                    for writer in writers.values():
                        for _ in range(LINES_PER_ROUND // LINES):
                            writer.write()
                    names = [THIS, BEFORE] if turn % 2 == 0 else [BEFORE, THIS]
                    answers = {}
                    for name in names:
                        state = apps[name].buffers.table(DATABASE, TABLE)
                        started = time.perf_counter()
                        rows = takes[name](state, schema)
                        times[name].append(time.perf_counter() - started)
                        answers[name] = _digest(rows)
                    if answers[THIS] != answers[BEFORE]:
                        raise SystemExit(f"snapshots differ: {answers}")
                for app in apps.values():
                    app.buffers.persisted(DATABASE, TABLE, ())  # the frozen rows leave
        finally:
            for app in apps.values():
                app.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/persist_snapshot.json")
    parser.add_argument("--smoke", action="store_true", help="one small cycle, for CI")
    args = parser.parse_args()
    small = (1, 40_000, 3)  # --smoke: the same code paths
    times = measure(*small) if args.smoke else measure(args.cycles, CYCLE_ROWS, ROUNDS)
    report: dict[str, object] = {"snapshots": len(times[THIS])}
    for name, seconds in times.items():
        report[name] = {
            label: round(percentile(seconds, fraction) * 1000, 2)
            for label, fraction in (("p50_ms", 0.5), ("p90_ms", 0.9), ("max_ms", 1.0))
        }
        print(f"{name:40s} " + "  ".join(f"{k} {v:7.2f}" for k, v in report[name].items()))
    this, before = report[THIS], report[BEFORE]
    assert isinstance(this, dict) and isinstance(before, dict)
    for label in ("p50_ms", "p90_ms", "max_ms"):
        report[f"this_over_before_{label[:-3]}"] = round(this[label] / before[label], 3)
    print(json.dumps({k: v for k, v in report.items() if k.startswith("this_over")}))
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
