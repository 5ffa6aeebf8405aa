"""Parse-only throughput of the line-protocol parser on TSBS cpu data: fast path vs exact.

    python bench/parse.py [--hosts 100] [--hours 3]

Generates the data with ../shared/tsbs/gen_cpu.py (skips, with a message, when the
shared folder is not beside the repo), parses it with the routed parser (vectorised
path) and with every line sent to the exact parser, and prints lines/s and the ratio.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_iox.ingest import Precision  # noqa: E402
from flight_iox.ingest.parse import parse_body  # noqa: E402

GENERATOR = ROOT / ".." / "shared" / "tsbs" / "gen_cpu.py"


def _rate(body: bytes, *, fast_path: bool, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = parse_body(
            body, precision=Precision.NANOSECOND, default_time_ns=0, fast_path=fast_path
        )
        best = min(best, time.perf_counter() - start)
        assert not result.errors
    return result.line_count / best


def main() -> None:
    """Generate the data, time both paths, print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not GENERATOR.exists():
        print(f"skipped: TSBS generator not found at {GENERATOR.resolve()}")
        return
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cpu.lp"
        subprocess.run(
            [sys.executable, str(GENERATOR), "--hosts", str(args.hosts), "--hours",
             str(args.hours), "--start", "2016-01-01T00:00:00Z", "--seed", "42", "--out", str(out)],
            check=True, capture_output=True,
        )  # fmt: skip
        body = out.read_bytes()
    lines = body.count(b"\n")
    fast = _rate(body, fast_path=True, repeat=args.repeat)
    exact = _rate(body, fast_path=False, repeat=1)
    print(f"TSBS cpu: {lines} lines, {len(body) / 1e6:.1f} MB")
    print(f"vectorised path: {fast:>12,.0f} lines/s")
    print(f"exact path:      {exact:>12,.0f} lines/s")
    print(f"ratio:           {fast / exact:>12.1f}x")


if __name__ == "__main__":
    main()
