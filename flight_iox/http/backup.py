"""``POST /api/v3/backup``: copy a consistent snapshot of the server to a folder or S3."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flight_iox.auth.policy import Authorizer
from flight_iox.backup.location import open_location
from flight_iox.backup.take import take_backup
from flight_iox.errors import BadRequestError
from flight_iox.http.params import principal_of, request_params
from flight_iox.http.services import services_of


async def backup(request: Request) -> Response:
    """Admin only: ``{"to": "/folder" | "s3://bucket/prefix"}`` -> the manifest's summary.

    The folder is on the server's machine; ``s3://`` uses the server's S3 endpoint and keys.
    """
    Authorizer.require_admin(principal_of(request))
    params = await request_params(request)
    to = params.get("to")
    if not isinstance(to, str) or not to.strip():
        raise BadRequestError("missing parameter 'to' (a folder or s3://bucket/prefix)")
    services = services_of(request)
    try:
        target = open_location(to, services.catalog_config.store)
    except ValueError as error:
        raise BadRequestError(str(error)) from None
    manifest = await run_in_threadpool(take_backup, services.backup, target)
    return JSONResponse({"to": target.url, **manifest.summary()})
