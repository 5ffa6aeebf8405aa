"""Caps on line length and value sizes, and on how many line errors an answer lists."""

from __future__ import annotations

import pytest

from flight_iox.config import IngestLimits
from flight_iox.errors import MAX_LISTED_LINE_ERRORS, LineError, LineProtocolError
from flight_iox.ingest.parse import parse_body
from flight_iox.ingest.precision import Precision

LIMITS = IngestLimits(max_line_bytes=200, max_tag_value_bytes=10, max_field_value_bytes=20)


def parse(body: str, fast_path: bool) -> tuple[dict[int, str], int]:
    result = parse_body(
        body.encode(),
        precision=Precision.NANOSECOND,
        default_time_ns=0,
        fast_path=fast_path,
        min_fast_lines=1,
        limits=LIMITS,
    )
    return {e.line_number: e.message for e in result.errors}, sum(
        len(b.time) for b in result.batches
    )


@pytest.mark.parametrize("fast_path", [True, False])
def test_each_cap_rejects_only_its_line_and_names_the_limit(fast_path: bool) -> None:
    body = "\n".join(
        [
            "m,host=a v=1 1",
            "m,host=" + "x" * 11 + " v=1 2",  # tag over 10 bytes
            'm,host=a s="' + "y" * 21 + '" 3',  # string field over 20 bytes
            "m,host=a v=1 4 " + " " * 200,  # line over 200 bytes
            "m,host=" + "é" * 5 + ' s="' + "z" * 20 + '" 5',  # exactly at both caps (bytes)
        ]
    )
    errors, rows = parse(body, fast_path)
    assert sorted(errors) == [2, 3, 4]
    assert "--max-tag-value-bytes" in errors[2] and "11 bytes" in errors[2]
    assert "--max-field-value-bytes" in errors[3]
    assert "--max-line-bytes" in errors[4]
    assert rows == 2


def test_an_answer_lists_the_first_errors_and_counts_the_rest() -> None:
    errors = [LineError(n, "bad", "x" * 1000) for n in range(1, 2_501)]
    body = LineProtocolError("partial write of line protocol occurred", errors).as_json()
    assert len(body["data"]) == MAX_LISTED_LINE_ERRORS  # type: ignore[arg-type]
    assert body["more_line_errors"] == 2_500 - MAX_LISTED_LINE_ERRORS
    assert str(body["error"]).endswith(f"and {2_500 - MAX_LISTED_LINE_ERRORS} more)")
    quoted = body["data"][0]["original_line"]  # type: ignore[index]
    assert len(quoted) < 300 and quoted.endswith("(1000 characters)")


def test_a_short_answer_is_unchanged() -> None:
    body = LineProtocolError("partial", [LineError(2, "bad", "m v=x")]).as_json()
    assert body == {
        "error": "partial",
        "data": [{"error_message": "bad", "line_number": 2, "original_line": "m v=x"}],
    }
