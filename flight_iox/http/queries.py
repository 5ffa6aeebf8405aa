"""``DELETE /api/v3/query/<id>``: cancel a running query (``system.queries`` lists the ids).

An admin token may cancel any query; another token only those it started itself (others
are "not found"). The query stops within a poll interval as if its client had gone: its
client gets 499 (HTTP) or CANCELLED (Flight), and ``system.queries`` shows it cancelled.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flight_iox.http.params import principal_of
from flight_iox.http.services import services_of
from flight_iox.query.query_log import QueryLog


def query_log(request: Request) -> QueryLog:
    """The server's query log (the composition root gives it to the app)."""
    return services_of(request).queries


async def cancel_query(request: Request) -> Response:
    """``DELETE /api/v3/query/{id}``: 200 ``{"id", "cancelled": true}``, or 404."""
    query_id = request.path_params["query_id"]
    record = query_log(request).cancel(query_id, principal_of(request))
    return JSONResponse({"id": record.id, "cancelled": True})
