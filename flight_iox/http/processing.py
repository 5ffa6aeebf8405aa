"""The processing engine's routes, as InfluxDB 3 serves them.

- ``POST /api/v3/configure/processing_engine_trigger``: ``{"db", "trigger_name",
  "plugin_filename", "trigger_specification", "trigger_arguments", "disabled",
  "trigger_settings": {"run_async", "error_behavior"}}`` → 201 with the trigger.
- ``DELETE /api/v3/configure/processing_engine_trigger``: ``db`` and ``trigger_name``
  (query string or JSON body).
- ``POST /api/v3/configure/processing_engine_trigger/enable`` and ``/disable``: the same two.
- ``PUT /api/v3/plugins/files``: ``{"plugin_name", "content"}`` writes a plugin file (admin);
  ``GET`` lists them (flight-iox's addition, for ``show plugins`` on a server without databases).
- ``/api/v3/engine/<path>`` (any method): the request trigger ``request:<path>``.

Permissions are checked by ``ProcessingEngine`` with the caller's principal.
"""

from __future__ import annotations

import functools

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flight_iox.auth.policy import Authorizer
from flight_iox.errors import BadRequestError
from flight_iox.http.body import read_body
from flight_iox.http.params import principal_of, query_params, request_params, required_text
from flight_iox.http.services import services_of
from flight_iox.processing.triggers import TriggerConfig

PLUGIN_REQUEST_THREADS = 16


def _plugin_threads(request: Request) -> anyio.CapacityLimiter:
    """The threads this app's request-trigger calls may hold at once (made in its loop)."""
    limiter = getattr(request.app.state, "plugin_threads", None)
    if limiter is None:
        limiter = request.app.state.plugin_threads = anyio.CapacityLimiter(PLUGIN_REQUEST_THREADS)
    return limiter


def _shown(config: TriggerConfig) -> dict[str, object]:
    return {
        "db": config.database,
        "trigger_name": config.name,
        "plugin_filename": config.plugin_filename,
        "trigger_specification": config.specification,
        "trigger_arguments": config.arguments,
        "disabled": config.disabled,
        "trigger_settings": {
            "run_async": config.run_async,
            "error_behavior": config.error_behavior,
        },
    }


async def configure_trigger(request: Request) -> Response:
    """``POST|DELETE /api/v3/configure/processing_engine_trigger``."""
    processing = services_of(request).processing
    params = await request_params(request)
    principal = principal_of(request)
    if request.method == "DELETE":
        database, name = required_text(params, "db"), required_text(params, "trigger_name")
        await run_in_threadpool(processing.delete, database, name, principal)
        return JSONResponse({"db": database, "trigger_name": name, "deleted": True})
    config = await run_in_threadpool(processing.create, params, principal)
    return JSONResponse(_shown(config), status_code=201)


async def _set_disabled(request: Request, disabled: bool) -> Response:
    processing = services_of(request).processing
    params = await request_params(request)
    database, name = required_text(params, "db"), required_text(params, "trigger_name")
    await run_in_threadpool(
        processing.set_disabled, database, name, disabled, principal_of(request)
    )
    return JSONResponse({"db": database, "trigger_name": name, "disabled": disabled})


async def enable_trigger(request: Request) -> Response:
    """``POST /api/v3/configure/processing_engine_trigger/enable``."""
    return await _set_disabled(request, False)


async def disable_trigger(request: Request) -> Response:
    """``POST /api/v3/configure/processing_engine_trigger/disable``."""
    return await _set_disabled(request, True)


async def plugin_files(request: Request) -> Response:
    """``PUT /api/v3/plugins/files``: write ``content`` as ``plugin_name`` in --plugin-dir.

    ``GET`` lists the files as ``system.plugin_files`` does (no database needed).
    """
    if request.method == "GET":
        Authorizer.require_admin(principal_of(request))
        return JSONResponse(await run_in_threadpool(services_of(request).processing.plugin_files))
    params = await request_params(request)
    name, content = required_text(params, "plugin_name"), params.get("content")
    if not isinstance(content, str):
        raise BadRequestError("missing parameter 'content' (the plugin's Python source)")
    processing = services_of(request).processing
    await run_in_threadpool(processing.upload, name, content, principal_of(request))
    return JSONResponse({"plugin_name": name, "size_bytes": len(content.encode())})


async def engine_request(request: Request) -> Response:
    """``/api/v3/engine/<path>``: call the plugin of the request trigger on ``<path>``."""
    processing = services_of(request).processing
    path = request.path_params["path"]
    body = await read_body(request, request.app.state.settings.max_request_bytes)
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() != "authorization"}
    call = functools.partial(
        processing.request, path, query_params(request), headers, body, principal_of(request)
    )
    # Plugin calls take threads of their own limiter, never the shared pool's (writes and
    # queries run there): a plugin that blocks holds at most PLUGIN_REQUEST_THREADS threads.
    text, status, response_headers = await anyio.to_thread.run_sync(
        call, limiter=_plugin_threads(request)
    )
    media = response_headers.pop("content-type", response_headers.pop("Content-Type", None))
    return Response(text, status_code=status, headers=response_headers, media_type=media)
