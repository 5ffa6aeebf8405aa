"""A request's parameters, read once, and its principal.

Handlers read the query string and body here, once, and authorize exactly the
values they then execute. A parameter named twice with different values (twice
in the query string, in the query string and the body, or as both ``db`` and
``bucket``) is ambiguous: 400 naming both values, never a silent choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl

from starlette.requests import Request

from flight_iox.auth.http import PRINCIPAL_KEY
from flight_iox.auth.policy import Principal
from flight_iox.client_json import loads_object
from flight_iox.errors import BadRequestError
from flight_iox.http.body import read_body


def principal_of(request: Request) -> Principal:
    """The caller the auth middleware authenticated (always there on non-public routes)."""
    principal = request.scope.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):
        raise RuntimeError(f"no principal for {request.url.path}: is the route public?")
    return principal


def _conflict(name: str, first: object, second: object, where: str) -> BadRequestError:
    return BadRequestError(
        f"ambiguous parameter {name!r}: {first!r} and {second!r} ({where}); send one value"
    )


def query_params(request: Request) -> dict[str, str]:
    """The query string as a dict; a name given twice with different values is a 400."""
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in params and params[name] != value:
            raise _conflict(name, params[name], value, "repeated in the query string")
        params[name] = value
    return params


def merged(params: dict[str, object], extra: Iterable[tuple[str, object]], source: str) -> None:
    """Add ``extra`` (a body's parameters) to ``params``; a differing value is a 400."""
    for name, value in extra:
        if name in params and params[name] != value:
            raise _conflict(name, params[name], value, f"query string and {source}")
        params[name] = value


def one_of(params: dict[str, object], names: tuple[str, ...]) -> object | None:
    """The value of whichever of ``names`` is given (``db``/``bucket``); two differing are a 400."""
    found = [(name, params[name]) for name in names if params.get(name) not in (None, "")]
    for name, value in found[1:]:
        if value != found[0][1]:
            raise BadRequestError(
                f"conflicting databases: {found[0][0]}={found[0][1]!r} and {name}={value!r}; "
                "name one database"
            )
    return found[0][1] if found else None


async def request_params(request: Request) -> dict[str, object]:
    """Parameters from the query string and, on POST/PUT/DELETE, a JSON object body."""
    params: dict[str, object] = dict(query_params(request))
    if request.method in ("POST", "PUT", "DELETE"):
        body = await read_body(request, request.app.state.settings.max_request_bytes)
        if body.strip():
            merged(params, loads_object(body, "request body").items(), "JSON body")
    return params


async def form_params(request: Request) -> dict[str, object]:
    """Parameters from the query string and, on POST, a form body (InfluxDB 1.x ``/query``)."""
    params: dict[str, object] = dict(query_params(request))
    if request.method == "POST":
        if "multipart/form-data" in request.headers.get("content-type", ""):
            raise BadRequestError(
                "multipart query bodies are not supported; send q as a form field"
            )
        body = await read_body(request, request.app.state.settings.max_request_bytes)
        if body.strip():
            pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            merged(params, _distinct(pairs, "form body"), "form body")
    return params


def _distinct(pairs: list[tuple[str, str]], source: str) -> list[tuple[str, str]]:
    """``pairs`` with each name once; a name repeated with a different value is a 400."""
    seen: dict[str, str] = {}
    for name, value in pairs:
        if name in seen and seen[name] != value:
            raise _conflict(name, seen[name], value, f"repeated in the {source}")
        seen[name] = value
    return list(seen.items())


def text_param(params: dict[str, object], name: str) -> str | None:
    """A parameter that must be text when present (a JSON body could send anything)."""
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequestError(f"{name!r} must be a string")
    return value


def required_text(params: dict[str, object], name: str) -> str:
    """A parameter that must be given, as non-empty text (a 400 naming it otherwise)."""
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequestError(f"missing parameter {name!r}")
    return value
