"""The Flight SQL server: decodes Flight calls and dispatches them to command handlers.

Transport only: which handler serves a command is a registry lookup on the
type URL of the ``google.protobuf.Any`` in the descriptor or ticket; what a
command does lives in its family module (``metadata``, ``keys``, ``xdbc``,
``sql_info``, ``statements``, ``updates``, ``ingest``, ``sessions``,
``tickets``). Every error leaves through ``status.py``.

Authentication happens before any of this, in the call middleware (``headers.py``,
with ``flight_iox.auth.flight``). Every handler gets the backend scoped to the call's
principal (``Call.backend``), so reads, metadata listings, prepared statements, tickets
and updates all go to the engine with the caller; writes take it too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any as AnyType
from typing import ParamSpec, TypeVar

import pyarrow as pa
import pyarrow.flight as flight

from flight_iox.auth.flight import HandshakeAuthHandler
from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.errors import BadRequestError, NotSupportedError
from flight_iox.flightsql import (
    ingest,
    keys,
    metadata,
    sessions,
    sql_info,
    statements,
    tickets,
    updates,
    xdbc,
)
from flight_iox.flightsql.commands import (
    ActionHandler,
    Call,
    CommandHandler,
    FlightInfoResult,
    command_name,
    unpack,
    unpack_any,
)
from flight_iox.flightsql.headers import (
    CALL_MIDDLEWARE,
    CallMiddlewareFactory,
    call_parts,
)
from flight_iox.flightsql.prefetch import Prefetcher
from flight_iox.flightsql.running import RunningGets
from flight_iox.flightsql.status import raise_for_client, translated_batches, translated_messages
from flight_iox.query.backend import ScopingBackend, StreamBackend, WriteBackend
from flight_iox.query.execution import cancellation
from flight_iox.query.query_log import QueryLog

P = ParamSpec("P")
R = TypeVar("R")

COMMAND_HANDLERS: list[CommandHandler] = [
    *metadata.COMMANDS,
    *keys.COMMANDS,
    *xdbc.COMMANDS,
    *sql_info.COMMANDS,
    *statements.COMMANDS,
    *updates.COMMANDS,
    *ingest.COMMANDS,
]

ACTION_HANDLERS: dict[str, ActionHandler] = {**statements.ACTIONS, **sessions.ACTIONS}

_RPC_NAMES = {"flight_info": "GetFlightInfo", "do_get": "DoGet", "do_put": "DoPut"}
# pyarrow's defaults, made once: without options each DoGet's stream reads two environment
# variables (legacy IPC formats) and builds its own.
_WRITE_OPTIONS = pa.ipc.IpcWriteOptions()

ACTION_DESCRIPTIONS: dict[str, str] = {
    "CreatePreparedStatement": "Plan a SQL statement; returns a self-contained handle.",
    "ClosePreparedStatement": "Release a prepared statement (a no-op: handles hold no state).",
    "CancelQuery": "Deprecated CancelFlightInfo: cancels the caller's running DoGets.",
    **sessions.ACTION_DESCRIPTIONS,
}


def _client_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Run a Flight method, sending any error to the client through ``status.py``."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except Exception as error:
            failure = error
        raise_for_client(failure)

    return wrapper


class _ClientErrorsFactory(flight.ServerMiddlewareFactory):
    """A middleware factory whose errors leave through ``status.py``, as the RPCs' do.

    pyarrow sends an exception out of ``start_call`` with its traceback in the message
    and logs nothing; a bug in the auth middleware must be INTERNAL and logged instead.
    """

    def __init__(self, inner: flight.ServerMiddlewareFactory) -> None:
        self._start_call = _client_errors(inner.start_call)  # wrapped once, not per call

    def start_call(
        self, info: flight.CallInfo, headers: dict[str, list[str | bytes]]
    ) -> flight.ServerMiddleware | None:
        """The inner factory's middleware; its error, translated for the client."""
        return self._start_call(info, headers)


class FlightSqlServer(flight.FlightServerBase):
    """Flight SQL and the InfluxDB 3 JSON ticket over one ``pyarrow.flight`` server."""

    def __init__(
        self,
        location: str,
        backend: ScopingBackend,
        *,
        writer: WriteBackend | None = None,
        authorizer: Authorizer | None = None,
        queries: QueryLog | None = None,
        extra_actions: Mapping[str, Callable[[Principal, bytes], Iterable[bytes]]] | None = None,
        streams: StreamBackend | None = None,
        **kwargs: AnyType,
    ) -> None:
        """Serve ``backend`` at ``location`` (e.g. ``grpc://127.0.0.1:8182``).

        ``writer`` takes ingest and INSERT (without it they are UNIMPLEMENTED);
        ``authorizer`` checks tokens (without it every call may do anything);
        ``queries`` logs the DoGets that run queries (``system.queries``);
        ``extra_actions`` are more actions by name, given the caller's principal and the
        body (a cluster node's calls from other nodes: ``flight_iox/cluster/actions.py``).
        ``streams`` serves subscribe tickets (streaming subscriptions; UNIMPLEMENTED without).
        ``kwargs`` go to ``FlightServerBase`` (``tls_certificates``, more middleware).
        """
        middleware = dict(kwargs.pop("middleware", None) or {})
        middleware[CALL_MIDDLEWARE] = CallMiddlewareFactory(authorizer)
        kwargs.setdefault("auth_handler", HandshakeAuthHandler())
        guarded = {key: _ClientErrorsFactory(factory) for key, factory in middleware.items()}
        super().__init__(location, middleware=guarded, **kwargs)
        self.backend = backend
        self.writer = writer
        self.commands: dict[str, CommandHandler] = {h.type_url: h for h in COMMAND_HANDLERS}
        self.actions: dict[str, ActionHandler] = dict(ACTION_HANDLERS)
        for name, extra in (extra_actions or {}).items():
            self.actions[name] = functools.partial(_principal_action, extra)
        self.running = RunningGets()
        self.prefetch = Prefetcher()
        self.queries = queries if queries is not None else QueryLog()
        self.streams = streams

    # -- helpers -----------------------------------------------------------------

    def _call(self, context: flight.ServerCallContext, schema_only: bool = False) -> Call:
        principal, database, session = call_parts(context)
        return Call(
            self.backend.scoped(principal),
            database,
            principal,
            self.writer,
            session,
            schema_only,
            self.running,
            self.prefetch,
        )

    def _command(self, data: bytes, rpc: str) -> tuple[CommandHandler, AnyType]:
        wrapper = unpack_any(data)
        handler = self.commands.get(wrapper.type_url)
        if handler is None or getattr(handler, rpc) is None:
            name = command_name(wrapper.type_url)
            raise NotSupportedError(f"{name} is not supported by {_RPC_NAMES[rpc]} in flight-iox")
        return handler, unpack(wrapper, handler.message)

    def _flight_info_result(
        self,
        context: flight.ServerCallContext,
        descriptor: flight.FlightDescriptor,
        schema_only: bool = False,
    ) -> FlightInfoResult:
        if descriptor.descriptor_type != flight.DescriptorType.CMD:
            raise BadRequestError("flight-iox serves command descriptors only, not paths")
        handler, command = self._command(descriptor.command, "flight_info")
        assert handler.flight_info is not None
        return handler.flight_info(self._call(context, schema_only), command)

    # -- Flight RPCs ---------------------------------------------------------------

    @_client_errors
    def get_flight_info(
        self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor
    ) -> flight.FlightInfo:
        """Plan a command; one endpoint, served by this same server."""
        result = self._flight_info_result(context, descriptor)
        endpoint = flight.FlightEndpoint(result.ticket, [])
        return flight.FlightInfo(result.schema, descriptor, [endpoint], -1, -1)

    @_client_errors
    def get_schema(
        self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor
    ) -> flight.SchemaResult:
        """The result schema of a command, without running it."""
        return flight.SchemaResult(self._flight_info_result(context, descriptor, True).schema)

    @_client_errors
    def do_get(
        self, context: flight.ServerCallContext, ticket: flight.Ticket
    ) -> flight.FlightDataStream:
        """Stream a ticket's result batch by batch (never collected into one table)."""
        call = self._call(context)
        subscribe = tickets.subscribe_ticket(ticket.ticket)
        if subscribe is not None:
            return self._subscribe(context, call, subscribe)
        command: AnyType = None  # a JSON ticket's is read where it runs
        if tickets.is_json_ticket(ticket.ticket):
            query = tickets.ticket_query(ticket.ticket, call.database)
        else:  # the ticket is unpacked once, for the query log and the run
            handler, command = self._command(ticket.ticket, "do_get")
            query = tickets.command_query(command)
        # For CancelFlightInfo, and DELETE /api/v3/query/<id> (the query log sets it too).
        flag = self.running.start(call.principal.name, ticket.ticket)
        record = None if query is None else self.queries.begin(*query, call.principal, flag)

        def cancelled() -> bool:  # the client cancels, leaves, or asks CancelFlightInfo
            return flag.is_set() or context.is_cancelled()

        try:
            with cancellation(cancelled):
                if command is None:
                    reader = tickets.execute_json_ticket(call, ticket.ticket)
                else:
                    assert handler.do_get is not None
                    reader = handler.do_get(call, command)
        except BaseException as error:
            self.running.finish(call.principal.name, ticket.ticket, flag)
            if record is not None:
                self.queries.end(record, error)
            raise
        counted: Iterable[pa.RecordBatch] = reader
        ended: Callable[[BaseException | None], None] | None = None
        if record is not None:
            counted = self.queries.counted(record, reader)
            ended = functools.partial(self.queries.end, record)  # later calls change nothing
        batches = self.running.until_done(
            translated_batches(counted), call.principal.name, ticket.ticket, flag, ended
        )
        stream = pa.RecordBatchReader.from_batches(reader.schema, batches)
        return flight.RecordBatchStream(stream, options=_WRITE_OPTIONS)

    def _subscribe(
        self, context: flight.ServerCallContext, call: Call, ticket: dict[str, AnyType]
    ) -> flight.FlightDataStream:
        """A streaming subscription: new rows until the client goes (see ``tickets``)."""
        if self.streams is None:
            raise NotSupportedError("streaming subscriptions are not served here")
        schema, messages = self.streams.open(
            call.principal, ticket, call.database, context.is_cancelled
        )
        return flight.GeneratorStream(schema, translated_messages(messages))

    @_client_errors
    def do_put(
        self,
        context: flight.ServerCallContext,
        descriptor: flight.FlightDescriptor,
        reader: flight.MetadataRecordBatchReader,
        writer: flight.FlightMetadataWriter,
    ) -> None:
        """Streams from the client: parameters, updates, ingest, and plain Arrow writes."""
        if ingest.is_plain_put(descriptor):
            result: bytes | None = ingest.plain_put(self._call(context), descriptor, reader)
        else:
            handler, command = self._command(descriptor.command, "do_put")
            assert handler.do_put is not None
            result = handler.do_put(self._call(context), command, reader)
        if result is not None:
            writer.write(pa.py_buffer(result))

    @_client_errors
    def do_action(self, context: flight.ServerCallContext, action: flight.Action) -> list[bytes]:
        """Flight SQL actions; results are computed before returning so errors reach the client."""
        handler = self.actions.get(action.type)
        if handler is None:
            raise NotSupportedError(f"action {action.type!r} is not supported by flight-iox")
        body = action.body.to_pybytes() if action.body is not None else b""
        return list(handler(self._call(context), body))

    def list_actions(self, context: flight.ServerCallContext) -> Iterable[tuple[str, str]]:
        """The actions this server serves."""
        return [(name, ACTION_DESCRIPTIONS.get(name, "")) for name in self.actions]


def _principal_action(
    run: Callable[[Principal, bytes], Iterable[bytes]], call: Call, body: bytes
) -> Iterable[bytes]:
    """An extra action: given the caller's principal, not the Flight SQL call."""
    return run(call.principal, body)
