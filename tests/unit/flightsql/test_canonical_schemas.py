"""Every metadata command answers with exactly its canonical schema constant."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.flight as flight
import pytest
from google.protobuf.message import Message

from flight_iox.flightsql import schemas
from flight_iox.flightsql.commands import pack
from flight_iox.flightsql.generated import FlightSql_pb2 as pb
from flight_iox.flightsql.sql_info import BigInt, encode_values

CASES: list[tuple[Message, pa.Schema]] = [
    (pb.CommandGetCatalogs(), schemas.CATALOGS),
    (pb.CommandGetDbSchemas(), schemas.DB_SCHEMAS),
    (pb.CommandGetTables(), schemas.TABLES),
    (pb.CommandGetTables(include_schema=True), schemas.TABLES_WITH_SCHEMA),
    (pb.CommandGetTableTypes(), schemas.TABLE_TYPES),
    (pb.CommandGetSqlInfo(), schemas.SQL_INFO),
    (pb.CommandGetSqlInfo(info=[pb.SQL_KEYWORDS, pb.SQL_SUPPORTS_CONVERT]), schemas.SQL_INFO),
    (pb.CommandGetXdbcTypeInfo(), schemas.XDBC_TYPE_INFO),
    (pb.CommandGetXdbcTypeInfo(data_type=93), schemas.XDBC_TYPE_INFO),
    (pb.CommandGetPrimaryKeys(table="cpu"), schemas.PRIMARY_KEYS),
    (pb.CommandGetPrimaryKeys(table="nope"), schemas.PRIMARY_KEYS),
    (pb.CommandGetExportedKeys(table="cpu"), schemas.EXPORTED_KEYS),
    (pb.CommandGetImportedKeys(table="cpu"), schemas.IMPORTED_KEYS),
    (
        pb.CommandGetCrossReference(pk_table="cpu", fk_table="mem"),
        schemas.CROSS_REFERENCE,
    ),
]


def test_every_metadata_command_has_a_case() -> None:
    """A metadata command added to the server without a case here fails this test."""
    from flight_iox.flightsql.server import COMMAND_HANDLERS

    metadata = {h.message for h in COMMAND_HANDLERS if h.message.__name__.startswith("CommandGet")}
    assert metadata == {type(command) for command, _ in CASES}


@pytest.mark.parametrize(("command", "expected"), CASES, ids=lambda c: type(c).__name__)
def test_metadata_schema_is_canonical(uri: str, command: Message, expected: pa.Schema) -> None:
    with flight.FlightClient(uri) as client:
        descriptor = flight.FlightDescriptor.for_command(pack(command))
        info = client.get_flight_info(descriptor)
        assert info.schema.equals(expected, check_metadata=True)
        table = client.do_get(info.endpoints[0].ticket).read_all()
        assert table.schema.equals(expected, check_metadata=True)
        assert client.get_schema(descriptor).schema.equals(expected)


def test_canonical_nullability() -> None:
    assert not schemas.CATALOGS.field("catalog_name").nullable
    assert schemas.DB_SCHEMAS.field("catalog_name").nullable
    assert not schemas.TABLES_WITH_SCHEMA.field("table_schema").nullable
    assert schemas.PRIMARY_KEYS.names[4:] == ["key_sequence", "key_name"]
    assert schemas.FOREIGN_KEYS.field("update_rule").type == pa.uint8()
    assert len(schemas.XDBC_TYPE_INFO) == 19


def test_sql_info_union_encodes_every_slot() -> None:
    values = ["a", True, BigInt(5), 7, ["x", "y"], {1: [2, 3]}]
    array = encode_values(values)
    array.validate(full=True)
    assert array.type == schemas.SQL_INFO_VALUE_TYPE
    assert array.to_pylist() == ["a", True, 5, 7, ["x", "y"], [(1, [2, 3])]]
