"""The v1 JSON built a column at a time prints exactly what ``json.dumps`` prints row by row."""

from __future__ import annotations

import json

import pytest

from flight_iox.app import App
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.influxql import formats
from flight_iox.influxql.formats import result_json, v1_json

DATA = "\n".join(
    [
        'm,host=a,region=ü f=1.5,i=3i,b=true,s="héllo" 1000000000',
        'm,host=b f=1e16,i=-4i,b=false,s="a\\"q\\\\z\tx" 2000000001',
        'm,host=b f=-0.0,s="plain" 3000000000',
        "m,host=c f=0.1,i=9223372036854775807i 4000123000",
        "n,host=a g=2 5000000000",
    ]
)
QUERIES = [
    "SELECT * FROM m",
    "SELECT * FROM m GROUP BY *",
    "SELECT f, s FROM m GROUP BY host",
    "SELECT mean(f) FROM m WHERE time >= 0 AND time < 10s GROUP BY time(1s), host fill(null)",
    "SELECT * FROM m, n",
    "SELECT f / 0 FROM m",
    "SELECT * FROM missing; SELECT count(f) FROM m",
    "SHOW TAG VALUES WITH KEY = region",
    "SHOW FIELD KEYS",
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("epoch", [None, "ns", "ms", "s", "h"])
def test_same_bytes_as_row_by_row(
    app: App, query: str, epoch: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formats, "MANY_SERIES", 1)  # every series a column at a time
    results = app.influxql.run(ANONYMOUS, "db", query, now=10**10)
    expected = json.dumps({"results": [result_json(r, epoch) for r in results]}, allow_nan=False)
    assert v1_json(results, epoch) == expected.encode()
