"""Where the server's time goes ingesting 100 hosts and 1,000 hosts (issue 17, target 6).

    python bench/day_profile.py [--hosts 1000] [--hours 24] [--repeats 10]
                                [--spy=--idle | --spy=--gil | --spy none] [--no-persist]
                                [--keep DIR] [--data DIR] [--label LABEL]

bench/day_run.py finds the day's sustained ingest (1,000 hosts) at 0.82x the 100-host rate;
this runs its two phases against one server started as it starts it (default limits, so
persistence and compaction run in the background) and looks inside each phase:

- ``py-spy record --format raw --rate 100 --threads`` (plus ``--spy``'s flags) is attached
  to the server for the phase. Each sample's stack is put in one area (``AREAS``, first
  match wins): the write thread's parse, WAL, validation, buffer; the persister's freeze,
  sort, Parquet write, integer pages, commit, cache loads; compaction; HTTP; with ``--idle``
  a thread whose innermost Python frame waits for work (``IDLE``) is idle. A thread waiting
  for the GIL or a lock counts where it waits (``--native``, which would show it, stalled the
  server); ``--gil`` samples only the GIL's holder. Printed as samples per 1,000 lines, the
  JSON per area and per thread name (10 ms a sample at 100 Hz).
- the CPU seconds of the server (every thread, DataFusion's and Arrow's included) and of
  the client process, from ``/proc``, per 1,000 lines.

The 100-host phase posts the 100 hosts x 3 h of bench/peers.py ``--repeats`` times, each
into a fresh database (day_run posts it once: 0.45 s, too few samples); the day phase posts
the day hour by hour into ``tsbs``, as day_run does. ``--spy none`` measures the same
without the profiler; ``--no-persist`` with no persist trigger firing (so neither persists
nor compactions run: what the day costs the write path alone). Generated hours are kept in
``--data`` for the next run. Writes bench/results/day_profile-<label>.json, and the raw
stacks beside it (not in git; ``--split LABEL`` splits them again after ``AREAS`` changed).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.day_run import bodies_of, generate_hour, post, start  # noqa: E402
from bench.ingest import make_bodies  # noqa: E402
from bench.storage import admin  # noqa: E402

PY_SPY = Path(sys.executable).with_name("py-spy")
RATE = 100
NO_PERSIST = ("--persist-max-rows", "1000000000", "--persist-max-age", "1000000",
              "--buffer-memory-limit", "16GiB")  # fmt: skip
TICKS = os.sysconf("SC_CLK_TCK")
# The innermost Python frame of a thread with nothing to do (py-spy ``--idle`` shows it).
IDLE = (
    "Condition.wait (threading", "Event.wait (threading", "Queue.get (queue",
    "select (selectors", "_worker (concurrent", "Thread.run (threading",
    "readinto (socket", "accept (socket",
)  # fmt: skip
# (area, substrings of the stack, first match wins); persist's parts before persist.
AREAS = (
    ("compaction", ("compact_table", "Persister.compact")),
    ("persist: new files into the caches", ("_load_new_files",)),
    ("persist: Iceberg commit", ("commit_files",)),
    ("persist: integer pages re-encoded", ("rewrite_integer_pages",)),
    ("persist: Parquet write (pyarrow)", ("ParquetWriter",)),
    ("persist: sort", ("sort_rows", "sort_tags")),
    ("persist: file columns, tag dictionaries", ("to_file_columns", "with_tag_dictionaries")),
    ("persist: freeze (merge, dedupe check)", ("BufferSet.freeze",)),
    ("persist: other", ("persister.py",)),
    ("write: line-protocol parse", ("flight_iox/ingest/",)),
    ("write: WAL, waiting for the fsync", ("_wait_durable",)),
    ("write: WAL encode + write", ("flight_iox/wal/",)),
    ("write: buffer append (table lock)", ("TableBuffer.append",)),
    ("write: validate + schema", ("_validate", "validate.py", "engine/catalog.py")),
    ("write: other", ("write_line_protocol", "write_batches")),
    ("HTTP (Python)", ("uvicorn", "starlette", "h11", "flight_iox/http/", "auth/http")),
)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of every thread of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Spy:
    """``py-spy record`` attached to a process until ``stop``."""

    def __init__(self, pid: int, out: Path, flags: list[str]) -> None:
        """Starts and returns once py-spy samples."""
        self.out = out
        self.process = subprocess.Popen(
            [str(PY_SPY), "record", "--pid", str(pid), "--rate", str(RATE), "--format", "raw",
             "--threads", "--output", str(out), *flags],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        for line in self.process.stdout:  # py-spy says so on stdout
            if "Sampling" in line:
                return
        raise RuntimeError(f"py-spy did not start: {self.process.wait()}")

    def stop(self) -> Counter[str]:
        """Stop sampling; the stacks (root first, ``;``-joined) and their sample counts."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=120)
        return read_raw(self.out)


def area(stack: str) -> str:
    """The area of one sample's stack (``AREAS``; idle by its innermost Python frame)."""
    python = [f for f in stack.split(";")[1:] if ".py:" in f]
    if not python or any(frame in python[-1] for frame in IDLE):
        return "idle"
    if python[-1].startswith("Runner.run (asyncio"):  # uvloop: its C loop, or waiting
        return "event loop (native, or waiting)"
    for label, parts in AREAS:
        if any(part in stack for part in parts):
            return label
    return "other"


def split(stacks: Counter[str]) -> dict[str, int]:
    """Samples per area, and per thread name (``thread:<name>``, its samples not idle)."""
    areas: Counter[str] = Counter()
    for stack, count in stacks.items():
        label = area(stack)
        areas[label] += count
        if label != "idle":
            areas["thread:" + stack.split(";", 1)[0].split(": ", 1)[-1]] += count
    return dict(areas.most_common())


def read_raw(path: Path) -> Counter[str]:
    """py-spy's raw output: each stack (root first, ``;``-joined) and its sample count."""
    stacks: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        stacks[stack] += int(count)
    return stacks


def resplit(label: str) -> dict:
    """Split a run's kept raw stacks again (after ``AREAS`` changed); rewrites its JSON."""
    results = ROOT / "bench" / "results"
    summary = json.loads((results / f"day_profile-{label}.json").read_text())
    for phase_, suffix in zip(summary["phases"].values(), ("100", "day"), strict=True):
        stacks = read_raw(results / f"day_profile-{label}-{suffix}.txt")
        phase_["samples"] = split(stacks)
        phase_["innermost"] = innermost(stacks)
        lines = phase_["lines"]
        phase_["samples_per_1k_lines"] = {k: v * 1e3 / lines for k, v in phase_["samples"].items()}
    (results / f"day_profile-{label}.json").write_text(json.dumps(summary, indent=2))
    return summary


def phase(server_pid: int, client_pid: int, spy: list[str] | None, out: Path, posts: list) -> dict:
    """Run ``posts`` (callables returning lines), sampled; rates, CPU, samples per area."""
    spied = Spy(server_pid, out, spy) if spy is not None else None
    server_cpu, client_cpu = cpu_seconds(server_pid), cpu_seconds(client_pid)
    rates, lines, started = [], 0, time.perf_counter()
    for run in posts:
        n, seconds = run()
        rates.append(n / seconds)
        lines += n
    wall = time.perf_counter() - started
    server_cpu = cpu_seconds(server_pid) - server_cpu
    client_cpu = cpu_seconds(client_pid) - client_cpu
    result = {"lines": lines, "seconds": wall, "lines_per_s": lines / wall, "rates": rates,
              "server_cpu_s": server_cpu, "client_cpu_s": client_cpu,
              "server_cpu_ms_per_1k_lines": server_cpu * 1e6 / lines,
              "client_cpu_ms_per_1k_lines": client_cpu * 1e6 / lines}  # fmt: skip
    if spied is not None:
        stacks = spied.stop()
        result["samples"] = split(stacks)
        result["innermost"] = innermost(stacks)
        result["samples_per_1k_lines"] = {k: v * 1e3 / lines for k, v in result["samples"].items()}
    return result


def timed(pool: multiprocessing.pool.Pool, server: object, db: str, bodies: list[bytes]):
    """A post of ``bodies`` to ``db`` as a callable giving (lines, seconds)."""
    lines = sum(b.count(b"\n") + 1 for b in bodies)
    return lambda: (lines, lines / post(pool, server, db, bodies))  # type: ignore[arg-type]


def show(phases: dict[str, dict]) -> None:
    """Rates, CPU per 1,000 lines, and samples per 1,000 lines by area, phase by phase."""
    for name, p in phases.items():
        median = statistics.median(p["rates"])
        print(f"{name}: {p['lines_per_s']:,.0f} lines/s (median post {median:,.0f}), CPU ms "
              f"per 1k lines: server {p['server_cpu_ms_per_1k_lines']:.2f}, "
              f"client {p['client_cpu_ms_per_1k_lines']:.2f}")  # fmt: skip
    labels = dict.fromkeys(k for p in phases.values() for k in p.get("samples", {}))
    for label in labels:
        cells = (f"{p['samples_per_1k_lines'].get(label, 0):10.2f}" for p in phases.values())
        print(f"  {label:38s}" + "".join(cells))


def innermost(stacks: Counter[str], top: int = 30) -> dict[str, int]:
    """Samples by the innermost flight_iox frame of each stack (the leaf without one)."""
    frames: Counter[str] = Counter()
    for stack, count in stacks.items():
        if area(stack) == "idle":
            continue
        ours = [f for f in stack.split(";") if "flight_iox/" in f]
        frames[ours[-1] if ours else stack.split(";")[-1]] += count
    return dict(frames.most_common(top))


def main() -> None:
    """Both phases against one server; print and write the split."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--spy", default="", help='py-spy flags ("none": no profiler)')
    parser.add_argument("--data", type=Path, default=Path("/tmp/day-profile-data"))
    parser.add_argument("--label", default="run")
    parser.add_argument("--no-persist", action="store_true", help="no persist trigger fires")
    parser.add_argument("--split", help="split the raw stacks of run LABEL again, and print")
    parser.add_argument("--keep", type=Path, help="persist, compact and keep the server's folder")
    args = parser.parse_args()
    if args.split:
        show(resplit(args.split)["phases"])
        return
    spy = None if args.spy == "none" else args.spy.split()
    args.data.mkdir(parents=True, exist_ok=True)
    files = sorted(args.data.glob(f"hour-*-{args.hosts}.lp"))
    if len(files) != args.hours:
        with multiprocessing.Pool(2) as pool:
            made = pool.map(generate_hour, [(args.hosts, h, args.data) for h in range(args.hours)])
        files = [p.rename(p.with_name(f"{p.stem}-{args.hosts}.lp")) for p in made]
    baseline = make_bodies(100, 3, args.data)
    results = ROOT / "bench" / "results"
    folder = args.keep or Path(f"/tmp/day-profile-server-{os.getpid()}")
    flags = NO_PERSIST if args.no_persist else ()
    server = start(folder, *flags)
    try:
        with multiprocessing.Pool(1) as pool:
            client = pool._pool[0].pid  # type: ignore[attr-defined]
            hundred = [timed(pool, server, f"baseline_{i}", baseline) for i in range(args.repeats)]
            phases = {
                "100 hosts": phase(
                    server.process.pid,
                    client,
                    spy,
                    results / f"day_profile-{args.label}-100.txt",
                    hundred,
                )
            }
            day = [timed(pool, server, "tsbs", bodies_of(p)) for p in files]
            phases[f"{args.hosts} hosts"] = phase(
                server.process.pid, client, spy, results / f"day_profile-{args.label}-day.txt", day
            )
        if args.keep:
            admin(server, "/api/v3/persist")
            admin(server, "/api/v3/compact")
    finally:
        server.kill()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    summary = {"spy": args.spy, "load_average": os.getloadavg(), "phases": phases,
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    (results / f"day_profile-{args.label}.json").write_text(json.dumps(summary, indent=2))
    show(phases)


if __name__ == "__main__":
    main()
