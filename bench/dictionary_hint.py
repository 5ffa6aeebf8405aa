"""Our scans of persisted files with and without the stored dictionary hint, in one run.

    python bench/dictionary_hint.py [--hosts 100] [--hours 3] [--runs 15]

Persisted files used to store their Arrow schema with tags as ``dictionary<int32, utf8>``
(the "old" files), so DataFusion and pyarrow decoded tags straight from the dictionary
pages; PyIceberg warned about it once per tag on every scan. Now the stored schema says
``utf8`` (the "new" files; the pages are the same dictionary pages). Both are written here
from the same TSBS rows (``parquet_files.DICTIONARY_HINT``), then timed alternately:

- cache load: ``read_model_rows`` of every file, what the Parquet cache (the server's
  default) does once per file (old: stored dictionaries; new: ``read_dictionary``);
- queries without the cache (``--parquet-cache-size 0``): the TSBS queries through
  ``QueryEngine.execute``, where DataFusion decodes tags as strings and casts them.

Prints the median of each, the ratio new / old, and the geometric mean, and writes
bench/results/dictionary_hint.json. Every answer of the new files is checked against the
old ones first.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import GENERATOR, make_bodies  # noqa: E402
from bench.query_scan import DATABASE, app, same_rows  # noqa: E402
from bench.tsbs_queries import tsbs_queries  # noqa: E402
from flight_iox.app import App  # noqa: E402
from flight_iox.persist import parquet_files  # noqa: E402

LAYOUTS = ("old", "new")


def files_engine(folder: Path, bodies: list[bytes], hint: bool) -> App:
    """Everything persisted, with (``hint``) or without the stored dictionary schema; no cache."""
    parquet_files.DICTIONARY_HINT = hint
    try:
        return app(folder, bodies, len(bodies), cache=False)
    finally:
        parquet_files.DICTIONARY_HINT = False


def load_all(target: App) -> int:
    """``read_model_rows`` of every file of the table, as the Parquet cache loads them."""
    schema = target.query.table_schemas(DATABASE)["cpu"]
    rows = 0
    for file in target.buffers.table(DATABASE, "cpu").files:
        rows += parquet_files.read_model_rows(file.path, schema, target.storage).num_rows
    return rows


def main() -> None:
    """Write both layouts, check the answers agree, then time them alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--runs", type=int, default=15)
    out_default = ROOT / "bench" / "results" / "dictionary_hint.json"
    parser.add_argument("--out", type=Path, default=out_default)
    args = parser.parse_args()
    if not GENERATOR.exists():
        print(f"skipped: {GENERATOR} not found (../shared beside the checkout is needed)")
        return
    queries = [q for q in tsbs_queries(args.hosts, args.hours) if "last_cache" not in q.sql]
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        engines = {
            name: files_engine(Path(folder) / name, bodies, name == "old") for name in LAYOUTS
        }
        tasks = {"cache load (all files)": lambda target: load_all(target)}
        for query in queries:
            tasks[query.name] = lambda target, sql=query.sql: target.query.execute(
                DATABASE, sql
            ).read_all()
        for query in queries:
            old, new = (engines[n].query.execute(DATABASE, query.sql).read_all() for n in LAYOUTS)
            if not same_rows(old, new):
                raise SystemExit(f"{query.name}: old and new files answer differently")
        if load_all(engines["old"]) != load_all(engines["new"]):
            raise SystemExit("the cache loads different row counts")
        samples: dict[tuple[str, str], list[float]] = {}
        for i in range(args.runs + 2):
            for name, task in tasks.items():
                for layout in LAYOUTS if i % 2 else reversed(LAYOUTS):
                    started = time.perf_counter()
                    task(engines[layout])
                    if i >= 2:
                        samples.setdefault((name, layout), []).append(time.perf_counter() - started)
        for target in engines.values():
            target.close()
    medians = {key: statistics.median(s) * 1e3 for key, s in samples.items()}
    report(args, list(tasks), medians)


def report(
    args: argparse.Namespace, names: list[str], medians: dict[tuple[str, str], float]
) -> None:
    """Print the table (ratio new / old) and write the JSON."""
    print(f"\n{args.hosts} hosts x {args.hours} h, median of {args.runs} alternating runs (ms)\n")
    print("| task | old: dictionary hint stored | new: strings stored | new / old |")
    print("|---|---:|---:|---:|")
    logs = []
    for name in names:
        old, new = medians[(name, "old")], medians[(name, "new")]
        if name != names[0]:
            logs.append(math.log(new / old))
        print(f"| {name} | {old:.2f} | {new:.2f} | {new / old:.2f}x |")
    geomean = math.exp(statistics.mean(logs))
    print(f"| geometric mean of the queries (no cache) | | | {geomean:.2f}x |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "hosts": args.hosts, "hours": args.hours, "runs": args.runs,
        "median_ms": {f"{n} / {layout}": ms for (n, layout), ms in medians.items()},
        "cache_load_ratio": medians[(names[0], "new")] / medians[(names[0], "old")],
        "query_geomean_ratio": geomean,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
