"""InfluxQL vs SQL on the same server: the TSBS queries of ../shared/tsbs/queries.json.

Loads TSBS cpu-only data into one flight-iox server, then times each query in
both languages over the same transport (``/api/v3/query_sql`` and
``/api/v3/query_influxql``, JSON): ``--warmup`` untimed runs of each, then
``--runs`` timed runs alternating SQL and InfluxQL, and prints the medians, the
ratio per query and the geometric mean of the ratios.

    python bench/influxql.py --hosts 100 --hours 6 --runs 15
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

QUERIES = ROOT.parent / "shared" / "tsbs" / "queries.json"


def timed(session: requests.Session, url: str, params: dict[str, str]) -> float:
    """Seconds for one whole answer (which must be 200)."""
    start = time.perf_counter()
    reply = session.get(url, params=params, timeout=600)
    elapsed = time.perf_counter() - start
    if reply.status_code != 200:
        raise RuntimeError(f"{url} answered {reply.status_code}: {reply.text[:300]}")
    return elapsed


def compare(
    session: requests.Session, base: str, query: dict[str, str], warmup: int, runs: int
) -> tuple[float, float]:
    """Median seconds of SQL and of InfluxQL, timed alternately in one loop."""
    sql = (f"{base}/api/v3/query_sql", {"db": "tsbs", "q": query["sql"], "format": "json"})
    iql = (
        f"{base}/api/v3/query_influxql",
        {"db": "tsbs", "q": query["influxql"], "format": "json"},
    )
    for _ in range(warmup):
        timed(session, *sql)
        timed(session, *iql)
    sql_times, iql_times = [], []
    for i in range(runs):
        pair = (sql, iql) if i % 2 == 0 else (iql, sql)  # neither always goes first
        for url, params in pair:
            (sql_times if params is sql[1] else iql_times).append(timed(session, url, params))
    return statistics.median(sql_times), statistics.median(iql_times)


def main() -> None:
    """Load the data, time every query both ways, print a table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=12)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="names of the queries to run (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "influxql.json")
    args = parser.parse_args()
    queries = json.loads(QUERIES.read_text())
    if args.only:
        queries = [q for q in queries if q["name"] in args.only]
    with tempfile.TemporaryDirectory() as folder:
        bodies = make_bodies(args.hosts, args.hours, Path(folder))
        server = start_server(Path(folder) / "data")
        try:
            session = requests.Session()
            for body in bodies:
                reply = session.post(
                    f"{server.http_url}/api/v3/write_lp", params={"db": "tsbs"}, data=body
                )
                reply.raise_for_status()
            results = []
            for q in queries:
                sql, iql = compare(session, server.http_url, q, args.warmup, args.runs)
                results.append({"name": q["name"], "sql_s": sql, "influxql_s": iql})
                print(f"{q['name']:28} sql {sql * 1e3:8.1f} ms  influxql {iql * 1e3:8.1f} ms  "
                      f"ratio {iql / sql:5.2f}", flush=True)  # fmt: skip
        finally:
            server.stop()
    total_sql = sum(r["sql_s"] for r in results)
    total_iql = sum(r["influxql_s"] for r in results)
    geomean = math.exp(statistics.fmean(math.log(r["influxql_s"] / r["sql_s"]) for r in results))
    print(f"{'total':28} sql {total_sql * 1e3:8.1f} ms  influxql {total_iql * 1e3:8.1f} ms  "
          f"ratio {total_iql / total_sql:5.2f}")  # fmt: skip
    print(f"{'geometric mean of ratios':28} {geomean:5.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "hosts": args.hosts,
                "hours": args.hours,
                "runs": args.runs,
                "geomean_ratio": geomean,
                "queries": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
