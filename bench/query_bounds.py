"""What the query bounds cost, and what they save, measured in the same run.

    python bench/query_bounds.py [--runs 300]

Overhead (in process, same DataFusion context, alternating): a query streamed through the
bounded runner (slot, deadline, batches awaited on the asyncio loop) against
``pyarrow.RecordBatchReader.from_stream`` as before, for ``SELECT 1`` and a 1,221-batch
scan; and the expression-depth check on a typical TSBS query and on the 4,000-term chain.

Resources (real servers on loopback): peak RSS of the memory bomb with
``--query-memory-limit 256MiB`` against ``0`` (unbounded, stopped by a 15 s timeout); time
to refuse the 4,000-term expression; CPU the server uses after a runaway query's HTTP client
disconnects, against while it runs.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pyarrow as pa
import requests
from datafusion import SessionConfig, SessionContext

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_iox.config import QueryLimits  # noqa: E402
from flight_iox.launcher import start_server  # noqa: E402
from flight_iox.query.execution import QueryRunner, runtime_env  # noqa: E402
from flight_iox.query.limits import check_expression_depth  # noqa: E402

TSBS = (
    "SELECT date_bin(INTERVAL '1 minute', time) AS minute, max(usage_user) AS max_usage_user "
    "FROM cpu WHERE hostname IN ('host_1') AND time >= '2016-01-01T00:00:00Z' "
    "AND time < '2016-01-01T01:00:00Z' GROUP BY minute ORDER BY minute"
)
BOMB = "SELECT array_agg(value) FROM generate_series(1, 1000000000)"
RUNAWAY = "SELECT sum(value % 7) FROM generate_series(1, 100000000000)"


def median_ms(run, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def overhead(runs: int) -> None:
    limits = QueryLimits(spill_dir=None)
    runner = QueryRunner(limits)
    context = SessionContext(SessionConfig().with_batch_size(8192), runtime_env(limits))
    for name, sql in [("SELECT 1", "SELECT 1"), ("10M-row scan", "SELECT value FROM generate_series(1, 10000000)")]:
        frame = context.sql(sql)
        n = runs if name == "SELECT 1" else max(3, runs // 60)
        before, after = [], []
        for _ in range(3):  # alternate, to share the machine's drift
            before.append(median_ms(lambda: pa.RecordBatchReader.from_stream(frame).read_all(), n))
            after.append(median_ms(lambda: runner.start().reader(frame).read_all(), n))
        b, a = min(before), min(after)
        print(f"{name:>14}: from_stream {b:8.3f} ms, bounded runner {a:8.3f} ms, ratio {a / b:.3f}")
    for name, sql in [("TSBS query", TSBS), ("4000 terms", "SELECT " + "+".join(["1"] * 4000))]:
        def check(sql: str = sql) -> None:
            try:
                check_expression_depth(sql, 1000)
            except Exception:
                pass
        print(f"{name:>14}: depth check {median_ms(check, max(5, runs // 10)):8.3f} ms")


def _rss_peak_mb(pid: int) -> int:
    return int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) >> 10


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resources() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for limit in ("256MiB", "0"):
            server = start_server(
                Path(tmp) / f"bomb-{limit}", "--query-memory-limit", limit, "--query-timeout", "15"
            )
            try:
                base = _rss_peak_mb(server.process.pid)
                start = time.perf_counter()
                reply = requests.get(
                    f"{server.http_url}/api/v3/query_sql", params={"db": "_", "q": BOMB}, timeout=120
                )
                # db "_" does not exist: plan it without a database instead
                if reply.status_code == 404:
                    requests.post(f"{server.http_url}/api/v3/write_lp", params={"db": "b"}, data="m v=1")
                    start = time.perf_counter()
                    reply = requests.get(
                        f"{server.http_url}/api/v3/query_sql", params={"db": "b", "q": BOMB}, timeout=120
                    )
                spent = time.perf_counter() - start
                peak = _rss_peak_mb(server.process.pid)
                print(
                    f"memory bomb, --query-memory-limit {limit:>6}: {reply.status_code} after "
                    f"{spent:5.1f} s, peak RSS {peak} MB (idle {base} MB)"
                )
                if limit == "256MiB":
                    q = "SELECT " + "+".join(["1"] * 4000)
                    start = time.perf_counter()
                    reply = requests.get(
                        f"{server.http_url}/api/v3/query_sql", params={"db": "b", "q": q}, timeout=60
                    )
                    print(
                        f"4000-term expression: {reply.status_code} in "
                        f"{(time.perf_counter() - start) * 1000:.0f} ms"
                    )
                    _cancel_cpu(server)
            finally:
                server.stop()


def _cancel_cpu(server) -> None:
    address = urlsplit(server.http_url)
    sock = socket.create_connection((address.hostname, address.port))
    target = "/api/v3/query_sql?" + urlencode({"db": "b", "q": RUNAWAY})
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    time.sleep(1)
    pid = server.process.pid
    c0 = _cpu_seconds(pid)
    time.sleep(3)
    running = _cpu_seconds(pid) - c0
    sock.close()
    time.sleep(1)
    c1 = _cpu_seconds(pid)
    time.sleep(3)
    after = _cpu_seconds(pid) - c1
    print(f"runaway query: {running:.2f} CPU s in 3 s while running, {after:.2f} after its client left")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--skip-resources", action="store_true")
    args = parser.parse_args()
    overhead(args.runs)
    if not args.skip_resources:
        resources()


if __name__ == "__main__":
    main()
