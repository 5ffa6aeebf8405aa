"""In-process query time: flight-iox's tables against DataFusion alone on the same rows.

    python bench/query_scan.py [--hosts 100] [--hours 3] [--runs 30] [--layouts files ...]

No server and no Flight: ``QueryEngine.execute(...)`` is timed until its record batches
are read, for the TSBS queries of bench/tsbs_queries.py (``last_cache`` left out: plain
DataFusion has no such function). Three engines hold the same TSBS rows:

- files: everything persisted to Parquet (one file per day), read from the Parquet cache
  (the server's default);
- files, no pruning: the same with ``--no-query-file-pruning`` (no file pruning, no zone
  maps, no one-partition plans for small statements: ``query/pruned_plans.py``);
- files, no cache: the same, decoded from Parquet by every query (``--parquet-cache-size 0``);
- files, no cache, direct reads: the same with ``--no-loopback-file-reads`` (DataFusion reads
  the files itself, not through ``query/loopback_files.py``: before issue 20's memory bound);
- buffer: everything in the write buffer (fresh data is served from memory);
- mixed: the first half persisted, the second half buffered (the usual steady state).

The baseline, measured in the same run, is a bare DataFusion ``SessionContext`` holding
the same rows as one in-memory table (the engine's batch size, one partition per core):
the floor that DataFusion itself sets for these queries. Every answer is checked against
the baseline's first. The targets are timed alternately, after two warm-up rounds; the
script prints the median of each, its ratio to the baseline and the geometric means, and
writes bench/results/query_scan.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
from datafusion import SessionConfig, SessionContext

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import GENERATOR, make_bodies  # noqa: E402
from bench.tsbs_queries import tsbs_queries  # noqa: E402
from flight_iox.app import App, build_app  # noqa: E402
from flight_iox.auth.policy import ANONYMOUS  # noqa: E402
from flight_iox.config import Settings  # noqa: E402

DATABASE = "tsbs"
BATCH_ROWS = 65_536
NO_CACHE, DIRECT = "files, no cache", "files, no cache, direct reads"
LAYOUTS = ("files", "files, no pruning", NO_CACHE, DIRECT, "buffer", "mixed")


def app(
    folder: Path,
    bodies: list[bytes],
    persisted: int,
    cache: bool = True,
    pruning: bool = True,
    loopback: bool = True,
) -> App:
    """An app holding ``bodies``, the first ``persisted`` of them in Parquet files."""
    settings = Settings(
        data_dir=folder,
        wal_fsync=False,
        buffer_memory_limit=16 << 30,
        parquet_cache_size=Settings.parquet_cache_size if cache else 0,
        query_file_pruning=pruning,
        loopback_file_reads=loopback,
        # Encoded here, not in the encoder process: benches that set parquet_files' module
        # constants (page_layout, dictionary_hint) must reach the code that encodes.
        persist_encoder_min_rows=0,
    )
    target = build_app(settings)
    for i, body in enumerate(bodies):
        if i == persisted:
            target.persister.persist()
        target.engine.write_line_protocol(DATABASE, body, no_sync=True, principal=ANONYMOUS)
    if persisted == len(bodies):
        target.persister.persist()
    return target


def baseline(rows: pa.Table) -> SessionContext:
    """Plain DataFusion with ``rows`` as table ``cpu`` in memory."""
    context = SessionContext(SessionConfig().with_batch_size(BATCH_ROWS))
    batches = rows.combine_chunks().to_batches(max_chunksize=BATCH_ROWS)
    parts = max(1, min(os.cpu_count() or 1, len(batches)))
    context.register_record_batches("cpu", [batches[i::parts] for i in range(parts)])
    return context


def same_rows(left: pa.Table, right: pa.Table) -> bool:
    """The same rows in any order (ties in ORDER BY), floats to 12 significant digits."""

    def key(row: dict) -> tuple:
        return tuple(repr(round(v, 9)) if isinstance(v, float) else repr(v) for v in row.values())

    if left.column_names != right.column_names or left.num_rows != right.num_rows:
        return False
    pairs = zip(sorted(left.to_pylist(), key=key), sorted(right.to_pylist(), key=key), strict=True)
    for a, b in pairs:
        for name, value in a.items():
            other = b[name]
            if isinstance(value, float) and isinstance(other, float):
                if not math.isclose(value, other, rel_tol=1e-12, abs_tol=1e-12):
                    return False
            elif value != other:
                return False
    return True


def main() -> None:
    """Load the three engines and the baseline, check the answers, then time them alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "query_scan.json")
    args = parser.parse_args()
    if not GENERATOR.exists():
        print(f"skipped: {GENERATOR} not found (../shared beside the checkout is needed)")
        return
    queries = [q for q in tsbs_queries(args.hosts, args.hours) if "last_cache" not in q.sql]
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        persisted = {
            "files": len(bodies),
            "files, no pruning": len(bodies),
            NO_CACHE: len(bodies),
            DIRECT: len(bodies),
            "buffer": 0,
            "mixed": len(bodies) // 2,
        }
        engines = {
            name: app(Path(folder) / name.replace(", ", "-").replace(" ", "-"), bodies,
                         persisted[name], cache=name not in (NO_CACHE, DIRECT),
                         pruning=name != "files, no pruning", loopback=name != DIRECT)
            for name in args.layouts
        }  # fmt: skip
        rows = next(iter(engines.values())).query.execute(DATABASE, "SELECT * FROM cpu").read_all()
        raw = baseline(rows)

        def run(target: str, sql: str) -> pa.Table:
            if target == "datafusion":
                return raw.sql(sql).to_arrow_table()
            return engines[target].query.execute(DATABASE, sql).read_all()

        targets = ("datafusion", *args.layouts)
        for query in queries:
            expected = run("datafusion", query.sql)
            for name in args.layouts:
                if not same_rows(expected, run(name, query.sql)):
                    raise SystemExit(f"{query.name}: {name} and plain DataFusion differ")
        samples: dict[tuple[str, str], list[float]] = {}
        for i in range(args.runs + 2):
            for query in queries:
                for target in targets if i % 2 else reversed(targets):
                    started = time.perf_counter()
                    run(target, query.sql)
                    if i >= 2:
                        samples.setdefault((query.name, target), []).append(
                            time.perf_counter() - started
                        )
        for target in engines.values():
            target.close()
    medians = {key: statistics.median(s) * 1e3 for key, s in samples.items()}
    report(args, [q.name for q in queries], targets, medians)


def report(args: argparse.Namespace, names: list[str], targets: tuple[str, ...],
           medians: dict[tuple[str, str], float]) -> None:  # fmt: skip
    """Print the table and write the JSON."""
    print(f"\n{args.hosts} hosts x {args.hours} h, median of {args.runs} alternating runs (ms)\n")
    print(f"| query | {' | '.join(targets)} |\n|---|" + "---:|" * len(targets))
    logs: dict[str, list[float]] = {t: [] for t in targets[1:]}
    for name in names:
        floor = medians[(name, "datafusion")]
        cells = [f"{floor:.2f}"]
        for target in targets[1:]:
            ms = medians[(name, target)]
            logs[target].append(math.log(ms / floor))
            cells.append(f"{ms:.2f} ({ms / floor:.2f}x)")
        print(f"| {name} | {' | '.join(cells)} |")
    geomeans = {t: math.exp(statistics.mean(v)) for t, v in logs.items()}
    ratios = " | ".join(f"{g:.2f}x" for g in geomeans.values())
    print(f"| geometric mean / DataFusion | | {ratios} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "hosts": args.hosts, "hours": args.hours, "runs": args.runs,
        "median_ms": {f"{q} / {t}": ms for (q, t), ms in medians.items()},
        "geomean_vs_datafusion": geomeans,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
