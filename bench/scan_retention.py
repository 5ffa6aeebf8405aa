"""What a query over Parquet files leaves in the process: the scan's shape, or the bytes read?

    python bench/scan_retention.py [--files 8] [--queries 6]

Issue 20 asked whether a full-table aggregate over files outside the Parquet cache grows
with the table because every file is its own input of the table's ``UNION ALL``
(``query/tables.py``), all open and decoding at once, and whether one scan over all the
files would bound it. This runs the aggregate (``bench/aggregate_memory.py``'s query) in a
fresh process per shape, over ``--files`` files of 1M rows written like the server's
(tags as dictionaries, ``f`` random doubles, zstd, 262,144-row groups, time as
microseconds plus remainder), ``--queries`` times in a row, and reports the anonymous RSS
(``RssAnon``) the process holds after each query:

- ``union``: one scan per file, unioned with the time rebuilt per file, as ``tables.py``;
- ``single``: one listing table over the folder (``target_partitions`` files at a time);
- ``tags``: the union, but a query reading only the tag columns (a few bytes a row);
- ``s3``: the union over the same files in S3 (moto on loopback, in the parent process),
  read over HTTP by object_store's S3 client instead of its local file system;
- ``loopback``: the union over the local files served by ``query/loopback_files.py`` in the
  same process, as the server reads them (issue 20's bound).

It prints each shape's growth per query after the first, the ratios single / union,
s3 / union and loopback / union, the growth against the bytes the query reads from the
files (the compressed column chunks of ``f``, ``w``, ``host``), and the CPU seconds of each
query (this process's, the loopback server's included) of union and loopback.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_iox.cluster_demo import moto_server  # noqa: E402
from flight_iox.query.loopback_files import LoopbackFiles  # noqa: E402
from flight_iox.query.tables import PARQUET_OPTIONS  # noqa: E402

ROWS = 1_000_000
HOSTS = 200
MIB = 2**20
BUCKET = "retention"
AGGREGATE = "SELECT w, host, count(*), avg(f) FROM agg GROUP BY 1, 2"
TAGS_ONLY = "SELECT w, host, count(*) FROM agg GROUP BY 1, 2"
TIME = (
    "arrow_cast(arrow_cast(time, 'Int64') * 1000 + arrow_cast(time_ns_remainder, 'Int64'),"
    " 'Timestamp(Nanosecond, None)') AS time"
)


def write_files(folder: Path, count: int) -> int:
    """``count`` files of ``ROWS`` rows; the compressed bytes of ``f``, ``w`` and ``host``."""
    read = 0
    for n in range(count):
        # Sorted by host, w and time, as the persister sorts: 400 series, one run each.
        series = np.repeat(np.arange(2 * HOSTS), ROWS // (2 * HOSTS))
        hosts = np.array([f"h{h:03d}" for h in range(HOSTS)])[series // 2]
        steps = np.tile(np.arange(ROWS // (2 * HOSTS)), 2 * HOSTS)
        rows = pa.table(
            {
                "f": np.random.default_rng(n).random(ROWS) * 100,
                "host": pa.array(hosts).dictionary_encode(),
                "w": pa.array(np.where(series % 2 == 0, "w0", "w1")).dictionary_encode(),
                "time": pa.array(n * ROWS + steps, pa.timestamp("us")),
                "time_ns_remainder": pa.array(np.zeros(ROWS, np.int32)),
            }
        )
        path = folder / f"{n:03d}.parquet"
        pq.write_table(rows, path, row_group_size=262_144, compression="zstd")
        meta = pq.ParquetFile(path).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                if group.column(c).path_in_schema in ("f", "w", "host"):
                    read += group.column(c).total_compressed_size
    return read


def anon_mib() -> int:
    """This process's anonymous resident memory (heap, not mapped files), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) // 1024
    return 0


def cpu_seconds() -> float:
    """This process's user and system CPU so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(folder: Path, shape: str, queries: int, endpoint: str) -> tuple[list[int], list[float]]:
    """In this process: RssAnon before the first query and after each (``shape`` above), and
    each query's CPU seconds."""
    from datafusion import RuntimeEnvBuilder, SessionConfig, SessionContext
    from datafusion.object_store import AmazonS3

    runtime = RuntimeEnvBuilder().with_fair_spill_pool(1 << 30).with_disk_manager_disabled()
    context = SessionContext(SessionConfig(PARQUET_OPTIONS).with_batch_size(65_536), runtime)
    columns = f"f, host, w, {TIME}"
    if shape == "single":
        context.register_parquet("files", str(folder) + "/")
        context.register_view("agg", context.sql(f"SELECT {columns} FROM files"))
    else:
        selects = []
        loopback = LoopbackFiles(folder) if shape == "loopback" else None
        if loopback is not None:
            context.register_object_store(*loopback.store())
        if shape == "s3":
            store = AmazonS3(
                bucket_name=BUCKET,
                region="us-east-1",
                access_key_id="testing",
                secret_access_key="testing",
                endpoint=endpoint,
                allow_http=True,
            )
            context.register_object_store("s3://", store, BUCKET)
        for n, path in enumerate(sorted(folder.glob("*.parquet"))):
            url = f"s3://{BUCKET}/{path.name}" if shape == "s3" else str(path)
            url = loopback.url(str(path)) if loopback is not None else url
            context.register_parquet(f"file_{n}", url)
            selects.append(f"SELECT {columns} FROM file_{n}")
        context.register_view("agg", context.sql(" UNION ALL ".join(selects)))
    query = TAGS_ONLY if shape == "tags" else AGGREGATE
    held, cpu = [anon_mib()], []
    for _ in range(queries):
        start = cpu_seconds()
        assert sum(b.num_rows for b in context.sql(query).collect()) == 2 * HOSTS
        cpu.append(round(cpu_seconds() - start, 3))
        held.append(anon_mib())
    return held, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--queries", type=int, default=6, help="at least 2")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)  # folder, shape, endpoint
    args = parser.parse_args()
    if args.child:
        folder, shape, endpoint = args.child
        held, cpu = measure(Path(folder), shape, args.queries, endpoint)
        print(json.dumps({"held": held, "cpu": cpu}))
        return
    with tempfile.TemporaryDirectory(prefix="scan-retention-") as name, moto_server() as endpoint:
        folder = Path(name)
        read_mib = write_files(folder, args.files) / MIB
        bucket = pafs.S3FileSystem(
            access_key="testing",
            secret_key="testing",
            region="us-east-1",
            endpoint_override=endpoint,
            scheme="http",
            allow_bucket_creation=True,
        )
        bucket.create_dir(BUCKET)
        for path in folder.glob("*.parquet"):
            pafs.copy_files(str(path), f"{BUCKET}/{path.name}", destination_filesystem=bucket)
        print(f"{args.files} files of {ROWS:,} rows; the aggregate reads {read_mib:.0f} MiB")
        growth: dict[str, float] = {}
        cpu: dict[str, list[float]] = {}
        cpu_shapes = ("union", "loopback")
        for shape in ("union", "single", "tags", "s3", "loopback"):
            command = [sys.executable, __file__, "--queries", str(args.queries)]
            done = subprocess.run(
                [*command, "--child", str(folder), shape, endpoint], capture_output=True, text=True
            )
            if done.returncode != 0:
                raise SystemExit(f"the {shape} child failed ({done.returncode}):\n{done.stderr}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            held, cpu[shape] = result["held"], result["cpu"]
            # After the first query (which also warms the reader): the trend, not one step.
            growth[shape] = (held[-1] - held[1]) / (len(held) - 2)
            print(f"{shape:>8}: RssAnon after each query, MiB: {held}; CPU s: {cpu[shape]}")
        print(
            f"growth per query after the first, MiB: union {growth['union']:.0f}, "
            f"single {growth['single']:.0f}"
            f" (single / union {growth['single'] / max(growth['union'], 1):.2f}), tags only "
            f"{growth['tags']:.0f}, s3 {growth['s3']:.0f} (s3 / union "
            f"{growth['s3'] / max(growth['union'], 1):.2f}), loopback {growth['loopback']:.0f} "
            f"(loopback / union {growth['loopback'] / max(growth['union'], 1):.2f}); union "
            f"growth / bytes read {growth['union'] / read_mib:.2f}"
        )
        # After the first query; the two shapes ran one after the other in this run.
        union_cpu, loopback_cpu = (sorted(cpu[s][1:])[len(cpu[s][1:]) // 2] for s in cpu_shapes)
        print(
            f"median CPU s per query after the first: union {union_cpu:.3f}, loopback "
            f"{loopback_cpu:.3f} (loopback / union {loopback_cpu / union_cpu:.2f})"
        )


if __name__ == "__main__":
    main()
