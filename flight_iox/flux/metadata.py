"""``buckets()``, ``v1.databases()`` and the ``schema``/``v1`` packages' schema listings.

Buckets are the databases the caller may read (``db/rp`` names map back to ``db``).
``measurements``, ``tagValues`` and ``fieldKeys`` read the data in their range (default
the last 30 days, as Flux's) through the same unpivoted plan as ``from``, so a
predicate over tags works; ``tagKeys`` lists the tag keys of the measurements the
predicate's ``_measurement``/``_field`` tests admit, from the schema.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

from flight_iox.columns import ColumnRole, role_of
from flight_iox.flux.interpreter import Call
from flight_iox.flux.plan import Filter, Lane, Pending, Stream, materialise, q, values_lane
from flight_iox.flux.transforms import bucket_database, point, predicate_filter
from flight_iox.flux.values import Builtin, Duration, Lambda
from flight_iox.sql_quote import quote_string

ORG_NAME = "flight-iox"
THIRTY_DAYS = Duration(30 * 86_400_000_000_000)
RetentionOf = Callable[[str], "int | None"]


def stable_id(name: str) -> str:
    """A 16-hex-digit id for a name, stable across restarts (InfluxDB 2's ids are 16 hex)."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


ORG_ID = "0000000000000001"  # the one organization, as /api/v2/orgs answers it (http/v2_buckets.py)


def buckets(call: Call) -> Stream:
    names = call.interp.backend.database_names()
    retention = call.interp.retention
    rows = [[n, stable_id(n), ORG_ID, "autogen", retention(n) or 0] for n in names]
    columns = ["name", "id", "organizationID", "retentionPolicy", "retentionPeriod"]
    types = ["VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "BIGINT"]
    return Stream("", None, (values_lane(columns, rows, types),))


def databases(call: Call) -> Stream:
    names = call.interp.backend.database_names()
    retention = call.interp.retention
    rows = [[ORG_ID, n, "autogen", retention(n) or 0, True, stable_id(n)] for n in names]
    columns = [
        "organizationID",
        "databaseName",
        "retentionPolicy",
        "retentionPeriod",
        "default",
        "bucketId",
    ]
    types = ["VARCHAR", "VARCHAR", "VARCHAR", "BIGINT", "BOOLEAN", "VARCHAR"]
    return Stream("", None, (values_lane(columns, rows, types),))


def _filters(call: Call) -> tuple[Filter, ...]:
    out = []
    predicate = call.get("predicate", None, (Lambda,))
    if isinstance(predicate, Lambda):
        out.append(predicate_filter(predicate, call.interp.eval))
    measurement = call.get("measurement", None, (str,))
    if isinstance(measurement, str):
        out.append(_measurement_filter(measurement))
    return tuple(out)


def _measurement_filter(measurement: str) -> Filter:
    """``r._measurement == measurement`` (the ``measurement*`` functions' argument)."""

    def sql(columns: Mapping[str, str]) -> str:
        return f"{columns['_measurement']} = {quote_string(measurement)}"

    def may_hold(table: str, field: str) -> bool:
        return table == measurement

    return Filter(sql, may_hold)


def _pending(call: Call) -> Pending:
    bucket = str(call.required("bucket", (str,)))
    database = bucket_database(bucket)
    start = point(call, "start", THIRTY_DAYS if "start" not in call.args else None)
    if "start" not in call.args:
        start = call.interp.now - THIRTY_DAYS.nanos
    stop = point(call, "stop", None) if "stop" in call.args else call.interp.now
    return Pending(database, bucket, start, stop, _filters(call))


def _distinct_values(call: Call, tag: str) -> Stream:
    pending = _pending(call)
    lanes = materialise(pending, call.interp.table_schemas(pending.database))
    parts = [
        lane.select([f"CAST({q(tag)} AS VARCHAR) AS {q('_value')}"], f"WHERE {q(tag)} IS NOT NULL")
        for lane in lanes
        if tag in lane.columns
    ]
    if not parts:
        return Stream(pending.database, None, (values_lane(["_value"], [], ["VARCHAR"]),))
    union = " UNION ALL ".join(f"({p})" for p in parts)
    sql = f"SELECT DISTINCT {q('_value')} FROM ({union}) AS u"
    return Stream(pending.database, None, (Lane(sql, ("_value",), (), (("_value", False),)),))


def tag_values(call: Call) -> Stream:
    return _distinct_values(call, str(call.required("tag", (str,))))


def measurements(call: Call) -> Stream:
    return _distinct_values(call, "_measurement")


def field_keys(call: Call) -> Stream:
    return _distinct_values(call, "_field")


def tag_keys(call: Call) -> Stream:
    pending = _pending(call)
    schemas = call.interp.table_schemas(pending.database)
    keys = {"_start", "_stop", "_field", "_measurement"}
    for table, schema in schemas.items():
        fields = [f.name for f in schema if role_of(f) is ColumnRole.FIELD]
        if any(all(flt.may_hold(table, f) for flt in pending.filters) for f in fields):
            keys.update(f.name for f in schema if role_of(f) is ColumnRole.TAG)
    lane = values_lane(["_value"], [[k] for k in sorted(keys)], ["VARCHAR"])
    return Stream(pending.database, None, (lane.with_(order=(("_value", False),)),))


SCHEMA_FUNCTIONS: dict[str, Callable[[Call], Stream]] = {
    "measurements": measurements,
    "tagKeys": tag_keys,
    "tagValues": tag_values,
    "fieldKeys": field_keys,
    "measurementTagKeys": tag_keys,
    "measurementTagValues": tag_values,
    "measurementFieldKeys": field_keys,
}


def package(extra: dict[str, Callable[[Call], Stream]] | None = None) -> dict[str, object]:
    """The ``schema`` (or ``v1``) package: its functions as builtins."""
    functions = {**SCHEMA_FUNCTIONS, **(extra or {})}
    return {name: Builtin(name, impl) for name, impl in functions.items()}
