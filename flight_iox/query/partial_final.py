"""The two aggregates of ``partial_aggs.py``: partial states per source, and the final one.

Both run in DataFusion. The final aggregate over the partials, and the statement's ORDER BY,
OFFSET and LIMIT after it, used to run in pyarrow, whose ``min``/``max`` skip NaN and whose
sort puts NaN last in either direction. DataFusion sorts floats in a total order (NaN above
``inf``, first in ``DESC``), and its ungrouped ``min``/``max`` follow that order too, so
combining in DataFusion makes those rules the plain plan's by construction: min of mins and
max of maxes, sums of sums (integer sums wrap in both), counts added, avg as the sum of
Float64 sums over the sum of counts (what DataFusion's own avg accumulates).

DataFusion 55's *grouped* float ``min``/``max`` do not: they compare with IEEE ``<``, so a
NaN or a ``-0.0`` makes the answer depend on the order rows arrive in (apache/datafusion
#24432: ``max`` of ``[1.0, NaN]`` is NaN, of ``[NaN, 1.0]`` is 1.0; of ``[-0.0, 0.0]`` is
``-0.0``), which no combination of partials can reproduce. So each partial also counts, per
group, the NaN and ``-0.0`` values of such an aggregate (``x<i>``); when any is found the
statement is left to the plain plan, whatever DataFusion answers there. Other values,
infinities included, compare the same in both orders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc
from datafusion import DataFrame, Expr, col, lit
from datafusion import functions as f

from flight_iox.query.partial_plan import Aggregate, PartialShape

# The final step of each partial state.
_FINAL: dict[str, Callable[..., Expr]] = {
    "count": f.sum, "sum": f.sum, "min": f.min, "max": f.max, "avg": f.sum,
}  # fmt: skip
_ZERO, _FLOAT_ZERO, _MINUS_ONE = lit(0), lit(0.0), lit(-1.0)  # made once: lit() imports


def partial_states(frame: DataFrame, shape: PartialShape) -> DataFrame:
    """``frame`` (one source's rows, as the statement's relation) filtered and aggregated
    into partial states: group keys ``g<i>``, states ``s<i>`` (and ``c<i>`` for avg)."""
    for predicate in shape.predicates:
        frame = frame.filter(wrap(predicate))
    groups = [wrap(g).alias(f"g{i}") for i, g in enumerate(shape.groups)]
    return frame.aggregate(groups, _states(shape.aggregates, bool(groups)))


def order_dependent(partials: pa.Table) -> bool:
    """Whether a grouped float min or max saw a NaN or a ``-0.0`` (see the module's doc)."""
    return any(
        (pc.sum(partials.column(name)).as_py() or 0) > 0
        for name in partials.column_names
        if name.startswith("x")
    )


def final_frame(partials: DataFrame, shape: PartialShape) -> DataFrame:
    """The statement's output from ``partials`` (every source's partial states): its
    columns ``o<i>``, ordered and limited as the statement is, except a bare OFFSET
    (``final_offset``)."""
    keys = [col(f"g{i}") for i in range(len(shape.groups))]
    finals: list[Expr] = []
    for i, aggregate in enumerate(shape.aggregates):
        if aggregate.kind == "avg":
            finals += [f.sum(col(f"s{i}")).alias(f"s{i}"), f.sum(col(f"c{i}")).alias(f"c{i}")]
        else:
            finals.append(_FINAL[aggregate.kind](col(f"s{i}")).alias(f"s{i}"))
    frame = partials.aggregate(keys, finals)
    columns = list(keys)
    for i, aggregate in enumerate(shape.aggregates):
        if aggregate.kind == "avg":
            columns.append(col(f"s{i}") / col(f"c{i}").cast(pa.float64()))
        elif aggregate.kind == "count":  # a count of nothing is 0, never NULL
            columns.append(f.coalesce(col(f"s{i}"), _ZERO))
        else:
            columns.append(col(f"s{i}"))
    frame = frame.select(*(columns[index].alias(f"o{n}") for n, index in enumerate(shape.outputs)))
    if shape.order:
        frame = frame.sort(
            *(col(f"o{k.column}").sort(ascending=k.ascending, nulls_first=k.nulls_first)
              for k in shape.order)
        )  # fmt: skip
    if shape.fetch is not None:
        frame = frame.limit(shape.fetch, shape.skip)
    return frame


def merged_states(partials: DataFrame, shape: PartialShape) -> DataFrame:
    """``partials`` (several sources' partial states) combined into the partial states of
    all of them together, in the same columns (``partial_merge.py``)."""
    keys = [col(f"g{i}") for i in range(len(shape.groups))]
    states: list[Expr] = []
    for i, aggregate in enumerate(shape.aggregates):
        states.append(_FINAL[aggregate.kind](col(f"s{i}")).alias(f"s{i}"))
        if aggregate.kind == "avg":
            states.append(f.sum(col(f"c{i}")).alias(f"c{i}"))
        if aggregate.floating and keys:
            states.append(f.sum(col(f"x{i}")).alias(f"x{i}"))
    return partials.aggregate(keys, states)


def like(rows: pa.Table, schema: pa.Schema) -> pa.Table | None:
    """``rows`` in ``schema``'s column order and types (None: a column does not cast back;
    a guard, as DataFusion may widen a state's type when it aggregates it again)."""
    try:
        return rows.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError):
        return None


def final_offset(shape: PartialShape) -> int:
    """Rows ``final_frame``'s output still skips (an OFFSET without a LIMIT)."""
    return shape.skip if shape.fetch is None else 0


def as_output(rows: pa.Table, shape: PartialShape, schema: pa.Schema) -> pa.Table:
    """``final_frame``'s rows as the statement's own output: its names and types."""
    rows = rows.slice(final_offset(shape))
    columns = [rows.column(f"o{i}") for i in range(len(shape.outputs))]
    return pa.Table.from_arrays(
        [c.cast(t) for c, t in zip(columns, schema.types, strict=True)], schema=schema
    )


def plain_keys(table: pa.Table) -> pa.Table:
    """Dictionary columns decoded: partials of different files have different dictionaries."""
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            decoded = table.column(index).cast(field.type.value_type)
            table = table.set_column(index, field.with_type(field.type.value_type), decoded)
    return table


def concat(partials: Sequence[pa.Table]) -> pa.Table:
    """The partials as one table (a column added later is NULL in older files' partials)."""
    return pa.concat_tables(partials, promote_options="permissive")


def wrap(expr: Expr) -> Expr:
    """The bindings hand plan expressions out raw; the DataFrame API takes wrapped ones."""
    return expr if isinstance(expr, Expr) else Expr(expr)


def _states(aggregates: Sequence[Aggregate], grouped: bool) -> list[Expr]:
    states = []
    for i, aggregate in enumerate(aggregates):
        arg = wrap(aggregate.arg)
        if aggregate.kind == "avg":  # DataFusion's avg adds the values as Float64
            states += [f.sum(arg.cast(pa.float64())).alias(f"s{i}"), f.count(arg).alias(f"c{i}")]
        else:
            states.append(wrap(aggregate.expr).alias(f"s{i}"))
        if aggregate.floating and grouped:  # atan2(-0.0, -1) is -pi, atan2(0.0, -1) is pi
            negative_zero = (arg == _FLOAT_ZERO) & (f.atan2(arg, _MINUS_ONE) < _FLOAT_ZERO)
            special = f.isnan(arg) | negative_zero
            states.append(f.sum(special.cast(pa.int64())).alias(f"x{i}"))
    return states
