"""InfluxDB 2 names: the DBRP reading of a bucket, bucket IDs, and the delete predicate."""

from __future__ import annotations

import pytest

from flight_iox.errors import BadRequestError
from flight_iox.http.v2_buckets import bucket_id
from flight_iox.http.v2_delete import Comparison, parse_predicate
from flight_iox.names import database_of_bucket


@pytest.mark.parametrize(
    ("bucket", "database"), [("db", "db"), ("db/autogen", "db"), ("my-db/rp_1", "my-db")]
)
def test_a_bucket_names_its_database(bucket: str, database: str) -> None:
    assert database_of_bucket(bucket) == database


@pytest.mark.parametrize("bucket", ["/rp", "db/", "db/rp/x"])
def test_malformed_buckets_are_refused(bucket: str) -> None:
    with pytest.raises(BadRequestError, match="database/retention_policy"):
        database_of_bucket(bucket)


def test_bucket_ids_are_16_hex_digits_and_stable() -> None:
    assert bucket_id("mine") == bucket_id("mine") != bucket_id("other")
    assert len(bucket_id("mine")) == 16 and int(bucket_id("mine"), 16) >= 0


def test_predicates() -> None:
    assert parse_predicate("") == []
    assert parse_predicate('_measurement="cpu" and "host name"!="a \\"b\\""') == [
        Comparison("_measurement", True, "cpu"),
        Comparison("host name", False, 'a "b"'),
    ]
    assert parse_predicate("region='eu-1'") == [Comparison("region", True, "eu-1")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('a="1" OR b="2"', "OR is not supported"),
        ('a="1" b="2"', "expected AND"),
        ("a=1", "must be quoted"),
        ('a="1" AND', 'expected key="value"'),
        ('a < "1"', "unexpected '<'"),
    ],
)
def test_bad_predicates_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        parse_predicate(text)
