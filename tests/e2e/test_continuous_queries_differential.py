"""Differential test: the same continuous queries on flight-iox and on InfluxDB 1.x (influxd).

Both servers run continuous queries on the wall clock, so the test makes the outcome
independent of when each one happens to look: it creates the CQs on both, then writes
at once points whose timestamps lie in the future, in whole 2 s intervals that start
after both servers have made their first, empty run (both check every 100 ms). Each
window is computed when its interval has passed. Rather than sleeping for a margin,
the test waits for a condition: every target holds its last window on both servers,
and so does ``zz_last``, which each server runs last in a pass (flight-iox by name,
influxd in creation order) and whose last window closes last; once its row is there,
that pass has written everything before it. Intervals of 1 s and 2 s (offset 500 ms,
not half the interval, so a sign error in the offset shows) keep the wall wait near
7 s. Skipped when Debian's ``influxd`` is not installed.
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

# About 7 s, nearly all of it waiting for the wall clock (not CPU): not marked slow, so CI
# compares with the oracle on every run.
pytestmark = pytest.mark.skipif(
    not InfluxDB1.available(), reason="influxd (InfluxDB 1.x) is not installed"
)
S = 1_000_000_000
MS = 1_000_000
CQS = {
    "per_host": "SELECT mean(usage) AS mean, max(usage) AS max, count(usage) AS n "
    "INTO cpu_1s FROM cpu GROUP BY time(1s), host",
    "offset_all_tags": "SELECT sum(n) AS total INTO n_2s FROM cpu GROUP BY time(2s, 500ms), *",
    "filtered": "SELECT min(usage) AS low INTO west_min FROM cpu WHERE region = 'west' "
    "GROUP BY time(1s)",
    "resampled": "RESAMPLE EVERY 1s FOR 3s",
    "every_longer": "RESAMPLE EVERY 2s",
    "each_measurement": 'SELECT mean(*) INTO "down"."autogen".:MEASUREMENT '
    "FROM /^(cpu|mem)$/ GROUP BY time(2s), *",
    "zz_last": "SELECT count(usage) AS c INTO last_window FROM cpu GROUP BY time(2s, 500ms)",
}
BODIES = {
    "resampled": "SELECT count(usage) AS c INTO resampled FROM cpu GROUP BY time(1s)",
    "every_longer": "SELECT last(usage) AS last INTO every_2s FROM cpu GROUP BY time(1s), host",
}
# Each target and its windows' (interval, offset) in ms: where its last window starts.
WINDOWS = {
    "cpu_1s": (1000, 0),
    "n_2s": (2000, 500),
    "west_min": (1000, 0),
    "resampled": (1000, 0),
    "every_2s": (1000, 0),
    "down:cpu": (2000, 0),
    "down:mem": (2000, 0),
    "last_window": (2000, 500),
}
TARGETS = list(WINDOWS)
SECONDS = 4  # of data, every 125 ms


def _create(name: str) -> str:
    if name in BODIES:
        return f'CREATE CONTINUOUS QUERY "{name}" ON "cq" {CQS[name]} BEGIN {BODIES[name]} END'
    return f'CREATE CONTINUOUS QUERY "{name}" ON "cq" BEGIN {CQS[name]} END'


def _points(start: int) -> str:
    lines = []
    for i in range(SECONDS * 8):  # every 125 ms
        for k, (host, region) in enumerate((("a", "west"), ("b", "west"), ("c", "east"))):
            if (i + k) % 5 == 0:
                continue  # gaps
            usage = round(((i * 37 + k * 11) % 100) / 3, 3)
            lines.append(
                f"cpu,host={host},region={region} usage={usage},n={(i + k) % 7}i "
                f"{start + i * S // 8}"
            )
        if i % 3 == 0:
            lines.append(f"mem,host=a free={i * 13 % 50}i {start + i * S // 8}")
    return "\n".join(lines)


def _post(url: str, q: str, db: str = "cq") -> dict:
    reply = requests.post(f"{url}/query", params={"q": q, "db": db, "epoch": "ns"}, timeout=60)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert "error" not in body["results"][0], body
    return body


def _last_window(start: int, target: str) -> int:
    """Where the window holding the target's last source point starts (ns)."""
    interval, offset = (v * MS for v in WINDOWS[target])
    last = start + (SECONDS * 8 - 1) * S // 8
    return last - (last - offset) % interval


def _has_last_windows(urls: tuple[str, ...], start: int) -> bool:
    return all(
        any(row["time"] == _last_window(start, target) for row in _rows(url, target))
        for url in urls
        for target in TARGETS
    )


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with InfluxDB1(cq_run_interval="100ms") as oracle:
        server: RunningServer = start_server(
            Path(tmp_path_factory.mktemp("cq")) / "data", "--cq-run-interval", "0.1"
        )
        try:
            urls = (server.http_url, oracle.url)
            for url in urls:
                _post(url, "CREATE DATABASE cq")
                _post(url, "CREATE DATABASE down")
            for name in CQS:  # in this order: zz_last is created last
                for url in urls:
                    _post(url, _create(name))
            # Data in whole 2 s intervals starting at least 1.5 s after the creation: the
            # first window holding data closes 500 ms after the start (time(2s, 500ms)).
            start = -(-(time.time_ns() + 1500 * MS) // (2 * S)) * 2 * S
            data = _points(start)
            for url in urls:
                reply = requests.post(f"{url}/write", params={"db": "cq"}, data=data, timeout=60)
                assert reply.status_code == 204, reply.text
            closed = max(_last_window(start, t) + WINDOWS[t][0] * MS for t in TARGETS)
            time.sleep(max(0, (closed - time.time_ns()) / S))
            deadline = time.monotonic() + 60
            while not _has_last_windows(urls, start):
                assert time.monotonic() < deadline, "a last window never came"
                time.sleep(0.1)
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
