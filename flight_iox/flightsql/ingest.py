"""Arrow ingest: DoPut(CommandStatementIngest), and plain DoPut with an InfluxDB-style descriptor.

Both stream the client's record batches through the ``WriteBackend``: the same
validation and WAL as line protocol, each incoming batch written (and durable)
before the next is read, so a large upload never sits whole in memory. A batch
that fails validation stops the upload; the batches before it stay written.

Mapping (``flight_iox.engine.arrow_rows``): ``time`` is the timestamp column
named ``time``; tags are the columns named by the ``tags`` option
(comma-separated), else the existing table's tags, else every dictionary or
string column; every other column is a field.

``CommandStatementIngest`` table options:

| option | table missing | table exists |
| --- | --- | --- |
| if_not_exist CREATE (or unspecified) | created by the first rows | |
| if_not_exist FAIL | NOT_FOUND | |
| if_exists APPEND (or unspecified) | | rows appended |
| if_exists FAIL | | ALREADY_EXISTS (gRPC UNKNOWN from pyarrow; see status.py) |
| if_exists REPLACE | | UNIMPLEMENTED: dropping and refilling a table is not atomic with the WAL |

``catalog`` is the database (default: the call's database); ``schema`` must be
``iox`` or unset; ``temporary`` and transactions are UNIMPLEMENTED.

Plain DoPut: a PATH descriptor ``[database, table]``, or a CMD descriptor whose
bytes are JSON ``{"database": ..., "table": ..., "tags": [...]}``; it appends
(creating the table) and answers ``{"record_count": n}`` as JSON.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any as AnyType

import pyarrow as pa
import pyarrow.flight as flight

from flight_iox.auth.tokens import Action
from flight_iox.client_json import loads
from flight_iox.errors import (
    AlreadyExistsError,
    BadRequestError,
    FlightIoxError,
    NotSupportedError,
    TableNotFoundError,
)
from flight_iox.flightsql.commands import Call, CommandHandler
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.flightsql.metadata import USER_SCHEMA
from flight_iox.flightsql.updates import update_result

_Options = pb.CommandStatementIngest.TableDefinitionOptions
TAG_OPTIONS = ("tags", "tag_columns")


def _existing_tags(call: Call, database: str, table: str) -> list[str] | None:
    """The tags of ``table`` if it exists, else None (the caller needs ``write`` on it)."""
    schema = call.target_schema(database, table)
    if schema is None:
        return None
    return [f.name for f in schema if pa.types.is_dictionary(f.type)]


def stream_into(
    call: Call,
    database: str,
    table: str,
    reader: flight.MetadataRecordBatchReader,
    tags: list[str] | None,
) -> int:
    """Write every batch the client streams; rows written."""
    rows = 0
    for chunk in reader:
        if chunk.data is None or chunk.data.num_rows == 0:
            continue
        data = pa.Table.from_batches([chunk.data])
        batch_tags = tags
        if batch_tags is not None:
            batch_tags = [t for t in batch_tags if t in data.column_names]
        rows += call.write(database, table, data, batch_tags)
        if tags is None:  # the first batch created the table: its tags now hold
            tags = _existing_tags(call, database, table)
    return rows


def _option_tags(options: dict[str, str]) -> list[str] | None:
    for name in TAG_OPTIONS:
        if name in options:
            return [t.strip() for t in options[name].split(",") if t.strip()]
    return None


def _drain(reader: flight.MetadataRecordBatchReader) -> None:
    """Consume the rest of a DoPut stream (one step per batch, not per row)."""
    # The client may be gone (a Flight or Arrow error) or send bad IPC (OSError, as
    # handles.py notes): the caller's error wins. Anything else is a bug and surfaces.
    with contextlib.suppress(flight.FlightError, pa.ArrowException, OSError):
        for _ in reader:
            pass


def _checked_target(call: Call, command: AnyType) -> tuple[str, str, list[str] | None]:
    """(database, table, the existing table's tags or None), after the options are honoured."""
    if command.HasField("transaction_id"):
        raise NotSupportedError("transactions are not supported by flight-iox")
    if command.temporary:
        raise NotSupportedError("temporary tables are not supported by flight-iox")
    if command.HasField("schema") and command.schema not in ("", USER_SCHEMA):
        raise BadRequestError(
            f"tables are written in schema {USER_SCHEMA!r}, not {command.schema!r}"
        )
    database = command.catalog if command.HasField("catalog") and command.catalog else call.database
    if not database:
        raise BadRequestError("no database: set the ingest catalog or send the database header")
    if not command.table:
        raise BadRequestError("CommandStatementIngest needs a table name")
    call.require(Action.WRITE, database)
    table = command.table
    options = command.table_definition_options
    existing = _existing_tags(call, database, table)
    if existing is None and options.if_not_exist == _Options.TABLE_NOT_EXIST_OPTION_FAIL:
        raise TableNotFoundError(f"table {table!r} does not exist in database {database!r}")
    if existing is not None:
        if options.if_exists == _Options.TABLE_EXISTS_OPTION_FAIL:
            raise AlreadyExistsError(f"table {table!r} already exists in database {database!r}")
        if options.if_exists == _Options.TABLE_EXISTS_OPTION_REPLACE:
            raise NotSupportedError(
                "ingest mode replace is not supported: it cannot be made atomic with the WAL; "
                "use append, or delete the table first"
            )
    return database, table, existing


def statement_ingest(
    call: Call, command: AnyType, reader: flight.MetadataRecordBatchReader
) -> bytes:
    """DoPut(CommandStatementIngest): honour the table options, then stream the rows in."""
    try:
        database, table, existing = _checked_target(call, command)
    except FlightIoxError:
        # Read what the client is still sending before answering, so it gets this error
        # rather than a broken pipe while it writes (the Go ADBC driver reports the EOF).
        _drain(reader)
        raise
    tags = _option_tags(dict(command.options)) or existing
    return update_result(stream_into(call, database, table, reader, tags))


def _plain_target(descriptor: flight.FlightDescriptor) -> tuple[str, str, list[str] | None]:
    if descriptor.descriptor_type == flight.DescriptorType.PATH:
        path = [p.decode() if isinstance(p, bytes) else p for p in descriptor.path]
        if len(path) != 2:
            raise BadRequestError("a DoPut path descriptor is [database, table]")
        return path[0], path[1], None
    body = loads(descriptor.command, "DoPut command")
    if not isinstance(body, dict):
        raise BadRequestError('a DoPut JSON command is {"database": ..., "table": ...}')
    database, table, tags = body.get("database"), body.get("table"), body.get("tags")
    if not isinstance(database, str) or not isinstance(table, str):
        raise BadRequestError("a DoPut JSON command needs string 'database' and 'table'")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise BadRequestError("'tags' in a DoPut JSON command must be a list of column names")
    return database, table, tags


def is_plain_put(descriptor: flight.FlightDescriptor) -> bool:
    """A path descriptor, or a command that is JSON rather than a protobuf ``Any``."""
    if descriptor.descriptor_type == flight.DescriptorType.PATH:
        return True
    return descriptor.command.lstrip()[:1] == b"{"


def plain_put(
    call: Call, descriptor: flight.FlightDescriptor, reader: flight.MetadataRecordBatchReader
) -> bytes:
    """Append the stream to the table the descriptor names."""
    database, table, tags = _plain_target(descriptor)
    call.require(Action.WRITE, database)
    rows = stream_into(call, database, table, reader, tags or _existing_tags(call, database, table))
    return json.dumps({"record_count": rows}).encode()


COMMANDS = [CommandHandler(pb.CommandStatementIngest, do_put=statement_ingest)]
