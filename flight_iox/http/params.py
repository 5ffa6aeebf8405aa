"""A request's parameters, read once from every place they may be, with no ambiguity.

The InfluxQL routes take ``db``, ``q`` and the rest from the query string and
from the body (a form on ``/query``, JSON on ``/api/v3/query_influxql``). They
are read here once, into the one mapping the handler authorizes and executes.
A name given twice (twice in the query string, or in the query string and the
body) with different values is refused with 400 naming both values, so no two
readers of the request can ever disagree about which database it names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import Enum
from urllib.parse import parse_qsl

from starlette.requests import Request

from flight_iox.errors import BadRequestError
from flight_iox.http.body import read_body


class BodyKind(Enum):
    """How a POST body carries parameters."""

    FORM = "form body"  # application/x-www-form-urlencoded (InfluxDB 1.x /query)
    JSON = "JSON body"  # a JSON object (InfluxDB 3)


async def request_parameters(request: Request, body_kind: BodyKind) -> dict[str, object]:
    """Every parameter of ``request``: its query string, then (on POST) its body."""
    params: dict[str, object] = {}
    places: dict[str, str] = {}
    _merge(params, places, request.query_params.multi_items(), "query string")
    if request.method == "POST":
        body = await read_body(request, request.app.state.settings.max_request_bytes)
        if body.strip():
            _merge(params, places, _body_items(request, body, body_kind), body_kind.value)
    return params


def _body_items(request: Request, body: bytes, kind: BodyKind) -> Iterable[tuple[str, object]]:
    if kind is BodyKind.FORM:
        if "multipart/form-data" in request.headers.get("content-type", ""):
            raise BadRequestError(
                "multipart query bodies are not supported; send q as a form field"
            )
        return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise BadRequestError(f"request body is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise BadRequestError("request body must be a JSON object")
    return payload.items()


def _merge(
    params: dict[str, object],
    places: dict[str, str],
    items: Iterable[tuple[str, object]],
    place: str,
) -> None:
    for name, value in items:
        if value is None:  # JSON null: the parameter is absent
            continue
        if name in params and params[name] != value:
            raise BadRequestError(
                f"parameter {name!r} is given twice with different values: "
                f"{params[name]!r} ({places[name]}) and {value!r} ({place})"
            )
        params[name] = value
        places[name] = place


def text_param(params: dict[str, object], name: str) -> str | None:
    """A parameter that must be text when present (a JSON body could send anything)."""
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequestError(f"{name!r} must be a string")
    return value
