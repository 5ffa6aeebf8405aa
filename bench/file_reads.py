"""The full-table aggregate's time over uncached files: loopback reads against direct ones.

    python bench/file_reads.py [--rows 5 20] [--runs 10]

Two real servers with ``--parquet-cache-size 0`` hold the same rows (``bench/aggregate_memory.py``'s
400 series, persisted and compacted): one reads its local files through
``query/loopback_files.py`` (the default), one with ``--no-loopback-file-reads`` (DataFusion's
local file system, before issue 20's memory bound). The aggregate runs alternately on each,
after two warm-up rounds; printed: the median seconds of each and loopback / direct, per
``--rows`` million rows. What each leaves in memory is ``aggregate_memory.py --file-reads``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.aggregate_memory import BATCH, DATABASE, QUERY, batch, put  # noqa: E402
from flight_iox.launcher import RunningServer, start_server  # noqa: E402

MODES = {"direct": ["--no-loopback-file-reads"], "loopback": []}


def load(server: RunningServer, millions: int) -> None:
    """``millions`` M rows, persisted every 5M and at the end, then compacted."""
    url, start_ns, rows = server.http_url, 1_700_000_000_000_000_000, 0
    while rows < millions * 1_000_000:
        put(server, batch(start_ns + rows * 10, BATCH, rows))
        rows += BATCH
        if rows % (5 * BATCH) == 0:
            requests.post(f"{url}/api/v3/persist", params={"db": DATABASE}, timeout=600)
    requests.post(f"{url}/api/v3/persist", params={"db": DATABASE}, timeout=600)
    requests.post(f"{url}/api/v3/compact", params={"db": DATABASE}, timeout=1200)


def seconds(server: RunningServer) -> float:
    """One run of the aggregate over HTTP, answer read."""
    started = time.perf_counter()
    answer = requests.get(
        f"{server.http_url}/api/v3/query_sql",
        params={"db": DATABASE, "q": QUERY, "format": "json"},
        timeout=600,
    )
    answer.raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5, 20], help="M rows")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    for millions in args.rows:
        folder = Path(tempfile.mkdtemp(prefix="file-reads-"))
        servers: dict[str, RunningServer] = {}
        try:
            for mode, flags in MODES.items():
                servers[mode] = start_server(
                    folder / mode, "--parquet-cache-size", "0", "--log-level", "warning", *flags
                )
                load(servers[mode], millions)
            times: dict[str, list[float]] = {mode: [] for mode in MODES}
            for i in range(args.runs + 2):
                for mode in list(MODES) if i % 2 else reversed(list(MODES)):
                    took = seconds(servers[mode])
                    if i >= 2:
                        times[mode].append(took)
            median = {mode: statistics.median(t) for mode, t in times.items()}
            print(
                f"{millions}M rows, median of {args.runs}: direct {median['direct']:.3f} s, "
                f"loopback {median['loopback']:.3f} s "
                f"(loopback / direct {median['loopback'] / median['direct']:.2f})",
                flush=True,
            )
        finally:
            for server in servers.values():
                server.stop()
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
