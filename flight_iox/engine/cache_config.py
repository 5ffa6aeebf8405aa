"""What a last-value or distinct-value cache holds, as InfluxDB 3 configures them.

A configuration is checked against the table's schema when it is created (each bad
field named in a ``BadRequestError``), then kept in ``catalog.json`` with the
database's other state, so it survives a restart. Defaults are InfluxDB 3's:

- last cache: key columns = the tags; value columns = every other column (with
  ``time``); ``count`` 1 (1..10); ``ttl`` four hours.
- distinct cache: ``columns`` required (a hierarchy, outermost first);
  ``max_cardinality`` 100 000; ``max_age`` one day.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Literal

import pyarrow as pa

from flight_iox.columns import TIME_COLUMN, ColumnRole, role_of
from flight_iox.errors import BadRequestError

CacheKind = Literal["last", "distinct"]
MAX_LAST_COUNT = 10
DEFAULT_TTL_S = 4 * 3600
DEFAULT_MAX_CARDINALITY = 100_000
DEFAULT_MAX_AGE_S = 86_400
_DURATION = re.compile(r"(?:\d{1,12}(?:s|m|h|d|w))+")
_DURATION_PART = re.compile(r"(\d+)([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


@dataclass(frozen=True)
class LastCacheConfig:
    """The last ``count`` rows of each key (``key_columns``), for ``value_columns``."""

    table: str
    name: str
    key_columns: tuple[str, ...]
    value_columns: tuple[str, ...]
    count: int
    ttl: int

    kind: CacheKind = "last"


@dataclass(frozen=True)
class DistinctCacheConfig:
    """The distinct value combinations of ``columns`` seen within ``max_age``."""

    table: str
    name: str
    columns: tuple[str, ...]
    max_cardinality: int
    max_age: int

    kind: CacheKind = "distinct"


CacheConfig = LastCacheConfig | DistinctCacheConfig


def to_json(config: CacheConfig) -> dict[str, object]:
    """The configuration as it is stored in ``catalog.json``."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def from_json(stored: dict[str, object]) -> CacheConfig:
    """A configuration read back from ``catalog.json``."""
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()}
    if values.get("kind") == "distinct":
        return DistinctCacheConfig(**values)  # type: ignore[arg-type]
    return LastCacheConfig(**values)  # type: ignore[arg-type]


def _name_list(params: dict[str, object], field: str, default: list[str] | None) -> list[str]:
    value = params.get(field)
    if value is None and default is not None:
        return default
    if isinstance(value, str):  # the CLI's comma list
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise BadRequestError(f"'{field}' must be a non-empty list of column names")
    if len(set(value)) != len(value):
        raise BadRequestError(f"'{field}' names a column twice: {value}")
    return value


def _positive(params: dict[str, object], field: str, default: int, top: int | None = None) -> int:
    value = params.get(field, default)
    if value is None:
        value = default
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequestError(f"'{field}' must be a positive integer, got {value!r}")
    if top is not None and value > top:
        raise BadRequestError(f"'{field}' must be between 1 and {top}, got {value}")
    return value


def _seconds(params: dict[str, object], field: str, default: int) -> int:
    """A duration in seconds: an integer (InfluxDB 3's API) or a text like ``"10m"``."""
    value = params.get(field, default)
    if value is None:
        return default
    if isinstance(value, str) and _DURATION.fullmatch(value):
        value = sum(int(n) * _UNIT_S[u] for n, u in _DURATION_PART.findall(value))
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequestError(
            f"'{field}' must be a number of seconds or a duration like 10m or 4h, got {value!r}"
        )
    return value


def _check_columns(schema: pa.Schema, field: str, names: list[str]) -> None:
    missing = [n for n in names if n not in schema.names]
    if missing:
        raise BadRequestError(f"'{field}': no column {missing[0]!r} in the table")


def _cache_name(params: dict[str, object], table: str, columns: list[str], kind: str) -> str:
    name = params.get("name")
    if name is None or name == "":
        return "_".join([table, *columns, kind, "cache"])
    if not isinstance(name, str):
        raise BadRequestError(f"'name' must be a string, got {name!r}")
    return name


def _key_type_ok(data_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(data_type):
        data_type = data_type.value_type
    return (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_integer(data_type)
        or pa.types.is_boolean(data_type)
    )


def last_cache_config(table: str, schema: pa.Schema, params: dict[str, object]) -> LastCacheConfig:
    """Check a ``POST /api/v3/configure/last_cache`` body against the table's ``schema``."""
    tags = [f.name for f in schema if role_of(f) is ColumnRole.TAG]
    keys = _name_list(params, "key_columns", tags)
    _check_columns(schema, "key_columns", keys)
    for name in keys:
        if name == TIME_COLUMN or not _key_type_ok(schema.field(name).type):
            raise BadRequestError(
                f"'key_columns': column {name!r} cannot be a key "
                "(keys are string, integer, unsigned integer or boolean columns)"
            )
    others = [f.name for f in schema if f.name not in keys]
    values = _name_list(params, "value_columns", others)
    _check_columns(schema, "value_columns", values)
    if overlap := sorted(set(values) & set(keys)):
        raise BadRequestError(f"'value_columns': {overlap[0]!r} is already a key column")
    if TIME_COLUMN not in values:  # every row has its time, as in InfluxDB 3
        values.append(TIME_COLUMN)
    return LastCacheConfig(
        table,
        _cache_name(params, table, keys, "last"),
        tuple(keys),
        tuple(values),
        _positive(params, "count", 1, MAX_LAST_COUNT),
        _seconds(params, "ttl", DEFAULT_TTL_S),
    )


def distinct_cache_config(
    table: str, schema: pa.Schema, params: dict[str, object]
) -> DistinctCacheConfig:
    """Check a ``POST /api/v3/configure/distinct_cache`` body against the table's ``schema``."""
    columns = _name_list(params, "columns", None)
    _check_columns(schema, "columns", columns)
    for name in columns:
        if name == TIME_COLUMN or not _key_type_ok(schema.field(name).type):
            raise BadRequestError(
                f"'columns': column {name!r} cannot be cached "
                "(string, integer, unsigned integer or boolean columns only)"
            )
    return DistinctCacheConfig(
        table,
        _cache_name(params, table, columns, "distinct"),
        tuple(columns),
        _positive(params, "max_cardinality", DEFAULT_MAX_CARDINALITY),
        _seconds(params, "max_age", DEFAULT_MAX_AGE_S),
    )
