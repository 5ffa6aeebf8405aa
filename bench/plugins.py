"""Processing-engine plugin calls: a worker process per trigger against the alternatives.

    python bench/plugins.py [--calls 300] [--rows 1000]

Measured in one run on this machine, each against an in-process call of the same plugin
function (the baseline: what running plugins in the server's own threads would cost,
without any isolation):

- ``start``: a fresh worker's first call (spawn the interpreter, load the plugin);
- ``no-op``: a ``process_scheduled_call`` that returns at once, on a kept worker;
- ``cache``: a call making one ``influxdb3_local.cache.get`` (one request to the server);
- ``rows``: a ``process_writes`` call with ``--rows`` rows (the batch pickled to the worker);
- ``one-shot``: a fresh process per call (a pool that does not keep workers).

It also prints a kept worker's resident memory. Results go to bench/results/plugins.json.

Printed: microseconds per call and the ratio to the in-process call of the same plugin.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flight_iox.processing.host import PluginCache, PluginHost
from flight_iox.processing.plugin_api import InfluxDB3Local
from flight_iox.processing.process import PluginProcess
from flight_iox.processing.worker import load_plugin

PLUGIN = """
def process_scheduled_call(influxdb3_local, call_time, args=None):
    if args and args.get("cache"):
        influxdb3_local.cache.get("k", default=0)


def process_writes(influxdb3_local, table_batches, args=None):
    total = 0.0
    for batch in table_batches:
        for row in batch["rows"]:
            total += row["usage"]
    return total
"""


class _InProcessChannel:
    """The in-process baseline's cache requests answered directly by the host."""

    def __init__(self, host: PluginHost) -> None:
        self._host = host

    def notify(self, *message: object) -> None:
        pass

    def request(self, op: str, *payload: object) -> Any:
        return self._host(op, payload)


def _per_call_us(run: Callable[[], object], calls: int) -> float:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def _rss_kib(pid: int | None) -> float:
    """VmRSS of a process (Linux), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1])
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rows", type=int, default=1000)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    path = folder / "bench_plugin.py"
    path.write_text(PLUGIN)
    host = PluginHost("db", None, None, None, PluginCache(), "db/t", lambda *a: None)  # type: ignore[arg-type]
    module = load_plugin(path)
    local = InfluxDB3Local(_InProcessChannel(host))  # type: ignore[arg-type]
    rows = [
        {"host": f"h{i % 10}", "usage": float(i), "time": 1_000 + i} for i in range(options.rows)
    ]
    batches = [{"table_name": "cpu", "rows": rows}]
    worker = PluginProcess(path, 0, "bench")

    def remote(entry: str, arguments: dict[str, Any]) -> object:
        return worker.call(
            entry, arguments, timeout=60, on_request=host, on_log=lambda *a: None
        ).value

    cases: dict[str, tuple[Callable[[], object], Callable[[], object], int]] = {
        "no-op": (
            lambda: module.process_scheduled_call(local, 0, None),
            lambda: remote("process_scheduled_call", {"call_time": 0.0, "args": None}),
            options.calls,
        ),
        "cache": (
            lambda: module.process_scheduled_call(local, 0, {"cache": "1"}),
            lambda: remote("process_scheduled_call", {"call_time": 0.0, "args": {"cache": "1"}}),
            options.calls,
        ),
        "rows": (
            lambda: module.process_writes(local, batches, None),
            lambda: remote("process_writes", {"table_batches": batches, "args": None}),
            max(20, options.calls // 10),
        ),
    }

    def fresh() -> object:
        worker.kill()
        return remote("process_scheduled_call", {"call_time": 0.0, "args": None})

    print(f"python {sys.version.split()[0]}; median of the calls; {options.rows} rows")
    print(f"{'case':<10}{'in-process us':>15}{'worker us':>12}{'ratio':>10}")
    results: dict[str, dict[str, float]] = {}
    start_us = _per_call_us(fresh, 15)
    for name, (local_call, worker_call, calls) in cases.items():
        worker_call()  # started and warm
        baseline = _per_call_us(local_call, calls)
        measured = _per_call_us(worker_call, calls)
        results[name] = {"in_process_us": baseline, "worker_us": measured}
        print(f"{name:<10}{baseline:>15.1f}{measured:>12.1f}{measured / baseline:>10.0f}")
    noop = results["no-op"]["in_process_us"]
    print(f"{'start':<10}{noop:>15.1f}{start_us:>12.1f}{start_us / noop:>10.0f}")
    print(
        f"one-shot process per call / kept worker: {start_us / results['no-op']['worker_us']:.0f}x"
    )
    results["start"] = {"in_process_us": noop, "worker_us": start_us}
    rss_kib = _rss_kib(worker.pid)
    print(f"a kept worker's resident memory: {rss_kib / 1024:.1f} MiB")
    results["worker_rss"] = {"kib": rss_kib}
    worker.kill()
    out = Path(__file__).parent / "results" / "plugins.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
