"""Benchmark the WAL: durable appends/s with group commit vs one fsync per append.

Both modes run in the same process on the same disk, so the ratio is fair even
when absolute numbers depend on the machine. Also times the payload codec with
and without compression, which is how its default was chosen.

    python -m bench.wal [--seconds 1] [--repeat 3] [--rows 100] [--dir /path/on/the/real/disk]

Run it from the repository root. The folder must be on the disk the server
will use: on tmpfs fsync is free and the comparison means nothing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa

from flight_iox.columns import TAG_TYPE, TIME_TYPE, ColumnRole, role_field
from flight_iox.wal import TableWrite, WalWrite, WriteAheadLog, decode_write, encode_write

THREADS = (1, 4, 16)


def sample_write(rows: int) -> WalWrite:
    """A write shaped like a Telegraf cpu batch: 2 tags, 5 float fields, time."""
    fields = ["usage_user", "usage_system", "usage_idle", "usage_iowait", "usage_steal"]
    schema = pa.schema(
        [role_field("host", TAG_TYPE, ColumnRole.TAG), role_field("cpu", TAG_TYPE, ColumnRole.TAG)]
        + [role_field(name, pa.float64(), ColumnRole.FIELD) for name in fields]
        + [role_field("time", TIME_TYPE, ColumnRole.TIME)]
    )
    hosts = pa.array([f"host-{i % 10}" for i in range(rows)]).dictionary_encode()
    cpus = pa.array([f"cpu{i % 4}" for i in range(rows)]).dictionary_encode()
    values = [pa.array([(i * 7 + k) % 100 / 3 for i in range(rows)]) for k in range(len(fields))]
    times = pa.array([1_700_000_000_000_000_000 + i * 10_000_000_000 for i in range(rows)])
    batch = pa.RecordBatch.from_arrays(
        [hosts.cast(TAG_TYPE), cpus.cast(TAG_TYPE), *values, times.cast(TIME_TYPE)],
        schema=schema,
    )
    return WalWrite("telegraf", [TableWrite("cpu", batch)])


def bench_codec(write: WalWrite, repeat: int = 300) -> None:
    """Print payload size and encode/decode time per codec."""
    print(f"codec ({write.tables[0].batch.num_rows} rows, {repeat} round trips)")
    for compression in (None, "lz4", "zstd"):
        started = time.perf_counter()
        for _ in range(repeat):
            payload = encode_write(write, compression=compression)
        encoded = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(repeat):
            decode_write(payload)
        decoded = time.perf_counter() - started
        print(
            f"  {compression or 'none':>5}: {len(payload):>7} bytes"
            f"  encode {encoded / repeat * 1e6:7.1f} µs  decode {decoded / repeat * 1e6:7.1f} µs"
        )


def appends_per_second(
    directory: Path, payload: bytes, threads: int, seconds: float, *, group_commit: bool
) -> tuple[float, float]:
    """Durable appends/s from ``threads`` writers, and appends per fsync."""
    wal = WriteAheadLog(directory, group_commit=group_commit)
    for _ in wal.replay():
        pass
    counts = [0] * threads
    stop = threading.Event()
    start = threading.Barrier(threads + 1)

    def run(worker: int) -> None:
        start.wait()
        while not stop.is_set():
            wal.append(payload)
            counts[worker] += 1

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    start.wait()
    began, syncs_before = time.perf_counter(), wal.sync_count
    time.sleep(seconds)
    stop.set()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - began
    syncs = wal.sync_count - syncs_before
    wal.close()
    total = sum(counts)
    return total / elapsed, total / max(syncs, 1)


def main() -> None:
    """Run the codec and append benchmarks and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode, median kept")
    parser.add_argument("--rows", type=int, default=100, help="rows in each appended write")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the segments")
    args = parser.parse_args()

    write = sample_write(args.rows)
    bench_codec(write)
    payload = encode_write(write)
    root = Path(tempfile.mkdtemp(prefix="wal-bench-", dir=args.dir))
    try:
        runs_note = f"median of {args.repeat} runs of {args.seconds:g} s"
        print(f"\nappends with fsync, {len(payload)}-byte payloads, {runs_note}")
        print(f"  in {root}")
        header = ("threads", "baseline/s", "group/s", "ratio", "appends/fsync")
        print("  {:>7} {:>11} {:>9} {:>6} {:>14}".format(*header))
        for threads in THREADS:
            # fsync latency drifts with the disk's background writeback, so the two
            # modes take turns and each reports its median run.
            runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
            for rep in range(args.repeat):
                for group_commit in (False, True):
                    folder = root / f"{threads}-{group_commit}-{rep}"
                    runs[group_commit].append(
                        appends_per_second(
                            folder, payload, threads, args.seconds, group_commit=group_commit
                        )
                    )
            base, _ = statistics.median_low(runs[False])
            group, batching = statistics.median_low(runs[True])
            ratio = group / base
            print(f"  {threads:>7} {base:>11.0f} {group:>9.0f} {ratio:>5.2f}x {batching:>14.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
