"""JSON from clients (request bodies, tickets, handles, descriptors), parsed at the edge.

Every way a client's JSON can fail becomes a ``BadRequestError`` naming what was
sent: text that is not JSON, nesting past Python's recursion limit (``json`` raises
RecursionError), and ``"\\ud800"``-style escapes of lone surrogates. Those decode to
Python strings that cannot be encoded back to UTF-8, so they would fail far from
here (in DataFusion, the token file, even the JSON error response) as 500s.
"""

from __future__ import annotations

import json
from typing import Any

from flight_iox.errors import BadRequestError


def loads(data: bytes | str, what: str) -> object:
    """The JSON value of ``data``; ``what`` names it in the error (e.g. "request body")."""
    try:
        value = json.loads(data)
    except ValueError as error:
        raise BadRequestError(f"{what} is not valid JSON: {error}") from None
    except RecursionError:
        raise BadRequestError(f"{what} is not valid JSON: nested too deeply") from None
    escaped = b"\\u" in data if isinstance(data, bytes) else "\\u" in data
    if escaped and _has_lone_surrogate(value):
        raise BadRequestError(f"{what} holds a lone surrogate escape (\\ud800-\\udfff)")
    return value


def loads_object(data: bytes | str, what: str) -> dict[str, Any]:
    """``loads``, for JSON that must be an object (its values are whatever JSON holds)."""
    value = loads(data, what)
    if not isinstance(value, dict):
        raise BadRequestError(f"{what} must be a JSON object")
    return value


def _has_lone_surrogate(value: object) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
