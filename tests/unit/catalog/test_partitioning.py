"""Splitting rows by a partition spec agrees with PyIceberg's own transforms, row by row."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyiceberg.typedef import Record
from pyiceberg.types import StringType, TimestampType

from iox_catalog.partition_specs import describe, parse_partition_by, standalone_partitioning
from iox_catalog.partitioning import PartitioningError
from iox_catalog.schema import REMAINDER_COLUMN, ColumnKinds
from iox_datamodel.columns import TIME_COLUMN, ColumnRole, FieldType

KINDS: ColumnKinds = {
    "host": ColumnRole.TAG,
    "region": ColumnRole.TAG,
    "usage": FieldType.FLOAT,
    "note": FieldType.STRING,
}
US_PER_HOUR = 3_600_000_000


def file_rows(count: int, seed: int = 7) -> pa.Table:
    """Rows in the file shape over ~3 years, with null tags and long host names."""
    rng = random.Random(seed)
    hosts = [None, "a", "host-1", "x/y=z", "é", "a-very-long-host-name-beyond-16-bytes"]
    times = [rng.randrange(-US_PER_HOUR * 24 * 400, US_PER_HOUR * 24 * 800) for _ in range(count)]
    return pa.table(
        {
            "host": [rng.choice(hosts) for _ in range(count)],
            "note": [None] * count,
            "region": [rng.choice(["eu", "us", None]) for _ in range(count)],
            "usage": [float(i) for i in range(count)],
            TIME_COLUMN: pa.array(times, pa.timestamp("us")),
            REMAINDER_COLUMN: pa.array([0] * count, pa.int32()),
        }
    )


@pytest.mark.parametrize(
    "partition_by",
    [
        ["day(time)"],
        ["hour(time)"],
        ["month(time)"],
        ["years(time)"],
        ["bucket(4, host)"],
        ["truncate(2, host)"],
        ["host"],
        ["hour(time)", "bucket(4, host)"],
        ["region", "day(time)", "truncate(1, host)"],
    ],
)
def test_split_matches_pyiceberg_per_row(partition_by: list[str]) -> None:
    rows = file_rows(2_000)
    partitioning = standalone_partitioning(KINDS, partition_by)
    parts = partitioning.split(rows)
    micros = rows.column(TIME_COLUMN).cast(pa.int64()).to_pylist()
    expected_keys: set[tuple[object, ...]] = set()
    for index, row in enumerate(rows.to_pylist()):
        values = []
        for spec_field in partitioning.spec.fields:
            column = partitioning.schema.find_column_name(spec_field.source_id)
            if column == TIME_COLUMN:
                value = spec_field.transform.transform(TimestampType())(micros[index])
            else:
                value = spec_field.transform.transform(StringType())(row[column])
            values.append(value)
        expected_keys.add(tuple(values))
    assert {p.key.values for p in parts} == expected_keys
    assert sum(p.rows.num_rows for p in parts) == rows.num_rows
    for part in parts:
        assert part.key.spec_id == 0 and part.key.keyed
        # every row of the slice is in the partition, and the original order is kept
        usage = part.rows.column("usage").to_pylist()
        assert usage == sorted(usage)
        sub = standalone_partitioning(KINDS, partition_by).split(part.rows)
        assert [p.key for p in sub] == [part.key]
        iceberg_path = partitioning.spec.partition_to_path(
            Record(*part.key.values), partitioning.schema
        )
        if "%" not in iceberg_path and "+" not in iceberg_path:  # plain values: Iceberg's path
            assert part.path == iceberg_path


def test_paths_are_icebergs_folders_with_safe_escapes() -> None:
    rows = file_rows(50)
    rows = rows.filter(pc.equal(rows.column("host"), "x/y=z"))
    (part,) = standalone_partitioning(KINDS, ["hour(time)", "host"]).split(rows.slice(0, 1))
    hour = part.key.values[0]
    assert isinstance(hour, int)
    # Not PyIceberg's host=x%2Fy%3Dz: DataFusion would decode %2F in the file's URI.
    assert part.path.startswith("time_hour=") and part.path.endswith("/host=x~2Fy~3Dz")
    (day,) = standalone_partitioning(KINDS, ["day(time)"]).split(
        pa.table(
            {
                "host": ["a"],
                TIME_COLUMN: pa.array([1_699_920_000_000_000], pa.timestamp("us")),
            }
        )
    )
    assert day.path == "time_day=2023-11-14"  # the folder every table had before


def test_one_partition_is_the_batch_itself() -> None:
    rows = file_rows(100)
    rows = rows.filter(pc.equal(rows.column("region"), "eu"))
    (part,) = standalone_partitioning(KINDS, ["region"]).split(rows)
    assert part.rows is rows
    (whole,) = standalone_partitioning(KINDS, []).split(rows)
    assert whole.path == "" and whole.key.values == () and whole.rows is rows


def test_dictionary_tags_split_like_strings() -> None:
    rows = file_rows(300)
    encoded = rows.set_column(0, "host", rows.column("host").dictionary_encode())
    partitioning = standalone_partitioning(KINDS, ["bucket(3, host)"])
    plain = {p.key: p.rows.column("usage").to_pylist() for p in partitioning.split(rows)}
    as_dict = {p.key: p.rows.column("usage").to_pylist() for p in partitioning.split(encoded)}
    assert plain == as_dict


@pytest.mark.parametrize(
    ("partition_by", "problem"),
    [
        (["usage"], "'usage' is a field"),
        (["bucket(4, note)"], "'note' is a field"),
        (["nope"], "no tag 'nope'"),
        (["time"], "one partition per microsecond"),
        (["day(time)", "hour(time)"], "2 time transforms"),
        (["bucket(0, host)"], "not in 1..65536"),
        (["day(host)"], "applies to time only"),
        (["frobnicate(3, host)"], "expected year|month|day|hour"),
        (["host", "host"], "twice"),
        ("day(time)", "a list of strings"),
    ],
)
def test_bad_specs_are_named(partition_by: list[str], problem: str) -> None:
    with pytest.raises(PartitioningError, match=problem.replace("(", r"\(").replace("|", r"\|")):
        parse_partition_by(partition_by, KINDS)


def test_describe_reads_back_what_was_parsed() -> None:
    words = ["hour(time)", "bucket(4, host)", "truncate(2, region)", "host"]
    partitioning = standalone_partitioning(KINDS, words)
    assert describe(partitioning.spec, partitioning.schema) == words
    assert parse_partition_by(['days("time")', "bucket(8, host)"], KINDS)[0][0] == TIME_COLUMN


@pytest.mark.parametrize("partition_by", [["day(time)"], ["hour(time)"], ["years(time)"]])
def test_a_batch_within_one_partition_is_found_from_its_bounds(partition_by: list[str]) -> None:
    """Rows within one day (hour, year) are one partition without transforming each row,
    with the key the per-row path gives; two microseconds across a boundary split them.
    Before 1970 too (days rounded down, as Iceberg's spec says)."""
    partitioning = standalone_partitioning(KINDS, partition_by)

    def at(times: list[int]) -> pa.Table:
        rows = file_rows(len(times))
        return rows.set_column(4, TIME_COLUMN, pa.array(times, pa.timestamp("us")))

    # 1970-01-01 and 2000-01-01: a year's, a day's and an hour's first µs
    for start in (0, 946_684_800_000_000):
        rows = at([start + i for i in range(50)])
        assert partitioning._one_partition(rows) is not None
        (part,) = partitioning.split(rows)
        per_row = partitioning._transformed(partitioning.spec.fields[0], rows)
        assert part.key.values == (per_row[0].as_py(),)
    across = at([946_684_800_000_000 - 2, *range(946_684_800_000_000, 946_684_800_000_049)])
    assert partitioning._one_partition(across) is None
    assert len(partitioning.split(across)) == 2
    before_1970 = at([-US_PER_HOUR * 24 * 365 + i for i in range(50)])
    assert partitioning._one_partition(before_1970) is not None
    year_1969 = -US_PER_HOUR * 24 * 365  # 1969-01-01: a year's, a day's and an hour's start
    across_1969 = at([year_1969 - 2, *range(year_1969, year_1969 + 49)])
    assert partitioning._one_partition(across_1969) is None
    assert len(partitioning.split(across_1969)) == 2


@pytest.mark.parametrize("partition_by", [["day(time)"], ["hour(time)"], ["month(time)"]])
def test_times_just_before_a_midnight_before_1970(partition_by: list[str]) -> None:
    """The last microseconds before a midnight, before and after 1970, are partitioned as
    PyIceberg's Python transform (the spec) says: pyiceberg-core 0.10's Arrow day transform
    puts most of the last second before a midnight before 1970 in the next day."""
    day = US_PER_HOUR * 24
    times = [t + d for t in (-100 * day, -day, 0, day) for d in (-1_000_000, -2, -1, 0, 1)]
    rows = file_rows(len(times)).set_column(4, TIME_COLUMN, pa.array(times, pa.timestamp("us")))
    partitioning = standalone_partitioning(KINDS, partition_by)
    (spec_field,) = partitioning.spec.fields
    want = [spec_field.transform.transform(TimestampType())(t) for t in times]
    assert partitioning._transformed(spec_field, rows).to_pylist() == want
    for part in partitioning.split(rows):
        values = part.rows.column(TIME_COLUMN).cast(pa.int64()).to_pylist()
        assert {spec_field.transform.transform(TimestampType())(t) for t in values} == set(
            part.key.values
        )
    assert standalone_partitioning(KINDS, ["host"])._one_partition(file_rows(10)) is None
