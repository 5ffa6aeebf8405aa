"""What flight-iox supports, in one object: the validation tests are generated from it.

In the spirit of the ADBC driver validation suite (adbc-drivers/validation),
where each driver declares its quirks and the shared tests read them: a
feature marked supported must work through the real ADBC driver, and one
marked unsupported must fail cleanly (an ADBC error naming it, never a crash
or a wrong answer). Changing the server means changing this object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa


@dataclass(frozen=True)
class QueryCase:
    """A SQL expression, the Arrow type it comes back as, and its value."""

    sql: str
    arrow_type: pa.DataType
    value: object


@dataclass(frozen=True)
class IngestCase:
    """An Arrow type sent by ``adbc_ingest`` and the type it reads back as (None: refused)."""

    name: str
    array: pa.Array
    stored_as: pa.DataType | None


@dataclass(frozen=True)
class Capabilities:
    """The features of a Flight SQL server, as the validation tests see them."""

    vendor_name: str
    ingest_modes: dict[str, bool]
    get_objects_depths: tuple[str, ...]
    statement_kinds: dict[str, bool]  # first keyword -> runs through execute
    transactions: bool
    substrait: bool
    query_cases: tuple[QueryCase, ...] = field(default_factory=tuple)
    ingest_cases: tuple[IngestCase, ...] = field(default_factory=tuple)


_TIME = pa.array([1_700_000_000_000_000_000], pa.timestamp("ns"))

FLIGHT_IOX = Capabilities(
    vendor_name="flight-iox",
    ingest_modes={"create": True, "append": True, "create_append": True, "replace": False},
    get_objects_depths=("catalogs", "db_schemas", "tables", "columns", "all"),
    statement_kinds={"INSERT": True, "DELETE": True, "CREATE": True, "DROP": True},
    transactions=False,
    substrait=False,
    query_cases=(
        QueryCase("CAST(1 AS BIGINT)", pa.int64(), 1),
        QueryCase("CAST(1 AS INT)", pa.int32(), 1),
        QueryCase("CAST(1 AS BIGINT UNSIGNED)", pa.uint64(), 1),
        QueryCase("CAST(1.5 AS DOUBLE)", pa.float64(), 1.5),
        QueryCase("CAST(1.5 AS REAL)", pa.float32(), 1.5),
        QueryCase("TRUE", pa.bool_(), True),
        QueryCase("CAST(NULL AS BIGINT)", pa.int64(), None),
        QueryCase("'text'", pa.utf8(), "text"),
        QueryCase("CAST('2024-01-02' AS DATE)", pa.date32(), "2024-01-02"),
        QueryCase(
            "CAST('2024-01-02T03:04:05' AS TIMESTAMP)", pa.timestamp("ns"), "2024-01-02T03:04:05"
        ),
        QueryCase("CAST(1.25 AS DECIMAL(10, 2))", pa.decimal128(10, 2), "1.25"),
    ),
    ingest_cases=(
        IngestCase("int8", pa.array([1], pa.int8()), pa.int64()),
        IngestCase("int64", pa.array([1], pa.int64()), pa.int64()),
        IngestCase("uint16", pa.array([1], pa.uint16()), pa.uint64()),
        IngestCase("float32", pa.array([1.5], pa.float32()), pa.float64()),
        IngestCase("float64", pa.array([1.5], pa.float64()), pa.float64()),
        IngestCase("bool", pa.array([True]), pa.bool_()),
        IngestCase(
            "dictionary", pa.array(["a"]).dictionary_encode(), pa.dictionary(pa.int32(), pa.utf8())
        ),
        IngestCase("binary", pa.array([b"x"]), None),
        IngestCase("date32", pa.array([1], pa.date32()), None),
    ),
)

TIME_COLUMN = _TIME
