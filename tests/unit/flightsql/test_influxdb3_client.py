"""The influxdb3-python client queries over Flight with the JSON ticket."""

from __future__ import annotations

import pytest
from influxdb_client_3 import InfluxDBClient3
from influxdb_client_3.exceptions import InfluxDB3ClientQueryError

from flight_iox.flightsql import FlightSqlServer


def test_influxdb3_client_sql_query(server: FlightSqlServer) -> None:
    # The client derives grpc+tcp://host:port from an http:// host.
    host = f"http://127.0.0.1:{server.port}"
    with InfluxDBClient3(host=host, database="mydb", token="x") as client:
        table = client.query("SELECT host, usage FROM cpu ORDER BY time", language="sql")
        assert table.column("usage").to_pylist() == [0.5, 1.5, 2.5, 3.5]
        with pytest.raises(InfluxDB3ClientQueryError, match="database not found"):
            client.query("SELECT 1", language="sql", database="nope")
