"""CPU of re-encoding the integer pages of one persisted file, by part and by variant.

    python bench/integer_pages.py [--hosts 1000] [--hours 3] [--rounds 5]
                                  [--baseline-rev 0db5813] [--levels 3 5 7 9 11]

The day's persister spends most of its CPU in ``byte_aligned_delta.rewrite_integer_pages``
(docs/benchmarks.md, "Profiles of the remaining gaps"). This makes the file it gets in a
1,000-host day: TSBS cpu-only hours from bench/day_run.py's generator, written to an
in-process engine and persisted once (about 1M rows, the persist trigger), the file and
its integer columns caught on their way to the rewrite. Then, alternating in each round,
CPU seconds (``time.process_time``) of:

- a whole persist of the rows (``write_partitioned``: sort, pyarrow, rewrite) with each
  rewrite;
- the rewrite as of ``--baseline-rev`` (its module loaded from git) and as of this tree;
- the baseline's parts: its page encoding alone (``encode_page_values`` over the same
  pages), zstd at the level alone (``pa.Codec.compress`` over the same plain pages), the
  read-back check alone; the rest is the per-page Python (Thrift headers, offsets);
- zstd alone at each of ``--levels``, with the bits a value each gives.

Checks that both rewrites decode to the same columns, prints per 1M rows the median of the
rounds and bytes per field value of the file each way, and writes
bench/results/integer_pages.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.day_run import generate_hour  # noqa: E402
from flight_iox.app import build_app  # noqa: E402
from flight_iox.auth.policy import ANONYMOUS  # noqa: E402
from flight_iox.config import Settings  # noqa: E402
from flight_iox.persist import byte_aligned_delta, parquet_files, persister  # noqa: E402

FIELDS_PER_LINE = 10
BODY_LINES = 5_000
Caught = tuple[bytes, dict[str, pa.ChunkedArray]]
# zstd levels with parameters changed (``--explore``): longer minimum matches and a short
# window leave zstd fewer matches that cost more than the Huffman-coded literals they replace.
EXPLORE: list[tuple[int, dict[str, int]]] = [
    (3, {"min_match": 7}),
    (1, {"window_log": 10, "min_match": 7, "hash_log": 6}),
    (11, {"window_log": 10}),
    (11, {"chain_log": 8, "search_log": 1}),
    (11, {"chain_log": 6, "hash_log": 10, "search_log": 1, "min_match": 5}),
    (11, {"chain_log": 6, "hash_log": 8, "search_log": 1, "min_match": 7}),
    (11, {"chain_log": 6, "hash_log": 10, "search_log": 1, "min_match": 5, "target_length": 4}),
]


def persisted_file(hosts: int, hours: int, data: Path, folder: Path) -> tuple[Caught, tuple]:
    """The bytes pyarrow wrote for one persist of the hours, and the integer columns; and
    the arguments of its ``write_partitioned`` call (writing into ``folder``)."""
    data.mkdir(parents=True, exist_ok=True)
    lines: list[bytes] = []
    for hour in range(hours):
        path = data / f"hour-{hour:02d}-{hosts}.lp"
        if not path.exists():
            generate_hour((hosts, hour, data)).rename(path)
        lines += path.read_bytes().splitlines()
    caught: list[Caught] = []
    calls: list[tuple] = []
    write = persister.write_partitioned

    def record(*args: object) -> object:
        calls.append(args)
        return write(*args)  # type: ignore[arg-type]

    def catch(data: bytes, columns: dict[str, pa.ChunkedArray], level: int) -> bytes:
        caught.append((data, columns))
        return data

    settings = Settings(data_dir=folder, wal_fsync=False, persist_max_rows=10**9,
                        persist_max_age_seconds=10**6, buffer_memory_limit=16 << 30)  # fmt: skip
    app = build_app(settings)
    try:
        for i in range(0, len(lines), BODY_LINES):
            body = b"\n".join(lines[i : i + BODY_LINES])
            app.engine.write_line_protocol("tsbs", body, principal=ANONYMOUS)
        original = parquet_files.rewrite_integer_pages
        parquet_files.rewrite_integer_pages = catch  # type: ignore[assignment]
        persister.write_partitioned = record  # type: ignore[assignment]
        try:
            app.persister.persist()
        finally:
            parquet_files.rewrite_integer_pages = original
            persister.write_partitioned = write
    finally:
        app.close()
    return max(caught, key=lambda c: len(c[0])), max(calls, key=lambda c: c[0].num_rows)


def module_at(rev: str) -> ModuleType:
    """``byte_aligned_delta`` as of git revision ``rev``, as a module of its own."""
    path = "flight_iox/persist/byte_aligned_delta.py"
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"],
                            check=True, capture_output=True, text=True).stdout  # fmt: skip
    spec = importlib.util.spec_from_loader(f"byte_aligned_delta_{rev}", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)
    return module


def pages_of(module: ModuleType, caught: Caught, level: int) -> list[np.ndarray]:
    """The values of every page ``module`` encodes for the file (recorded, untimed)."""
    seen: list[np.ndarray] = []
    honest = module.encode_page_values

    def record(values: np.ndarray, block_size: int = 1024) -> bytes:
        seen.append(values.copy())
        return honest(values, block_size)  # type: ignore[no-any-return]

    module.encode_page_values = record
    try:
        module.rewrite_integer_pages(*caught, level)
    finally:
        module.encode_page_values = honest
    return seen


def chunks_of(caught: Caught, level: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The arguments of every ``encode_pages`` call of this tree for the file (untimed)."""
    seen: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    honest = byte_aligned_delta.encode_pages

    def record(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> list[bytes]:
        seen.append((values, starts.copy(), counts.copy()))
        return honest(values, starts, counts)

    byte_aligned_delta.encode_pages = record  # type: ignore[assignment]
    try:
        byte_aligned_delta.rewrite_integer_pages(*caught, level)
    finally:
        byte_aligned_delta.encode_pages = honest
    return seen


def zstandard_variants(sizes: int) -> dict[str, Callable[[bytes], bytes]]:
    """zstd with parameters pa.Codec cannot set (``--explore``), one context each, reused."""
    out = {}
    for level, extra in EXPLORE:
        params = zstandard.ZstdCompressionParameters.from_level(level, source_size=sizes, **extra)
        compressor = zstandard.ZstdCompressor(compression_params=params)
        out[f"zstandard {level} {extra or ''}"] = compressor.compress
    return out


def cpu(work: Callable[[], object]) -> float:
    """CPU seconds of this process for ``work``."""
    start = time.process_time()
    work()
    return time.process_time() - start


def main() -> None:
    """Measure and print; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-rev", default="0db5813")
    parser.add_argument("--levels", type=int, nargs="+", default=[3, 5, 7, 9, 11])
    parser.add_argument("--data", type=Path, default=Path("/tmp/integer-pages-data"))
    parser.add_argument("--explore", action="store_true", help="zstd parameters beyond levels")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="integer-pages-"))
    caught, persist_args = persisted_file(args.hosts, args.hours, args.data, folder)
    data, columns = caught
    rows = next(iter(columns.values())).length()
    level = parquet_files.INTEGER_ZSTD_LEVEL
    old = module_at(args.baseline_rev)
    pages = pages_of(old, caught, level)
    plains = [old.encode_page_values(v) for v in pages]
    chunks = chunks_of(caught, level)
    outputs = {
        "baseline": old.rewrite_integer_pages(data, columns, level),
        "this tree": byte_aligned_delta.rewrite_integer_pages(data, columns, level),
    }
    for name, out in outputs.items():
        read = pq.read_table(pa.BufferReader(out), columns=list(columns))
        assert all(read.column(n).equals(c) for n, c in columns.items()), name
    print(f"{rows:,} rows, {len(columns)} integer columns, {len(pages)} pages re-encoded; "
          "both rewrites decode to the columns")  # fmt: skip

    def compress_all(at: int) -> Callable[[], object]:
        return lambda: [pa.Codec("zstd", compression_level=at).compress(p) for p in plains]

    def persist_with(module: ModuleType) -> Callable[[], object]:
        def persist() -> object:
            parquet_files.rewrite_integer_pages = module.rewrite_integer_pages
            try:
                return parquet_files.write_partitioned(*persist_args)
            finally:
                parquet_files.rewrite_integer_pages = byte_aligned_delta.rewrite_integer_pages

        return persist

    variants: dict[str, Callable[[], object]] = {
        "baseline: whole persist (write_partitioned)": persist_with(old),
        "this tree: whole persist (write_partitioned)": persist_with(byte_aligned_delta),
        "baseline rewrite": lambda: old.rewrite_integer_pages(data, columns, level),
        "this tree's rewrite": lambda: byte_aligned_delta.rewrite_integer_pages(
            data, columns, level
        ),
        "baseline: page encoding": lambda: [old.encode_page_values(v) for v in pages],
        "this tree: page encoding": lambda: [byte_aligned_delta.encode_pages(*c) for c in chunks],
        "baseline: read-back check": lambda: old._reads_back(outputs["baseline"], columns),
    }
    for at in args.levels:
        variants[f"zstd {at} alone"] = compress_all(at)
    params = zstandard.ZstdCompressionParameters.from_level(
        level, source_size=byte_aligned_delta._PAGE_BYTES, **byte_aligned_delta._FEW_MATCHES
    )
    tuned = zstandard.ZstdCompressor(compression_params=params).compress
    variants[f"this tree: zstd {level}, fewer matches, alone"] = lambda: [tuned(p) for p in plains]
    compressors = zstandard_variants(max(len(p) for p in plains)) if args.explore else {}
    for name, compress in compressors.items():
        variants[f"{name} alone"] = lambda c=compress: [c(p) for p in plains]  # type: ignore[misc]
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, work in variants.items():
            samples[name].append(cpu(work))
    shutil.rmtree(folder, ignore_errors=True)
    per_million = {n: statistics.median(s) * 1e6 / rows for n, s in samples.items()}
    parts = ("baseline: page encoding", f"zstd {level} alone", "baseline: read-back check")
    new_parts = ("this tree: page encoding", f"this tree: zstd {level}, fewer matches, alone",
                 "baseline: read-back check")  # fmt: skip
    per_million["baseline: the rest (Python per page, Thrift)"] = per_million[
        "baseline rewrite"
    ] - sum(per_million[p] for p in parts if p in per_million)
    per_million["this tree: the rest"] = per_million["this tree's rewrite"] - sum(
        per_million[p] for p in new_parts
    )
    values = rows * FIELDS_PER_LINE
    sizes = {
        "pyarrow's file": len(data) / values,
        **{f"{name}'s file": len(out) / values for name, out in outputs.items()},
    }
    raw_values = sum(len(v) for v in pages)
    bits = {f"zstd {at}": 8 * sum(len(pa.Codec("zstd", compression_level=at).compress(p))
                                  for p in plains) / raw_values for at in args.levels}  # fmt: skip
    bits[f"this tree: zstd {level}, fewer matches"] = (
        8 * sum(len(tuned(p)) for p in plains) / raw_values
    )
    for name, compress in compressors.items():
        bits[name] = 8 * sum(len(compress(p)) for p in plains) / raw_values
    for name, seconds in per_million.items():
        print(f"{name:48} {seconds:7.3f} s CPU / 1M rows")
    for name, size in sizes.items():
        print(f"{name:48} {size:7.4f} B / field value")
    for name, b in bits.items():
        print(f"{name:48} {b:7.3f} bits / value in the re-encoded pages")
    out = ROOT / "bench" / "results" / "integer_pages.json"
    out.write_text(json.dumps({"rows": rows, "rounds": args.rounds, "baseline": args.baseline_rev,
                               "cpu_s_per_million_rows": per_million, "bytes_per_value": sizes,
                               "bits_per_value_by_level": bits}, indent=1) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
