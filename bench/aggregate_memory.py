"""Memory of a full-table aggregate as the table grows: O(groups), not O(rows)?

    python bench/aggregate_memory.py [--steps 5 10 20 40] [--cache-sizes 1GiB 0] [--repeat 10]
        [--file-reads loopback direct]

One real server per Parquet cache size (``--parquet-cache-size``; defaults otherwise). Rows
of 400 series (``w`` x ``host``, as ``bench/soak.py`` writes) go in over Flight ``DoPut``
until the table holds each step's millions of rows; then everything is persisted and
compacted (the steady state: files, no buffer), and the soak's query

    SELECT w, host, count(*), avg(f) FROM agg GROUP BY 1, 2

runs once to warm the caches and then three more times, each after resetting the server's
peak RSS (``/proc/<pid>/clear_refs``). Reported per step: the RSS before the query and the
query's peak above it (the most of three), and the Arrow pool (``pa.total_allocated_bytes``
through ``/metrics``). The query's memory is O(groups) when its peak above the resting RSS
stays flat as the rows double; the resting RSS holds the Parquet cache, bounded by its size.
``--repeat N`` then runs the query N more times at each step and records the RSS after each
(``rss_after_repeats_mib``): what successive queries leave in the process.
``--file-reads direct`` runs a server with ``--no-loopback-file-reads`` (DataFusion reads
local files itself, as before issue 20's bound), after the ``loopback`` one (the default).
Results go to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import shutil
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

from flight_iox.launcher import RunningServer, start_server  # noqa: E402

DATABASE = "agg"
TABLE = "agg"
QUERY = f"SELECT w, host, count(*), avg(f) FROM {TABLE} GROUP BY 1, 2"
HOSTS = 200
BATCH = 1_000_000
MIB = 2**20


def status(pid: int, key: str) -> int:
    """A ``/proc/<pid>/status`` memory figure (``VmRSS``, ``VmHWM``) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    return 0


def arrow_bytes(server: RunningServer) -> int:
    """The server's Arrow pool, from ``/metrics``."""
    for line in requests.get(f"{server.http_url}/metrics", timeout=30).text.splitlines():
        if line.startswith("flight_iox_arrow_allocated_bytes "):
            return int(float(line.split()[1]))
    return 0


def batch(start_ns: int, rows: int, seed: int) -> pa.Table:
    """``rows`` rows over the 400 series, one point per series per microsecond step."""
    rng = np.random.default_rng(seed)
    series = np.arange(rows) % (2 * HOSTS)
    return pa.table(
        {
            "w": pa.array(np.where(series < HOSTS, "w0", "w1")),
            "host": pa.array(np.array([f"h{h:03d}" for h in range(HOSTS)])[series % HOSTS]),
            "f": pa.array(rng.random(rows) * 100),
            "time": pa.array(
                start_ns + (np.arange(rows) // (2 * HOSTS)) * 1000, pa.timestamp("ns")
            ),
        }
    )


def put(server: RunningServer, table: pa.Table) -> None:
    """Append ``table`` over a plain Flight ``DoPut`` (tags ``w`` and ``host``)."""
    client = flight.connect(server.flight_uri.replace("grpc+tcp", "grpc"))
    descriptor = flight.FlightDescriptor.for_command(
        json.dumps({"database": DATABASE, "table": TABLE, "tags": ["w", "host"]}).encode()
    )
    writer, _ = client.do_put(descriptor, table.schema)
    writer.write_table(table)
    writer.close()
    client.close()


def query_peak(server: RunningServer) -> tuple[int, int, float]:
    """The resting RSS, the query's peak above it and its seconds (one run)."""
    pid = server.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
    resting = status(pid, "VmRSS")
    started = time.monotonic()
    answer = requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": DATABASE, "q": QUERY, "format": "json"},
        timeout=600,
    )
    answer.raise_for_status()
    seconds = time.monotonic() - started
    assert len(answer.json()) == 2 * HOSTS, answer.text[:300]
    return resting, status(pid, "VmHWM") - resting, seconds


def run(cache_size: str, steps: list[int], repeat: int = 0, reads: str = "loopback") -> list[dict]:
    """The measurements of one server with ``--parquet-cache-size cache_size``."""
    folder = Path(tempfile.mkdtemp(prefix="aggmem-"))
    flags = ["--no-loopback-file-reads"] if reads == "direct" else []
    server = start_server(
        folder / "data", "--parquet-cache-size", cache_size, "--log-level", "warning", *flags
    )
    try:
        rows, results = 0, []
        start_ns = 1_700_000_000_000_000_000
        for target in steps:
            while rows < target * 1_000_000:
                put(server, batch(start_ns + rows * 10, BATCH, rows))
                rows += BATCH
                if rows % (5 * BATCH) == 0:
                    requests.post(
                        f"{server.http_url}/api/v3/persist", params={"db": DATABASE}, timeout=600
                    )
            requests.post(f"{server.http_url}/api/v3/persist", params={"db": DATABASE}, timeout=600)
            requests.post(
                f"{server.http_url}/api/v3/compact", params={"db": DATABASE}, timeout=1200
            )
            query_peak(server)  # warms the Parquet cache
            runs = [query_peak(server) for _ in range(3)]
            resting = min(r[0] for r in runs)
            results.append(
                {
                    "cache": cache_size,
                    "reads": reads,
                    "rows": rows,
                    "resting_rss_mib": round(resting / MIB),
                    "query_peak_above_mib": round(max(r[1] for r in runs) / MIB),
                    "query_s": round(sorted(r[2] for r in runs)[1], 3),
                    "arrow_mib": round(arrow_bytes(server) / MIB),
                }
            )
            after = []
            for _ in range(repeat):
                query_peak(server)
                after.append(round(status(server.process.pid, "VmRSS") / MIB))
            if after:
                results[-1]["rss_after_repeats_mib"] = after
            print(json.dumps(results[-1]), flush=True)
        return results
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 40], help="M rows")
    parser.add_argument("--cache-sizes", nargs="+", default=["1GiB", "0"])
    parser.add_argument("--repeat", type=int, default=0, help="more queries per step")
    parser.add_argument(
        "--file-reads", nargs="+", default=["loopback"], choices=("loopback", "direct")
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "aggregate_memory.json"
    )
    args = parser.parse_args()
    results = [
        r
        for size in args.cache_sizes
        for reads in args.file_reads
        for r in run(size, args.steps, args.repeat, reads)
    ]
    for size in args.cache_sizes:
        for reads in args.file_reads:
            mine = [r for r in results if r["cache"] == size and r["reads"] == reads]
            first, last = mine[0], mine[-1]
            peaks = max(last["query_peak_above_mib"], 1) / max(first["query_peak_above_mib"], 1)
            print(
                f"cache {size}, {reads} reads: rows x{last['rows'] / first['rows']:.0f}, query "
                f"peak above resting x{peaks:.2f}, "
                f"resting RSS x{last['resting_rss_mib'] / first['resting_rss_mib']:.2f}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
