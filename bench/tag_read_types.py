"""DataFusion alone over one persisted TSBS file, with tags read as three Arrow types.

    python bench/tag_read_types.py [--hosts 1000] [--hours 2] [--runs 9]

Which type tags should have inside our scans, measured without the engine around them:

- dictionary: files that store the dictionary schema for DataFusion (``StoredSchema.SPLIT``,
  what files store now): tags decoded straight from the dictionary pages;
- strings cast: files that store no schema (``StoredSchema.STRINGS``), tags registered as
  dictionaries, so DataFusion decodes strings and casts them (what our scans did before);
- Utf8View: the same files with tags registered as ``Utf8View`` and no cast, as DataFusion
  reads strings by default (``schema_force_view_types``). Our tables' tag type is a
  dictionary, so this is the speed a query-side tag type of ``Utf8View`` could reach, not
  one we have.

The TSBS SQL queries run on a ``SessionContext`` with the engine's Parquet options; CPU time
of the process (all threads), median of ``--runs`` alternating rounds after one warm-up, and
ratios to the dictionary reads. Every answer is checked against the dictionary reads' first.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
from datafusion import SessionConfig, SessionContext

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dictionary_hint import files_engine  # noqa: E402
from bench.ingest import GENERATOR, make_bodies  # noqa: E402
from bench.query_scan import DATABASE, same_rows  # noqa: E402
from bench.tsbs_queries import tsbs_queries  # noqa: E402
from flight_iox.persist.parquet_files import StoredSchema  # noqa: E402
from flight_iox.query.tables import PARQUET_OPTIONS  # noqa: E402

TAG = pa.dictionary(pa.int32(), pa.string())
# Variant -> (what its file stores, the type its tags are registered as).
VARIANTS = {
    "dictionary": (StoredSchema.SPLIT, TAG),
    "strings cast": (StoredSchema.STRINGS, TAG),
    "Utf8View": (StoredSchema.STRINGS, pa.string_view()),
}


def persisted_file(folder: Path, bodies: list[bytes], stored: StoredSchema) -> str:
    """The path of the one file the engine writes for ``bodies`` (one day)."""
    target = files_engine(folder, bodies, stored, cache=False)
    try:
        (file,) = target.buffers.table(DATABASE, "cpu").files
        return target.storage.path(file.path)
    finally:
        target.close()


def context(path: str, tag_type: pa.DataType) -> SessionContext:
    """A context with ``path`` as table ``cpu``, every string column read as ``tag_type``."""
    found = SessionContext()
    found.register_parquet("cpu", path)
    schema = pa.schema(
        pa.field(f.name, tag_type if pa.types.is_string_view(f.type) else f.type, f.nullable)
        for f in found.table("cpu").schema()
    )
    result = SessionContext(SessionConfig(PARQUET_OPTIONS))
    result.register_parquet("cpu", path, schema=schema)
    return result


def main() -> None:
    """Write both files, check the answers agree, then time the variants alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=2)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    if not GENERATOR.exists():
        print(f"skipped: {GENERATOR} not found (../shared beside the checkout is needed)")
        return
    queries = [q for q in tsbs_queries(args.hosts, args.hours) if "last_cache" not in q.sql]
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        paths = {s: persisted_file(Path(folder) / s, bodies, s) for s in set(StoredSchema)}
        contexts = {name: context(paths[s], t) for name, (s, t) in VARIANTS.items()}
        for query in queries:
            base = contexts["dictionary"].sql(query.sql).to_arrow_table()
            for name, ctx in contexts.items():
                got = ctx.sql(query.sql).to_arrow_table()  # same values, any string type
                if not same_rows(base, got):
                    raise SystemExit(f"{query.name}: {name} answers differently")
        samples: dict[tuple[str, str], list[float]] = {}
        for i in range(args.runs + 1):
            for query in queries:
                for name in list(contexts) if i % 2 else reversed(contexts):
                    started = time.process_time()
                    contexts[name].sql(query.sql).to_arrow_table()
                    if i:
                        samples.setdefault((query.name, name), []).append(
                            time.process_time() - started
                        )
    print(f"\n{args.hosts} hosts x {args.hours} h, median CPU ms of {args.runs} runs\n")
    print(f"| query | {' | '.join(VARIANTS)} | strings cast / dictionary | Utf8View / dictionary |")
    print("|---|" + "---:|" * (len(VARIANTS) + 2))
    logs: dict[str, list[float]] = {"strings cast": [], "Utf8View": []}
    for query in queries:
        ms = {n: statistics.median(samples[(query.name, n)]) * 1e3 for n in VARIANTS}
        ratios = {n: ms[n] / ms["dictionary"] for n in logs}
        for n, ratio in ratios.items():
            logs[n].append(math.log(ratio))
        cells = [f"{v:.1f}" for v in ms.values()] + [f"{r:.2f}x" for r in ratios.values()]
        print(f"| {query.name} | {' | '.join(cells)} |")
    means = [f"{math.exp(statistics.mean(v)):.2f}x" for v in logs.values()]
    print(f"| geometric mean |{' | ' * len(VARIANTS)}{' | '.join(means)} |")


if __name__ == "__main__":
    main()
