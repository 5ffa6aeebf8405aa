"""``last_cache('t'[, 'name'])`` and ``distinct_cache('t'[, 'name'])``: configured caches.

A cache configured through ``/api/v3/configure/last_cache`` or ``distinct_cache``
(``engine/cache_config.py``) is answered from rows computed once per table version,
with one vectorised query over the table's files and buffer (deduplicated like any
query, and with the time filter pruning files older than the ttl or max age):

- a last cache holds, per combination of its key columns, the ``count`` latest rows of
  its value columns within ``ttl``;
- a distinct cache holds the distinct combinations of its columns (a hierarchy: the
  first column is never null) seen within ``max_age``, at most ``max_cardinality`` of
  them, the most recently seen kept (InfluxDB 3 evicts the least recently seen).

Between writes a query costs a filter of the held rows by the time (entries age out
of the ttl or max age without a write). The state is bounded by the configuration
(``count`` rows per key, ``max_cardinality`` combinations), as in InfluxDB 3; unlike
InfluxDB 3 it is computed at the first query after a write rather than on the write.

``last_cache('t')`` without a name uses the table's only configured last cache, or,
when it has none, the built-in latest row of each series (``last_cache.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

import pyarrow as pa
import pyarrow.compute as pc
from datafusion import Expr
from datafusion.catalog import Table
from datafusion.user_defined import TableFunction
from sqlglot.tokens import TokenType

from flight_iox.columns import TIME_COLUMN
from flight_iox.engine.cache_config import CacheConfig, DistinctCacheConfig, LastCacheConfig
from flight_iox.errors import QueryError
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.sql_quote import quote_identifier as q
from flight_iox.sql_tokens import per_statement, tokenize

LAST, DISTINCT = "last_cache", "distinct_cache"
KINDS = {LAST: "last", DISTINCT: "distinct"}
SOURCE = "source"  # the name the table has in the query that fills a cache
_SEEN = "__iox_seen"
Call = tuple[str, str, str | None]  # (function, table, cache name)


def cache_calls(sql: str) -> list[Call]:
    """The ``last_cache`` / ``distinct_cache`` calls with literal arguments in ``sql``."""
    lowered = sql.lower()
    if LAST not in lowered and DISTINCT not in lowered:  # no tokenizing for most SQL
        return []
    return list(_calls(sql))


@per_statement()
def _calls(sql: str) -> tuple[Call, ...]:
    tokens = tokenize(sql)
    found: list[Call] = []
    for i in range(len(tokens) - 2):
        word = tokens[i].word
        if word not in KINDS or tokens[i + 1].type is not TokenType.L_PAREN:
            continue
        if not tokens[i + 2].literal:
            continue
        name = None
        if i + 4 < len(tokens) and tokens[i + 3].type is TokenType.COMMA and tokens[i + 4].literal:
            name = tokens[i + 4].value
        found.append((word, tokens[i + 2].value, name))
    return tuple(found)


def fill_sql(config: CacheConfig, cutoff_ns: int) -> str:
    """The query over ``source`` (the table) whose rows a cache holds."""
    since = f"{q(TIME_COLUMN)} >= to_timestamp_nanos({int(cutoff_ns)})"
    if isinstance(config, LastCacheConfig):
        keys = [q(c) for c in config.key_columns]
        columns = ", ".join(keys + [q(c) for c in config.value_columns])
        partition = f"PARTITION BY {', '.join(keys)} " if keys else ""
        order = ", ".join([*keys, f"{q(TIME_COLUMN)} DESC"])
        return (
            f"SELECT {columns} FROM (SELECT {columns}, row_number() OVER ({partition}"
            f"ORDER BY {q(TIME_COLUMN)} DESC) AS __iox_rank FROM {SOURCE} WHERE {since}) "
            f"AS ranked WHERE __iox_rank <= {config.count} ORDER BY {order}"
        )
    columns = ", ".join(q(c) for c in config.columns)
    return (
        f"SELECT {columns}, {_SEEN} FROM (SELECT {columns}, max({q(TIME_COLUMN)}) AS {_SEEN} "
        f"FROM {SOURCE} WHERE {since} AND {q(config.columns[0])} IS NOT NULL "
        f"GROUP BY {columns} ORDER BY {_SEEN} DESC LIMIT {config.max_cardinality}) AS seen "
        f"ORDER BY {columns}"
    )


def _age_s(config: CacheConfig) -> int:
    return config.ttl if isinstance(config, LastCacheConfig) else config.max_age


def _served_rows(config: CacheConfig, rows: pa.Table, now_ns: int) -> pa.Table:
    """The held rows still within the ttl / max age at ``now_ns``."""
    column = TIME_COLUMN if isinstance(config, LastCacheConfig) else _SEEN
    cutoff = pa.scalar(now_ns - _age_s(config) * 1_000_000_000, pa.timestamp("ns"))
    times = rows.column(column).cast(pa.timestamp("ns"))
    kept = rows.filter(pc.greater_equal(times, cutoff))
    return kept.drop_columns([_SEEN]) if _SEEN in kept.column_names else kept


class ConfiguredCaches:
    """Rows of each configured cache, valid for one table version, and the table functions."""

    def __init__(
        self,
        provider: Callable[[pa.Table], Table],
        default_last: Callable[[str, str], Table | None],
    ) -> None:
        """``provider`` makes a DataFusion table of Arrow rows; ``default_last`` gives the
        built-in ``last_cache('t')`` table of a database's table, if prepared."""
        self._provider = provider
        self._default_last = default_last
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, CacheConfig], tuple[Hashable, pa.Table]] = {}
        self._served: dict[tuple[str, str, str, str | None], Table | str] = {}

    def resolve(
        self, function: str, table: str, name: str | None, configs: list[CacheConfig]
    ) -> CacheConfig | str | None:
        """The configuration a call names: a config, an error message, or None for the
        built-in last cache (``last_cache('t')`` on a table with no configured one)."""
        kind = KINDS[function]
        mine = [c for c in configs if c.kind == kind and c.table == table]
        if name is not None:
            found = [c for c in mine if c.name == name]
            return found[0] if found else f"{function}(): no cache {name!r} on table {table!r}"
        if len(mine) == 1:
            return mine[0]
        if mine:
            names = ", ".join(repr(c.name) for c in mine)
            return f"{function}(): table {table!r} has several caches ({names}); name one"
        if kind == "last":
            return None
        return f"{function}(): no distinct cache on table {table!r}"

    def prepare(
        self,
        database: str,
        call: Call,
        resolved: CacheConfig | str | None,
        version: Hashable,
        run: Callable[[str], pa.Table],
    ) -> None:
        """Make ``call`` answer ``resolved``: an error message, None (the built-in last
        cache), or a config whose rows ``run`` computes from SQL over ``source`` when
        ``version`` changed."""
        function, table, name = call
        key = (function, database, table, name)
        if resolved is None or isinstance(resolved, str):  # None: the built-in last cache
            with self._lock:
                if resolved is None:
                    self._served.pop(key, None)
                else:
                    self._served[key] = resolved
            return
        now = time.time_ns()
        with self._lock:
            hit = self._rows.get((database, resolved))
        if hit is None or hit[0] != version:
            rows = run(fill_sql(resolved, now - _age_s(resolved) * 1_000_000_000))
            hit = (version, rows)
        served = self._provider(_served_rows(resolved, hit[1], now))
        with self._lock:
            self._rows[(database, resolved)] = hit
            self._served[key] = served

    def forget(self, database: str, table: str | None = None) -> None:
        """Drop the rows held for a table (or a whole database)."""
        with self._lock:
            for key in [k for k in self._rows if k[0] == database and table in (None, k[1].table)]:
                del self._rows[key]
            for served in [k for k in self._served if k[1] == database and table in (None, k[2])]:
                del self._served[served]

    def functions(self, database: str | None) -> list[TableFunction]:
        """The two table functions of a context whose default database is ``database``."""
        return [TableFunction(name, self._function(name, database)) for name in (LAST, DISTINCT)]

    def _function(self, function: str, database: str | None) -> Callable[..., Table]:
        def table_function(*args: Expr) -> Table:
            if database is None:
                raise QueryError(f"{function}() needs a default database")
            if not args or len(args) > 2:
                raise QueryError(
                    f"{function}() takes the table name and optionally the cache name: "
                    f"{function}('cpu') or {function}('cpu', 'cpu_host_cache')"
                )
            table, name = (_literal(a) for a in (*args, None)[:2])
            served = self._served.get((function, database, table or "", name))
            if served is None and function == LAST and name is None and table is not None:
                served = self._default_last(database, table)
            if isinstance(served, str):
                raise QueryError(served)
            if served is None:
                shown = args[0].canonical_name()
                raise QueryError(f"{function}(): no table {shown} in database {database}")
            return served

        return table_function


def _literal(arg: Expr | None) -> str | None:
    """A string literal argument's value (None if absent or not a literal)."""
    if arg is None:
        return None
    try:
        value = arg.python_value()
    except Exception as error:  # not a literal: DataFusion refuses its value
        if not is_engine_error(error):
            raise
        return None
    value = value.as_py() if isinstance(value, pa.Scalar) else value
    return value if isinstance(value, str) else None


LAST_CACHES_SCHEMA = pa.schema(
    [
        pa.field("table", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("key_column_names", pa.list_(pa.string()), nullable=False),
        pa.field("value_column_names", pa.list_(pa.string()), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
        pa.field("ttl", pa.int64(), nullable=False),
    ]
)
DISTINCT_CACHES_SCHEMA = pa.schema(
    [
        pa.field("table", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("column_names", pa.list_(pa.string()), nullable=False),
        pa.field("max_cardinality", pa.int64(), nullable=False),
        pa.field("max_age_seconds", pa.int64(), nullable=False),
    ]
)


def cache_system_tables(configs: list[CacheConfig]) -> dict[str, pa.Table]:
    """``system.last_caches`` and ``system.distinct_caches`` of one database (InfluxDB 3's)."""
    last = [
        {
            "table": c.table,
            "name": c.name,
            "key_column_names": list(c.key_columns),
            "value_column_names": list(c.value_columns),
            "count": c.count,
            "ttl": c.ttl,
        }
        for c in configs
        if isinstance(c, LastCacheConfig)
    ]
    distinct = [
        {
            "table": c.table,
            "name": c.name,
            "column_names": list(c.columns),
            "max_cardinality": c.max_cardinality,
            "max_age_seconds": c.max_age,
        }
        for c in configs
        if isinstance(c, DistinctCacheConfig)
    ]
    return {
        "last_caches": pa.Table.from_pylist(last, schema=LAST_CACHES_SCHEMA),
        "distinct_caches": pa.Table.from_pylist(distinct, schema=DISTINCT_CACHES_SCHEMA),
    }
