"""Client JSON: every failure is a BadRequestError (fuzzing found RecursionError, surrogates)."""

from __future__ import annotations

import pytest

from flight_iox.client_json import loads, loads_object
from flight_iox.errors import BadRequestError


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{", "body is not valid JSON"),
        (b"\xff", "body is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"q": "\\ud800"}', "lone surrogate"),
        (b'{"q": ["\\udfff x"]}', "lone surrogate"),
        ('{"\\uD83D": 1}', "lone surrogate"),
    ],
)
def test_bad_json_is_a_bad_request(data: bytes | str, message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        loads(data, "body")


def test_good_json_and_surrogate_pairs_pass() -> None:
    assert loads(b'{"q": "\\ud83d\\ude00 \\u00e9", "n": [1, 2.5, null]}', "body") == {
        "q": "\U0001f600 é",
        "n": [1, 2.5, None],
    }
    assert loads_object("{}", "body") == {}
    with pytest.raises(BadRequestError, match="body must be a JSON object"):
        loads_object(b"[1]", "body")
