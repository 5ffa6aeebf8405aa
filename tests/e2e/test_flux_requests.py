"""Flux requests beyond the answers: options from ``extern`` and ``now``, errors that name
the problem and where it is (JSON, and influxdb-client's ``ApiException``), bad bodies.

The data and the fixtures are ``test_flux``'s.
"""

from __future__ import annotations

import json

import pytest
import requests
from influxdb_client import InfluxDBClient
from influxdb_client.rest import ApiException

from tests.e2e.test_flux import DB, RAW, client, flux, url

__all__ = ["client", "url"]  # fixtures, imported for pytest


def _property(name: str, value: dict[str, object]) -> dict[str, object]:
    return {"type": "Property", "key": {"type": "Identifier", "name": name}, "value": value}


def test_options_from_extern_and_now(url: str) -> None:
    extern = {
        "type": "File",
        "body": [
            {
                "type": "OptionStatement",
                "assignment": {
                    "type": "VariableAssignment",
                    "id": {"type": "Identifier", "name": "v"},
                    "init": {
                        "type": "ObjectExpression",
                        "properties": [
                            _property("timeRangeStart", {
                                "type": "UnaryExpression", "operator": "-",
                                "argument": {"type": "DurationLiteral",
                                             "values": [{"magnitude": 40, "unit": "s"}]},
                            }),
                            _property("timeRangeStop", {
                                "type": "DateTimeLiteral", "value": "2020-09-13T12:27:40Z"
                            }),
                        ],
                    },
                },
            }
        ],
    }  # fmt: skip
    query = (
        f'from(bucket: "{DB}") |> range(start: v.timeRangeStart, stop: v.timeRangeStop)'
        ' |> filter(fn: (r) => r._field == "usage" and r.host == "a")'
    )
    response = flux(url, query, extern=extern, now="2020-09-13T12:27:40Z")
    assert response.status_code == 200, response.text
    rows = [line.split(",") for line in response.text.splitlines() if line.startswith(",,")]
    assert [(r[3], r[6]) for r in rows] == [
        ("2020-09-13T12:27:00Z", "1.5"),
        ("2020-09-13T12:27:00Z", "3"),
    ]


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        (
            f'from(bucket: "{DB}") |> range(start: -1h) |> holtWinters(n: 3)',
            400,
            "error @1:50-1:67: unsupported function 'holtWinters'",
        ),
        (
            f'import "strings"\nfrom(bucket: "{DB}") |> range(start: -1h)'
            " |> map(fn: (r) => ({r with s: strings.toUpper(v: r.host)}))",
            400,
            "@2:",
        ),
        (
            f'from(bucket: "{DB}") |> filter(fn: (r) => true) |> count()',
            400,
            "cannot submit unbounded read",
        ),
        (f'from(bucket: "{DB}") |> range(start: -1h', 400, "error @1:"),
        ('from(bucket: "no_such_db") |> range(start: -1h)', 404, "no_such_db"),
        (
            f'from(bucket: "{DB}") |> range(start: -1h) |> aggregateWindow(every: 1mo, fn: mean)',
            400,
            "calendar",
        ),
    ],
)
def test_errors_answer_json_naming_the_problem(
    url: str, query: str, status: int, message: str
) -> None:
    response = flux(url, query)
    assert response.status_code == status, response.text
    body = response.json()
    assert message in body["message"], body
    assert body["code"] == ("invalid" if status == 400 else "error")


def test_influxdb_client_raises_the_error(client: InfluxDBClient) -> None:
    with pytest.raises(ApiException) as raised:
        client.query_api().query(f'from(bucket: "{DB}") |> range(start: -1h) |> quantile(q: 0.9)')
    assert raised.value.status == 400
    message = json.loads(raised.value.body)["message"]
    assert "error @1:50-1:66: unsupported function 'quantile'" in message


def test_bad_requests(url: str) -> None:
    wrong_type = requests.post(
        f"{url}/api/v2/query", data="x", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert wrong_type.status_code == 400 and "application/vnd.flux" in wrong_type.json()["error"]
    influxql = requests.post(
        f"{url}/api/v2/query", json={"query": "SHOW DATABASES", "type": "influxql"}, timeout=10
    )
    assert influxql.status_code == 400 and "/query" in influxql.json()["error"]
    empty = requests.post(f"{url}/api/v2/query", json={"dialect": {}}, timeout=10)
    assert empty.status_code == 400 and "query" in empty.json()["error"]
    bad_dialect = flux(url, RAW, dialect={"annotations": ["nope"]})
    assert bad_dialect.status_code == 400
