"""Ingest throughput: TSBS cpu-only line protocol into flight-iox, and InfluxDB 1.x beside it.

    python bench/ingest.py [--hosts 100] [--hours 3] [--runs 3] [--clients 1 2]

Generates the data with ../shared/tsbs/gen_cpu.py, cuts it into the same 5,000-line
bodies for both servers, and posts them from 1 and 2 client processes: to flight-iox's
``/api/v2/write`` and, when Debian's ``influxd`` is installed, to InfluxDB 1.x's
``/write``, alternating runs, each run into a fresh database. Both servers fsync their
WAL before answering. Prints the median lines/s and values/s of each, the ratio, and
the parse-only throughput, and writes the figures to bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.influxdb1 import InfluxDB1  # noqa: E402
from flight_iox.ingest import parse_line_protocol  # noqa: E402
from flight_iox.launcher import RunningServer, start_server  # noqa: E402

GENERATOR = ROOT.parent / "shared" / "tsbs" / "gen_cpu.py"
FIELDS_PER_LINE = 10
BATCH_LINES = 5_000


def make_bodies(hosts: int, hours: int, folder: Path) -> list[bytes]:
    """TSBS cpu-only data as 5,000-line bodies."""
    out = folder / "cpu.lp"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--hosts", str(hosts), "--hours", str(hours),
         "--start", "2016-01-01T00:00:00Z", "--seed", "42", "--out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    lines = out.read_bytes().splitlines()
    return [b"\n".join(lines[i : i + BATCH_LINES]) for i in range(0, len(lines), BATCH_LINES)]


# The clients start together once their bodies are handed over: pickling the bodies to the
# client processes (141-161 ms for 37 MB, bench/client_handover.py) is the harness's work,
# and timing it lowered every server's rate by a fixed cost, pulling the ratios towards 1.
HANDOVER_SECONDS, HANDOVER_SECONDS_PER_MB = 0.05, 0.01


def _post_share(args: tuple[str, dict[str, str], list[bytes], float]) -> tuple[float, float]:
    """Post ``bodies`` from ``start_at`` on; return when this client started and ended."""
    url, params, bodies, start_at = args
    session = requests.Session()
    time.sleep(max(0.0, start_at - time.perf_counter()))
    started = time.perf_counter()
    for body in bodies:
        reply = session.post(url, params=params, data=body, timeout=300)
        if reply.status_code != 204:
            raise RuntimeError(f"{url} answered {reply.status_code}: {reply.text[:300]}")
    return started, time.perf_counter()


def timed_ingest(
    pool: multiprocessing.pool.Pool,
    url: str,
    params: dict[str, str],
    bodies: list[bytes],
    clients: int,
) -> float:
    """Seconds to post every body, split round-robin over ``clients`` processes: from the
    first client's start to the last one's end (``perf_counter`` is the system's monotonic
    clock, one for all processes). A client whose bodies arrive after the common start
    starts late, and that counts against the server."""
    megabytes = sum(len(body) for body in bodies) / 1e6
    start_at = time.perf_counter() + HANDOVER_SECONDS + HANDOVER_SECONDS_PER_MB * megabytes
    shares = [(url, params, bodies[i::clients], start_at) for i in range(clients)]
    spans = pool.map(_post_share, shares, chunksize=1)
    return max(end for _, end in spans) - min(start for start, _ in spans)


def start_bench_server(folder: Path, *extra: str) -> RunningServer:
    """flight-iox with room for a whole benchmark in its buffer and quiet logs (+ ``extra``)."""
    return start_server(
        folder / "flight-iox-data",
        "--buffer-memory-limit",
        "8GiB",
        "--max-request-bytes",
        "256MiB",
        "--log-level",
        "warning",
        *extra,
    )


def parse_only(bodies: list[bytes]) -> float:
    """Lines/s of the parser alone, in this process."""
    start = time.perf_counter()
    lines = sum(parse_line_protocol(b, default_time_ns=0).line_count for b in bodies)
    return lines / (time.perf_counter() - start)


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ingest.json")
    args = parser.parse_args()
    if not GENERATOR.exists():
        print(f"skipped: TSBS generator not found at {GENERATOR}")
        return
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        lines = sum(b.count(b"\n") + 1 for b in bodies)
        print(f"{lines:,} lines in {len(bodies)} bodies of {BATCH_LINES} lines")
        parse_rate = parse_only(bodies)
        server = start_bench_server(Path(folder))
        peer = InfluxDB1().__enter__() if InfluxDB1.available() else None
        if peer is None:
            print("InfluxDB 1.x not installed (apt-get install influxdb): flight-iox alone")
        results: dict[str, dict[int, list[float]]] = {"flight-iox": {}, "influxdb-1.x": {}}
        try:
            with multiprocessing.Pool(max(args.clients)) as pool:
                for clients in args.clients:
                    for run in range(args.runs):
                        db = f"bench_c{clients}_r{run}"
                        seconds = timed_ingest(
                            pool,
                            f"{server.http_url}/api/v2/write",
                            {"bucket": db, "precision": "ns"},
                            bodies,
                            clients,
                        )
                        results["flight-iox"].setdefault(clients, []).append(lines / seconds)
                        if peer is not None:
                            peer.query(f"CREATE DATABASE {db}")
                            seconds = timed_ingest(
                                pool,
                                f"{peer.url}/write",
                                {"db": db, "precision": "n"},
                                bodies,
                                clients,
                            )
                            results["influxdb-1.x"].setdefault(clients, []).append(lines / seconds)
        finally:
            server.stop()
            if peer is not None:
                peer.__exit__(None, None, None)
    report(args, lines, parse_rate, results)


def report(args: argparse.Namespace, lines: int, parse_rate: float, results: dict) -> None:
    """Print the table and write the JSON."""
    summary: dict[str, object] = {"hosts": args.hosts, "hours": args.hours, "lines": lines,
                                  "runs": args.runs, "parse_only_lines_per_s": parse_rate,
                                  "ingest": {}}  # fmt: skip
    print(f"\nparse only (one process): {parse_rate:,.0f} lines/s")
    print(f"{'clients':>7} {'flight-iox lines/s':>19} {'values/s':>12} "
          f"{'InfluxDB 1.x lines/s':>21} {'ratio':>7}")  # fmt: skip
    for clients, rates in results["flight-iox"].items():
        ours = statistics.median(rates)
        peer_rates = results["influxdb-1.x"].get(clients)
        theirs = statistics.median(peer_rates) if peer_rates else None
        ratio = f"{ours / theirs:.2f}x" if theirs else "n/a"
        theirs_text = f"{theirs:,.0f}" if theirs else "n/a"
        print(f"{clients:>7} {ours:>19,.0f} {ours * FIELDS_PER_LINE:>12,.0f} "
              f"{theirs_text:>21} {ratio:>7}")  # fmt: skip
        summary["ingest"][clients] = {  # type: ignore[index]
            "flight_iox_lines_per_s": ours, "influxdb1_lines_per_s": theirs,
            "ratio": ours / theirs if theirs else None, "flight_iox_runs": rates,
            "influxdb1_runs": peer_rates,
        }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
