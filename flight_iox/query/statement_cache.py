"""What the query engine remembers of a statement: its result schema and its plan.

Both are keyed by the statement (database, SQL, bound parameters) and the table state
it was planned over, so nothing is ever served for data that changed since.

- **Schemas** are kept least-recently-used: Flight SQL asks for a statement's schema in
  CreatePreparedStatement and again in GetFlightInfo. With each SQL text goes whether its
  plan reads no data (``execution.reads_no_data``): where the Flight layer runs it.
- **Plans** are kept for the ``execute`` that follows (GetFlightInfo plans to learn the
  schema, DoGet runs: handing the plan over saves the second planning) and, for a
  statement whose result depends only on the data, for its repeats, within
  ``PLAN_TTL_SECONDS`` of the last use. SQL that reads the time or random values folds
  them at planning, so its plan runs once (``time_dependent``). A reused plan's physical
  plan is kept with it when running it again is safe (``kept_plans.py``).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence

import pyarrow as pa
from datafusion import DataFrame

from flight_iox.engine.catalog import SchemaCatalog
from flight_iox.query.sql_text import per_text

SCHEMA_CACHE_SIZE = 256
PLAN_CACHE_SIZE = 64
PLAN_TTL_SECONDS = 30.0
# SQL whose plan folds the time of planning or changes without a table change.
_TIME_DEPENDENT = re.compile(
    r"\b(now|today|current_(date|time|timestamp)|localtime|localtimestamp|random|uuid|last_cache|distinct_cache)\b",
    re.IGNORECASE,
)

Key = tuple[Hashable, ...]


_NO_DATA: OrderedDict[str, bool] = OrderedDict()  # by SQL text, least recently used first
_NO_DATA_LOCK = threading.Lock()


def note_reads(sql: str, no_data: bool) -> None:
    """Remember whether the last plan of ``sql`` read no data (``execution.reads_no_data``).

    A text that reads no table does so in every database and at every table state: its
    plan has no source but literal rows, whatever the catalogs hold.
    """
    with _NO_DATA_LOCK:
        _NO_DATA[sql] = no_data
        _NO_DATA.move_to_end(sql)
        while len(_NO_DATA) > SCHEMA_CACHE_SIZE:
            _NO_DATA.popitem(last=False)


def known_no_data(sql: str) -> bool:
    """Whether ``sql`` was planned and read no data (False when unknown): where Flight SQL
    runs it (GetFlightInfo's thread), never who may."""
    with _NO_DATA_LOCK:
        known = _NO_DATA.get(sql)
        if known is not None:
            _NO_DATA.move_to_end(sql)
        return bool(known)


@per_text
def time_dependent(sql: str) -> bool:
    """Whether ``sql`` names a function whose value is fixed when the plan is made."""
    return _TIME_DEPENDENT.search(sql) is not None


def reusable(catalog: SchemaCatalog, database: str | None, sql: str) -> bool:
    """Whether a plan of ``sql`` may run again: nothing in it depends on the time.

    Retention hides rows older than ``now()`` at planning, so no plan over a database
    with a retention period is reused; neither is SQL naming a time or random function.
    """
    if time_dependent(sql):
        return False
    with catalog.lock:
        names = catalog.database_names() if database is None else [database]
        return not any(
            catalog.has_database(name) and catalog.database(name).retention_ns for name in names
        )


def params_key(params: Sequence[object] | Mapping[str, object]) -> Key:
    """Bound parameters as a hashable key: each value's type and value."""
    items = params.items() if isinstance(params, Mapping) else enumerate(params)
    key: list[tuple[Hashable, ...]] = []
    for name, value in items:
        if isinstance(value, pa.Scalar):
            key.append((name, str(value.type), value.is_valid, repr(value.as_py())))
        else:
            key.append((name, type(value).__name__, repr(value)))
    return tuple(key)


class StatementCache:
    """Result schemas and plans of statements, by statement and table state."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._schemas: OrderedDict[Key, pa.Schema] = OrderedDict()
        self._plans: OrderedDict[Key, tuple[float, DataFrame]] = OrderedDict()
        self._probes: OrderedDict[Key, tuple[float, DataFrame]] = OrderedDict()

    def schema(self, key: Key) -> pa.Schema | None:
        """The schema kept for ``key``, if any."""
        with self._lock:
            schema = self._schemas.get(key)
            if schema is not None:
                self._schemas.move_to_end(key)
            return schema

    def keep_schema(self, key: Key, schema: pa.Schema) -> None:
        """Remember a statement's schema (the least recently used leave first)."""
        with self._lock:
            self._schemas[key] = schema
            while len(self._schemas) > SCHEMA_CACHE_SIZE:
                self._schemas.popitem(last=False)

    def keep_plan(self, key: Key, frame: DataFrame) -> None:
        """Remember a plan for the next ``plan(key)``; expired plans leave."""
        with self._lock:
            _keep(self._plans, key, frame)

    def plan(self, key: Key, reusable: bool) -> DataFrame | None:
        """The plan kept for ``key``: kept for the next run too when ``reusable``, else once."""
        with self._lock:
            return _take(self._plans, key, reusable)

    def keep_probe(self, key: Key, frame: DataFrame) -> None:
        """Remember a reusable statement's plan over the stand-ins (``probe_plans.py``), which
        only partial aggregates may answer, never run: planning it again and finding its
        shape took 40-48% of such a repeat's CPU (bench/partial_final.py against the commit
        before: double-groupby-1 3.07 against 1.81 ms)."""
        with self._lock:
            _keep(self._probes, key, frame)

    def probe(self, key: Key) -> DataFrame | None:
        """The plan over the stand-ins kept for ``key``, if any."""
        with self._lock:
            return _take(self._probes, key, True)

    def forget_probe(self, key: Key) -> None:
        """Drop ``key``'s plan over the stand-ins (the partial aggregates declined it)."""
        with self._lock:
            self._probes.pop(key, None)

    def forget_plans(self) -> None:
        """Drop every plan (what they read changed without a table change: system tables)."""
        with self._lock:
            self._plans.clear()
            self._probes.clear()


def _take(
    plans: OrderedDict[Key, tuple[float, DataFrame]], key: Key, again: bool
) -> DataFrame | None:
    """The unexpired plan of ``key`` in ``plans``, left there for the next use when ``again``."""
    kept = plans.pop(key, None)
    if kept is None or kept[0] < time.monotonic() - PLAN_TTL_SECONDS:
        return None
    if again:
        _keep(plans, key, kept[1])
    return kept[1]


def _keep(plans: OrderedDict[Key, tuple[float, DataFrame]], key: Key, frame: DataFrame) -> None:
    """``frame`` as ``key``'s plan in ``plans``; the least recently used and expired leave."""
    now = time.monotonic()
    plans[key] = (now, frame)
    plans.move_to_end(key)
    while plans and (
        len(plans) > PLAN_CACHE_SIZE or next(iter(plans.values()))[0] < now - PLAN_TTL_SECONDS
    ):
        plans.popitem(last=False)
