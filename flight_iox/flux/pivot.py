"""``pivot``: values of ``columnKey`` become columns, rows keyed by ``rowKey``.

The new columns' names are data (usually the ``_field`` values), so the distinct
column-key values are read first with one small query per lane; the pivot itself is one
``GROUP BY`` over the lanes brought together (each lane's ``valueColumn`` in a column of
its own, since a float and an integer field can now sit side by side in one table).
"""

from __future__ import annotations

from flight_iox.flux.interpreter import Call
from flight_iox.flux.plan import Lane, Stream, q
from flight_iox.flux.rowexpr import value_sql

MAX_PIVOT_COLUMNS = 10_000


def pivot(call: Call) -> Stream:
    row_key = call.text_list("rowKey")
    column_key = call.text_list("columnKey")
    value_column = str(call.required("valueColumn", (str,)))
    stream = call.stream()
    lanes = [lane for lane in call.lanes() if all(c in lane.columns for c in column_key)]
    if not lanes:
        return stream.with_lanes(())
    new_columns: dict[str, tuple[int, tuple[object, ...]]] = {}
    for i, lane in enumerate(lanes):
        keys = ", ".join(q(c) for c in column_key)
        found = call.interp.run_sql(stream.database, lane.select([f"DISTINCT {keys}"]))
        for values in zip(*(found.column(c).to_pylist() for c in column_key), strict=True):
            name = "_".join("" if v is None else str(v) for v in values)
            new_columns.setdefault(name, (i, values))
        if len(new_columns) > MAX_PIVOT_COLUMNS:
            raise call.fail(f"more than {MAX_PIVOT_COLUMNS} pivoted columns")
    kept: list[str] = []
    key: list[str] = []
    for lane in lanes:
        for c in lane.columns:
            wanted = (c in lane.key or c in row_key) and c not in column_key and c != value_column
            if wanted and c not in kept:
                kept.append(c)
            if c in lane.key and c not in column_key and c not in key:
                key.append(c)
    carried = [*kept, *column_key]
    parts = []
    for i, lane in enumerate(lanes):
        items = [q(c) if c in lane.columns else f"NULL AS {q(c)}" for c in carried]
        items += [f"{q(value_column) if j == i else 'NULL'} AS __v{j}" for j in range(len(lanes))]
        parts.append(lane.select(items))
    union = " UNION ALL ".join(f"({p})" for p in parts)
    pivoted = []
    for name, (i, values) in sorted(new_columns.items()):
        match = " AND ".join(
            f"{q(c)} IS NULL" if v is None else f"{q(c)} = {value_sql(v, call.node.pos)}"
            for c, v in zip(column_key, values, strict=True)
        )
        pivoted.append(f"max(CASE WHEN {match} THEN __v{i} END) AS {q(name)}")
    group_by = ", ".join(q(c) for c in kept)
    sql = f"SELECT {', '.join([*(q(c) for c in kept), *pivoted])} FROM ({union}) AS u"
    if group_by:
        sql += f" GROUP BY {group_by}"
    columns = (*kept, *sorted(new_columns))
    order = tuple((c, False) for c in row_key if c in kept)
    return stream.with_lanes([Lane(sql, columns, tuple(key), order, lanes[0].bounds)])
