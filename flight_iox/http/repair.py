"""``POST /api/v3/configure/repair``: list lost data files, and remove them from their tables.

Admin only (the auth route table). A dry run is the default: removing files accepts that
their rows are lost, so it takes an explicit ``"dry_run": false``.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flight_iox.errors import BadRequestError
from flight_iox.http.params import request_params, text_param
from flight_iox.http.services import services_of
from flight_iox.persist.repair import repair


async def repair_files(request: Request) -> Response:
    """``{"db": name or absent (all), "dry_run": true, "files": [paths] (optional)}``."""
    params = await request_params(request)
    database = text_param(params, "db") or None
    dry_run = _flag(params.get("dry_run", True))
    only = params.get("files")
    if only is not None and not (isinstance(only, list) and all(isinstance(p, str) for p in only)):
        raise BadRequestError("'files' must be a list of data file paths")
    persister = services_of(request).persister
    report = await run_in_threadpool(
        lambda: repair(persister, database, dry_run=dry_run, only=only)
    )
    return JSONResponse(report.as_json())


def _flag(value: object) -> bool:
    """A JSON boolean, or ``true``/``false`` from the query string."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise BadRequestError(f"'dry_run' must be true or false, not {value!r}")
