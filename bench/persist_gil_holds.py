"""Where a persist holds Python's interpreter lock long enough to delay the queries beside it.

    python bench/persist_gil_holds.py [--persists 4] [--batches 500]
        [--out bench/results/persist_gil_holds.json] [--smoke]

In process, one real server's engine (``build_app``, the server's interpreter settings: a
1 ms switch interval, frozen start-up objects) takes ``bench/soak.py``'s rows, 2,000-line
batches of ``w=w0``/``w=w1`` and 200 hosts, with the soak's statement run after every tenth
batch, and is persisted every ``--batches`` batches. While each persist runs, a probe
thread sleeps 0.5 ms over and over; when it wakes more than 1.5 ms late, it records where
the persisting thread is (its three innermost frames): a thread that cannot get the lock
back for that long is what a query's thread meets during a persist. Prints, per place, the
longest delay and how often one was seen, longest first; the baseline is the probe's own
delay outside persists, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.partial_merge import write_batch  # noqa: E402  (the soak's rows)
from bench.soak import DATABASE, QUERY  # noqa: E402
from flight_iox.app import App, build_app  # noqa: E402
from flight_iox.auth.policy import ANONYMOUS, AuthMode, Authorizer  # noqa: E402
from flight_iox.auth.tokens import FileTokenStore  # noqa: E402
from flight_iox.config import Settings  # noqa: E402
from flight_iox.interpreter_tuning import steady_interpreter  # noqa: E402

SLEEP_S = 0.0005
LATE_S = 0.0015


class Probe:
    """A thread waking every ``SLEEP_S``, noting where ``watched`` is when it wakes late."""

    def __init__(self, watched: int) -> None:
        self.watched, self.persisting, self.stop = watched, False, False
        self.count: Counter[str] = Counter()
        self.longest: defaultdict[str, float] = defaultdict(float)
        self.outside: list[float] = []

    def run(self) -> None:
        while not self.stop:
            began = time.perf_counter()
            time.sleep(SLEEP_S)
            late = time.perf_counter() - began - SLEEP_S
            if not self.persisting:
                self.outside.append(late)
            elif late > LATE_S:
                place = self._place()
                self.count[place] += 1
                self.longest[place] = max(self.longest[place], late)

    def _place(self) -> str:
        frame = sys._current_frames().get(self.watched)
        where = []
        while frame is not None and len(where) < 3:
            code = frame.f_code
            where.append(f"{Path(code.co_filename).name}:{frame.f_lineno}:{code.co_name}")
            frame = frame.f_back
        return " < ".join(where)


def fill(app: App, first: int, batches: int) -> int:
    """``batches`` of the soak's rows from batch ``first``, the statement every tenth."""
    for k in range(batches):
        write_batch(app, first + k)
        if k % 10 == 0:
            app.sql.scoped(ANONYMOUS).execute(DATABASE, QUERY).read_all()
    return first + batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persists", type=int, default=4)
    parser.add_argument("--batches", type=int, default=500, help="per persist (2,000 rows)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/persist_gil_holds.json")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    args = parser.parse_args()
    persists, batches = (2, 5) if args.smoke else (args.persists, args.batches)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder) / "data", wal_fsync=False)
        app = build_app(settings, Authorizer(AuthMode.OFF, FileTokenStore(Path(folder) / "t")))
        steady_interpreter()
        probe = Probe(threading.get_ident())
        thread = threading.Thread(target=probe.run, daemon=True)
        try:
            batch = fill(app, 0, batches)
            app.persister.persist(DATABASE)  # the first persist warms up
            thread.start()
            walls = []
            for _ in range(persists):
                batch = fill(app, batch, batches)
                probe.persisting = True
                began = time.perf_counter()
                app.persister.persist(DATABASE)
                walls.append(time.perf_counter() - began)
                probe.persisting = False
        finally:
            probe.stop = True
            app.close()
    places = sorted(probe.longest, key=lambda p: -probe.longest[p])
    report = {
        "rows_per_persist": batches * 2000,
        "persist_wall_s": [round(w, 3) for w in walls],
        "outside_persists_ms": {
            "median": round(statistics.median(probe.outside or [0.0]) * 1000, 3),
            "max": round(max(probe.outside or [0.0]) * 1000, 3),
        },
        "holds": [
            {"place": p, "longest_ms": round(probe.longest[p] * 1000, 2), "seen": probe.count[p]}
            for p in places
        ],
    }
    print(f"probe's delay outside persists: median {report['outside_persists_ms']['median']} "
          f"ms, max {report['outside_persists_ms']['max']} ms")  # fmt: skip
    for hold in report["holds"][:15]:
        print(f"{hold['longest_ms']:7.2f} ms  x{hold['seen']:<3d} {hold['place']}")
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
