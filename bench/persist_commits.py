"""Persisting small tables often: each commit reads only its new manifest, against all of them.

    python bench/persist_commits.py [--tables 4] [--rounds 12] [--repeats 3]

After each commit the catalog lists the table's files from the new snapshot. A fast append
adds one manifest per commit, so the listing read every manifest of the table again (and
PyIceberg converts each Avro file's schema on opening it): n reads at the n-th commit. The
catalog now keeps the entries of manifests it has read (``iox_catalog/manifest_entries.py``;
a manifest never changes). This persists ``--rounds`` times a few rows into each of
``--tables`` tables of a fresh in-process app, with the entries kept and with a cache that
holds nothing (the reading as before), alternating, and prints the CPU time of the persists
(median of ``--repeats``) and the ratio. The IOx conformance fixture does the same thing:
35 small cases, 140 persists.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "catalog"))

from flight_iox.app import build_app  # noqa: E402
from flight_iox.auth.policy import ANONYMOUS  # noqa: E402
from flight_iox.config import Settings  # noqa: E402
from iox_catalog.manifest_entries import ManifestEntries  # noqa: E402


def persist_cpu(tables: int, rounds: int, keep: bool) -> float:
    """CPU seconds of ``rounds`` persists of ``tables`` tables (``keep``: entries kept)."""
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Settings(data_dir=Path(folder) / "data", wal_fsync=False))
        try:
            app.iceberg._manifests = ManifestEntries(max_entries=10**6 if keep else 0)
            spent = 0.0
            for r in range(rounds):
                lines = "\n".join(
                    f"m{t},host=h{r % 3} v={r}.5,n={t}i {(r * 10 + t) * 10**9}"
                    for t in range(tables)
                )
                app.engine.write_line_protocol("db", lines.encode(), principal=ANONYMOUS)
                started = time.process_time()
                app.persister.persist()
                spent += time.process_time() - started
            return spent
        finally:
            app.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    persist_cpu(1, 2, True)  # imports and first-use costs out of the way
    kept, before = [], []
    for _ in range(args.repeats):
        kept.append(persist_cpu(args.tables, args.rounds, True))
        before.append(persist_cpu(args.tables, args.rounds, False))
    k, b = statistics.median(kept), statistics.median(before)
    commits = args.tables * args.rounds
    print(f"{commits} commits ({args.tables} tables x {args.rounds} persists), CPU of the persists")
    print(f"  every manifest read again (before): {b:.2f} s  ({b / commits * 1000:.1f} ms/commit)")
    print(f"  manifest entries kept (now):        {k:.2f} s  ({k / commits * 1000:.1f} ms/commit)")
    print(f"  ratio now/before: {k / b:.2f}")


if __name__ == "__main__":
    main()
