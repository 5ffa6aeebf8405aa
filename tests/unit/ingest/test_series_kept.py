"""Distinct series keys kept parsed between bodies: shared only by equal key lists, read
only, and bounded in what each holds."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest

from flight_iox.ingest import series
from flight_iox.lru import LockedLru
from tests.unit.ingest.corpus_support import both_paths


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list]]:
    """Each parse of distinct keys that was not kept: the keys parsed."""
    series.forget_kept_parses()
    done: list[list] = []
    parse = series._parse

    def counted(keys: pa.Array) -> series.SeriesKeys:
        done.append(keys.to_pylist())
        return parse(keys)

    monkeypatch.setattr(series, "_parse", counted)
    yield done
    series.forget_kept_parses()


def _parse(body: str) -> list:
    return both_paths(body)[0]


def test_bodies_with_the_same_keys_share_one_parse_and_keep_their_own_values(
    parses: list[list],
) -> None:
    keys = ["cpu,host=a,dc=x", "cpu,host=b,dc=x", "mem,host=a"]
    first = "\n".join(f"{key} v={i}i {i}" for i, key in enumerate(keys))
    second = "\n".join(f"{key} v={i + 10}i,w=t {i + 100}" for i, key in enumerate(keys))
    one, two = _parse(first), _parse(second)
    assert parses == [keys]
    assert one != two and [p[1] for p in two] == [p[1] for p in one]  # the same tags


def test_a_different_order_or_set_of_keys_is_parsed_again(parses: list[list]) -> None:
    _parse("cpu,host=a v=1 1\ncpu,host=b v=2 2")
    swapped = _parse("cpu,host=b v=1 1\ncpu,host=a v=2 2")
    assert len(parses) == 2
    assert [dict(p[1]) for p in swapped] == [{"host": "b"}, {"host": "a"}]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (["ab", "c"], ["a", "bc"]),  # the same text, split elsewhere
        (["cpu,host=a"], pa.array(["cpu,host=a"], pa.large_string())),
        (["", "cpu"], ["cpu", ""]),
    ],
)
def test_key_lists_that_differ_never_share_a_parse(
    parses: list[list], one: list | pa.Array, other: list | pa.Array
) -> None:
    first = series.parse_series_keys(pa.array(one) if isinstance(one, list) else one)
    second = series.parse_series_keys(pa.array(other) if isinstance(other, list) else other)
    assert first is not second and len(parses) == 2


def test_what_is_kept_cannot_be_changed(parses: list[list]) -> None:
    keys = pa.array(["cpu,host=a", "cpu,host=b", "cpu,host=a,host=b"])
    parsed = series.parse_series_keys(keys)
    assert parsed is series.parse_series_keys(pa.array(keys.to_pylist()))
    assert parsed.valid.tolist() == [True, True, False]  # a repeated tag key
    for array in (parsed.valid, parsed.measurement, parsed.tags[0].index):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0


def test_a_parse_holding_more_than_the_bound_is_not_kept(
    parses: list[list], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many tag keys: each adds an index over every distinct key, past what the text shows.
    keys = pa.array([f"m{i},t{i}=v" for i in range(200)])
    monkeypatch.setattr(series, "MAX_KEPT_BYTES", 100_000)
    parsed = series.parse_series_keys(keys)
    assert len(parsed.tags) == 200 and sum(t.index.nbytes for t in parsed.tags) > 100_000
    assert parsed.tags[0].index.flags.writeable  # not shared, so not frozen
    series.parse_series_keys(keys)
    assert len(parses) == 2


def test_keys_of_too_much_text_are_parsed_each_time(
    parses: list[list], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(series, "MAX_KEPT_BYTES", 8)
    keys = pa.array(["cpu,host=a", "cpu,host=b"])
    parsed = series.parse_series_keys(keys)
    assert parsed is not series.parse_series_keys(keys) and len(parses) == 2
    assert parsed.names == ("cpu",) and np.array_equal(parsed.measurement, [0, 0])


def test_sliced_keys_are_kept_by_their_own_bytes(parses: list[list]) -> None:
    keys = pa.array(["cpu,host=a", "cpu,host=b", "cpu,host=c"])
    tail = series.parse_series_keys(keys.slice(1))
    assert [v.as_py() for v in tail.tags[0].values] == ["b", "c"]
    assert tail is series.parse_series_keys(pa.array(["cpu,host=b", "cpu,host=c"]))
    assert parses == [["cpu,host=b", "cpu,host=c"]]


def test_only_the_last_sets_are_kept(parses: list[list], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(series, "_KEPT", LockedLru(2))
    for name in ("a", "b", "c", "a"):
        series.parse_series_keys(pa.array([f"cpu,host={name}"]))
    assert len(parses) == 4  # "a" was dropped when "c" came
    series.parse_series_keys(pa.array(["cpu,host=c"]))
    assert len(parses) == 4
