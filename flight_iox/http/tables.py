"""``/api/v3/configure/table``: create and drop a table, read and change its partitioning.

- ``POST`` takes InfluxDB 3's ``{"db", "table", "tags": [...], "fields": [{"name", "type"}]}``
  (types ``utf8``, ``int64``, ``uint64``, ``float64``, ``bool``), optionally with IOx's
  ``"partition_template": {"time": "hour", "tags": [...], "buckets": {"tag": N}}``
  (``iox_catalog.partition_template``; without it the database's default applies), and
  answers 201 with the table's schema in the same shape plus its ``partition_by``. It
  needs ``create`` on the database (as SQL ``CREATE TABLE``, which runs the same
  ``persist/ddl.py`` code).
- ``DELETE`` takes ``{"db", "table"}`` (body or query string) and drops the table with
  ``Deleter.drop_table``; it needs ``delete`` on the database, as SQL ``DROP TABLE``.
- ``GET ?db=&table=`` and ``PUT {"db", "table", "partition_by": [...]}`` read and set the
  partitioning (docs/persistence.md); admin only, since the spec decides the layout of
  every file the table will have. Files already written keep their partitioning.

Bad fields are 400s naming the field, an unknown database or table 404, a taken name 409.
"""

from __future__ import annotations

from functools import partial

import pyarrow as pa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flight_iox.auth.policy import Authorizer
from flight_iox.auth.tokens import Action
from flight_iox.columns import TAG_TYPE, TIME_COLUMN, TIME_TYPE, ColumnRole, FieldType, role_of
from flight_iox.engine.catalog import Column
from flight_iox.errors import BadRequestError
from flight_iox.http.params import principal_of, request_params, text_param
from flight_iox.http.partition_template import requested_partition_by
from flight_iox.http.services import services_of
from flight_iox.persist.ddl import create_table_with_columns
from flight_iox.persist.partition_by import partition_by, set_partition_by

# InfluxDB 3's names of the field types (``influxdb3 create table --fields name:type``).
FIELD_TYPES = {
    "utf8": FieldType.STRING,
    "int64": FieldType.INTEGER,
    "uint64": FieldType.UNSIGNED,
    "float64": FieldType.FLOAT,
    "bool": FieldType.BOOLEAN,
}
_TYPE_NAMES = {kind: name for name, kind in FIELD_TYPES.items()}


def _field(index: int, item: object) -> tuple[str, Column]:
    """One ``{"name", "type"}`` of ``fields``, as a catalog column."""
    where = f"fields[{index}]"
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise BadRequestError(f"'{where}' must be an object with a 'name' and a 'type'")
    type_name = item.get("type")
    kind = FIELD_TYPES.get(type_name) if isinstance(type_name, str) else None
    if kind is None:
        raise BadRequestError(
            f"'{where}.type' is {type_name!r}: expected one of {', '.join(FIELD_TYPES)}"
        )
    return item["name"], Column(ColumnRole.FIELD, kind.arrow_type)


def requested_columns(params: dict[str, object]) -> dict[str, Column]:
    """The columns a POST body asks for: time, then the tags, then the fields."""
    tags = params.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise BadRequestError("'tags' must be a list of column names")
    fields = params.get("fields", [])
    if not isinstance(fields, list):
        raise BadRequestError('\'fields\' must be a list of {"name", "type"} objects')
    named = [(tag, Column(ColumnRole.TAG, TAG_TYPE)) for tag in tags]
    named += [_field(index, item) for index, item in enumerate(fields)]
    columns = {TIME_COLUMN: Column(ColumnRole.TIME, TIME_TYPE)}
    for name, column in named:
        if name in columns:
            raise BadRequestError(f"column {name!r} is named twice (or is 'time') in tags/fields")
        columns[name] = column
    return columns


def shown_schema(database: str, table: str, schema: pa.Schema) -> dict[str, object]:
    """A table's schema in the POST body's shape."""
    tags = [f.name for f in schema if role_of(f) is ColumnRole.TAG]
    fields = [
        {"name": f.name, "type": _TYPE_NAMES[kind]}
        for f in schema
        if role_of(f) is ColumnRole.FIELD and (kind := FieldType.of_arrow(f.type)) is not None
    ]
    return {"db": database, "table": table, "tags": tags, "fields": fields}


async def configure_table(request: Request) -> Response:
    """Create (POST), drop (DELETE), or read (GET) and set (PUT) the partitioning of a table."""
    params = await request_params(request)
    database, table = text_param(params, "db"), text_param(params, "table")
    if not database or not table:
        raise BadRequestError("missing parameter 'db' or 'table'")
    services = services_of(request)
    principal = principal_of(request)
    if request.method == "POST":
        Authorizer.require(principal, Action.CREATE, database)  # before reading the body
        services.deleter.check_writable()  # a read-only replica names its leader
        columns = requested_columns(params)
        template = requested_partition_by(params)
        tables = services.deleter.tables
        await run_in_threadpool(
            partial(create_table_with_columns, principal=principal, partition_by=template),
            tables, database, table, columns,
        )  # fmt: skip
        schema = services.engine.existing_table_schema(database, table)
        shown = shown_schema(database, table, schema)
        shown["partition_by"] = await run_in_threadpool(
            partition_by, services.persister, database, table
        )
        return JSONResponse(shown, status_code=201)
    if request.method == "DELETE":
        Authorizer.require(principal, Action.DELETE, database)
        await run_in_threadpool(services.deleter.drop_table, database, table)
        return JSONResponse({"db": database, "table": table, "deleted": True})
    Authorizer.require_admin(principal)
    persister = services.persister
    if request.method == "GET":
        fields = await run_in_threadpool(partition_by, persister, database, table)
    else:
        wanted = params.get("partition_by")
        if not isinstance(wanted, list) or not all(isinstance(f, str) for f in wanted):
            raise BadRequestError(
                '\'partition_by\' must be a list of strings, like ["day(time)", "host"]'
            )
        fields = await run_in_threadpool(set_partition_by, persister, database, table, wanted)
    return JSONResponse({"db": database, "table": table, "partition_by": fields})
