"""The tiled field keys of a body kept between bodies: shared only by the same shape (a
shorter body compares with a slice), never standing in for a line whose keys differ, and
bounded in size."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flight_iox.ingest import fields
from tests.unit.ingest.corpus_support import both_paths


@pytest.fixture
def tilings(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[tuple[bytes, ...], int]]]:
    """Each tiling that was built (not found kept): its shape and line count."""
    fields.forget_kept_shapes()
    built: list[tuple[tuple[bytes, ...], int]] = []
    text = fields._tiled_text

    def counted(shape: list[bytes] | tuple[bytes, ...], lines: int) -> object:
        built.append((tuple(shape), lines))
        return text(shape, lines)

    monkeypatch.setattr(fields, "_tiled_text", counted)
    yield built
    fields.forget_kept_shapes()


def _parse(body: str) -> list:
    return both_paths(body)[0]


def _body(keys: list[str], lines: int, offset: int = 0) -> str:
    return "\n".join(
        f"cpu,host=h{n} " + ",".join(f"{k}={n + offset + i}i" for i, k in enumerate(keys))
        + f" {n + offset}"
        for n in range(lines)
    )  # fmt: skip


def test_bodies_of_one_shape_share_one_tiling_and_keep_their_values(tilings: list) -> None:
    one, two = _parse(_body(["a", "bb"], 20)), _parse(_body(["a", "bb"], 20, offset=100))
    assert tilings == [((b"a", b"bb"), 20)]
    assert one != two and len(one) == len(two) == 20
    assert len(_parse(_body(["a", "bb"], 12))) == 12  # fewer lines: a slice of it
    assert tilings == [((b"a", b"bb"), 20)]
    _parse(_body(["a", "bb"], 21))  # more lines: built again, and kept
    _parse(_body(["a", "bb"], 20, offset=7))
    _parse(_body(["bb", "a"], 20))  # the same keys in another order: its own
    _parse(_body(["ab", "b"], 20))  # the same text split elsewhere: its own
    assert tilings[1:] == [((b"a", b"bb"), 21), ((b"bb", b"a"), 20), ((b"ab", b"b"), 20)]


def test_a_kept_tiling_never_hides_a_line_whose_keys_differ(tilings: list) -> None:
    _parse(_body(["usage", "idle"], 30))
    lines = _body(["usage", "idle"], 30, offset=5).splitlines()
    lines[17] = lines[17].replace("idle=", "idlE=")  # as long, one byte different
    lines[29] = lines[29].replace("usage=", "usagf=")
    parsed = _parse("\n".join(lines))
    assert tilings == [((b"usage", b"idle"), 30)]  # found kept
    keys = [sorted(key for key, _, _ in p[2]) for p in parsed]
    assert keys[17] == ["idlE", "usage"] and keys[29] == ["idle", "usagf"]
    assert all(k == ["idle", "usage"] for n, k in enumerate(keys) if n not in (17, 29))


def test_a_tiling_over_the_bound_is_built_each_time(
    tilings: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fields, "MAX_KEPT_SHAPE_BYTES", 200)
    body = _body(["field_with_a_long_name"], 20)
    _parse(body)
    _parse(body)
    assert len(tilings) == 2 and len(fields._KEPT) == 0
    small = _body(["f"], 3)
    _parse(small)
    _parse(small)
    assert len(tilings) == 3 and len(fields._KEPT) == 1


def test_only_the_last_shapes_are_kept(tilings: list) -> None:
    for n in range(fields.KEPT_SHAPES + 1):
        _parse(_body([f"k{n}"], 4))
    assert len(fields._KEPT) == fields.KEPT_SHAPES
    _parse(_body(["k0"], 4))  # the oldest was dropped
    assert len(tilings) == fields.KEPT_SHAPES + 2
