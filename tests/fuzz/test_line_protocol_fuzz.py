"""Fuzz the line-protocol parser: arbitrary and mutated bodies, both parser paths.

Properties: a body never makes the parser raise (bad lines become per-line errors),
and the vectorised path (forced on with ``min_fast_lines=1``) and the exact parser
agree on every body: same points, same errors, same line count.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flight_iox.ingest import Precision
from flight_iox.ingest.parse import parse_body
from tests.unit.ingest.corpus_support import points

# Bytes that matter to the grammar, plus some that do not, and some that are not UTF-8.
_ALPHABET = [*b'mcpu,= \\"\n\r#tTfFiu0123456789.-+eExp_', 0x09, 0x00, 0x7F, 0xC3, 0xA9, 0xFF]
_TOKENS = [
    "cpu", "m", ",", "=", " ", "  ", "\n", "\r\n", "\r", "\\", "\\ ", "\\,", "\\=", '"', '\\"',
    "#", "host", "h1", "v", "1", "-1", "1.5", "1e3", "1e999", ".5", "1i", "-9223372036854775808i",
    "9223372036854775808i", "18446744073709551615u", "18446744073709551616u", "t", "FALSE",
    "0x1p3", "0x10", "0X1fi", "1_0", "\xe9", "\x00", "\x7f", "1700000000000000000", "-1",
    "99999999999999999999",
]  # fmt: skip
_PRECISIONS = st.sampled_from(list(Precision))


def _simple_line() -> st.SearchStrategy[str]:
    """Lines the fast path may take (and their near misses, through ``_mutated``)."""
    word = st.sampled_from(["cpu", "mem", "m", "disk_io", "a-b", "x.y"])
    value = st.sampled_from(
        ["1", "-2.5", "3i", "4u", "t", "F", '"s"', "1e3", "x", "1i2", "", "0x1fi", "0X2u"]
    )
    tag = st.tuples(st.sampled_from(["host", "r", "h"]), word).map(lambda kv: f",{kv[0]}={kv[1]}")
    field = st.tuples(st.sampled_from(["v", "w", "usage"]), value).map(lambda kv: "=".join(kv))
    stamp = st.one_of(
        st.just(""), st.just(" 0x10"), st.integers(-(2**63), 2**64).map(lambda n: f" {n}")
    )
    return st.builds(
        lambda m, tags, fields, ts: f"{m}{''.join(tags)} {','.join(fields)}{ts}",
        word,
        st.lists(tag, max_size=3),
        st.lists(field, min_size=1, max_size=4),
        stamp,
    )


def _mutated(body: bytes, edits: list[tuple[int, int]]) -> bytes:
    """``body`` with bytes replaced or inserted at positions taken modulo its length."""
    out = bytearray(body)
    for position, byte in edits:
        at = position % (len(out) + 1)
        if byte % 2:
            out.insert(at, _ALPHABET[byte % len(_ALPHABET)])
        elif out:
            out[at % len(out)] = _ALPHABET[byte % len(_ALPHABET)]
    return bytes(out)


RAW_BODIES = st.binary(max_size=300) | st.lists(st.sampled_from(_ALPHABET), max_size=200).map(bytes)
TOKEN_BODIES = st.lists(st.sampled_from(_TOKENS), max_size=60).map(
    lambda parts: "".join(parts).encode()
)
SIMPLE_BODIES = st.builds(
    _mutated,
    st.lists(_simple_line(), min_size=1, max_size=20).map(lambda ls: "\n".join(ls).encode()),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
)


def _one_shape_lines(keys: list[str]) -> st.SearchStrategy[str]:
    """Lines that all have ``keys`` as their fields, in order, with any simple values."""
    value = st.sampled_from(["1", "-2.5", "3i", "4u", "t", "F", "1e3", "x", "1,2", "2,3i", ""])
    row = st.lists(value, min_size=len(keys), max_size=len(keys))
    return st.lists(row, min_size=2, max_size=20).map(
        lambda rows: "\n".join(
            f"cpu,host=h{n} " + ",".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
            + f" {n}"
            for n, values in enumerate(rows)
        )
    )  # fmt: skip


# Bodies of one shape (read without their commas, ``ingest/fields.py``), and near misses.
ONE_SHAPE_BODIES = st.builds(
    _mutated,
    st.lists(st.sampled_from(["v", "vv", "w", "usage", "age"]), min_size=1, max_size=4, unique=True)
    .flatmap(_one_shape_lines)
    .map(str.encode),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=3),
)


def _agree(body: bytes, precision: Precision) -> None:
    fast = parse_body(body, precision=precision, default_time_ns=7, min_fast_lines=1)
    exact = parse_body(body, precision=precision, default_time_ns=7, fast_path=False)
    assert points(fast) == points(exact)
    assert [(e.line_number, e.message) for e in fast.errors] == [
        (e.line_number, e.message) for e in exact.errors
    ]
    assert fast.line_count == exact.line_count
    for error in fast.errors:
        assert error.line_number >= 1
        assert isinstance(error.original_line, str)


@given(RAW_BODIES, _PRECISIONS)
def test_arbitrary_bytes_parse_the_same_on_both_paths(body: bytes, precision: Precision) -> None:
    _agree(body, precision)


@given(TOKEN_BODIES, _PRECISIONS)
def test_token_soup_parses_the_same_on_both_paths(body: bytes, precision: Precision) -> None:
    _agree(body, precision)


@given(SIMPLE_BODIES, _PRECISIONS)
def test_mutated_simple_bodies_parse_the_same_on_both_paths(
    body: bytes, precision: Precision
) -> None:
    _agree(body, precision)


@given(ONE_SHAPE_BODIES, _PRECISIONS)
def test_bodies_of_one_shape_and_their_near_misses_parse_the_same_on_both_paths(
    body: bytes, precision: Precision
) -> None:
    _agree(body, precision)


@pytest.mark.slow
@given(st.lists(_simple_line(), min_size=16, max_size=400), _PRECISIONS)
def test_long_simple_bodies_take_the_default_routing(
    lines: list[str], precision: Precision
) -> None:
    """The default threshold (16 lines) and chunking, as the server runs them."""
    body = "\n".join(lines).encode()
    routed = parse_body(body, precision=precision, default_time_ns=7)
    exact = parse_body(body, precision=precision, default_time_ns=7, fast_path=False)
    assert points(routed) == points(exact)
    assert [e.line_number for e in routed.errors] == [e.line_number for e in exact.errors]
