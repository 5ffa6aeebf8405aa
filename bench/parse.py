"""Parse throughput of the line-protocol parser on TSBS cpu data: fast path vs exact.

    python bench/parse.py [--hosts 100] [--hours 3] [--body-lines 5000] [--repeat 5]

Generates the data with ../shared/tsbs/gen_cpu.py (skips, with a message, when the
shared folder is not beside the repo) and times ``parse_line_protocol`` end to end
(split, both paths, assembly) on (a) bodies of ``--body-lines`` lines, as the HTTP
write path sees them, (b) the whole data as one body, and (c) the same bodies with
every line sent to the exact parser, and (d) the bodies of (a) with the distinct series
keys parsed anew for each body (the kept parses of ``ingest/series.py`` dropped before
each), which (a) is also compared with. The bodies are timed in ``--repeat`` passes, in
order, and each body's fastest pass counts (the machine is shared); the kept parses are
dropped before each pass, so in (a) a body finds only what earlier bodies left, as the
write path would. The ratios are against (c), from the same run.
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

from flight_iox.ingest import Precision, series  # noqa: E402
from flight_iox.ingest.parse import parse_body  # noqa: E402

GENERATOR = ROOT / ".." / "shared" / "tsbs" / "gen_cpu.py"
EXACT_LINES = 20_000  # the exact path is slow: time it on this many lines


def _rate(bodies: list[bytes], *, fast_path: bool, repeat: int, keep_keys: bool = True) -> float:
    """Lines per second over ``bodies``, each body timed at its fastest of ``repeat`` passes
    over all of them (``keep_keys=False``: nothing kept from an earlier body either)."""
    best = [float("inf")] * len(bodies)
    lines = 0
    for _ in range(repeat):
        series.forget_kept_parses()
        lines = 0
        for at, body in enumerate(bodies):
            if not keep_keys:
                series.forget_kept_parses()
            start = time.perf_counter()
            result = parse_body(
                body, precision=Precision.NANOSECOND, default_time_ns=0, fast_path=fast_path
            )
            best[at] = min(best[at], time.perf_counter() - start)
            assert not result.errors, result.errors[:3]
            lines += result.line_count
    return lines / sum(best)


def _generate(hosts: int, hours: int) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cpu.lp"
        subprocess.run(
            [sys.executable, str(GENERATOR), "--hosts", str(hosts), "--hours", str(hours),
             "--start", "2016-01-01T00:00:00Z", "--seed", "42", "--out", str(out)],
            check=True, capture_output=True,
        )  # fmt: skip
        return out.read_bytes()


def main() -> None:
    """Generate the data, time the paths, print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--body-lines", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not GENERATOR.exists():
        print(f"skipped: TSBS generator not found at {GENERATOR.resolve()}")
        return
    data = _generate(args.hosts, args.hours)
    lines = data.splitlines(keepends=True)
    step = args.body_lines
    bodies = [b"".join(lines[i : i + step]) for i in range(0, len(lines), step)]
    exact_bodies = bodies[: max(1, EXACT_LINES // step)]

    exact = _rate(exact_bodies, fast_path=False, repeat=1)
    small = _rate(bodies, fast_path=True, repeat=args.repeat)
    anew = _rate(bodies, fast_path=True, repeat=args.repeat, keep_keys=False)
    large = _rate([data], fast_path=True, repeat=max(1, args.repeat // 2))
    print(f"TSBS cpu: {len(lines):,} lines, {len(data) / 1e6:.1f} MB")
    rows = [
        (f"fast path, {step:,}-line bodies", small),
        (f"fast path, one {len(lines):,}-line body", large),
        (f"exact path, {step:,}-line bodies", exact),
        (f"fast path, {step:,}-line, keys anew", anew),
    ]
    for name, rate in rows:
        print(f"{name:<34} {rate:>12,.0f} lines/s  {rate / exact:>6.1f}x exact")
    print(f"series keys kept parsed between bodies: {small / anew:.2f}x parsing them anew")


if __name__ == "__main__":
    main()
