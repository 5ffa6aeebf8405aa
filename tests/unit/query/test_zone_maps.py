"""Zone maps keep every run of rows a statement's key predicates may need, and cut the rest."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flight_iox.columns import TAG_TYPE, TIME_TYPE
from flight_iox.query.scan_needs import ScanNeeds
from flight_iox.query.zone_maps import ZoneMap, ZoneMaps

TAG = {b"iox::column_type": b"tag"}
FIELD = {b"iox::column_type": b"field"}
SCHEMA = pa.schema(
    [
        pa.field("host", TAG_TYPE, metadata=TAG),
        pa.field("region", TAG_TYPE, metadata=TAG),
        pa.field("time", TIME_TYPE, nullable=False),
        pa.field("v", pa.float64(), metadata=FIELD),
    ]
)


def _rows() -> pa.Table:
    """Sorted by tags then time, as files are: hosts a..d, 5 points each; d has no region."""
    hosts, regions, times = [], [], []
    for host, region in (("a", "west"), ("b", "east"), ("c", "east"), ("d", None)):
        for t in range(5):
            hosts.append(host)
            regions.append(region)
            times.append(t * 10)
    return pa.table(
        {
            "host": pa.array(hosts).dictionary_encode(),
            "region": pa.array(regions, pa.string()).dictionary_encode(),
            "time": pa.array(times, pa.int64()).cast(TIME_TYPE),
            "v": pa.array([float(i) for i in range(len(hosts))]),
        },
        schema=SCHEMA,
    )


def _needs(first: int | None = None, last: int | None = None, **tags: set[str]) -> ScanNeeds:
    return ScanNeeds(None, first, last, tuple(sorted((k, frozenset(v)) for k, v in tags.items())))


CASES = {
    "one host": _needs(host={"b"}),
    "two hosts": _needs(host={"a", "d"}),
    "a host not there": _needs(host={"zz"}),
    "a time range": _needs(20, 30),
    "a host and a time": _needs(0, 5, host={"c"}),
    "a region": _needs(region={"east"}),
    "a tag the table lacks": _needs(rack={"r1"}),
    "nothing restricted": _needs(),
}


@pytest.mark.parametrize("needs", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("chunk", [1, 3, 4, 1024])
def test_the_rows_kept_hold_every_matching_row(needs: ScanNeeds, chunk: int) -> None:
    rows = _rows()
    kept = ZoneMaps(chunk).needed("f", rows, needs)
    assert needs.apply(kept).to_pylist() == needs.apply(rows).to_pylist()  # the exact cut


def test_one_host_keeps_only_its_chunks() -> None:
    rows = _rows()
    zones = ZoneMap.of(rows, chunk=5)
    assert zones.slices(_needs(host={"b"})) == [(5, 5)]
    assert zones.slices(_needs(host={"a", "b"})) == [(0, 10)]
    assert zones.slices(_needs(30, None, host={"c"})) == [(10, 5)]
    assert zones.slices(_needs(host={"zz"})) == []
    assert zones.slices(_needs(region={"north"})) == []
    assert zones.slices(_needs(region={"east"})) == [(5, 10)]  # d's null region: no chunk


def test_fewer_rows_are_kept_and_their_order_stays() -> None:
    rows = _rows()
    kept = ZoneMaps(2).needed("f", rows, _needs(host={"b", "d"}))
    assert 10 <= kept.num_rows < rows.num_rows
    values = kept.column("v").to_pylist()
    assert values == sorted(values)  # runs in the table's order


def test_an_empty_table() -> None:
    empty = SCHEMA.empty_table()
    assert ZoneMaps().needed("f", empty, _needs(host={"a"})).num_rows == 0
