"""``GET|PUT /api/v3/configure/table``: read and change a table's partitioning.

Admin only (not in the auth route table, so denied to other tokens): the spec decides
the layout of every file the table will have. ``PUT`` takes
``{"db", "table", "partition_by": ["hour(time)", "bucket(4, host)"]}`` (docs/persistence.md);
files already written keep their partitioning.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flight_iox.errors import BadRequestError
from flight_iox.http.params import request_params, text_param
from flight_iox.http.services import services_of
from flight_iox.persist.partition_by import partition_by, set_partition_by


async def configure_table(request: Request) -> Response:
    """``GET ?db=&table=`` answers the partitioning; ``PUT`` sets it and answers the new one."""
    params = await request_params(request)
    database, table = text_param(params, "db"), text_param(params, "table")
    if not database or not table:
        raise BadRequestError("missing parameter 'db' or 'table'")
    persister = services_of(request).persister
    if request.method == "GET":
        fields = await run_in_threadpool(partition_by, persister, database, table)
    else:
        wanted = params.get("partition_by")
        if not isinstance(wanted, list) or not all(isinstance(f, str) for f in wanted):
            raise BadRequestError(
                '\'partition_by\' must be a list of strings, like ["day(time)", "host"]'
            )
        fields = await run_in_threadpool(set_partition_by, persister, database, table, wanted)
    return JSONResponse({"db": database, "table": table, "partition_by": fields})
