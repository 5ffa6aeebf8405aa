"""Trigger specifications, request bodies, schedules and the worker's response forms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flight_iox.errors import BadRequestError
from flight_iox.processing.schedule import next_fire
from flight_iox.processing.triggers import parse_spec, trigger_from_request
from flight_iox.processing.worker import UNSUPPORTED_RETURN, response_of


def test_specifications_as_influxdb3_writes_them() -> None:
    assert parse_spec("table:cpu").value == "cpu"
    assert parse_spec("all_tables").on_writes
    assert parse_spec("every:1h30m").seconds == 5400
    assert parse_spec("every:10min").seconds == 600
    assert parse_spec("cron:0 0 8 * * *").entry_point == "process_scheduled_call"
    assert parse_spec("request:api/hello").entry_point == "process_request"
    for bad in ("table:", "every:", "every:0s", "cron:* *", "request:../x", "request:a b", "x"):
        with pytest.raises(BadRequestError, match="trigger_specification"):
            parse_spec(bad)


def test_every_fires_on_interval_boundaries_and_cron_in_utc() -> None:
    noon = datetime(2026, 1, 1, 12, 0, 7, tzinfo=UTC).timestamp()
    assert next_fire(parse_spec("every:10s"), noon) == noon + 3
    assert next_fire(parse_spec("every:1h"), noon) == noon - 7 + 3600
    eight = datetime(2026, 1, 2, 8, 0, 0, tzinfo=UTC).timestamp()
    assert next_fire(parse_spec("cron:0 0 8 * * *"), noon) == eight  # seconds first
    assert next_fire(parse_spec("cron:0 8 * * *"), noon) == eight  # five fields


def test_request_bodies_are_checked_field_by_field() -> None:
    body: dict[str, object] = {
        "db": "d",
        "trigger_name": "t",
        "plugin_filename": "p.py",
        "trigger_specification": "table:cpu",
        "trigger_arguments": {"threshold": 90},
        "trigger_settings": {"run_async": True, "error_behavior": "Retry"},
    }
    config = trigger_from_request(body, owner="id1")
    assert (config.arguments, config.run_async, config.error_behavior, config.owner) == (
        {"threshold": "90"},
        True,
        "retry",
        "id1",
    )
    assert trigger_from_request({**body, "trigger_arguments": "a=1,b=x=y"}, None).arguments == {
        "a": "1",
        "b": "x=y",
    }
    for field, value, message in [
        ("db", "", "'db'"),
        ("trigger_name", "a/b", "'trigger_name'"),
        ("trigger_arguments", "novalue", "key=value"),
        ("disabled", "yes", "'disabled'"),
        ("trigger_settings", {"error_behavior": "panic"}, "'error_behavior'"),
    ]:
        with pytest.raises(BadRequestError, match=message):
            trigger_from_request({**body, field: value}, None)


def test_request_plugin_return_values_as_influxdb3_reads_them() -> None:
    json_type = {"content-type": "application/json"}
    assert response_of({"a": 1}) == ('{"a": 1}', 200, json_type)
    assert response_of(([1], 201)) == ("[1]", 201, json_type)
    assert response_of(("hi", {"x-a": "1"})) == (
        "hi",
        200,
        {"content-type": "text/html", "x-a": "1"},
    )
    assert response_of(("hi", 404, {"content-type": "text/plain"})) == (
        "hi",
        404,
        {"content-type": "text/plain"},
    )
    assert response_of(iter(["a", "b"]))[0] == "ab"

    class FlaskLike:
        status_code = 202
        headers = {"content-type": "text/csv"}

        def __flask_response__(self) -> bool:
            return True

        def get_data(self) -> str:
            return "a,b"

    assert response_of(FlaskLike()) == ("a,b", 202, {"content-type": "text/csv"})
    with pytest.raises(TypeError, match=UNSUPPORTED_RETURN):
        response_of(None)
