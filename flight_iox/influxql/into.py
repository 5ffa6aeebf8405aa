"""``SELECT ... INTO``: the query's series written back through the normal write path."""

from __future__ import annotations

import pyarrow as pa

from flight_iox.auth.tokens import Action
from flight_iox.errors import QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.context import Context
from flight_iox.influxql.result import Series
from flight_iox.influxql.retention import check_policy
from flight_iox.query.dictionaries import decoded

# ``INTO db.rp.:MEASUREMENT``: each series goes into the measurement it was read from.
SOURCE_MEASUREMENT = ":MEASUREMENT"


def series_table(series: Series) -> tuple[pa.Table, list[str]]:
    """A series as an Arrow table with ``time``, its group tags and its values as fields."""
    rows = series.data.num_rows
    columns: dict[str, pa.Array] = {"time": series.data.column(0).cast(pa.timestamp("ns"))}
    for tag, value in series.tags.items():
        if value:
            columns[tag] = pa.array([value] * rows, pa.string())
    for i, name in enumerate(series.columns[1:], start=1):
        column = decoded(series.data.column(i))
        if not pa.types.is_null(column.type) and name not in columns:
            columns[name] = column
    tags = [t for t, v in series.tags.items() if v]
    return pa.table(columns), tags


def into_target(target: ast.Measurement, ctx: Context) -> tuple[str, str]:
    """The INTO database (which may be another than the query's) and measurement.

    Checked for ``write`` here, before the SELECT runs: a caller who may not write there
    gets ``ForbiddenError`` and nothing is read or written.
    """
    database = ctx.resolve(target.database, Action.WRITE)
    if ctx.write is None:
        raise QueryError("SELECT INTO is not available here")
    if target.name is None:
        raise QueryError("SELECT INTO needs a target measurement name")
    if target.name.startswith(":") and target.name != SOURCE_MEASUREMENT:
        raise QueryError(f"invalid INTO target {target.name}: only {SOURCE_MEASUREMENT} is")
    check_policy(ctx, database, target.retention_policy)
    return database, target.name


def write_into(target: tuple[str, str], series: list[Series], ctx: Context) -> list[Series]:
    """Write every series into ``target`` (from ``into_target``); InfluxDB's ``written`` count."""
    assert ctx.write is not None
    database, measurement = target
    written = 0
    for s in series:
        name = s.name if measurement == SOURCE_MEASUREMENT else measurement
        data, tags = series_table(s)
        valued = [n for n in data.column_names if n != "time" and n not in tags]
        if not valued or data.num_rows == 0:
            continue
        written += ctx.write(database, name, data, tags)
    result = pa.table({"c0": pa.array([0]).cast(pa.timestamp("ns")), "c1": pa.array([written])})
    return [Series("result", {}, ["time", "written"], result)]
