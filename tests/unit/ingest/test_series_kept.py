"""Distinct series keys kept parsed between bodies: shared only by equal key lists, read only."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from flight_iox.ingest import Precision, series
from flight_iox.ingest.parse import parse_body
from tests.unit.ingest.corpus_support import points


def _parse(body: str) -> list:
    routed = parse_body(body, precision=Precision.SECOND, default_time_ns=7, min_fast_lines=1)
    exact = parse_body(body, precision=Precision.SECOND, default_time_ns=7, fast_path=False)
    assert points(routed) == points(exact), body
    return points(routed)


def test_bodies_with_the_same_keys_share_one_parse_and_keep_their_own_values() -> None:
    series._parse_kept.cache_clear()
    keys = ["cpu,host=a,dc=x", "cpu,host=b,dc=x", "mem,host=a"]
    first = "\n".join(f"{key} v={i}i {i}" for i, key in enumerate(keys))
    second = "\n".join(f"{key} v={i + 10}i,w=t {i + 100}" for i, key in enumerate(keys))
    one, two = _parse(first), _parse(second)
    assert series._parse_kept.cache_info().hits >= 1
    assert one != two and [p[1] for p in two] == [p[1] for p in one]  # same tags


def test_a_different_order_or_set_of_keys_is_parsed_again() -> None:
    series._parse_kept.cache_clear()
    _parse("cpu,host=a v=1 1\ncpu,host=b v=2 2")
    swapped = _parse("cpu,host=b v=1 1\ncpu,host=a v=2 2")
    assert series._parse_kept.cache_info().hits == 0
    assert [dict(p[1]) for p in swapped] == [{"host": "b"}, {"host": "a"}]


def test_what_is_kept_cannot_be_changed() -> None:
    keys = pa.array(["cpu,host=a", "cpu,host=b", "cpu,host=a,host=b"])
    parsed = series.parse_series_keys(keys)
    assert parsed is series.parse_series_keys(pa.array(keys.to_pylist()))
    assert parsed.valid.tolist() == [True, True, False]  # a repeated tag key
    for array in (parsed.valid, parsed.measurement, parsed.tags[0].index):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0


def test_keys_too_large_to_keep_are_parsed_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(series, "MAX_KEPT_KEY_BYTES", 8)
    keys = pa.array(["cpu,host=a", "cpu,host=b"])
    parsed = series.parse_series_keys(keys)
    assert parsed is not series.parse_series_keys(keys)
    assert parsed.names == ("cpu",) and np.array_equal(parsed.measurement, [0, 0])


def test_sliced_keys_are_kept_by_their_own_bytes() -> None:
    keys = pa.array(["cpu,host=a", "cpu,host=b", "cpu,host=c"])
    tail = series.parse_series_keys(keys.slice(1))
    assert [v.as_py() for v in tail.tags[0].values] == ["b", "c"]
    assert tail is series.parse_series_keys(pa.array(["cpu,host=b", "cpu,host=c"]))
