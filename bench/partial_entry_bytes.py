"""What one kept partial aggregate costs in resident memory (``query/partial_store.py``).

    python bench/partial_entry_bytes.py

For partials of 0, 1, 100 and 1,000 groups (three columns, as DataFusion's partial states
come out of ``collect``): the same loop makes N of them under keys like the cache's, and
either keeps them or drops them; the growth of resident memory over N is the cost of one
kept entry. Each run is its own process, "as made" against "tight" (copied into buffers of
their own size, as the store keeps them), next to ``nbytes`` and the bound's count.
"""

from __future__ import annotations

import gc
import hashlib
import os
import subprocess
import sys

import datafusion
import numpy as np
import pyarrow as pa
from datafusion import col
from datafusion import functions as f

from flight_iox.query.partial_store import entry_bytes, tight


def _resident() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _partial(rows: int, compact: bool) -> pa.Table:
    hosts = pa.array([f"h{i}" for i in range(rows)], pa.string()).dictionary_encode()
    data = pa.table({"host": hosts, "f": np.arange(rows, dtype=float), "i": np.arange(rows)})
    frame = datafusion.SessionContext().from_arrow(data)
    states = [f.max(col("f")).alias("s0"), f.count(col("i")).alias("s1")]
    frame = frame.aggregate([col("host").alias("g0")], states)
    batches = frame.collect()
    out = pa.Table.from_batches(batches, schema=None if batches else frame.schema())
    out = out.set_column(0, pa.field("g0", pa.string()), out.column(0).cast(pa.string()))
    return tight(out) if compact else out


def _key(n: int) -> tuple[object, ...]:
    path = f"file:///data/warehouse/db/cpu-43e8a5e583e6401b/data/time_day=1970-01-01/{n:032x}"
    digest = hashlib.blake2b(str(n).encode(), digest_size=16).digest()
    return ("db", "cpu", None, (path + ".parquet", 100, 2000, n, 1, 2), digest)


def _one(rows: int, keep: bool, compact: bool, count: int) -> float:
    kept = {}
    for _ in range(100):
        _partial(rows, compact)
    gc.collect()
    before = _resident()
    for n in range(count):
        partial = _partial(rows, compact)
        if keep:
            kept[_key(n)] = partial
    gc.collect()
    return (_resident() - before) / count


def main() -> None:
    if len(sys.argv) == 5:  # one measurement, in a process of its own
        rows, keep, compact, count = sys.argv[1:]
        print(_one(int(rows), keep == "keep", compact == "tight", int(count)))
        return
    for rows, count in ((0, 4000), (1, 4000), (100, 2000), (1000, 500)):
        sample = _partial(rows, True)
        line = [f"{rows:>5} groups: nbytes {sample.nbytes:>6}"]
        for compact in ("made", "tight"):
            command = [sys.executable, __file__, str(rows), "", compact, str(count)]
            cost = []
            for keep in ("keep", "drop"):
                command[3] = keep
                cost.append(float(subprocess.check_output(command, text=True)))
            line.append(f"{compact} {cost[0] - cost[1]:>7.0f} B")
        line.append(f"counted {entry_bytes(_key(0), sample):>6} B")
        print(", ".join(line))


if __name__ == "__main__":
    main()
