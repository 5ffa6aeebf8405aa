"""``POST /api/v3/configure/node/promote``: a replica stops following and accepts writes.

Admin only (the auth route table). Promotion is an operator's decision, never taken by
the server itself: nothing here can tell whether the old leader is really gone, so
docs/cluster.md#replication says what to check first (split brain).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flight_iox.http.services import services_of


async def promote_node(request: Request) -> Response:
    """``{"node_id", "promoted": true, "was_replica_of", "last_sequence"}`` (or, on a node
    that already accepts writes, ``"promoted": false`` with the reason)."""
    replication = services_of(request).replication
    return JSONResponse(await run_in_threadpool(replication.promote))
