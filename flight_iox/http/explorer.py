"""The query explorer: one static web page at ``GET /`` and its assets, no data in them.

The page (docs/explorer.md) calls the same HTTP APIs as any client, with the token the
user types in, so it grants nothing: the routes here are PUBLIC in ``auth/http.py``,
listed one by one, and every data call is authorized by its API as usual.

The files are package data read through ``importlib.resources``, so an installed wheel
serves them as well as a checkout does. The page loads no inline script or style and
nothing from another origin; the Content-Security-Policy says so, and the browser refuses
anything else, such as a script smuggled in through a table name.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ASSET_PREFIX = "/explorer/"

# URL name -> (file under static/, media type). Only these are served: no path is joined.
ASSETS: dict[str, tuple[str, str]] = {
    "explorer.js": ("explorer.js", "text/javascript; charset=utf-8"),
    "chart.js": ("chart.js", "text/javascript; charset=utf-8"),
    "explorer.css": ("explorer.css", "text/css; charset=utf-8"),
    "uPlot.iife.min.js": ("vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    "uPlot.min.css": ("vendor/uPlot.min.css", "text/css; charset=utf-8"),
}
ASSET_PATHS = tuple(ASSET_PREFIX + name for name in ASSETS)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",  # uPlot draws on canvas; the favicon is an empty data: URL
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate on every load, so a new server version never runs an old script.
    "Cache-Control": "no-cache",
}


@cache
def _read(name: str) -> bytes:
    resource = files("flight_iox.http") / "static"
    for part in name.split("/"):
        resource = resource / part
    return resource.read_bytes()


async def page(request: Request) -> Response:
    """``GET /``: the explorer page."""
    return Response(_read("index.html"), media_type="text/html", headers=SECURITY_HEADERS)


async def asset(request: Request) -> Response:
    """``GET /explorer/{name}``: one of ``ASSETS``; anything else is 404."""
    found = ASSETS.get(request.path_params["name"])
    if found is None:
        return Response(b"not found", status_code=404, media_type="text/plain")
    path, media_type = found
    return Response(_read(path), media_type=media_type, headers=SECURITY_HEADERS)


ROUTES = [
    Route("/", page, methods=["GET", "HEAD"]),
    Route(ASSET_PREFIX + "{name}", asset, methods=["GET", "HEAD"]),
]
