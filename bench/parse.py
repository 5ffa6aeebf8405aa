"""Parse throughput of the line-protocol parser on TSBS cpu data: fast path vs exact.

    python bench/parse.py [--hosts 100] [--hours 3] [--body-lines 5000] [--repeat 10]

Generates the data with ../shared/tsbs/gen_cpu.py (skips, with a message, when the
shared folder is not beside the repo) and times ``parse_line_protocol`` end to end
(split, both paths, assembly) on (a) bodies of ``--body-lines`` lines, as the HTTP
write path sees them, (b) the whole data as one body, and (c) the same bodies with
every line sent to the exact parser, (d) the bodies of (a) with the distinct series
keys parsed anew for each body (the kept parses of ``ingest/series.py`` dropped before
each), (e) with nothing kept between bodies (the tiled field keys of
``ingest/fields.py`` dropped too), and (f) the bodies of (a) with every field section
read by the general path (commas scanned; ``fields.READ_ONE_SHAPE`` off). The bodies are
timed in ``--repeat`` passes, in order, and each body's fastest pass counts (the machine
is shared); (a), (d), (e) and (f) take turns pass by pass, and everything kept is dropped
before each pass, so in (a) a body finds only what earlier bodies left, as the write path
would. The ratios are against (c), from the same run; the last lines compare (a) with
(d), (d) with (e), (a) with (e), and (a) with (f). The process keeps freed memory as the
server does (``malloc_tuning.py``), so arrays do not fault their pages in on every body.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flight_iox.ingest import Precision, fields, series  # noqa: E402
from flight_iox.ingest.parse import parse_body  # noqa: E402
from flight_iox.malloc_tuning import keep_freed_memory  # noqa: E402

GENERATOR = ROOT / ".." / "shared" / "tsbs" / "gen_cpu.py"
EXACT_LINES = 20_000  # the exact path is slow: time it on this many lines


def _forget_all() -> None:
    series.forget_kept_parses()
    fields.forget_kept_shapes()


@dataclass(frozen=True)
class Way:
    """How a pass parses: what it drops before each body, and whether it reads one-shape
    field sections without their commas."""

    forget: Callable[[], None] | None = None
    one_shape: bool = True


def _rate(bodies: list[bytes], *, fast_path: bool, repeat: int) -> float:
    """Lines per second over ``bodies``, each body timed at its fastest of ``repeat`` passes."""
    return _rates(bodies, {"": Way()}, fast_path=fast_path, repeat=repeat)[""]


def _rates(
    bodies: list[bytes], ways: dict[str, Way], *, fast_path: bool, repeat: int
) -> dict[str, float]:
    """Lines per second over ``bodies`` for each of ``ways`` (everything kept is dropped
    before each pass). Each body counts at its fastest of ``repeat`` passes over all of
    them, and the ways take turns pass by pass, so a machine that speeds up or slows down
    during the run moves them alike."""
    best = {name: [float("inf")] * len(bodies) for name in ways}
    lines = 0
    try:
        for _ in range(repeat):
            for name, way in ways.items():
                _forget_all()
                fields.READ_ONE_SHAPE = way.one_shape
                lines = 0
                for at, body in enumerate(bodies):
                    if way.forget is not None:
                        way.forget()
                    start = time.perf_counter()
                    result = parse_body(
                        body, precision=Precision.NANOSECOND, default_time_ns=0,
                        fast_path=fast_path,
                    )  # fmt: skip
                    best[name][at] = min(best[name][at], time.perf_counter() - start)
                    assert not result.errors, result.errors[:3]
                    lines += result.line_count
    finally:
        fields.READ_ONE_SHAPE = True
    return {name: lines / sum(times) for name, times in best.items()}


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
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    if not GENERATOR.exists():
        print(f"skipped: TSBS generator not found at {GENERATOR.resolve()}")
        return
    keep_freed_memory()  # the server's allocator settings: no page faults per body
    data = _generate(args.hosts, args.hours)
    lines = data.splitlines(keepends=True)
    step = args.body_lines
    bodies = [b"".join(lines[i : i + step]) for i in range(0, len(lines), step)]
    exact_bodies = bodies[: max(1, EXACT_LINES // step)]

    exact = _rate(exact_bodies, fast_path=False, repeat=1)
    ways = {
        "kept": Way(),
        "anew": Way(forget=series.forget_kept_parses),
        "nothing": Way(forget=_forget_all),
        "commas": Way(one_shape=False),
    }
    rates = _rates(bodies, ways, fast_path=True, repeat=args.repeat)
    small, anew, nothing, commas = (rates[name] for name in ways)
    large = _rate([data], fast_path=True, repeat=max(1, args.repeat // 2))
    print(f"TSBS cpu: {len(lines):,} lines, {len(data) / 1e6:.1f} MB")
    rows = [
        (f"fast path, {step:,}-line bodies", small),
        (f"fast path, one {len(lines):,}-line body", large),
        (f"exact path, {step:,}-line bodies", exact),
        (f"fast path, {step:,}-line, keys anew", anew),
        (f"fast path, {step:,}-line, none kept", nothing),
        (f"fast path, {step:,}-line, commas read", commas),
    ]
    for name, rate in rows:
        print(f"{name:<34} {rate:>12,.0f} lines/s  {rate / exact:>6.1f}x exact")
    print(f"series keys kept parsed between bodies: {small / anew:.2f}x parsing them anew")
    print(f"field-key tilings kept between bodies: {anew / nothing:.2f}x building them anew")
    print(f"everything kept between bodies: {small / nothing:.2f}x nothing kept")
    print(f"one-shape field sections read without commas: {small / commas:.2f}x the general path")


if __name__ == "__main__":
    main()
