"""InfluxQL vs SQL on the same server: the TSBS queries of ../shared/tsbs/queries.json.

Loads TSBS cpu-only data into one flight-iox server, then times each query in
both languages over the same transport (``/api/v3/query_sql`` and
``/api/v3/query_influxql``, JSON), best of ``--runs``, and prints the ratio.

    python bench/influxql.py --hosts 100 --hours 12 --runs 5
"""

from __future__ import annotations

import argparse
import json
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


def best_of(session: requests.Session, url: str, params: dict[str, str], runs: int) -> float:
    """The fastest of ``runs`` answers, in seconds (each must be 200)."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        reply = session.get(url, params=params, timeout=600)
        elapsed = time.perf_counter() - start
        if reply.status_code != 200:
            raise RuntimeError(f"{url} answered {reply.status_code}: {reply.text[:300]}")
        best = min(best, elapsed)
    return best


def main() -> None:
    """Load the data, time every query both ways, print a table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=12)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "influxql.json")
    args = parser.parse_args()
    queries = json.loads(QUERIES.read_text())
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
                sql = best_of(
                    session,
                    f"{server.http_url}/api/v3/query_sql",
                    {"db": "tsbs", "q": q["sql"], "format": "json"},
                    args.runs,
                )
                iql = best_of(
                    session,
                    f"{server.http_url}/api/v3/query_influxql",
                    {"db": "tsbs", "q": q["influxql"], "format": "json"},
                    args.runs,
                )
                results.append({"name": q["name"], "sql_s": sql, "influxql_s": iql})
                print(f"{q['name']:28} sql {sql * 1e3:8.1f} ms  influxql {iql * 1e3:8.1f} ms  "
                      f"ratio {iql / sql:5.2f}")  # fmt: skip
        finally:
            server.stop()
    total_sql = sum(r["sql_s"] for r in results)
    total_iql = sum(r["influxql_s"] for r in results)
    print(f"{'total':28} sql {total_sql * 1e3:8.1f} ms  influxql {total_iql * 1e3:8.1f} ms  "
          f"ratio {total_iql / total_sql:5.2f}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"hosts": args.hosts, "hours": args.hours, "queries": results}, indent=2)
    )


if __name__ == "__main__":
    main()
