"""DoGet throughput: a 10M-row SQL result from flight-iox vs a trivial pyarrow.flight server.

    python bench/doget.py [--rows 10000000] [--runs 3]

Both servers stream the same table in the same run: flight-iox (a real
``flight-iox serve`` process, the table written through Flight SQL ingest and
read back with ``SELECT *`` over the InfluxDB 3 JSON ticket) and a minimal
``pyarrow.flight`` server in its own process holding the table in memory and
answering DoGet with ``RecordBatchStream``. Unless ``--buffer-only``, every row is
persisted to Parquet (``/api/v3/persist``) before the reads. One pyarrow client reads each,
batch by batch, never holding the whole result. Prints the median rows/s and
MB/s of each and the ratio, and writes bench/results/doget.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_iox.launcher import start_server  # noqa: E402

BATCH_ROWS = 65_536


def make_table(rows: int) -> pa.Table:
    """A cpu-like table: two tags, three fields, time (about 40 bytes a row)."""
    rng = np.random.default_rng(42)
    hosts = pa.array([f"host_{i}" for i in range(1000)])
    return pa.table(
        {
            "host": pa.DictionaryArray.from_arrays(
                pa.array(np.arange(rows) % 1000, pa.int32()), hosts
            ),
            "region": pa.DictionaryArray.from_arrays(
                pa.array(np.arange(rows) % 7, pa.int32()), pa.array([f"r{i}" for i in range(7)])
            ),
            "usage": rng.random(rows),
            "count": rng.integers(0, 1_000_000, rows),
            "temp": rng.random(rows) * 100,
            "time": pa.array(1_700_000_000_000_000_000 + np.arange(rows), pa.timestamp("ns")),
        }
    )


class InMemoryServer(flight.FlightServerBase):
    """The baseline: DoGet streams a table held in memory."""

    def __init__(self, table: pa.Table) -> None:
        super().__init__("grpc://127.0.0.1:0")
        self.table = table

    def do_get(self, context: flight.ServerCallContext, ticket: flight.Ticket):
        return flight.RecordBatchStream(self.table.combine_chunks().to_reader(BATCH_ROWS))


def _serve_baseline(rows: int, port_queue: multiprocessing.Queue) -> None:
    server = InMemoryServer(make_table(rows))
    port_queue.put(server.port)
    server.serve()


def read_all(uri: str, ticket: bytes) -> tuple[int, int, float]:
    """Rows, bytes and seconds of one DoGet, read batch by batch."""
    with flight.FlightClient(uri) as client:
        started = time.perf_counter()
        reader = client.do_get(flight.Ticket(ticket))
        rows = size = 0
        for chunk in reader:
            rows += chunk.data.num_rows
            size += chunk.data.nbytes
        return rows, size, time.perf_counter() - started


def load(uri: str, table: pa.Table) -> None:
    """Write ``table`` into flight-iox with a plain DoPut (the WAL-durable ingest path)."""
    with flight.FlightClient(uri) as client:
        descriptor = flight.FlightDescriptor.for_path("bench", "cpu")
        writer, reader = client.do_put(descriptor, table.schema)
        for batch in table.to_batches(max_chunksize=500_000):
            writer.write_batch(batch)
        writer.done_writing()
        reader.read()
        writer.close()


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--buffer-only",
        action="store_true",
        help="keep the rows in the write buffer (no persist), to time the Flight path alone",
    )
    parser.add_argument(
        "--parquet-cache-size",
        default=None,
        help="flight-iox's --parquet-cache-size (default: the server's; 0 decodes Parquet)",
    )
    args = parser.parse_args()
    table = make_table(args.rows)
    queue: multiprocessing.Queue = multiprocessing.Queue()
    baseline = multiprocessing.Process(target=_serve_baseline, args=(args.rows, queue), daemon=True)
    baseline.start()
    baseline_uri = f"grpc://127.0.0.1:{queue.get(timeout=120)}"
    with tempfile.TemporaryDirectory() as folder:
        extra = ["--persist-max-rows", str(10 * args.rows)] if args.buffer_only else []
        if args.parquet_cache_size is not None:
            extra += ["--parquet-cache-size", args.parquet_cache_size]
        server = start_server(
            Path(folder) / "data", "--no-wal-fsync", "--buffer-memory-limit", "8GiB",
            "--log-level", "warning", *extra,
        )  # fmt: skip
        try:
            started = time.perf_counter()
            load(server.flight_uri, table)
            print(f"loaded {args.rows:,} rows in {time.perf_counter() - started:.1f}s")
            if not args.buffer_only:
                # The persister runs in the background: without this, most rows were still
                # buffered (or being written, on the same cores) while the reads were timed.
                persist = f"{server.http_url}/api/v3/persist"
                requests.post(persist, params={"db": "bench"}, timeout=3600).raise_for_status()
            del table
            ticket = json.dumps({"database": "bench", "sql_query": "SELECT * FROM cpu"}).encode()
            read_all(server.flight_uri, ticket)  # warm: plan cache
            read_all(baseline_uri, b"all")
            ours, theirs = [], []
            for _ in range(args.runs):  # alternate, so both see the same machine state
                ours.append(read_all(server.flight_uri, ticket))
                theirs.append(read_all(baseline_uri, b"all"))
        finally:
            server.stop()
            baseline.terminate()
    assert all(r[0] == args.rows for r in ours + theirs), "a run returned the wrong row count"
    ours_s = statistics.median(r[2] for r in ours)
    theirs_s = statistics.median(r[2] for r in theirs)
    result = {
        "rows": args.rows,
        "buffer_only": args.buffer_only,
        "runs": args.runs,
        "flight_iox_rows_per_s": args.rows / ours_s,
        "baseline_rows_per_s": args.rows / theirs_s,
        "flight_iox_mb_per_s": ours[0][1] / ours_s / 1e6,
        "baseline_mb_per_s": theirs[0][1] / theirs_s / 1e6,
        "ratio": theirs_s / ours_s,
    }
    print(json.dumps(result, indent=1))
    name = "doget-buffer-only.json" if args.buffer_only else "doget.json"
    out = ROOT / "bench" / "results" / name
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
