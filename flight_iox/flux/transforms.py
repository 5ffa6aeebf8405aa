"""Sources and row/column transformations: ``from``, ``range``, ``filter``, ``map``, ``keep``...

Each takes the piped stream and returns a new one whose lanes wrap the old SQL; the
group key and row order are carried beside the SQL (see ``plan.Lane``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flight_iox.flux import ast
from flight_iox.flux.interpreter import Call
from flight_iox.flux.plan import Filter, Lane, Pending, Stream, q, time_sql
from flight_iox.flux.rowexpr import Evaluate, RowCompiler
from flight_iox.flux.values import Duration, Lambda, Time, shift
from flight_iox.names import database_of_bucket


def bucket_database(bucket: str) -> str:
    """The database a bucket names: ``db/rp`` is ``db`` (the v1 DBRP mapping, in ``names``)."""
    return database_of_bucket(bucket)


def from_(call: Call) -> Stream:
    bucket = call.get("bucket", None, (str,))
    if call.get("bucketID") is not None or call.get("host") is not None:
        raise call.fail("only 'bucket' is supported (bucketID, host, org and token are not)")
    if not bucket:
        raise call.fail("missing required argument 'bucket'")
    database = bucket_database(str(bucket))
    call.interp.table_schemas(database)  # refuse (403/404) at the call, before anything runs
    return Stream(database, Pending(database, str(bucket)))


def point(call: Call, name: str, default: object) -> int:
    """A ``range`` bound: a time, a duration from now, or Unix seconds."""
    value = call.get(name, default)
    if isinstance(value, Time):
        return value.nanos
    if isinstance(value, Duration):
        return shift(call.interp.now, value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value * 1_000_000_000
    raise call.fail(f"argument {name!r} must be a time, a duration or an integer")


def range_(call: Call) -> Stream:
    start = point(call, "start", None if "start" in call.args else Time(0))
    if "start" not in call.args:
        raise call.fail("missing required argument 'start'")
    stop = point(call, "stop", Time(call.interp.now))
    stream = call.stream()
    if stream.pending is not None:
        pending = stream.pending
        lo = start if pending.start is None else max(start, pending.start)
        hi = stop if pending.stop is None else min(stop, pending.stop)
        return Stream(
            stream.database, Pending(pending.database, pending.bucket, lo, hi, pending.filters)
        )
    lanes = []
    for lane in call.lanes():
        where = f"WHERE {q('_time')} >= {time_sql(start)} AND {q('_time')} < {time_sql(stop)}"
        items = [
            time_sql(start) + f" AS {q(c)}" if c == "_start" else
            time_sql(stop) + f" AS {q(c)}" if c == "_stop" else q(c)
            for c in lane.columns
        ]  # fmt: skip
        lanes.append(lane.with_(sql=lane.select(items, where), bounds=(start, stop)))
    return stream.with_lanes(lanes)


def filter_(call: Call) -> Stream:
    fn = call.required("fn", (Lambda,))
    assert isinstance(fn, Lambda)
    on_empty = call.get("onEmpty", "drop", (str,))
    if on_empty != "drop":
        raise call.fail('only onEmpty: "drop" is supported')
    evaluate = call.interp.eval
    stream = call.stream()
    if stream.pending is not None:
        pending = stream.pending
        filters = (*pending.filters, predicate_filter(fn, evaluate))
        return Stream(
            stream.database,
            Pending(pending.database, pending.bucket, pending.start, pending.stop, filters),
        )
    lanes = []
    for lane in call.lanes():
        predicate = RowCompiler(fn, lane.columns, evaluate).compile(fn.node.body)
        lanes.append(lane.with_(sql=lane.select(["*"], f"WHERE {predicate}")))
    return stream.with_lanes(lanes)


def predicate_filter(fn: Lambda, evaluate: Evaluate) -> Filter:
    """A ``filter`` function as a pending ``from``'s filter (SQL and static pruning)."""

    def sql(columns: Mapping[str, str]) -> str:
        return RowCompiler(fn, columns, evaluate).compile(fn.node.body)

    def may_hold(measurement: str, field: str) -> bool:
        known = {"_measurement": measurement, "_field": field}
        return RowCompiler(fn, (), evaluate).may_hold(known)

    return Filter(sql, may_hold)


def _project(lane: Lane, columns: Sequence[str], renames: dict[str, str] | None = None) -> Lane:
    renames = renames or {}
    items = [q(c) + (f" AS {q(renames[c])}" if c in renames else "") for c in columns]
    new = tuple(renames.get(c, c) for c in columns)
    key = tuple(renames.get(k, k) for k in lane.key if k in columns)
    order = tuple((renames.get(c, c), d) for c, d in lane.order if c in columns)
    return Lane(lane.select(items), new, key, order, lane.bounds)


def keep(call: Call) -> Stream:
    wanted = _columns_or_fn(call)
    return call.stream().with_lanes(
        _project(lane, [c for c in lane.columns if wanted(c)]) for lane in call.lanes()
    )


def drop(call: Call) -> Stream:
    unwanted = _columns_or_fn(call)
    return call.stream().with_lanes(
        _project(lane, [c for c in lane.columns if not unwanted(c)]) for lane in call.lanes()
    )


def _columns_or_fn(call: Call):  # type: ignore[no-untyped-def]
    """``columns: [...]`` or ``fn: (column) => bool`` as a test of a column name."""
    fn = call.get("fn", None, (Lambda,))
    if isinstance(fn, Lambda):
        name = fn.param_names[0] if fn.param_names else "column"
        return lambda column: call.interp.apply(fn, {name: column}, None, call.node.pos) is True
    names = set(call.text_list("columns"))
    return lambda column: column in names


def rename(call: Call) -> Stream:
    mapping = call.get("columns", None, (dict,))
    fn = call.get("fn", None, (Lambda,))
    lanes = []
    for lane in call.lanes():
        if isinstance(fn, Lambda):
            name = fn.param_names[0] if fn.param_names else "column"
            renames = {
                c: str(call.interp.apply(fn, {name: c}, None, call.node.pos)) for c in lane.columns
            }
        elif isinstance(mapping, dict):
            renames = {str(k): str(v) for k, v in mapping.items() if k in lane.columns}
        else:
            raise call.fail("needs 'columns' (a record of old: \"new\") or 'fn'")
        lanes.append(_project(lane, lane.columns, renames))
    return call.stream().with_lanes(lanes)


def group(call: Call) -> Stream:
    columns = call.text_list("columns", [])
    mode = call.get("mode", "by", (str,))
    if mode not in ("by", "except"):
        raise call.fail('mode must be "by" or "except"')
    lanes = []
    for lane in call.lanes():
        if mode == "by":
            key = tuple(c for c in lane.columns if c in columns)
        else:
            key = tuple(c for c in lane.columns if c not in columns)
        # Flux concatenates the tables it merges: the old tables stay in their order.
        order = tuple((k, False) for k in lane.key) + lane.order
        lanes.append(lane.with_(key=key, order=order))
    return call.stream().with_lanes(lanes)


def sort(call: Call) -> Stream:
    columns = call.text_list("columns", ["_value"])
    desc = call.get("desc", False, (bool,))
    return call.stream().with_lanes(
        lane.with_(order=tuple((c, bool(desc)) for c in columns if c in lane.columns))
        for lane in call.lanes()
    )


def limit(call: Call) -> Stream:
    n = call.required("n", (int,))
    offset = call.get("offset", 0, (int,))
    assert isinstance(n, int) and isinstance(offset, int)
    lanes = []
    for lane in call.lanes():
        numbered = lane.select(
            [*lane.projection(), f"row_number() OVER {lane.partitioned()} AS __rn"]
        )
        sql = f"SELECT * FROM ({numbered}) AS n WHERE __rn > {offset} AND __rn <= {offset + n}"
        lanes.append(lane.with_(sql=sql, order=((("__rn", False),))))
    return call.stream().with_lanes(lanes)


def yield_(call: Call) -> Stream:
    name = call.get("name", "_result", (str,))
    stream = call.stream()
    call.interp.results.append((str(name), stream))
    return stream


def map_(call: Call) -> Stream:
    fn = call.required("fn", (Lambda,))
    assert isinstance(fn, Lambda)
    body = fn.node.body
    if not isinstance(body, ast.RecordExpr):
        raise call.fail("fn must return a record: (r) => ({r with _value: ...})")
    lanes = []
    for lane in call.lanes():
        compiler = RowCompiler(fn, lane.columns, call.interp.eval)
        if body.with_ is not None:
            if not (isinstance(body.with_, ast.Ident) and body.with_.name == compiler.row):
                raise call.fail("only {r with ...} of the row parameter is supported")
            columns = list(lane.columns) + [k for k, _ in body.props if k not in lane.columns]
        else:
            columns = [k for k, _ in body.props]
        exprs = dict(body.props)
        items = [f"{compiler.compile(exprs[c])} AS {q(c)}" if c in exprs else q(c) for c in columns]
        key = tuple(k for k in lane.key if k in columns)
        order = tuple((c, d) for c, d in lane.order if c in columns and c not in exprs)
        lanes.append(Lane(lane.select(items), tuple(columns), key, order, lane.bounds))
    return call.stream().with_lanes(lanes)
