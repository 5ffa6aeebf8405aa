"""Token endpoints, shaped like InfluxDB 3's.

- ``POST /api/v3/configure/token/admin``: the first admin token. Open until an
  admin token has ever existed; refused (409) from then on, even after every
  admin token was revoked (the store remembers). A lost admin token is
  recovered offline: ``flight-iox token recover-admin`` with the server stopped.
- ``POST /api/v3/configure/token``: ``{"name", "permissions": [{"database",
  "actions": ["read", "write", "create", "delete"]}]}`` makes a database token
  (admin only).
- ``GET /api/v3/configure/token``: every token, without secrets (admin only).
- ``DELETE /api/v3/configure/token?name=``: revoke (admin only).

Every creation answers ``{"token": <secret>, ...}``; the secret is never shown again.
"""

from __future__ import annotations

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flight_iox.auth.policy import Authorizer
from flight_iox.auth.tokens import (
    Permission,
    TokenRecord,
    hash_token,
    new_admin_record,
    new_secret,
)
from flight_iox.client_json import loads_object
from flight_iox.errors import AlreadyExistsError, BadRequestError
from flight_iox.http.params import principal_of
from flight_iox.names import validate_database_name


def _authorizer(request: Request) -> Authorizer:
    return request.app.state.authorizer


def _created(record: TokenRecord, secret: str) -> JSONResponse:
    return JSONResponse({**record.as_json(), "token": secret}, status_code=201)


async def create_admin_token(request: Request) -> Response:
    """``POST /api/v3/configure/token/admin``: the first admin token, once."""
    record, secret = new_admin_record()
    stored = await run_in_threadpool(_authorizer(request).store.add_first_admin, record)
    if not stored:
        raise AlreadyExistsError(
            "an admin token has already been created, so this bootstrap is closed; to recover "
            "a lost admin token, stop the server and run `flight-iox token recover-admin "
            "--data-dir <folder>`"
        )
    return _created(record, secret)


async def tokens(request: Request) -> Response:
    """``GET|POST|DELETE /api/v3/configure/token`` (the auth middleware demands an admin)."""
    Authorizer.require_admin(principal_of(request))
    store = _authorizer(request).store
    if request.method == "GET":
        return JSONResponse([r.as_json() for r in store.records()])
    if request.method == "DELETE":
        name = request.query_params.get("name") or request.query_params.get("id")
        if not name:
            raise BadRequestError("missing query parameter 'name' (the token to revoke)")
        removed = await run_in_threadpool(store.remove, name)
        return JSONResponse({"name": removed.name, "id": removed.id, "revoked": True})
    record, secret = _database_token(await request.body())
    await run_in_threadpool(store.add, record)
    return _created(record, secret)


def _database_token(body: bytes) -> tuple[TokenRecord, str]:
    payload = loads_object(body or b"{}", "request body")
    name = payload.get("name") or payload.get("token_name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequestError("missing 'name' (the token's name)")
    raw = payload.get("permissions")
    if not isinstance(raw, list) or not raw:
        raise BadRequestError(
            'missing \'permissions\': [{"database": "db", "actions": ["read", "write"]}]'
        )
    permissions = tuple(Permission.from_json(p) for p in raw)
    for permission in permissions:
        if permission.database != "*":
            validate_database_name(permission.database)
    secret = new_secret()
    record = TokenRecord(secrets.token_hex(8), name, hash_token(secret), False, permissions)
    return record, secret
