"""What following the catalog costs per tick, against loading every table (what a restart does).

    python bench/catalog_follow.py [--tables 50] [--rounds 5]

Two in-process engines share one SQLite catalog and one warehouse folder. ``a`` writes and
persists ``--tables`` tables; then, on ``b``, the script times, alternately and ``--rounds``
times each: a full ``CatalogMirror.load`` into a fresh mirror (the baseline: every table's
metadata read, as at start), a follower tick when nothing changed, and a tick after ``a``
committed to one table. It prints the median ms of each and its ratio to the full load.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    """Time the full load, an idle tick and a one-table tick; print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from flight_iox.app import build_app
    from flight_iox.auth.policy import ANONYMOUS
    from flight_iox.config import Settings
    from flight_iox.persist.follower import CatalogMirror

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "warehouse").mkdir()
        apps = []
        for name in ("a", "b"):
            (root / name).mkdir()
            (root / name / "warehouse").symlink_to(root / "warehouse")
            uri = f"sqlite:///{root / 'catalog.db'}"
            apps.append(build_app(Settings(data_dir=root / name, wal_fsync=False, catalog_uri=uri)))
        a, b = apps
        body = "\n".join(f"t{i},host=h v={i} {i}" for i in range(args.tables))
        a.engine.write_line_protocol("db", body.encode(), principal=ANONYMOUS)
        a.persister.persist()

        def tick() -> None:
            b.mirror.follow(b.query, b.persister.cycle_lock, lambda: b.wal.last_sequence)

        def full_load() -> None:
            CatalogMirror(b.iceberg, b.catalog, b.buffers).load()

        tick()  # b is now current
        times: dict[str, list[float]] = {"full load": [], "idle tick": [], "one-table tick": []}
        for n in range(args.rounds):
            start = time.perf_counter()
            full_load()
            times["full load"].append(time.perf_counter() - start)
            start = time.perf_counter()
            tick()
            times["idle tick"].append(time.perf_counter() - start)
            a.engine.write_line_protocol(
                "db", f"t0,host=h v=1 {1000 + n}".encode(), principal=ANONYMOUS
            )
            a.persister.persist()
            start = time.perf_counter()
            tick()
            times["one-table tick"].append(time.perf_counter() - start)
        for app in apps:
            app.close()

    base = statistics.median(times["full load"])
    print(f"\n{args.tables} tables, SQLite catalog, median of {args.rounds} rounds\n")
    print("| step | ms | / full load |")
    print("|---|---:|---:|")
    for label, samples in times.items():
        median = statistics.median(samples)
        print(f"| {label} | {median * 1e3:.2f} | {median / base:.3f}x |")


if __name__ == "__main__":
    main()
