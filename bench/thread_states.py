"""What a gRPC thread's Python state costs per call: the trivial server three ways, same run.

    python bench/thread_states.py [--runs 800] [--warmup 50]

pyarrow enters Python from gRPC's threads, and on a thread Python did not start each entry
builds and deletes a thread state (``flight_iox/flightsql/thread_states.py``). This times
plain-ADBC ``SELECT 1`` queries (CreatePreparedStatement, GetFlightInfo, DoGet,
ClosePreparedStatement) against ``bench/query_overhead.py``'s trivial server, each variant
in its own process, alternated query by query:

- ``bare``: no middleware (one entry into Python per RPC, plus its results);
- ``middleware``: a no-op server middleware (three more entries per RPC: ``start_call``,
  ``sending_headers``, ``call_completed``), whose states come and go as they do without
  keeping;
- ``middleware, state kept``: the same middleware calling ``keep_thread_state`` in
  ``start_call``, as flight-iox's does.

Before timing, each variant answers whether a ``threading.local`` set in ``start_call`` is
still set in the handler on the same thread (it is only when the state is kept). Prints
the median latency and the server's CPU per query of each, and their ratios to ``bare``;
writes bench/results/thread_states.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow.flight as flight

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.query_overhead import ConstantServer, cpu_seconds  # noqa: E402
from bench.storage import run  # noqa: E402
from flight_iox.flightsql.thread_states import keep_thread_state  # noqa: E402

VARIANTS = ("bare", "middleware", "middleware, state kept")
_seen = threading.local()


class _NoOp(flight.ServerMiddleware):
    """Sends nothing, hears nothing: only the calls into Python remain."""


class _Factory(flight.ServerMiddlewareFactory):
    def __init__(self, keep: bool) -> None:
        self.keep = keep

    def start_call(self, info: flight.CallInfo, headers: dict) -> flight.ServerMiddleware:
        if self.keep:
            keep_thread_state()
        _seen.thread = threading.get_native_id()
        return _NoOp()


class _Server(ConstantServer):
    """The trivial server, with an action that says whether ``start_call``'s local lasted."""

    def do_action(self, context: flight.ServerCallContext, action: flight.Action) -> list[bytes]:
        if action.type == "local-kept":
            same = getattr(_seen, "thread", None) == threading.get_native_id()
            return [b"yes" if same else b"no"]
        return super().do_action(context, action)


def _serve(variant: str, port: multiprocessing.Queue) -> None:
    middleware = {} if variant == "bare" else {"m": _Factory(variant.endswith("kept"))}
    server = _Server("grpc://127.0.0.1:0", middleware=middleware)
    port.put(server.port)
    server.serve()


def _local_kept(port: int) -> bool:
    with flight.connect(f"grpc://127.0.0.1:{port}") as client:
        answers = [
            next(iter(client.do_action(flight.Action("local-kept", b"")))).body.to_pybytes()
            for _ in range(3)
        ]
    return answers[-1] == b"yes"


def main() -> None:
    """Start the three servers, check the thread-local, then time them alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=800)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--smoke", action="store_true", help="a few queries, for CI")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "thread_states.json"
    )
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.warmup = 10, 2
    processes: dict[str, multiprocessing.Process] = {}
    ports: dict[str, int] = {}
    for variant in VARIANTS:
        queue: multiprocessing.Queue = multiprocessing.Queue()
        process = multiprocessing.Process(target=_serve, args=(variant, queue), daemon=True)
        process.start()
        processes[variant], ports[variant] = process, queue.get(timeout=30)
    try:
        kept = {variant: _local_kept(ports[variant]) for variant in VARIANTS[1:]}
        conns = {
            v: flightsql.connect(f"grpc://127.0.0.1:{ports[v]}", autocommit=True) for v in VARIANTS
        }
        for _ in range(args.warmup):
            for conn in conns.values():
                run(conn, "SELECT 1")
        samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
        cpu = dict.fromkeys(VARIANTS, 0.0)
        for i in range(args.runs):
            for variant in VARIANTS if i % 2 else VARIANTS[::-1]:
                pid = processes[variant].pid
                assert pid is not None
                before, start = cpu_seconds(pid), time.perf_counter()
                run(conns[variant], "SELECT 1")
                samples[variant].append(time.perf_counter() - start)
                cpu[variant] += cpu_seconds(pid) - before
        for conn in conns.values():
            conn.close()
    finally:
        for process in processes.values():
            process.terminate()
    medians = {v: statistics.median(s) * 1e3 for v, s in samples.items()}
    cpu_ms = {v: seconds * 1e3 / args.runs for v, seconds in cpu.items()}
    print(f"\nplain ADBC 'SELECT 1' on the trivial server, median of {args.runs} alternating runs")
    print("| server | local lasts call to call | median ms | / bare | server CPU ms | / bare |")
    print("|---|---|---:|---:|---:|---:|")
    for v in VARIANTS:
        lasts = "-" if v == "bare" else ("yes" if kept[v] else "no")
        print(
            f"| {v} | {lasts} | {medians[v]:.2f} | {medians[v] / medians['bare']:.3f}x "
            f"| {cpu_ms[v]:.2f} | {cpu_ms[v] / max(cpu_ms['bare'], 1e-9):.2f}x |"
        )
    report: dict[str, Any] = {
        "runs": args.runs,
        "median_ms": medians,
        "server_cpu_ms": cpu_ms,
        "local_lasts": kept,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
