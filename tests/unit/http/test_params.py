"""A request's parameters are read once, and a name given twice with different values is a 400."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from flight_iox.errors import BadRequestError
from flight_iox.http.params import merged, one_of, query_params


def _request(query: str) -> Request:
    return Request({"type": "http", "method": "GET", "query_string": query.encode(), "headers": []})


def test_a_repeated_parameter_must_agree() -> None:
    assert query_params(_request("db=mine&db=mine&q=x")) == {"db": "mine", "q": "x"}
    with pytest.raises(BadRequestError, match="'mine' and 'other'"):
        query_params(_request("db=mine&db=other"))


def test_a_body_may_not_contradict_the_query_string() -> None:
    params: dict[str, object] = {"db": "mine"}
    merged(params, {"db": "mine", "q": "SELECT 1"}.items(), "JSON body")
    assert params == {"db": "mine", "q": "SELECT 1"}
    with pytest.raises(BadRequestError, match="query string and JSON body"):
        merged(params, [("db", "other")], "JSON body")


def test_db_and_bucket_must_name_one_database() -> None:
    assert one_of({"db": "mine"}, ("db", "bucket")) == "mine"
    assert one_of({"bucket": "mine", "db": ""}, ("bucket", "db")) == "mine"
    assert one_of({"bucket": "mine", "db": "mine"}, ("bucket", "db")) == "mine"
    assert one_of({}, ("db", "bucket")) is None
    with pytest.raises(BadRequestError, match="db='mine' and bucket='other'"):
        one_of({"db": "mine", "bucket": "other"}, ("db", "bucket"))
