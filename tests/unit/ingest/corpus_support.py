"""Shared helpers for the line-protocol corpus tests: load cases, compare results."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from flight_iox.ingest.parse import ParseResult, parse_body
from flight_iox.ingest.precision import Precision

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
CORPUS = SHARED / "conformance" / "line-protocol-corpus" / "corpus.json"
PRECISIONS = {
    "1ns": Precision.NANOSECOND,
    "1µs": Precision.MICROSECOND,
    "1ms": Precision.MILLISECOND,
    "1s": Precision.SECOND,
    "1m": Precision.MINUTE,
    "1h": Precision.HOUR,
}


def load_cases() -> dict[str, dict]:
    """The decode cases by key, or skip when the shared folder is not beside the repo."""
    if not CORPUS.exists():
        pytest.skip(f"line-protocol corpus not found at {CORPUS.resolve()}")
    return json.loads(CORPUS.read_text())["decode"]


def _text(value: str | dict) -> bytes:
    return base64.b64decode(value["binary"]) if isinstance(value, dict) else value.encode()


def run_case(case: dict, *, fast_path: bool = True) -> ParseResult:
    """Parse a case's body as the case says (precision; default time truncated to it)."""
    inp = case["input"]
    precision = PRECISIONS[inp["precision"]]
    # The Go decoder truncates the default time to the precision; the caller of
    # parse_line_protocol owns the default time, so the harness truncates it.
    default = inp["defaultTime"] - inp["defaultTime"] % precision.multiplier
    return parse_body(
        _text(inp["text"]),
        precision=precision,
        default_time_ns=default,
        fast_path=fast_path,
        min_fast_lines=1,
    )


def points(result: ParseResult) -> list[tuple]:
    """Rows as comparable tuples in body order: (name, tags, fields, time)."""
    rows = []
    for batch in result.batches:
        tags = {k: v.to_pylist() for k, v in batch.tags.items()}
        fields = {k: (v.type, v.to_pylist()) for k, v in batch.fields.items()}
        for i, line in enumerate(batch.line_numbers.to_pylist()):
            row_tags = tuple(sorted((k, v[i]) for k, v in tags.items() if v[i] is not None))
            row_fields = tuple(
                sorted((k, str(t), v[i]) for k, (t, v) in fields.items() if v[i] is not None)
            )
            rows.append((line, batch.measurement, row_tags, row_fields, batch.time[i].as_py()))
    return [row[1:] for row in sorted(rows)]


def both_paths(body: str) -> tuple[list[tuple], list[tuple[int, str]]]:
    """Rows and errors of ``body`` with the fast path on every line (``min_fast_lines=1``),
    asserted equal to the exact parser's."""
    routed = parse_body(body, precision=Precision.SECOND, default_time_ns=7, min_fast_lines=1)
    exact = parse_body(body, precision=Precision.SECOND, default_time_ns=7, fast_path=False)
    assert points(routed) == points(exact), body
    errors = [(e.line_number, e.message) for e in routed.errors]
    assert errors == [(e.line_number, e.message) for e in exact.errors], body
    return points(routed), errors


def _decoded(value: str | dict) -> str:
    return _text(value).decode("utf-8") if isinstance(value, dict) else value


def _field(value: dict) -> tuple[str, object]:
    ((kind, raw),) = value.items()
    if kind == "int":
        return "int64", int(raw)
    if kind == "uint":
        return "uint64", int(raw)
    if kind == "float":
        return "double", float(raw)
    if kind == "bool":
        return "bool", bool(raw)
    return "string", _decoded(raw) if kind == "binary" else raw


def expected_points(case: dict) -> list[tuple]:
    """The case's expected points in the same shape as ``points``."""
    rows = []
    for p in case["output"].get("result") or []:
        tags = tuple(sorted((_decoded(t["key"]), _decoded(t["value"])) for t in p["tags"]))
        fields = {}
        for f in p["fields"]:
            fields[_decoded(f["key"])] = _field(f["value"])  # a repeated key: last wins
        flat = tuple(sorted((k, t, v) for k, (t, v) in fields.items()))
        rows.append((_decoded(p["name"]), tags, flat, p["time"]))
    return rows


def agrees(case: dict, result: ParseResult) -> bool:
    """Whether a result matches the Go decoder's verdict on the whole body."""
    if "error" in case["output"]:
        return bool(result.errors)
    return not result.errors and points(result) == expected_points(case)
