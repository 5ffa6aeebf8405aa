"""Ingest and storage against stronger peers: flight-iox, VictoriaMetrics and InfluxDB 1.x.

    python bench/peers.py [--hosts 100] [--hours 3] [--runs 3] [--clients 1 4] [--smoke]
                          [--ingest-only] [--baseline-checkout DIR]

The script starts all three servers itself, on loopback, each with its own port and
temporary data folder: flight-iox, Debian's ``victoria-metrics`` (bench/victoria_metrics.py)
and Debian's ``influxd`` (bench/influxdb1.py).

1. **Data**: TSBS cpu-only (../shared/tsbs/gen_cpu.py) cut into the same 5,000-line bodies.
2. **Ingest**: every body goes to each server's line protocol endpoint (flight-iox
   ``/api/v2/write``, VictoriaMetrics and InfluxDB ``/write``) from 1 and 4 client processes
   (the same client code: one ``requests`` session per process), each run into a fresh
   database (VictoriaMetrics: a fresh ``db`` label); the order of the servers rotates
   between runs. Median lines/s of each and the ratios. flight-iox and InfluxDB acknowledge
   after their WAL fsync, VictoriaMetrics before its rows reach the disk.
   ``--baseline-checkout DIR`` runs a second flight-iox beside the first, the code of
   another checkout (a worktree of the commit before a change), in the same rotation: old
   and new in one run.
3. **Storage**: the data once more into database ``tsbs``: flight-iox persists and compacts
   it (the Parquet bytes of ``system.parquet_files``); a fresh VictoriaMetrics flushes and
   fully merges it (bytes of its sample parts, and of its whole data folder with the index);
   InfluxDB compacts its TSM files fully. Bytes per field value of each; every sample is
   checked to have arrived. ``--ingest-only`` skips this step.

Targets (issue 17): ingest >= 1.5x VictoriaMetrics at 1 and 4 clients; bytes per value <=
VictoriaMetrics' and <= 0.35. Prints the table, writes bench/results/peers.json and
docs/peers.png.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.day_run import day_run  # noqa: E402
from bench.day_run import report as report_day  # noqa: E402
from bench.influxdb1 import InfluxDB1  # noqa: E402
from bench.ingest import GENERATOR, make_bodies, start_bench_server, timed_ingest  # noqa: E402
from bench.storage import admin, connect, load, run  # noqa: E402
from bench.tsbs_answers import INFLUX_DATA_OPTIONS, influx_disk  # noqa: E402
from bench.victoria_metrics import VictoriaMetrics  # noqa: E402
from flight_iox.launcher import RunningServer  # noqa: E402

FIELDS_PER_LINE = 10
DATABASE = "tsbs"
PEERS = ("flight_iox", "victoria_metrics", "influxdb1")
BASELINE = "flight_iox_baseline"  # a second flight-iox, from --baseline-checkout
TARGET_INGEST, TARGET_BYTES = 1.5, 0.35


def write_targets(
    server: RunningServer,
    vm: VictoriaMetrics,
    influx: InfluxDB1,
    db: str,
    baseline: RunningServer | None = None,
) -> dict[str, tuple[str, dict[str, str]]]:
    """Each server's line protocol URL and parameters for database ``db``."""
    targets = {
        "flight_iox": (f"{server.http_url}/api/v2/write", {"bucket": db, "precision": "ns"}),
        "victoria_metrics": (f"{vm.url}/write", {"db": db, "precision": "ns"}),
        "influxdb1": (f"{influx.url}/write", {"db": db, "precision": "n"}),
    }
    if baseline is not None:
        targets[BASELINE] = (f"{baseline.http_url}/api/v2/write", {"bucket": db, "precision": "ns"})
    return targets


def start_checkout_server(folder: Path, checkout: Path) -> RunningServer:
    """A flight-iox running the code of another checkout (its own imports, not ours)."""
    paths = [checkout, checkout / "catalog", checkout / "clients"]
    saved = dict(os.environ)
    # PYTHONSAFEPATH: `python -m` would put our working directory (our checkout) first.
    os.environ |= {"PYTHONPATH": os.pathsep.join(map(str, paths)), "PYTHONSAFEPATH": "1"}
    try:
        return start_bench_server(folder)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def baseline_commit(checkout: Path | None) -> str | None:
    """``DIR at COMMIT`` of a baseline checkout, for the record."""
    if checkout is None:
        return None
    commit = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    return f"{checkout} at {commit or 'unknown commit'}"


def ingest(
    server: RunningServer,
    vm: VictoriaMetrics,
    influx: InfluxDB1,
    bodies: list[bytes],
    clients_list: list[int],
    runs: int,
    baseline: RunningServer | None = None,
) -> dict[int, dict[str, list[float]]]:
    """Lines/s of each server per client count and run, rotating who goes first."""
    lines = sum(b.count(b"\n") + 1 for b in bodies)
    names = PEERS + ((BASELINE,) if baseline is not None else ())
    rates: dict[int, dict[str, list[float]]] = {}
    with multiprocessing.Pool(max(clients_list)) as pool:
        for clients in clients_list:
            mine = rates.setdefault(clients, {name: [] for name in names})
            for r in range(runs):
                db = f"ingest_c{clients}_r{r}"
                influx.query(f"CREATE DATABASE {db}")
                targets = write_targets(server, vm, influx, db, baseline)
                order = names[r % len(names) :] + names[: r % len(names)]
                for name in order:
                    url, params = targets[name]
                    mine[name].append(lines / timed_ingest(pool, url, params, bodies, clients))
                print(f"  ingest clients={clients} run {r + 1}: " + ", ".join(
                    f"{n} {mine[n][-1]:,.0f}" for n in names) + " lines/s")  # fmt: skip
    return rates


def storage(
    server: RunningServer, influx: InfluxDB1, bodies: list[bytes], values: int
) -> dict[str, float | int | bool]:
    """Bytes per value of each, the same rows once, after persistence and compaction."""
    load(server, bodies)
    admin(server, "/api/v3/persist")
    admin(server, "/api/v3/compact")
    with connect(server) as conn:
        ours = run(conn, "SELECT sum(size_bytes) FROM system.parquet_files").column(0)[0].as_py()
    influx.query(f"CREATE DATABASE {DATABASE}")
    with multiprocessing.Pool(1) as pool:
        timed_ingest(pool, f"{influx.url}/write", {"db": DATABASE, "precision": "n"}, bodies, 1)
        with VictoriaMetrics() as vm:
            url, params = write_targets(server, vm, influx, DATABASE)["victoria_metrics"]
            timed_ingest(pool, url, params, bodies, 1)
            merged = vm.settle()
            last_s = max(int(b.rsplit(b" ", 1)[1]) for b in bodies) // 10**9 + 1
            arrived = vm.sample_count(last_s)
            vm_samples, vm_all = vm.disk_bytes()
    if arrived != values:
        raise SystemExit(f"VictoriaMetrics holds {arrived:,} samples, {values:,} were written")
    tsm, tsm_all, compacted = influx_disk(influx, timeout=180)
    return {
        "flight_iox_bytes": ours,
        "flight_iox_bytes_per_value": ours / values,
        "victoria_metrics_bytes": vm_all,
        "victoria_metrics_bytes_per_value": vm_all / values,
        "victoria_metrics_sample_parts_bytes": vm_samples,
        "victoria_metrics_sample_parts_bytes_per_value": vm_samples / values,
        "victoria_metrics_fully_merged": merged,
        "influxdb1_bytes": tsm,
        "influxdb1_bytes_per_value": tsm / values,
        "influxdb1_all_files_bytes": tsm_all,
        "influxdb1_fully_compacted": compacted,
    }


def main(argv: list[str] | None = None) -> None:
    """Start the three servers, measure ingest then storage, and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3, help="ingest runs per client count")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--smoke", action="store_true", help="3 hosts x 1 h, 1 run (CI)")
    parser.add_argument("--day", action="store_true", help="the 10x data run (bench/day_run.py)")
    parser.add_argument("--day-hosts", type=int, default=1000)
    parser.add_argument("--day-hours", type=int, default=24)
    parser.add_argument("--replay-hours", type=int, default=2, help="hours in the replayed WAL")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "peers.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "peers.png")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--ingest-only", action="store_true", help="skip the storage step")
    parser.add_argument(
        "--baseline-checkout",
        type=Path,
        help="also run the flight-iox of this checkout in the ingest rotation (old vs new)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.hosts, args.hours, args.runs = 3, 1, 1
        args.day_hosts, args.day_hours, args.replay_hours = 3, 2, 1
    if args.day:
        run_day(args)
        return
    missing = [name for name, ok in (("../shared/tsbs/gen_cpu.py", GENERATOR.exists()),
               ("influxd", InfluxDB1.available()),
               ("victoria-metrics", VictoriaMetrics.available())) if not ok]  # fmt: skip
    if missing:
        print(f"skipped: needs {', '.join(missing)}")
        return
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        lines = sum(b.count(b"\n") + 1 for b in bodies)
        values = lines * FIELDS_PER_LINE
        print(f"{lines:,} lines ({values:,} field values) in {len(bodies)} bodies")
        server = start_bench_server(Path(folder))
        baseline = None
        if args.baseline_checkout is not None:
            baseline = start_checkout_server(Path(folder) / "baseline", args.baseline_checkout)
        influx = InfluxDB1(data_options=INFLUX_DATA_OPTIONS).__enter__()
        try:
            with VictoriaMetrics() as vm:
                rates = ingest(server, vm, influx, bodies, args.clients, args.runs, baseline)
            stored = None if args.ingest_only else storage(server, influx, bodies, values)
        finally:
            for running in (server, baseline):
                if running is not None:
                    running.kill()  # its folder is thrown away; a graceful stop takes seconds
            influx.__exit__(None, None, None)
    summary = {
        "hosts": args.hosts, "hours": args.hours, "lines": lines, "values": values,
        "runs": args.runs, "load_average": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "baseline_checkout": baseline_commit(args.baseline_checkout),
        "ingest": {c: {**{f"{n}_lines_per_s": statistics.median(v) for n, v in r.items()},
                       "runs": r} for c, r in rates.items()},
        "storage": stored,
    }  # fmt: skip
    for row in summary["ingest"].values():
        ours = row["flight_iox_lines_per_s"]
        row["vs_victoria_metrics"] = ours / row["victoria_metrics_lines_per_s"]
        row["vs_influxdb1"] = ours / row["influxdb1_lines_per_s"]
        if f"{BASELINE}_lines_per_s" in row:
            old = row[f"{BASELINE}_lines_per_s"]
            row["baseline_vs_victoria_metrics"] = old / row["victoria_metrics_lines_per_s"]
            row["vs_baseline"] = ours / old
    report(summary)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {args.out}")
    if not args.no_plot and stored is not None:
        from bench.plot_peers import plot_peers

        plot_peers(summary, args.plot)
        print(f"wrote {args.plot}")


def run_day(args: argparse.Namespace) -> None:
    """``--day``: bench/day_run.py, its JSON beside peers.py's (``-day`` added to the name)."""
    if not GENERATOR.exists():
        print(f"skipped: needs {GENERATOR}")
        return
    with tempfile.TemporaryDirectory() as folder:
        day = day_run(Path(folder), args.day_hosts, args.day_hours, args.replay_hours, args.runs)
    day |= {"load_average": os.getloadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    report_day(day)
    out = args.out.with_name(args.out.stem + "-day.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(day, indent=2))
    print(f"\nwrote {out}")
    if not args.no_plot:
        from bench.plot_peers import plot_day

        plot = args.plot.with_name(args.plot.stem + "-day.png")
        plot_day(day, plot)
        print(f"wrote {plot}")


def report(summary: dict) -> None:
    """Print the markdown tables docs/benchmarks.md shows, and which targets are met."""
    print(f"\nTSBS cpu-only, {summary['hosts']} hosts x {summary['hours']} h: "
          f"{summary['lines']:,} lines; load {summary['load_average'][0]:.2f}\n")  # fmt: skip
    print("| clients | flight-iox lines/s | VictoriaMetrics | InfluxDB 1.x | vs VM | vs InfluxDB |")
    print("|---:|---:|---:|---:|---:|---:|")
    for clients, row in summary["ingest"].items():
        print(f"| {clients} | {row['flight_iox_lines_per_s']:,.0f} | "
              f"{row['victoria_metrics_lines_per_s']:,.0f} | {row['influxdb1_lines_per_s']:,.0f} "
              f"| **{row['vs_victoria_metrics']:.2f}x** | "
              f"{row['vs_influxdb1']:.2f}x |")  # fmt: skip
        met = row["vs_victoria_metrics"] >= TARGET_INGEST
        print(f"  ingest {clients} client(s): target >= {TARGET_INGEST}x VM "
              f"{'met' if met else 'NOT met'}")  # fmt: skip
        if "vs_baseline" in row:
            print(f"  baseline ({summary['baseline_checkout']}): "
                  f"{row[f'{BASELINE}_lines_per_s']:,.0f} lines/s = "
                  f"{row['baseline_vs_victoria_metrics']:.2f}x VM; "
                  f"new / baseline {row['vs_baseline']:.2f}x")  # fmt: skip
    s = summary["storage"]
    if s is None:
        return
    print(
        "\n| bytes per field value | flight-iox | VictoriaMetrics (all / samples) | InfluxDB 1.x |"
    )
    print("|---|---:|---:|---:|")
    print(f"| after persistence and compaction | **{s['flight_iox_bytes_per_value']:.3f}** | "
          f"{s['victoria_metrics_bytes_per_value']:.3f} / "
          f"{s['victoria_metrics_sample_parts_bytes_per_value']:.3f} | "
          f"{s['influxdb1_bytes_per_value']:.3f} |")  # fmt: skip
    ours = s["flight_iox_bytes_per_value"]
    bounds = {
        "VM, all its files": s["victoria_metrics_bytes_per_value"],
        "VM, sample parts only": s["victoria_metrics_sample_parts_bytes_per_value"],
        "the 0.35 target": TARGET_BYTES,
    }
    for label, bound in bounds.items():
        print(f"  storage {ours:.3f} B/value <= {label} ({bound:.3f}): "
              f"{'met' if ours <= bound else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
