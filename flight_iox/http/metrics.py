"""``GET /metrics``: the server's Prometheus metrics, in the text exposition format.

Admin only when auth is on, unless ``--disable-authz metrics`` (the route table in
``auth/http.py``): the write counters are labelled by database name.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from flight_iox.http.services import services_of
from flight_iox.metrics import CONTENT_TYPE


async def serve_metrics(request: Request) -> Response:
    """Every metric of this server (rendered off the event loop: collectors take locks)."""
    source = services_of(request).metrics
    body = await run_in_threadpool(source.render)
    return Response(body, media_type=CONTENT_TYPE)
