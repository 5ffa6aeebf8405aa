"""Statements that change data or schema: CommandStatementUpdate, CommandPreparedStatementUpdate.

``INSERT INTO t [(cols)] VALUES ...|SELECT ...`` is served here: the query part
runs on the engine (once per parameter row) and its rows go through the
``WriteBackend``, the WAL-durable path line protocol takes. ``VALUES (?, ?, ...)``
with a batch of parameter rows (``executemany``) writes the batch directly.
For an existing table its tags stay its tags; for a new one, string columns
are tags. A missing ``time`` column is filled with the current time, as line
protocol does. Every other statement goes to the engine's optional
``execute_update`` (``backend.UpdateBackend``); without it, UNIMPLEMENTED.

Updates sent through the query path (DB-API and JDBC prepare everything and
may ``execute`` an INSERT) run when their ticket is fetched and answer one
row ``{"count": n}``.

Permissions: INSERT needs ``write`` on the database of the target resolved
here; its ``SELECT``/``VALUES`` runs in the caller's scoped backend, so it reads
only what the caller may read. DELETE, DROP and CREATE TABLE are checked by the
engine where it resolves their target (``persist/deletes.py``, ``persist/ddl.py``).
"""

from __future__ import annotations

import time
from typing import Any as AnyType

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight

from flight_iox.auth.tokens import Action
from flight_iox.columns import TIME_COLUMN
from flight_iox.errors import BadRequestError, NotSupportedError
from flight_iox.flightsql.commands import Call, CommandHandler
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.flightsql.handles import StatementHandle
from flight_iox.flightsql.metadata import USER_SCHEMA
from flight_iox.query.sql_text import Insert, first_keyword, parse_insert

UPDATE_RESULT = pa.schema([pa.field("count", pa.int64(), nullable=False)])


def _target(call: Call, insert: Insert, database: str | None) -> tuple[str, str]:
    parts = insert.target
    if len(parts) == 3:
        database = parts[0]
    if len(parts) >= 2 and parts[-2] != USER_SCHEMA:
        raise BadRequestError(f"tables are written in schema {USER_SCHEMA!r}, not {parts[-2]!r}")
    if database is None:
        raise BadRequestError("no database: send the database header or use db.iox.table")
    return database, parts[-1]


def _rows(params: pa.Table | None) -> list[list[pa.Scalar]]:
    if params is None or params.num_rows == 0:
        return [[]]
    return [[column[i] for column in params.columns] for i in range(params.num_rows)]


def _insert_data(call: Call, database: str, insert: Insert, params: pa.Table | None) -> pa.Table:
    """The rows to insert: the bound parameters, or the query run as the caller.

    Unqualified names in the query resolve in the target's database when the caller may
    read it; a write-only caller's query runs without a default database (VALUES works).
    """
    if insert.values_are_placeholders and params is not None and params.num_rows > 0:
        return params
    source = database if call.may_read(database) else None
    results = [call.backend.execute(source, insert.query, row).read_all() for row in _rows(params)]
    return pa.concat_tables(results) if len(results) > 1 else results[0]


def _with_time(data: pa.Table) -> pa.Table:
    if TIME_COLUMN not in data.column_names:
        now = pa.array([time.time_ns()] * data.num_rows, pa.int64())
        return data.append_column(TIME_COLUMN, now.cast(pa.timestamp("ns")))
    column = data.column(TIME_COLUMN)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        index = data.column_names.index(TIME_COLUMN)
        return data.set_column(index, TIME_COLUMN, pc.cast(column, pa.timestamp("ns", "UTC")))
    return data


def run_insert(
    call: Call, default_database: str | None, insert: Insert, params: pa.Table | None
) -> int:
    """Run an INSERT through the write path; rows written."""
    database, table = _target(call, insert, default_database)
    call.require(Action.WRITE, database)
    existing = call.target_schema(database, table)
    data = _insert_data(call, database, insert, params)
    names = insert.columns
    if names is None:
        if existing is None:
            raise BadRequestError(f"INSERT into new table {table!r} needs a column list")
        names = [name for name in existing.names if name != TIME_COLUMN] + [TIME_COLUMN]
        names = names[: data.num_columns]
    if len(names) != data.num_columns:
        raise BadRequestError(f"INSERT lists {len(names)} columns but gives {data.num_columns}")
    data = _with_time(data.rename_columns(names))
    tags = None
    if existing is not None:
        tags = [f.name for f in existing if pa.types.is_dictionary(f.type) and f.name in names]
    return call.write(database, table, data, tags)


def execute_update(call: Call, database: str | None, sql: str, params: pa.Table | None) -> int:
    """Run any data- or schema-changing statement; rows affected."""
    insert = parse_insert(sql)
    if insert is not None:
        return run_insert(call, database, insert, params)
    update = getattr(call.backend, "execute_update", None)
    if update is None:
        raise NotSupportedError(
            f"{first_keyword(sql).upper() or 'this'} statements are not supported yet; "
            "INSERT INTO ... VALUES/SELECT and ingest are"
        )
    return sum(int(update(database, sql, row)) for row in _rows(params))


def update_result(count: int) -> bytes:
    """The DoPut answer of an update."""
    return pb.DoPutUpdateResult(record_count=count).SerializeToString()


def update_result_reader(count: int) -> pa.RecordBatchReader:
    """An update's answer on the query path: one row, ``count``."""
    batch = pa.record_batch([pa.array([count], pa.int64())], schema=UPDATE_RESULT)
    return pa.RecordBatchReader.from_batches(UPDATE_RESULT, [batch])


def read_parameters(reader: flight.MetadataRecordBatchReader) -> pa.Table | None:
    """Every parameter row the client streams (None when it sends none)."""
    batches = [chunk.data for chunk in reader if chunk.data is not None]
    if not batches or sum(b.num_rows for b in batches) == 0:
        return None
    return pa.Table.from_batches(batches)


def statement_update(
    call: Call, command: AnyType, reader: flight.MetadataRecordBatchReader
) -> bytes:
    """DoPut(CommandStatementUpdate): run the statement once."""
    if command.HasField("transaction_id"):
        raise NotSupportedError("transactions are not supported by flight-iox")
    return update_result(execute_update(call, call.database, command.query, None))


def prepared_update(
    call: Call, command: AnyType, reader: flight.MetadataRecordBatchReader
) -> bytes:
    """DoPut(CommandPreparedStatementUpdate): once per streamed (or bound) parameter row."""
    handle = StatementHandle.decode(command.prepared_statement_handle)
    params = read_parameters(reader)
    if params is None and handle.params is not None:
        params = pa.Table.from_batches([handle.params])
    return update_result(execute_update(call, handle.database, handle.sql, params))


COMMANDS = [
    CommandHandler(pb.CommandStatementUpdate, do_put=statement_update),
    CommandHandler(pb.CommandPreparedStatementUpdate, do_put=prepared_update),
]
