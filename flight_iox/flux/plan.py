"""A stream of Flux tables as SQL: lanes, each one relation with a group key and a row order.

Flux sees one table per group key. Here a *lane* is one SQL relation holding every table
of one ``_value`` type (a float field and an integer field cannot share a SQL column), with
the group key columns that split it into tables and the order of rows inside a table.
Transformations wrap a lane's SQL in another SELECT; nothing is read until the result is
written, and then DataFusion runs the whole pipeline (``execute.py`` splits the sorted
rows into tables by the key with Arrow kernels).

``from``, ``range`` and ``filter`` stay *pending* until another transformation needs
rows: then ``materialise`` unpivots each measurement's fields into ``_field``/``_value``
rows (one ``UNION ALL`` branch per field), dropping the fields the filters rule out
before any SQL is planned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import pyarrow as pa

from flight_iox.columns import ColumnRole, FieldType, role_of
from flight_iox.errors import QueryError
from flight_iox.sql_quote import quote_identifier, quote_string

BASE_COLUMNS = ("_start", "_stop", "_time", "_value", "_field", "_measurement")
BASE_KEY = ("_start", "_stop", "_field", "_measurement")
TIME_ORDER = (("_time", False),)


def q(name: str) -> str:
    """A column name for SQL."""
    return quote_identifier(name)


def time_sql(nanos: int) -> str:
    """A timestamp literal (``timestamp[ns]``, no zone, as the ``time`` column)."""
    return f"to_timestamp_nanos({int(nanos)})"


@dataclass(frozen=True)
class Lane:
    """One relation of tables: its SQL, visible columns, group key and in-table row order.

    ``bounds`` is the ``range`` (start, stop) in nanoseconds while every table's
    ``_start``/``_stop`` still equal it (``aggregateWindow(createEmpty: true)`` needs it).
    """

    sql: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    order: tuple[tuple[str, bool], ...] = TIME_ORDER
    bounds: tuple[int, int] | None = None

    def select(self, items: Sequence[str], tail: str = "") -> str:
        """``SELECT items FROM (this lane) AS t tail``."""
        return f"SELECT {', '.join(items)} FROM ({self.sql}) AS t {tail}".rstrip()

    def projection(self, columns: Sequence[str] | None = None) -> list[str]:
        return [q(c) for c in (self.columns if columns is None else columns)]

    def key_sql(self, prefix: str = "") -> list[str]:
        return [prefix + q(k) for k in self.key]

    def order_sql(self) -> list[str]:
        return [
            f"{q(c)} {'DESC NULLS LAST' if desc else 'ASC NULLS FIRST'}" for c, desc in self.order
        ]

    def partitioned(self, order: Sequence[str] | None = None) -> str:
        """A window ``OVER`` clause: per table, in row order."""
        parts = ""
        if self.key:
            parts = "PARTITION BY " + ", ".join(self.key_sql())
        ordering = list(order) if order is not None else self.order_sql()
        return f"({parts} ORDER BY {', '.join(ordering)})" if ordering else f"({parts})"

    def with_(self, **changes: object) -> Lane:
        return replace(self, **changes)  # type: ignore[arg-type]

    def visible_order(self) -> tuple[tuple[str, bool], ...]:
        """The row order restricted to visible columns (after a projection)."""
        return tuple((c, d) for c, d in self.order if c in self.columns)


@dataclass(frozen=True)
class Pending:
    """``from`` with its ``range`` and ``filter`` calls, before any SQL is planned.

    ``filters`` hold, for each ``filter`` call, a function from a branch's known
    ``_measurement``/``_field`` to whether the predicate may hold (False prunes the
    branch) and the predicate's SQL over the unpivoted columns.
    """

    database: str
    bucket: str
    start: int | None = None
    stop: int | None = None
    filters: tuple[Filter, ...] = ()


@dataclass(frozen=True)
class Filter:
    """A row predicate: its SQL (given the columns that exist) and a static test."""

    sql: Callable[[Mapping[str, str]], str]  # column name -> its SQL in one ``from`` branch
    may_hold: Callable[[str, str], bool]


@dataclass(frozen=True)
class Stream:
    """What a Flux expression of type ``stream[A]`` evaluates to (immutable, shareable)."""

    database: str
    pending: Pending | None = None
    lanes: tuple[Lane, ...] = ()

    def with_lanes(self, lanes: Iterable[Lane]) -> Stream:
        return Stream(self.database, None, tuple(lanes))


def materialise(pending: Pending, schemas: dict[str, pa.Schema]) -> tuple[Lane, ...]:
    """The lanes of a bounded ``from``: fields unpivoted into ``_field``/``_value``."""
    if pending.start is None or pending.stop is None:
        raise QueryError(
            f"cannot submit unbounded read to {pending.bucket!r}; "
            "try bounding 'from' with a call to 'range'"
        )
    by_type: dict[FieldType, list[tuple[str, list[str], str]]] = {}
    for table, schema in sorted(schemas.items()):
        tags = sorted(f.name for f in schema if role_of(f) is ColumnRole.TAG)
        for f in schema:
            if role_of(f) is not ColumnRole.FIELD:
                continue
            if not all(flt.may_hold(table, f.name) for flt in pending.filters):
                continue
            kind = FieldType.of_arrow(f.type) or FieldType.STRING
            by_type.setdefault(kind, []).append((table, tags, f.name))
    lanes = []
    for kind in sorted(by_type, key=lambda k: k.value):
        lanes.append(_lane(pending, by_type[kind]))
    return tuple(lanes)


def _lane(pending: Pending, branches: list[tuple[str, list[str], str]]) -> Lane:
    assert pending.start is not None and pending.stop is not None
    all_tags = sorted({t for _, tags, _ in branches for t in tags} - set(BASE_COLUMNS))
    start, stop = time_sql(pending.start), time_sql(pending.stop)
    parts = []
    for table, tags, field in branches:
        # What each column is in this branch: filters are compiled against these, so a tag
        # test reads the table's own (dictionary) column and prunes files by statistics.
        known = {
            "_start": start,
            "_stop": stop,
            "_time": q("time"),
            "_value": q(field),
            "_field": quote_string(field),
            "_measurement": quote_string(table),
            **{t: q(t) for t in tags if t not in BASE_COLUMNS},
        }
        items = [f"{known[c]} AS {q(c)}" for c in BASE_COLUMNS]
        items += [f"CAST({q(t) if t in tags else 'NULL'} AS VARCHAR) AS {q(t)}" for t in all_tags]
        where = [f"{q('time')} >= {start}", f"{q('time')} < {stop}", f"{q(field)} IS NOT NULL"]
        where += [f"({flt.sql(known)})" for flt in pending.filters]
        parts.append(f"SELECT {', '.join(items)} FROM {q(table)} WHERE {' AND '.join(where)}")
    columns = (*BASE_COLUMNS, *all_tags)
    sql = " UNION ALL ".join(parts)
    return Lane(sql, columns, (*BASE_KEY, *all_tags), TIME_ORDER, (pending.start, pending.stop))


def values_lane(
    columns: Sequence[str], rows: Sequence[Sequence[object]], types: Sequence[str]
) -> Lane:
    """A lane of literal rows (``buckets()``, tag keys from the schema), no group key."""
    cols = ", ".join(q(c) for c in columns)
    if not rows:
        nulls = ", ".join(
            f"CAST(NULL AS {t}) AS {q(c)}" for c, t in zip(columns, types, strict=True)
        )
        return Lane(f"SELECT {nulls} WHERE FALSE", tuple(columns), (), ())
    body = ", ".join(
        "(" + ", ".join(_literal(v, t) for v, t in zip(row, types, strict=True)) + ")"
        for row in rows
    )
    return Lane(f"SELECT * FROM (VALUES {body}) AS v({cols})", tuple(columns), (), ())


def _literal(value: object, sql_type: str) -> str:
    if value is None:
        return f"CAST(NULL AS {sql_type})"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"CAST({value} AS {sql_type})"
    return f"CAST({quote_string(str(value))} AS {sql_type})"
