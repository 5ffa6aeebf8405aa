"""A persist cycle's cost as a table's metadata log fills: 8 previous versions kept, or 100.

    python bench/commit_growth.py [--cycles 80] [--out bench/results/commit_growth.json] [--smoke]

In process, one real server's engine (``build_app``) takes ``bench/soak.py``'s rows (three
2,000-line batches per cycle), then persists and runs the background compaction check, as
the persister's thread does after each persist (it expires snapshots, one more commit).
Each variant runs twice in a fresh app, in the order A B A B: this tree's bound on the
table's metadata log (``iox_catalog/commit_properties.py``) and Iceberg's default of 100. Prints
the wall and thread CPU time per cycle of the first ten cycles and of the last twenty, and
the ratio of the bounded to the default over the last twenty.
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

from bench.partial_merge import write_batch  # noqa: E402  (the soak's rows)
from bench.soak import DATABASE  # noqa: E402
from flight_iox.app import build_app  # noqa: E402
from flight_iox.config import Settings  # noqa: E402
from iox_catalog import commit_properties, creation  # noqa: E402

VARIANTS = {
    "kept 8 (this tree)": commit_properties.METADATA_VERSIONS_KEPT,
    "kept 100 (default)": 100,
}


def cycles(kept: int, count: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each persist-and-compact cycle, the table keeping ``kept``."""
    creation.METADATA_VERSIONS_KEPT = commit_properties.METADATA_VERSIONS_KEPT = kept
    spent = []
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder) / "data", wal_fsync=False)
        app = build_app(settings)
        try:
            batch = 0
            for _ in range(count):
                for _ in range(3):
                    write_batch(app, batch)
                    batch += 1
                began, cpu = time.perf_counter(), time.thread_time()
                app.persister.persist(DATABASE)
                app.persister.compact(min_files=app.settings.compact_min_files)
                spent.append((time.perf_counter() - began, time.thread_time() - cpu))
        finally:
            app.close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=80)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/commit_growth.json")
    parser.add_argument("--smoke", action="store_true", help="3 cycles, for CI")
    args = parser.parse_args()
    count = 3 if args.smoke else args.cycles
    runs: dict[str, list[list[tuple[float, float]]]] = {name: [] for name in VARIANTS}
    saved = commit_properties.METADATA_VERSIONS_KEPT
    try:
        for _ in range(2):
            for name, kept in VARIANTS.items():
                runs[name].append(cycles(kept, count))
    finally:
        creation.METADATA_VERSIONS_KEPT = commit_properties.METADATA_VERSIONS_KEPT = saved
    report = {}
    for name, done in runs.items():
        first = [c for run in done for c in run[:10]]
        last = [c for run in done for c in run[-20:]]
        report[name] = {
            "first_10_wall_ms": round(statistics.median(w for w, _ in first) * 1000, 1),
            "last_20_wall_ms": round(statistics.median(w for w, _ in last) * 1000, 1),
            "last_20_cpu_ms": round(statistics.median(c for _, c in last) * 1000, 1),
        }
        print(f"{name:20s} first 10: {report[name]['first_10_wall_ms']:6.1f} ms   last 20: "
              f"{report[name]['last_20_wall_ms']:6.1f} ms wall, "
              f"{report[name]['last_20_cpu_ms']:6.1f} ms CPU")  # fmt: skip
    bounded, default = (report[name]["last_20_wall_ms"] for name in VARIANTS)
    report["ratio_last_20"] = round(bounded / default, 3)
    print(f"bounded / default over the last 20 cycles: {report['ratio_last_20']:.3f}")
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
