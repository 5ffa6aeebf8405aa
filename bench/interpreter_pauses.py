"""CPython's own pauses in a server process, with and without ``interpreter_tuning``.

    python bench/interpreter_pauses.py [--rounds 5] [--sweep 5 2 1 0.5]
        [--out bench/results/interpreter_pauses.json]

1. **Full collection.** The server's app and transports are built in process as ``serve``
   builds them (a temporary data folder); then ``gc.collect()`` is timed (median of
   ``--rounds``) before and after ``gc.freeze()``.
2. **GIL hand-over.** One thread runs pure Python (as a persist's Iceberg commit or a
   write's parse does); another makes 200 calls that give the GIL up and take it back
   (a 64k-row ``pyarrow.compute.sum``, as a query's calls into pyarrow and DataFusion do).
   The second thread's wall time is timed at the default switch interval (5 ms) and at
   ``SWITCH_INTERVAL_S``, alternated, median of ``--rounds``; also alone, for the floor.
   ``--sweep`` times the same beside the busy thread at each switch interval given (ms),
   the intervals alternated within each round.

Prints each figure and the ratio of the tuned one to the default, measured in this run.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_iox.app import build_app  # noqa: E402
from flight_iox.config import Settings  # noqa: E402
from flight_iox.http.app import create_app  # noqa: E402
from flight_iox.interpreter_tuning import SWITCH_INTERVAL_S  # noqa: E402
from flight_iox.server import http_services  # noqa: E402

CALLS = 200
VALUES = pa.array(range(65_536))


def collection_ms(rounds: int) -> float:
    """Median wall time of a full collection, in ms."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        gc.collect()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def calls_ms(busy: bool) -> float:
    """Wall time of ``CALLS`` GIL-releasing calls, with a pure-Python thread beside them."""
    stop = threading.Event()

    def spin() -> None:
        total = 0
        while not stop.is_set():
            for i in range(1000):
                total += i

    spinner = threading.Thread(target=spin, daemon=True)
    if busy:
        spinner.start()
        time.sleep(0.02)
    started = time.perf_counter()
    for _ in range(CALLS):
        pc.sum(VALUES)
    elapsed = time.perf_counter() - started
    stop.set()
    if busy:
        spinner.join()
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sweep", type=float, nargs="*", default=[], help="intervals, ms")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/interpreter_pauses.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Settings(data_dir=Path(folder), wal_fsync=False))
        create_app(http_services(app), app.settings)
        gc.collect()
        tracked = len(gc.get_objects())
        before = collection_ms(args.rounds)
        gc.freeze()
        after = collection_ms(args.rounds)
        gc.unfreeze()
        app.close()
    default = sys.getswitchinterval()
    alone, slow, fast = [], [], []
    for _ in range(args.rounds):
        alone.append(calls_ms(busy=False))
        sys.setswitchinterval(default)
        slow.append(calls_ms(busy=True))
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        fast.append(calls_ms(busy=True))
    swept: dict[float, list[float]] = {interval: [] for interval in args.sweep}
    for _ in range(args.rounds if swept else 0):
        for interval, times in swept.items():
            sys.setswitchinterval(interval / 1000)
            times.append(calls_ms(busy=True))
    sys.setswitchinterval(default)
    result = {
        "tracked_objects": tracked,
        "full_collection_ms": {"default": round(before, 2), "frozen": round(after, 2)},
        "full_collection_ratio": round(after / before, 4),
        f"{CALLS}_calls_ms": {
            "alone": round(statistics.median(alone), 1),
            f"busy_switch_{default * 1000:g}ms": round(statistics.median(slow), 1),
            f"busy_switch_{SWITCH_INTERVAL_S * 1000:g}ms": round(statistics.median(fast), 1),
        },
        "calls_ratio": round(statistics.median(fast) / statistics.median(slow), 3),
        **({f"{CALLS}_calls_ms_by_switch_ms": {f"{i:g}": round(statistics.median(t), 1)
                                               for i, t in swept.items()}} if swept else {}),
    }  # fmt: skip
    print(json.dumps(result, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
