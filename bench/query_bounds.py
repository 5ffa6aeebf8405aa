"""What the query bounds cost, and what they save, measured in the same run.

    python bench/query_bounds.py [--runs 300]

Overhead (in process, same DataFusion context, alternating): a query streamed through the
bounded runner (slot, deadline, batches awaited on the asyncio loop) against
``pyarrow.RecordBatchReader.from_stream`` as before, for ``SELECT 1`` and a 153-batch
scan; and the expression-depth check on a typical TSBS query and on the 4,000-term chain.

Resources (real servers on loopback): peak RSS of the memory bomb with
``--query-memory-limit 256MiB`` against ``0`` (unbounded, stopped by a 15 s timeout); time
to refuse the 4,000-term expression; CPU the server uses after a runaway query's HTTP client
disconnects, against while it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pyarrow as pa
import requests
from datafusion import SessionConfig, SessionContext

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_iox.config import QueryLimits  # noqa: E402
from flight_iox.errors import ExpressionTooDeepError  # noqa: E402
from flight_iox.launcher import RunningServer, start_server  # noqa: E402
from flight_iox.query.execution import QueryRunner, runtime_env  # noqa: E402
from flight_iox.query.limits import check_expression_depth  # noqa: E402

TSBS = (
    "SELECT date_bin(INTERVAL '1 minute', time) AS minute, max(usage_user) AS max_usage_user "
    "FROM cpu WHERE hostname IN ('host_1') AND time >= '2016-01-01T00:00:00Z' "
    "AND time < '2016-01-01T01:00:00Z' GROUP BY minute ORDER BY minute"
)
BOMB = "SELECT array_agg(value) FROM generate_series(1, 1000000000)"
RUNAWAY = "SELECT sum(value % 7) FROM generate_series(1, 100000000000)"


def median_ms(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def overhead(runs: int) -> None:
    limits = QueryLimits(spill_dir=None)
    runner = QueryRunner(limits)
    config = SessionConfig().with_batch_size(65_536)  # the engine's batch size
    context = SessionContext(config, runtime_env(limits))
    scan = "SELECT value FROM generate_series(1, 10000000)"  # 153 batches
    for name, sql, n in [("SELECT 1", "SELECT 1", runs), ("10M-row scan", scan, runs // 30)]:
        frame = context.sql(sql)
        before, after = [], []
        for _ in range(3):  # alternate, to share the machine's drift
            before.append(
                median_ms(lambda f=frame: pa.RecordBatchReader.from_stream(f).read_all(), n)
            )
            after.append(median_ms(lambda f=frame: runner.start().reader(f).read_all(), n))
        b, a = min(before), min(after)
        print(f"{name:>14}: from_stream {b:8.3f} ms, bounded {a:8.3f} ms, ratio {a / b:.3f}")
    deep = "SELECT " + "+".join(["1"] * 4000)
    for name, sql in [("TSBS query", TSBS), ("4000 terms", deep)]:

        def check(sql: str = sql) -> None:
            with contextlib.suppress(ExpressionTooDeepError):
                check_expression_depth(sql, 1000)

        print(f"{name:>14}: depth check {median_ms(check, max(5, runs // 10)):8.3f} ms")


def _rss_peak_mb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+)", status)
    assert match is not None
    return int(match.group(1)) >> 10


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _query(server: RunningServer, q: str) -> requests.Response:
    url = f"{server.http_url}/api/v3/query_sql"
    return requests.get(url, params={"db": "b", "q": q}, timeout=120)


def resources() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for limit in ("256MiB", "0"):
            server = start_server(
                Path(tmp) / f"bomb-{limit}", "--query-memory-limit", limit, "--query-timeout", "15"
            )
            try:
                requests.post(
                    f"{server.http_url}/api/v3/write_lp", params={"db": "b"}, data="m v=1"
                )
                idle = _rss_peak_mb(server.process.pid)
                start = time.perf_counter()
                reply = _query(server, BOMB)
                spent = time.perf_counter() - start
                peak = _rss_peak_mb(server.process.pid)
                print(
                    f"memory bomb, --query-memory-limit {limit:>6}: {reply.status_code} after "
                    f"{spent:5.1f} s, peak RSS {peak} MB (idle {idle} MB)"
                )
                if limit != "0":
                    start = time.perf_counter()
                    reply = _query(server, "SELECT " + "+".join(["1"] * 4000))
                    spent = time.perf_counter() - start
                    print(f"4000-term expression: {reply.status_code} in {spent * 1000:.0f} ms")
                    _cancel_cpu(server)
            finally:
                server.stop()


def _cancel_cpu(server: RunningServer) -> None:
    address = urlsplit(server.http_url)
    assert address.hostname is not None and address.port is not None
    sock = socket.create_connection((address.hostname, address.port))
    target = "/api/v3/query_sql?" + urlencode({"db": "b", "q": RUNAWAY})
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    time.sleep(1)
    pid = server.process.pid
    start = _cpu_seconds(pid)
    time.sleep(3)
    running = _cpu_seconds(pid) - start
    sock.close()
    time.sleep(1)
    start = _cpu_seconds(pid)
    time.sleep(3)
    after = _cpu_seconds(pid) - start
    print(f"runaway query: {running:.2f} CPU s in 3 s running, {after:.2f} after its client left")


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
