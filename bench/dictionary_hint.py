"""Our scans of persisted files by the Arrow schema they store, in one run.

    python bench/dictionary_hint.py [--hosts 100] [--hours 3] [--runs 15] [--cpu]

The same TSBS rows are written three ways (``parquet_files.StoredSchema``):

- dictionary: files before issue 19, tags stored as ``dictionary<int32, utf8>`` (PyIceberg
  warned once per tag on every scan);
- strings: no stored schema, so DataFusion decodes tag strings and casts them;
- split: both schemas, strings first for pyarrow and dictionaries last for DataFusion
  (what files store now);

plus the split files served from the Parquet cache (the server's default), as the floor.
Then, timed alternately:

- cache load: ``read_model_rows`` of every file, what the Parquet cache does once per file;
- queries: the TSBS queries through ``QueryEngine.execute``, with the cache off
  (``--parquet-cache-size 0``) except in the cached layout.

Prints the median of each, ratios to the dictionary files and of split files to the cache,
the geometric means, and writes bench/results/dictionary_hint.json. Every layout's answers
are checked against the dictionary files' first.
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

StoredSchema = parquet_files.StoredSchema
CACHED = "split, cached"
# Layout -> (what its files store, whether the Parquet cache serves them).
LAYOUTS = {
    "dictionary": (StoredSchema.DICTIONARY, False),
    "strings": (StoredSchema.STRINGS, False),
    "split": (StoredSchema.SPLIT, False),
    CACHED: (StoredSchema.SPLIT, True),
}
BASE = "dictionary"
LOAD = "cache load (all files)"


def files_engine(folder: Path, bodies: list[bytes], stored: StoredSchema, cache: bool) -> App:
    """Everything persisted, its files storing ``stored``."""
    default = parquet_files.STORED_SCHEMA
    parquet_files.STORED_SCHEMA = stored
    try:
        return app(folder, bodies, len(bodies), cache=cache)
    finally:
        parquet_files.STORED_SCHEMA = default


def load_all(target: App) -> int:
    """``read_model_rows`` of every file of the table, as the Parquet cache loads them."""
    schema = target.query.table_schemas(DATABASE)["cpu"]
    rows = 0
    for file in target.buffers.table(DATABASE, "cpu").files:
        rows += parquet_files.read_model_rows(file.path, schema, target.storage).num_rows
    return rows


def main() -> None:
    """Write every layout, check the answers agree, then time them alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--cpu", action="store_true", help="time CPU (all threads), steadier on a busy machine"
    )
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
            name: files_engine(Path(folder) / str(i), bodies, stored, cache)
            for i, (name, (stored, cache)) in enumerate(LAYOUTS.items())
        }
        tasks = {LOAD: lambda target: load_all(target)}
        for query in queries:
            tasks[query.name] = lambda target, sql=query.sql: target.query.execute(
                DATABASE, sql
            ).read_all()
        for query in queries:
            base = engines[BASE].query.execute(DATABASE, query.sql).read_all()
            for name, target in engines.items():
                if not same_rows(base, target.query.execute(DATABASE, query.sql).read_all()):
                    raise SystemExit(f"{query.name}: {name} files answer differently")
        if len({load_all(target) for target in engines.values()}) != 1:
            raise SystemExit("the cache loads different row counts")
        clock = time.process_time if args.cpu else time.perf_counter
        samples: dict[tuple[str, str], list[float]] = {}
        for i in range(args.runs + 2):
            for name, task in tasks.items():
                order = list(engines) if i % 2 else list(reversed(engines))
                for layout in order:
                    if name == LOAD and layout == CACHED:
                        continue  # the same files as "split"
                    started = clock()
                    task(engines[layout])
                    if i >= 2:
                        samples.setdefault((name, layout), []).append(clock() - started)
        for target in engines.values():
            target.close()
    medians = {key: statistics.median(s) * 1e3 for key, s in samples.items()}
    report(args, list(tasks), medians)


def report(
    args: argparse.Namespace, names: list[str], medians: dict[tuple[str, str], float]
) -> None:
    """Print the table (ratios to the dictionary files, split to cached) and write the JSON."""
    clock = "CPU" if args.cpu else "wall"
    print(
        f"\n{args.hosts} hosts x {args.hours} h, "
        f"median {clock} ms of {args.runs} alternating runs\n"
    )
    print(f"| task | {' | '.join(LAYOUTS)} | strings / dictionary | split / dictionary "
          f"| split / cached |")  # fmt: skip
    print("|---|" + "---:|" * (len(LAYOUTS) + 3))
    logs: dict[str, list[float]] = {"strings": [], "split": [], CACHED: []}
    for name in names:
        row = {layout: medians.get((name, layout)) for layout in LAYOUTS}
        ratios = [row["strings"] / row[BASE], row["split"] / row[BASE]]
        if name != LOAD:
            ratios.append(row["split"] / row[CACHED])
            for key, ratio in zip(logs, ratios, strict=True):
                logs[key].append(math.log(ratio))
        cells = [f"{v:.2f}" if v is not None else "" for v in row.values()]
        shown = [f"{r:.2f}x" for r in ratios] + ([""] if name == LOAD else [])
        print(f"| {name} | {' | '.join(cells + shown)} |")
    means = {key: math.exp(statistics.mean(v)) for key, v in logs.items()}
    blanks = " | " * len(LAYOUTS)
    print(f"| geometric mean of the queries |{blanks}{means['strings']:.2f}x | "
          f"{means['split']:.2f}x | {means[CACHED]:.2f}x |")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "hosts": args.hosts, "hours": args.hours, "runs": args.runs, "cpu": args.cpu,
        "median_ms": {f"{n} / {layout}": ms for (n, layout), ms in medians.items()},
        "query_geomean_strings_over_dictionary": means["strings"],
        "query_geomean_split_over_dictionary": means["split"],
        "query_geomean_split_over_cached": means[CACHED],
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
