"""``POST|DELETE /api/v3/configure/last_cache`` and ``/api/v3/configure/distinct_cache``.

As in InfluxDB 3: POST takes ``{"db", "table", "name", "key_columns", "value_columns",
"count", "ttl"}`` (last) or ``{"db", "table", "name", "columns", "max_cardinality",
"max_age"}`` (distinct) and answers 201 with the configuration it keeps; DELETE takes
``{"db", "table", "name"}``. Configuring a cache needs an admin token or ``create`` on
the database (it changes what the database keeps in memory, not its data).
Bad fields are 400s naming the field, an unknown database or table 404, a taken name 409.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flight_iox.auth.policy import Authorizer
from flight_iox.auth.tokens import Action
from flight_iox.engine.cache_config import (
    CacheConfig,
    CacheKind,
    distinct_cache_config,
    last_cache_config,
    to_json,
)
from flight_iox.http.params import principal_of, request_params, required_text
from flight_iox.http.services import services_of

_CONFIGS: dict[CacheKind, Callable[[str, pa.Schema, dict[str, object]], CacheConfig]] = {
    "last": last_cache_config,
    "distinct": distinct_cache_config,
}


def _shown(config: CacheConfig) -> dict[str, object]:
    shown = to_json(config)
    shown.pop("kind")
    return shown


async def _configure(request: Request, kind: CacheKind) -> Response:
    engine = services_of(request).engine
    params = await request_params(request)
    database, table = required_text(params, "db"), required_text(params, "table")
    Authorizer.require(principal_of(request), Action.CREATE, database)
    if request.method == "DELETE":
        name = required_text(params, "name")
        await run_in_threadpool(engine.remove_cache, database, kind, table, name)
        return JSONResponse({"db": database, "table": table, "name": name, "deleted": True})
    schema = engine.existing_table_schema(database, table)
    config = _CONFIGS[kind](table, schema, params)
    await run_in_threadpool(engine.add_cache, database, config)
    return JSONResponse({"db": database, **_shown(config)}, status_code=201)


async def configure_last_cache(request: Request) -> Response:
    """``POST|DELETE /api/v3/configure/last_cache``: create or delete a last-value cache."""
    return await _configure(request, "last")


async def configure_distinct_cache(request: Request) -> Response:
    """``POST|DELETE /api/v3/configure/distinct_cache``: create or delete a distinct cache."""
    return await _configure(request, "distinct")
