"""``flight_iox://`` URIs: one reading for the ADBC driver, Polars and the dialect."""

from __future__ import annotations

from pathlib import Path

import pytest

from adbc_driver_flight_iox import dbapi
from adbc_driver_flight_iox.uri import is_flight_iox_uri, parse_uri


@pytest.mark.parametrize(
    ("uri", "grpc_uri", "kwargs"),
    [
        ("flight_iox://h:9/db", "grpc://h:9", {"database": "db", "token": None}),
        ("flight_iox://h", "grpc://h:8182", {"database": None, "token": None}),
        ("FLIGHT_IOX://:t%40k@h/my%20db", "grpc://h:8182", {"database": "my db", "token": "t@k"}),
        ("flight_iox://[::1]:9/?tls=true", "grpc+tls://[::1]:9", {"database": None, "token": None}),
        (
            "flight_iox://h/db?tls=1&tls_root_certs=/ca.pem&tls_skip_verify=yes",
            "grpc+tls://h:8182",
            {
                "database": "db",
                "token": None,
                "tls_root_certs": Path("/ca.pem"),
                "tls_skip_verify": True,
            },
        ),
    ],
)
def test_parse_uri(uri: str, grpc_uri: str, kwargs: dict[str, object]) -> None:
    assert is_flight_iox_uri(uri)
    assert parse_uri(uri) == (grpc_uri, kwargs)


@pytest.mark.parametrize(
    "uri", ["flight_iox://h/db?colour=red", "flight_iox://h/a/b", "grpc://h:9"]
)
def test_bad_uris_are_refused(uri: str) -> None:
    with pytest.raises(ValueError):
        parse_uri(uri)


def test_the_uri_and_an_argument_may_not_disagree() -> None:
    with pytest.raises(ValueError, match="database is given twice"):
        dbapi.connect("flight_iox://127.0.0.1:1/a", database="b")


def test_connect_takes_the_database_from_the_uri(flight_uri: str, database: str) -> None:
    host_port = flight_uri.split("://", 1)[1]
    query = "SELECT host, usage FROM cpu WHERE host = 'b' ORDER BY time"
    with dbapi.connect(f"flight_iox://{host_port}/{database}") as conn, conn.cursor() as cur:
        assert conn.database == database
        cur.execute(query)
        assert cur.fetchall() == [("b", 10.0), ("b", 20.0)]
