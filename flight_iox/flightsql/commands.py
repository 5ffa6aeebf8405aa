"""The shape of a Flight SQL command handler, and the Any packing all commands share.

Each command family module (``metadata``, ``sql_info``, ``statements``)
exports a ``COMMANDS`` list of ``CommandHandler`` and, where it has actions,
an ``ACTIONS`` dict; the server builds its registries from them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any as AnyType

import pyarrow as pa
import pyarrow.flight as flight
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.errors import BadRequestError, NotSupportedError
from flight_iox.flightsql.prefetch import Prefetcher
from flight_iox.flightsql.running import RunningGets, flight_info_tickets
from flight_iox.flightsql.sessions import Session
from flight_iox.query.backend import QueryBackend, WriteBackend

TYPE_URL_PREFIX = "type.googleapis.com/"


@dataclass(frozen=True)
class Call:
    """What a handler knows about the call: engine, default database, caller, session.

    ``backend`` is already scoped to ``principal``: it sees only the databases the
    caller may read, and its updates check the caller on their targets.
    """

    backend: QueryBackend
    database: str | None
    principal: Principal  # no default: every call names its caller
    writer: WriteBackend | None = None
    session: Session = field(default_factory=Session)
    schema_only: bool = False  # GetSchema: plan, never run (updates run in GetFlightInfo)
    running: RunningGets | None = None  # DoGet streams CancelFlightInfo may stop
    prefetch: Prefetcher | None = None  # statements GetFlightInfo started for their DoGet

    def require(self, action: Action, database: str | None) -> None:
        """``ForbiddenError`` unless the caller may ``action`` on ``database``."""
        Authorizer.require(self.principal, action, database)

    def may_read(self, database: str) -> bool:
        """Whether the caller may read ``database``."""
        return self.principal.may(Action.READ, database)

    def cancel_streams(self, info: bytes) -> int:
        """Cancel this caller's running DoGets of a FlightInfo's tickets; how many ran."""
        if self.running is None:
            return 0
        return self.running.cancel(self.principal.name, flight_info_tickets(info))

    def write_backend(self) -> WriteBackend:
        """The writer, or UNIMPLEMENTED when this server was started without one."""
        if self.writer is None:
            raise NotSupportedError("this Flight SQL server does not accept writes")
        return self.writer

    def write(self, database: str, table: str, data: pa.Table, tags: list[str] | None) -> int:
        """Write ``data`` as the caller (who needs ``write`` on ``database``); rows written."""
        return self.write_backend().write_arrow(
            database, table, data, tags, principal=self.principal
        )

    def target_schema(self, database: str, table: str) -> pa.Schema | None:
        """The schema of the table the caller is writing (None: new), with ``write`` on it."""
        return self.write_backend().table_schema(database, table, principal=self.principal)


@dataclass(frozen=True)
class FlightInfoResult:
    """A command's answer to GetFlightInfo/GetSchema: result schema and ticket."""

    schema: pa.Schema
    ticket: bytes


# Handler signatures. Messages are generated protobuf classes; they are typed
# as AnyType because the generated module has no precise stubs for mypy.
FlightInfoHandler = Callable[[Call, AnyType], FlightInfoResult]
DoGetHandler = Callable[[Call, AnyType], pa.RecordBatchReader]
DoPutHandler = Callable[[Call, AnyType, flight.MetadataRecordBatchReader], bytes | None]
ActionHandler = Callable[[Call, bytes], Iterable[bytes]]


@dataclass(frozen=True)
class CommandHandler:
    """How one command type is served, per RPC (None: not served by that RPC)."""

    message: type[Message]
    flight_info: FlightInfoHandler | None = None
    do_get: DoGetHandler | None = None
    do_put: DoPutHandler | None = None

    @property
    def type_url(self) -> str:
        """The ``google.protobuf.Any`` type URL of the command."""
        return type_url(self.message)


def type_url(message: type[Message]) -> str:
    """The type URL a message class has inside a ``google.protobuf.Any``."""
    return TYPE_URL_PREFIX + message.DESCRIPTOR.full_name


def pack(message: Message) -> bytes:
    """``message`` wrapped in a ``google.protobuf.Any``, serialized."""
    wrapper = any_pb2.Any()
    wrapper.Pack(message)
    return wrapper.SerializeToString()


def unpack_any(data: bytes) -> any_pb2.Any:
    """Parse a serialized ``google.protobuf.Any``."""
    wrapper = any_pb2.Any()
    try:
        wrapper.ParseFromString(data)
    except DecodeError as error:
        raise BadRequestError(f"not a Flight SQL command (protobuf Any): {error}") from None
    if not wrapper.type_url:
        raise BadRequestError("not a Flight SQL command: empty protobuf Any type URL")
    return wrapper


def unpack(wrapper: any_pb2.Any, message_class: type[Message]) -> AnyType:
    """The message inside ``wrapper``, which must be of ``message_class``."""
    message = message_class()
    try:
        unpacked = wrapper.Unpack(message)
    except DecodeError as error:  # the right type URL over bytes that are not that message
        raise BadRequestError(f"invalid {message_class.DESCRIPTOR.name}: {error}") from None
    if not unpacked:
        raise BadRequestError(
            f"expected {message_class.DESCRIPTOR.full_name}, got {wrapper.type_url}"
        )
    return message


def command_name(url: str) -> str:
    """A type URL's message name, for error messages."""
    return url.rsplit("/", 1)[-1]
