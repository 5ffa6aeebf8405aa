"""``--mode`` parsing, the node-to-node encodings, and the query node's merge of remote rows."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flight_iox.cluster.codec import decode_batch, decode_rows, encode_batch, encode_rows
from flight_iox.cluster.roles import Role, Roles
from flight_iox.columns import TAG_TYPE, TIME_TYPE, ColumnRole, role_field
from flight_iox.engine.buffer import TableSnapshot
from flight_iox.ingest import MeasurementBatch
from flight_iox.query.remote import RemoteTable
from iox_catalog.files import DataFile
from iox_catalog.partitioning import PartitionKey


def test_modes() -> None:
    assert Roles.parse("all").every
    assert Roles.parse("ingest,query").roles == {Role.INGEST, Role.QUERY}
    assert str(Roles.parse(" compact ")) == "compact"
    assert str(Roles.parse("query,ingest")) == "ingest,query"
    assert str(Roles.parse("ingest,query,compact")) == "all"
    with pytest.raises(ValueError, match="unknown mode router"):
        Roles.parse("ingest,router")
    with pytest.raises(ValueError, match="expected all"):
        Roles.parse(" , ")


def test_a_forwarded_batch_keeps_roles_types_and_line_numbers() -> None:
    batch = MeasurementBatch(
        "cpu",
        {"host": pa.array(["a", None]), "time": pa.array(["t", "u"])},  # a tag called time
        {"v": pa.array([1.5, None]), "n": pa.array([1, 2], pa.uint64())},
        pa.array([10, 20], pa.int64()),
        pa.array([3, 7], pa.int32()),
    )
    decoded, meta = decode_batch(encode_batch(batch, {"database": "db", "no_sync": True}))
    assert meta == {"database": "db", "no_sync": True, "table": "cpu"}
    assert decoded.measurement == "cpu"
    assert {k: v.to_pylist() for k, v in decoded.tags.items()} == {
        "host": ["a", None], "time": ["t", "u"],
    }  # fmt: skip
    assert decoded.fields["n"].type == pa.uint64()
    assert decoded.fields["v"].to_pylist() == [1.5, None]
    assert decoded.time.to_pylist() == [10, 20]
    assert decoded.line_numbers.to_pylist() == [3, 7]


SCHEMA = pa.schema(
    [
        role_field("host", TAG_TYPE, ColumnRole.TAG),
        role_field("time", TIME_TYPE, ColumnRole.TIME),
        role_field("v", pa.float64(), ColumnRole.FIELD),
    ]
)


def _rows(hosts: list[str], times: list[int], values: list[float | None]) -> pa.Table:
    columns = [pa.array(hosts, pa.string()).dictionary_encode(), pa.array(times, TIME_TYPE),
               pa.array(values, pa.float64())]  # fmt: skip
    return pa.Table.from_arrays(columns, schema=SCHEMA)


def _file(path: str, sequence: int) -> DataFile:
    return DataFile(path, 1, 10, 0, 5, sequence, True, PartitionKey(0, (19000, "x")))


def test_rows_and_files_round_trip() -> None:
    rows = _rows(["a"], [1], [2.0])
    files = (_file("s3://b/t/data/1.parquet", 4),)
    table, decoded, got_files, meta = decode_rows(
        encode_rows("cpu", rows, files, {"owner": True, "version": ["in1", 1, 2, 3]})
    )
    assert (table, meta) == ("cpu", {"owner": True, "version": ["in1", 1, 2, 3]})
    assert decoded.equals(rows)
    assert got_files == files


def test_the_merge_takes_the_newest_file_list_and_the_owners_rows_last() -> None:
    local = TableSnapshot((_file("old", 1),), _rows([], [], []))
    remote = RemoteTable(
        token=("x",),
        file_lists=((_file("old", 1),), (_file("old", 1), _file("new", 2))),
        rows=(_rows(["a", "b"], [1, 1], [1.0, 5.0]), _rows(["a"], [1], [None])),
    )
    merged = remote.merged(local, SCHEMA)
    assert [f.path for f in merged.files] == ["old", "new"]
    got = sorted(merged.buffered.to_pylist(), key=lambda r: r["host"])
    # host a: the owner's later row has no value for v, so the earlier value stays.
    assert [(r["host"], r["v"]) for r in got] == [("a", 1.0), ("b", 5.0)]
