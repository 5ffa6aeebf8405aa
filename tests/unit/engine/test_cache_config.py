"""Cache configurations: InfluxDB 3's defaults, each bad field named, kept in catalog.json."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from flight_iox.columns import TIME_COLUMN, TIME_TYPE, ColumnRole, role_field
from flight_iox.config import Limits
from flight_iox.engine.cache_config import (
    DistinctCacheConfig,
    LastCacheConfig,
    distinct_cache_config,
    last_cache_config,
)
from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.errors import AlreadyExistsError, BadRequestError, NotFoundError

SCHEMA = pa.schema(
    [
        role_field("host", pa.dictionary(pa.int32(), pa.string()), ColumnRole.TAG),
        role_field("region", pa.dictionary(pa.int32(), pa.string()), ColumnRole.TAG),
        role_field(TIME_COLUMN, TIME_TYPE, ColumnRole.TIME),
        role_field("usage", pa.float64(), ColumnRole.FIELD),
    ]
)


def test_last_cache_defaults_are_influxdb3s() -> None:
    config = last_cache_config("cpu", SCHEMA, {})
    assert config == LastCacheConfig(
        "cpu", "cpu_host_region_last_cache", ("host", "region"), ("time", "usage"), 1, 4 * 3600
    )


def test_durations_and_value_columns_get_time() -> None:
    config = last_cache_config("cpu", SCHEMA, {"value_columns": "usage", "ttl": "1h30m"})
    assert config.value_columns == ("usage", "time")
    assert config.ttl == 5400
    distinct = distinct_cache_config("cpu", SCHEMA, {"columns": ["region", "host"]})
    assert distinct == DistinctCacheConfig(
        "cpu", "cpu_region_host_distinct_cache", ("region", "host"), 100_000, 86_400
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"key_columns": []}, "key_columns"),
        ({"key_columns": ["host", "host"]}, "key_columns"),
        ({"key_columns": ["time"]}, "key_columns"),
        ({"value_columns": ["host"]}, "value_columns"),
        ({"count": 0}, "count"),
        ({"count": True}, "count"),
        ({"ttl": "1y"}, "ttl"),
        ({"name": 3}, "name"),
    ],
)
def test_bad_last_cache_fields_are_named(params: dict[str, object], field: str) -> None:
    with pytest.raises(BadRequestError, match=f"'{field}'"):
        last_cache_config("cpu", SCHEMA, params)


def test_configurations_survive_a_reload_and_go_with_their_table(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    catalog = SchemaCatalog(path, Limits())
    catalog.create_database("db")
    last = last_cache_config("cpu", SCHEMA, {"name": "l"})
    distinct = distinct_cache_config("mem", SCHEMA, {"columns": ["host"], "name": "d"})
    catalog.add_cache("db", last)
    catalog.add_cache("db", distinct)
    with pytest.raises(AlreadyExistsError):
        catalog.add_cache("db", last)
    reloaded = SchemaCatalog(path, Limits())
    assert reloaded.caches("db") == [distinct, last]
    assert reloaded.caches("db", "last") == [last]
    reloaded.drop_table("db", "cpu", 1)
    assert SchemaCatalog(path, Limits()).caches("db") == [distinct]
    with pytest.raises(NotFoundError):
        reloaded.remove_cache("db", "last", "cpu", "l")
    reloaded.remove_cache("db", "distinct", "mem", "d")
    assert SchemaCatalog(path, Limits()).caches("db") == []
