"""File pruning from DataFusion's plan: which predicates count, and exact nanosecond bounds.

The statements are read as the engine reads them (``scan_plan.statement_needs``, over empty
tables), and ``kept_files`` is checked against hand-made manifest entries.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import StringType

from flight_iox.columns import TAG_TYPE, ColumnRole, role_field
from flight_iox.query.pruning import kept_files
from flight_iox.query.scan_needs import ScanNeeds
from flight_iox.query.scan_plan import statement_needs
from iox_catalog.files import DataFile, TagBounds
from iox_catalog.partitioning import PartitionKey

SCHEMA = pa.schema(
    [
        role_field("host", TAG_TYPE, ColumnRole.TAG),
        role_field("region", TAG_TYPE, ColumnRole.TAG),
        role_field("usage", pa.float64(), ColumnRole.FIELD),
        role_field("time", pa.timestamp("ns"), ColumnRole.TIME),
    ]
)
HOUR_US = 3_600_000_000
BUCKET = BucketTransform(4).transform(StringType())


def plan_needs(sql: str) -> ScanNeeds:
    found = statement_needs(sql, "db", {"db": {"cpu": SCHEMA}})
    assert found is not None
    return found["db"]["cpu"]


def file(name: str, first_us: int, last_us: int, host: str = "a") -> DataFile:
    tags = (("host", TagBounds(host, host, True, False)),)
    return DataFile(f"/{name}", 1, 1, first_us, last_us, 1, tags=tags)


FILES = [file(f"h{h}", h * HOUR_US, (h + 1) * HOUR_US - 1, host=f"host-{h % 2}") for h in range(6)]


def kept(sql: str, files: list[DataFile] = FILES) -> list[str]:
    return [f.path for f in kept_files(files, plan_needs(sql))]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("time >= arrow_cast(7200000000000, 'Timestamp(Nanosecond, None)')", [2, 3, 4, 5]),
        ("time < arrow_cast(7200000000000, 'Timestamp(Nanosecond, None)')", [0, 1]),
        ("time < arrow_cast(7200000000001, 'Timestamp(Nanosecond, None)')", [0, 1, 2]),
        ("time > arrow_cast(7199999999999, 'Timestamp(Nanosecond, None)')", [2, 3, 4, 5]),
        ("time > arrow_cast(7199999999000, 'Timestamp(Nanosecond, None)')", [1, 2, 3, 4, 5]),
        ("time BETWEEN '1970-01-01T01:30:00Z' AND '1970-01-01T02:00:00Z'", [1, 2]),
        ("time = '1970-01-01T03:00:00Z'", [3]),
        ("host = 'host-1'", [1, 3, 5]),
        ("host IN ('host-0', 'nosuch')", [0, 2, 4]),
        ("host = 'host-0' OR host = 'host-1'", [0, 1, 2, 3, 4, 5]),
        ("host = 'host-1' AND time >= '1970-01-01T04:00:00Z'", [5]),
        ("host IN ('host-0', 'host-1') AND host = 'host-1'", [1, 3, 5]),
        ("region = 'x'", [0, 1, 2, 3, 4, 5]),  # no bounds recorded: any value
        ("usage > 1 AND time < '1970-01-01T01:00:00Z'", [0]),  # the field is never used
        ("host <> 'host-1'", [0, 1, 2, 3, 4, 5]),
        ("time >= '1970-01-01T02:00:00Z' OR host = 'host-0'", [0, 1, 2, 3, 4, 5]),
        ("CAST(time AS BIGINT) > 10", [0, 1, 2, 3, 4, 5]),
    ],
)
def test_predicates(where: str, expected: list[int]) -> None:
    assert kept(f"SELECT * FROM cpu WHERE {where}") == [f"/h{h}" for h in expected]


def test_every_scan_counts() -> None:
    sql = (
        "SELECT * FROM cpu WHERE time < '1970-01-01T01:00:00Z' UNION ALL "
        "SELECT * FROM db.iox.cpu WHERE host = 'host-1'"
    )
    assert kept(sql) == [f.path for f in FILES]  # the hull of both scans: unrestricted
    unconstrained = "SELECT * FROM cpu a JOIN cpu b ON a.time = b.time WHERE a.host = 'host-1'"
    assert kept(unconstrained) == [f.path for f in FILES]


def test_partition_values_prune_buckets() -> None:
    fields = (("time", "hour"), ("host", "bucket[4]"))
    spanning = (("host", TagBounds("a", "z", True, False)),)  # bounds cannot tell them apart
    files = [
        DataFile(
            f"/b{b}",
            1,
            1,
            0,
            HOUR_US,
            1,
            partition=PartitionKey(1, (0, b)),
            tags=spanning,
            partition_fields=fields,
        )
        for b in range(4)
    ]
    assert kept("SELECT * FROM cpu WHERE host = 'host-3'", files) == [f"/b{BUCKET('host-3')}"]
    both = {f"/b{BUCKET('host-3')}", f"/b{BUCKET('host-5')}"}
    assert set(kept("SELECT * FROM cpu WHERE host IN ('host-3', 'host-5')", files)) == both


def test_null_and_unknown_tags() -> None:
    nulls = DataFile("/n", 1, 1, 0, 1, 1, tags=(("host", TagBounds(None, None, False, True)),))
    unknown = DataFile("/u", 1, 1, 0, 1, 1, tags=None)
    assert kept("SELECT * FROM cpu WHERE host = 'a'", [nulls, unknown]) == ["/u"]
