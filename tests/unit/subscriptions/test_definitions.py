"""Subscription statements, destinations, and writes encoded back to line protocol."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flight_iox.errors import BadRequestError, NotFoundError
from flight_iox.influxql import ast
from flight_iox.influxql.parser import parse
from flight_iox.ingest import parse_line_protocol
from flight_iox.subscriptions.definitions import (
    check_destination,
    check_destinations,
    check_retention_policy,
    masked,
    write_url,
)
from flight_iox.subscriptions.encode import encode_tables


def test_statements_parse_as_influxdb_writes_them() -> None:
    (create,) = parse(
        'CREATE SUBSCRIPTION "s" ON "db"."autogen" DESTINATIONS ANY \'http://a:1\', \'https://b\''
    )
    assert create == ast.SubscriptionStatement(
        "create", "s", "db", "autogen", "ANY", ("http://a:1", "https://b")
    )
    (drop,) = parse("drop subscription s on db")
    assert drop == ast.SubscriptionStatement("drop", "s", "db", None)
    (show,) = parse("SHOW SUBSCRIPTIONS")
    assert show == ast.SubscriptionStatement("show")
    with pytest.raises(Exception, match="expected ALL, ANY"):
        parse("CREATE SUBSCRIPTION s ON db DESTINATIONS SOME 'http://a'")
    with pytest.raises(Exception, match="expected string"):
        parse("CREATE SUBSCRIPTION s ON db DESTINATIONS ALL http")


def test_destinations_are_http_urls_with_a_host() -> None:
    assert check_destination("https://user:pw@h:8086/base") == "https://user:pw@h:8086/base"
    for bad in ["udp://h:1", "ftp://h", "http://", "http://h:70000", "h:8086", "http://h/?a=1"]:
        with pytest.raises(BadRequestError, match="invalid subscription URL"):
            check_destination(bad)
    with pytest.raises(BadRequestError, match="twice"):
        check_destinations(["http://a", "http://a"])
    with pytest.raises(BadRequestError, match="at least one"):
        check_destinations([])
    with pytest.raises(NotFoundError, match="retention policy not found: rp"):
        check_retention_policy("rp")
    assert masked("http://u:secret@h:1/x") == "http://u:***@h:1/x"
    assert masked("http://h:1") == "http://h:1"
    assert write_url("http://u:p@h:1/base/") == ("http://h:1/base/write", ("u", "p"))
    assert write_url("http://h:1") == ("http://h:1/write", None)


def _round_trip(body: bytes) -> bytes:
    parsed = parse_line_protocol(body, default_time_ns=0)
    assert not parsed.errors
    return encode_tables([(b.measurement, _batch(b)) for b in parsed.batches])


def _batch(measurement_batch: object) -> pa.RecordBatch:
    from flight_iox.engine.validate import validate_measurement

    validated = validate_measurement(measurement_batch, None, max_columns=100)  # type: ignore[arg-type]
    assert validated.batch is not None
    return validated.batch


def test_encoding_gives_back_the_lines_written() -> None:
    body = (
        b'cpu,host=a\\ b,dc=x\\,y usage=1.5,n=-3i,u=4u,ok=false,s="a \\"q\\" \\\\ z" 1000\n'
        b"cpu,host=c usage=1e+20 2000\n"
        b"m\\ 1,t\\=k=v f\\ x=2 3\n"
    )
    encoded = _round_trip(body)
    assert encoded.splitlines() == [
        b'cpu,dc=x\\,y,host=a\\ b n=-3i,ok=false,s="a \\"q\\" \\\\ z",u=4u,usage=1.5 1000',
        b"cpu,host=c usage=1e+20 2000",
        b"m\\ 1,t\\=k=v f\\ x=2 3",
    ]
    assert _round_trip(encoded) == encoded  # what a destination parses is what was written


def test_rows_without_a_sendable_field_are_left_out() -> None:
    batch = pa.record_batch(
        {
            "f": pa.array([1.0, float("nan"), None, None]),
            "s": pa.array([None, None, None, "a,b"]),
            "time": pa.array([1, 2, 3, 4], pa.timestamp("ns")),
        },
        schema=pa.schema(
            [
                pa.field("f", pa.float64(), metadata={"iox::column_type": "field"}),
                pa.field("s", pa.string(), metadata={"iox::column_type": "field"}),
                pa.field("time", pa.timestamp("ns"), metadata={"iox::column_type": "time"}),
            ]
        ),
    )
    assert encode_tables([("m", batch)]) == b'm f=1 1\nm s="a,b" 4\n'
