"""The soak's statement over a growing write buffer, with its settled segments kept or not.

    python bench/buffer_segments.py [--rows 250000,500000,1000000] [--runs 15]
        [--segment-rows 131072] [--out bench/results/buffer_segments.json] [--smoke]

In process, one real server's engine (``build_app``, defaults, no background persist) per
buffer size. The buffer is filled as ``bench/soak.py``'s two writers fill it: 2,000-line
batches of the series ``w=w0`` or ``w=w1``, 200 hosts each, the two writers' times crossing
by a few microseconds so some batches arrive late and rewrite the newest rows. Then, for
``--runs`` rounds, another 2,000 lines are written (so every run sees a new buffer, as the
soak's queries do) and ``SELECT w, host, count(*), avg(f) FROM soak GROUP BY 1, 2`` runs with
the buffer's settled segments kept (``query/partial_parts.py``, the default) and with them
off (``segment_rows = 0``: the whole buffer aggregated at each run), alternated, answers
checked equal first. Prints each size's medians and the ratio kept / off.
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
from flight_iox.query.partial_parts import SEGMENT_ROWS  # noqa: E402


class Writers:
    """The soak's two writers, taking turns; every seventh batch arrives late."""

    def __init__(self, app: App) -> None:
        self.app, self.clock, self.batches = app, 1_000_000_000, 0

    def write(self) -> None:
        writer = f"w{self.batches % 2}"
        late = self.batches % 7 == 6  # generated before the other writer's last batch
        start = self.clock - (LINES if late else 0)
        body = "\n".join(
            f"soak,w={writer},host=h{n % HOSTS:03d} f={(n * 37) % 1000 / 10} {start + n}"
            for n in range(LINES)
        )
        self.app.engine.write_line_protocol(DATABASE, body.encode(), principal=ANONYMOUS)
        self.clock += 0 if late else LINES
        self.batches += 1


def _rows(app: App) -> list[tuple]:
    table = app.sql.scoped(ANONYMOUS).execute(DATABASE, QUERY).read_all()
    return sorted((r["w"], r["host"], r["count(*)"], round(r["avg(soak.f)"], 9))
                  for r in table.to_pylist())  # fmt: skip


def _timed(app: App, segment_rows: int) -> float:
    app.query.partial_aggregates.segment_rows = segment_rows
    started = time.perf_counter()
    app.sql.scoped(ANONYMOUS).execute(DATABASE, QUERY).read_all()
    return time.perf_counter() - started


def measure(rows: int, runs: int, size: int = SEGMENT_ROWS) -> dict:
    """Medians with segments of ``size`` rows kept and off, over about ``rows`` rows."""
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder) / "data", wal_fsync=False)
        app = build_app(settings, Authorizer(AuthMode.OFF, FileTokenStore(Path(folder) / "t")))
        try:
            writers = Writers(app)
            for _ in range(rows // LINES):
                writers.write()
            app.query.partial_aggregates.segment_rows = size
            kept_answer = _rows(app)
            app.query.partial_aggregates.segment_rows = 0
            if _rows(app) != kept_answer:
                raise SystemExit(f"answers differ at {rows} rows")
            kept, off = [], []
            for run in range(runs + 2):  # two warm-up rounds
                writers.write()
                if run % 2:  # alternate which goes first
                    off_s, kept_s = _timed(app, 0), _timed(app, size)
                else:
                    kept_s, off_s = _timed(app, size), _timed(app, 0)
                if run >= 2:
                    kept.append(kept_s)
                    off.append(off_s)
        finally:
            app.close()
    result = {
        "buffer_rows": rows,
        "kept_ms": round(statistics.median(kept) * 1000, 2),
        "off_ms": round(statistics.median(off) * 1000, 2),
    }
    result["kept_over_off"] = round(result["kept_ms"] / result["off_ms"], 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="250000,500000,1000000")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/buffer_segments.json")
    parser.add_argument("--segment-rows", type=int, default=SEGMENT_ROWS)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    args = parser.parse_args()
    sizes = [30_000] if args.smoke else [int(n) for n in args.rows.split(",")]
    runs, size = (2, 4_096) if args.smoke else (args.runs, args.segment_rows)
    results = []
    for rows in sizes:
        results.append(measure(rows, runs, size))
        print(json.dumps(results[-1]), flush=True)
    args.out.write_text(json.dumps({"segment_rows": size, "sizes": results}, indent=1))


if __name__ == "__main__":
    main()
