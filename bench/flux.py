"""Flux vs SQL on the same server and data: what planning Flux onto DataFusion costs.

Loads TSBS cpu-only data into one flight-iox server, then times TSBS-shaped queries
written in Flux (``POST /api/v2/query``, annotated CSV as influxdb-client asks for it)
and in SQL (``/api/v3/query_sql?format=csv``): ``--warmup`` untimed runs of each, then
``--runs`` timed runs alternating the two, and prints the medians, the ratio per query
and the geometric mean of the ratios.

    python bench/flux.py --hosts 100 --hours 6 --runs 15
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import make_bodies  # noqa: E402
from flight_iox.launcher import start_server  # noqa: E402

START, HOUR = "2016-01-01T00:00:00Z", "2016-01-01T01:00:00Z"
ANNOTATED = {"annotations": ["datatype", "group", "default"]}


def queries(hours: int) -> dict[str, tuple[str, str]]:
    """name -> (Flux, SQL), each pair answering the same question."""
    stop = f"2016-01-01T{hours:02d}:00:00Z"
    hour = f"time >= '{START}' AND time < '{HOUR}'"
    all_hours = f"time >= '{START}' AND time < '{stop}'"
    src = 'from(bucket: "bench")'
    cpu = 'r._measurement == "cpu"'
    return {
        "single-groupby-1-1-1": (
            f"{src} |> range(start: {START}, stop: {HOUR}) |> filter(fn: (r) => {cpu}"
            ' and r._field == "usage_user" and r.hostname == "host_0")'
            " |> aggregateWindow(every: 1m, fn: max, createEmpty: false)",
            "SELECT date_bin(INTERVAL '1 minute', time) AS t, max(usage_user) FROM cpu "
            f"WHERE hostname = 'host_0' AND {hour} GROUP BY t ORDER BY t",
        ),
        "double-groupby-1": (
            f"{src} |> range(start: {START}, stop: {stop}) |> filter(fn: (r) => {cpu}"
            ' and r._field == "usage_user")'
            " |> aggregateWindow(every: 1h, fn: mean, createEmpty: false)",
            "SELECT hostname, date_bin(INTERVAL '1 hour', time) AS t, avg(usage_user) FROM cpu "
            f"WHERE {all_hours} GROUP BY hostname, t ORDER BY hostname, t",
        ),
        "lastpoint": (
            f"{src} |> range(start: {START}, stop: {stop}) |> filter(fn: (r) => {cpu}"
            ' and r._field == "usage_user") |> last()',
            "SELECT hostname, last_value(usage_user ORDER BY time) FROM cpu "
            f"WHERE {all_hours} GROUP BY hostname ORDER BY hostname",
        ),
        "raw-1-host-1-hour": (
            f"{src} |> range(start: {START}, stop: {HOUR})"
            ' |> filter(fn: (r) => r._measurement == "cpu" and r.hostname == "host_0")',
            f"SELECT * FROM cpu WHERE hostname = 'host_0' AND {hour} ORDER BY time",
        ),
        "table-panel-pivot": (
            f"{src} |> range(start: {START}, stop: {HOUR})"
            ' |> filter(fn: (r) => r._measurement == "cpu" and r.hostname == "host_0")'
            ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
            f"SELECT * FROM cpu WHERE hostname = 'host_0' AND {hour} ORDER BY time",
        ),
    }


def timed(session: requests.Session, url: str, kind: str, text: str) -> float:
    began = time.perf_counter()
    if kind == "flux":
        body = {"query": text, "dialect": ANNOTATED}
        response = session.post(f"{url}/api/v2/query", json=body, timeout=300)
    else:
        params = {"db": "bench", "q": text, "format": "csv"}
        response = session.get(f"{url}/api/v3/query_sql", params=params, timeout=300)
    elapsed = time.perf_counter() - began
    if response.status_code != 200:
        raise RuntimeError(f"{kind} failed ({response.status_code}): {response.text[:300]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bodies = make_bodies(args.hosts, args.hours, Path(tmp))
        server = start_server(Path(tmp) / "data")
        try:
            session = requests.Session()
            for body in bodies:
                reply = session.post(
                    f"{server.http_url}/api/v3/write_lp?db=bench", data=body, timeout=300
                )
                reply.raise_for_status()
            results = {}
            for name, (flux, sql) in queries(args.hours).items():
                for _ in range(args.warmup):
                    timed(session, server.http_url, "flux", flux)
                    timed(session, server.http_url, "sql", sql)
                flux_times, sql_times = [], []
                for _ in range(args.runs):
                    flux_times.append(timed(session, server.http_url, "flux", flux))
                    sql_times.append(timed(session, server.http_url, "sql", sql))
                f, s = statistics.median(flux_times), statistics.median(sql_times)
                results[name] = {"flux_ms": f * 1000, "sql_ms": s * 1000, "ratio": f / s}
                line = f"flux {f * 1000:8.1f} ms  sql {s * 1000:8.1f} ms  flux/sql {f / s:5.2f}"
                print(f"{name:24s} {line}")
            geo = math.exp(statistics.mean(math.log(r["ratio"]) for r in results.values()))
            print(f"geometric mean of flux/sql: {geo:.2f}")
            if args.json:
                args.json.write_text(
                    json.dumps(
                        {
                            "args": vars(args) | {"json": str(args.json)},
                            "results": results,
                            "geomean": geo,
                        },
                        indent=2,
                    )
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
