"""SQL statements: ad-hoc queries and stateless prepared statements.

Every handle and ticket is a ``StatementHandle`` (see ``handles.py``), so a
statement can be planned on one node and fetched from another:

- GetFlightInfo(CommandStatementQuery) plans the query and returns one
  endpoint whose ticket is a TicketStatementQuery holding the handle.
- DoAction(CreatePreparedStatement) returns the handle, the result schema and,
  when the SQL has placeholders, a parameter schema.
- DoPut(CommandPreparedStatementQuery) binds parameters and answers with a
  DoPutPreparedStatementResult carrying a new handle that holds them. Only the
  first row of the parameter batches is used: a query runs once.
- GetFlightInfo(CommandPreparedStatementQuery) works like a statement query.
- DoAction(ClosePreparedStatement) has nothing to free.

Statements that change data (``sql_text.is_query`` is false) are prepared
without a ``dataset_schema`` (JDBC reads an empty one as "this is an update")
and, when a client runs them as queries, run in GetFlightInfo and answer
``{"count": n}``; see ``updates.py``. Handles carry no permission: every call plans
and runs them in the calling principal's scoped backend (``Call.backend``).

The schema GetFlightInfo announces is the plan with the bound parameters
(``SELECT ? = 1`` bound is NOT NULL, unbound nullable), and the ticket carries
it: DoGet conforms the stream to it, because the Go ADBC driver rejects a
stream whose schema differs in any way, nullability included.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any as AnyType

import pyarrow as pa
import pyarrow.flight as flight

from flight_iox.errors import BadRequestError, NotSupportedError
from flight_iox.flightsql.commands import (
    ActionHandler,
    Call,
    CommandHandler,
    FlightInfoResult,
    pack,
    unpack,
    unpack_any,
)
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.flightsql.handles import PerSchema, StatementHandle, first_row
from flight_iox.flightsql.schemas import serialize_schema
from flight_iox.flightsql.updates import UPDATE_RESULT, execute_update, update_result_reader
from flight_iox.query.sql_text import is_query

_ANNOUNCED: PerSchema[tuple[bytes, bytes]] = PerSchema()  # GetFlightInfo: handle, ticket
_PREPARED: PerSchema[bytes] = PerSchema()  # CreatePreparedStatement's result


def _no_transaction(message: AnyType) -> None:
    if message.HasField("transaction_id"):
        raise NotSupportedError("transactions are not supported by flight-iox")


def _statement_info(call: Call, handle: StatementHandle) -> FlightInfoResult:
    if not is_query(handle.sql):
        return _update_info(call, handle)
    params = handle.param_values()
    schema = call.backend.query_schema(handle.database, handle.sql, params)
    encoded, ticket = _announced(handle, schema)
    if call.prefetch is not None and not call.schema_only:  # run it while the client turns round
        backend = call.backend

        def run() -> pa.RecordBatchReader:
            return backend.execute(handle.database, handle.sql, params)

        if backend.reads_no_data(handle.sql):  # one step: cheaper here than on a worker
            call.prefetch.run_here(call.principal, encoded, run)
        else:
            call.prefetch.start(call.principal, encoded, run)
    return FlightInfoResult(schema, ticket)


def _announced(handle: StatementHandle, schema: pa.Schema) -> tuple[bytes, bytes]:
    """The handle carrying ``schema``, encoded, and the ticket holding it (kept for a
    statement without parameters: ``PerSchema``)."""
    key = (handle.database, handle.sql)
    kept = None if handle.params is not None else _ANNOUNCED.get(key, schema)
    if kept is not None:
        return kept
    encoded = handle.with_schema(schema).encode()
    made = encoded, pack(pb.TicketStatementQuery(statement_handle=encoded))
    if handle.params is None:
        _ANNOUNCED.put(key, schema, made)
    return made


def _update_info(call: Call, handle: StatementHandle) -> FlightInfoResult:
    """An update sent as a query runs now, so ``execute`` alone applies it (DB-API semantics).

    Its ticket is the DoPutUpdateResult, which DoGet streams as one row ``count``.
    """
    if call.schema_only:
        return FlightInfoResult(UPDATE_RESULT, b"")
    params = None if handle.params is None else pa.Table.from_batches([handle.params])
    count = execute_update(call, handle.database, handle.sql, params)
    return FlightInfoResult(UPDATE_RESULT, pack(pb.DoPutUpdateResult(record_count=count)))


def update_ticket(call: Call, ticket: AnyType) -> pa.RecordBatchReader:
    """The result of an update that already ran in GetFlightInfo."""
    return update_result_reader(ticket.record_count)


def statement_query_info(call: Call, command: AnyType) -> FlightInfoResult:
    """Plan an ad-hoc query; its ticket carries the query itself."""
    _no_transaction(command)
    return _statement_info(call, StatementHandle(call.database, command.query))


def prepared_query_info(call: Call, command: AnyType) -> FlightInfoResult:
    """Plan a prepared statement (with whatever parameters its handle holds)."""
    handle = StatementHandle.decode(command.prepared_statement_handle)
    return _statement_info(call, handle)


def execute_ticket(call: Call, ticket: AnyType) -> pa.RecordBatchReader:
    """Run the statement a TicketStatementQuery holds."""
    handle = StatementHandle.decode(ticket.statement_handle)
    reader = None
    if call.prefetch is not None:  # started by GetFlightInfo for this caller and this ticket
        reader = call.prefetch.claim(call.principal, ticket.statement_handle)
    if reader is None:
        reader = call.backend.execute(handle.database, handle.sql, handle.param_values())
    return reader if handle.schema is None else conformed(reader, handle.schema)


def conformed(reader: pa.RecordBatchReader, schema: pa.Schema) -> pa.RecordBatchReader:
    """``reader`` streaming exactly ``schema``, the one GetFlightInfo announced.

    Equal types are relabelled (nullability, metadata); other types are cast.
    A stream with other column names (the table changed between the two calls)
    is left as it is: no cast can make it the announced one.
    """
    actual = reader.schema
    if actual.equals(schema, check_metadata=True) or actual.names != schema.names:
        return reader
    same_types = all(a.type == b.type for a, b in zip(actual, schema, strict=True))

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            if same_types:
                yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)
            else:
                yield batch.cast(schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def parameter_schema(count: int) -> pa.Schema:
    """A schema of ``count`` untyped (null-typed) parameters ``$1..$n``.

    The engine learns parameter types from the bound values, so the spec's
    suggested NA type stands for "any type" here.
    """
    return pa.schema([pa.field(f"${i}", pa.null()) for i in range(1, count + 1)])


def create_prepared_statement(call: Call, body: bytes) -> Iterable[bytes]:
    """Plan the SQL and return the handle with its result and parameter schemas."""
    request = unpack(unpack_any(body), pb.ActionCreatePreparedStatementRequest)
    _no_transaction(request)
    handle = StatementHandle(call.database, request.query)
    schema = None
    if is_query(handle.sql):  # planned in the caller's scope every time: who may is decided
        schema = call.backend.query_schema(handle.database, handle.sql)
    key = (handle.database, handle.sql)
    answer = _PREPARED.get(key, schema)
    if answer is None:
        result = pb.ActionCreatePreparedStatementResult(prepared_statement_handle=handle.encode())
        if schema is not None:
            result.dataset_schema = serialize_schema(schema)
        count = call.backend.parameter_count(handle.sql)
        if count > 0:
            result.parameter_schema = serialize_schema(parameter_schema(count))
        answer = pack(result)
        _PREPARED.put(key, schema, answer)
    return [answer]


def close_prepared_statement(call: Call, body: bytes) -> Iterable[bytes]:
    """Nothing to release: the handle is the whole statement."""
    request = unpack(unpack_any(body), pb.ActionClosePreparedStatementRequest)
    StatementHandle.decode(request.prepared_statement_handle)
    return []


def _first_parameter_row(reader: flight.MetadataRecordBatchReader) -> pa.RecordBatch | None:
    row = None
    for chunk in reader:
        if row is None and chunk.data is not None and chunk.data.num_rows > 0:
            row = first_row(chunk.data)
    return row


def bind_parameters(
    call: Call, command: AnyType, reader: flight.MetadataRecordBatchReader
) -> bytes | None:
    """Bind the first row the client sends; answer with a handle that holds it."""
    handle = StatementHandle.decode(command.prepared_statement_handle)
    row = _first_parameter_row(reader)
    if row is not None:
        expected = call.backend.parameter_count(handle.sql)
        if row.num_columns != expected:
            raise BadRequestError(
                f"statement has {expected} parameter(s) but {row.num_columns} were bound"
            )
    bound = StatementHandle(handle.database, handle.sql, row)
    return pb.DoPutPreparedStatementResult(
        prepared_statement_handle=bound.encode()
    ).SerializeToString()


COMMANDS = [
    CommandHandler(pb.CommandStatementQuery, flight_info=statement_query_info),
    CommandHandler(
        pb.CommandPreparedStatementQuery, flight_info=prepared_query_info, do_put=bind_parameters
    ),
    CommandHandler(pb.TicketStatementQuery, do_get=execute_ticket),
    CommandHandler(pb.DoPutUpdateResult, do_get=update_ticket),
]


def cancel_query(call: Call, body: bytes) -> Iterable[bytes]:
    """The deprecated CancelQuery: as CancelFlightInfo, stops the caller's running DoGets."""
    request = unpack(unpack_any(body), pb.ActionCancelQueryRequest)
    kinds = pb.ActionCancelQueryResult
    running = call.cancel_streams(request.info)
    status = kinds.CANCEL_RESULT_CANCELLED if running else kinds.CANCEL_RESULT_NOT_CANCELLABLE
    return [pack(pb.ActionCancelQueryResult(result=status))]


ACTIONS: dict[str, ActionHandler] = {
    "CreatePreparedStatement": create_prepared_statement,
    "ClosePreparedStatement": close_prepared_statement,
    "CancelQuery": cancel_query,
}
