"""Differential test: the same continuous queries on flight-iox and on InfluxDB 1.x (influxd).

Both servers run continuous queries on the wall clock, so the test makes the outcome
independent of when each one happens to look: it creates the CQs on both, then writes
at once points whose timestamps lie a few seconds in the future, in whole intervals
that start well after the creation (both servers have made their first, empty run by
then). Each window is computed when its interval has passed; the test waits until
every window holding data has been closed for a few of influxd's 1 s ticks, then
compares the target measurements. Skipped when Debian's ``influxd`` is not installed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bench.influxdb1 import InfluxDB1
from flight_iox.launcher import RunningServer, start_server

# About 15 s, nearly all of it waiting for the wall clock (not CPU): not marked slow, so CI
# compares with the oracle on every run.
pytestmark = pytest.mark.skipif(
    not InfluxDB1.available(), reason="influxd (InfluxDB 1.x) is not installed"
)
S = 1_000_000_000
CQS = {
    "per_host": "SELECT mean(usage) AS mean, max(usage) AS max, count(usage) AS n "
    "INTO cpu_2s FROM cpu GROUP BY time(2s), host",
    "offset_all_tags": "SELECT sum(n) AS total INTO n_4s FROM cpu GROUP BY time(4s, 1s), *",
    "filtered": "SELECT min(usage) AS low INTO west_min FROM cpu WHERE region = 'west' "
    "GROUP BY time(2s)",
    "resampled": "RESAMPLE EVERY 2s FOR 6s",
    "every_longer": "RESAMPLE EVERY 4s",
    "each_measurement": 'SELECT mean(*) INTO "down"."autogen".:MEASUREMENT '
    "FROM /^(cpu|mem)$/ GROUP BY time(4s), *",
}
BODIES = {
    "resampled": "SELECT count(usage) AS c INTO resampled FROM cpu GROUP BY time(2s)",
    "every_longer": "SELECT last(usage) AS last INTO every_4s FROM cpu GROUP BY time(2s), host",
}
TARGETS = ["cpu_2s", "n_4s", "west_min", "resampled", "every_4s", "down:cpu", "down:mem"]


def _create(name: str) -> str:
    if name in BODIES:
        return f'CREATE CONTINUOUS QUERY "{name}" ON "cq" {CQS[name]} BEGIN {BODIES[name]} END'
    return f'CREATE CONTINUOUS QUERY "{name}" ON "cq" BEGIN {CQS[name]} END'


def _points(start: int, seconds: int) -> str:
    lines = []
    for i in range(seconds * 4):  # every 250 ms
        for k, (host, region) in enumerate((("a", "west"), ("b", "west"), ("c", "east"))):
            if (i + k) % 5 == 0:
                continue  # gaps
            usage = round(((i * 37 + k * 11) % 100) / 3, 3)
            lines.append(
                f"cpu,host={host},region={region} usage={usage},n={(i + k) % 7}i "
                f"{start + i * S // 4}"
            )
        if i % 3 == 0:
            lines.append(f"mem,host=a free={i * 13 % 50}i {start + i * S // 4}")
    return "\n".join(lines)


def _post(url: str, q: str, db: str = "cq") -> dict:
    reply = requests.post(f"{url}/query", params={"q": q, "db": db, "epoch": "ns"}, timeout=60)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert "error" not in body["results"][0], body
    return body


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with InfluxDB1(cq_run_interval="1s") as oracle:
        server: RunningServer = start_server(
            Path(tmp_path_factory.mktemp("cq")) / "data", "--cq-run-interval", "0.25"
        )
        try:
            urls = (server.http_url, oracle.url)
            for url in urls:
                _post(url, "CREATE DATABASE cq")
                _post(url, "CREATE DATABASE down")
            for name in CQS:
                for url in urls:
                    _post(url, _create(name))
            # Data in whole 4 s intervals starting at least 4 s after the creation.
            start = (time.time_ns() // (4 * S) + 2) * 4 * S
            seconds = 8
            data = _points(start, seconds)
            for url in urls:
                reply = requests.post(f"{url}/write", params={"db": "cq"}, data=data, timeout=60)
                assert reply.status_code == 204, reply.text
            # The last window ends at start + 8 s + the 1 s offset; then a few ticks of influxd.
            time.sleep(max(0, (start + (seconds + 1 + 4) * S - time.time_ns()) / S))
            yield urls
        finally:
            server.stop()


def _rows(url: str, target: str) -> list[dict[str, object]]:
    database, _, measurement = target.rpartition(":")
    body = _post(url, f'SELECT * FROM "{measurement}"', database or "cq")
    rows = []
    for series in body["results"][0].get("series", []):
        for values in series["values"]:
            rows.append(dict(zip(series["columns"], values, strict=True)))
    return sorted(rows, key=lambda r: (r["time"], sorted((k, str(v)) for k, v in r.items())))


def _same(a: object, b: object) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


@pytest.mark.parametrize("measurement", TARGETS)
def test_the_target_measurements_match_influxdb_1x(both: tuple[str, str], measurement: str) -> None:
    ours, oracle = (_rows(url, measurement) for url in both)
    assert oracle, f"influxd wrote nothing into {measurement}"
    assert len(ours) == len(oracle), (ours, oracle)
    for mine, theirs in zip(ours, oracle, strict=True):
        assert mine.keys() == theirs.keys(), (mine, theirs)
        assert all(_same(mine[k], theirs[k]) for k in mine), (mine, theirs)


def test_show_continuous_queries_lists_them_on_both(both: tuple[str, str]) -> None:
    for url in both:
        series = _post(url, "SHOW CONTINUOUS QUERIES")["results"][0]["series"]
        names = {row[0] for s in series if s["name"] == "cq" for row in s.get("values", [])}
        assert names == set(CQS)
