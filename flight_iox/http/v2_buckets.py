"""InfluxDB 2's ``/api/v2/buckets`` and ``/api/v2/orgs`` over databases, for influxdb-client.

A bucket is a database; its one retention rule is the database's retention period
(``everySeconds`` 0 or no rule: kept forever). A bucket named ``db/rp`` is database ``db``,
as the v1 DBRP mapping reads it (``names.database_of_bucket``). InfluxDB 2 names buckets by
16-hex-digit IDs that flight-iox does not store: a bucket's ID is derived from its name
(``bucket_id``), so it is the same on every server and after restarts, and a deleted and
re-created database gets its old ID back.

There is one organization. Every org name or ID a client sends is that org (flight-iox has
no tenants, as InfluxDB 3 ignores ``org``), so clients configured for InfluxDB 2 keep their
settings; ``GET /api/v2/orgs/{id}`` answers only its own ID.

Permissions are the database API's (``admin.configure_database``): a listing shows the
buckets the token may read, creating needs ``create`` on the name, deleting ``delete``, and
changing the retention an admin. An ID is looked up only among the buckets the caller may
see, so a token learns nothing of other databases from IDs.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.client_json import loads_object
from flight_iox.engine.engine import Engine
from flight_iox.errors import BadRequestError, LimitExceededError, NotFoundError
from flight_iox.http.body import read_body
from flight_iox.http.params import principal_of, query_params
from flight_iox.http.services import services_of
from flight_iox.names import database_of_bucket

ORG_ID = "0000000000000001"
ORG_NAME = "flight-iox"
_EPOCH = "1970-01-01T00:00:00Z"
_ANY_ACTION = (Action.READ, Action.WRITE, Action.CREATE, Action.DELETE)


def bucket_id(name: str) -> str:
    """A database's bucket ID: the first 16 hex digits of the SHA-256 of its name."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def _org() -> dict[str, Any]:
    return {
        "id": ORG_ID,
        "name": ORG_NAME,
        "description": "the one organization of a flight-iox server",
        "status": "active",
        "createdAt": _EPOCH,
        "updatedAt": _EPOCH,
        "links": {"self": f"/api/v2/orgs/{ORG_ID}", "buckets": f"/api/v2/buckets?org={ORG_NAME}"},
    }


def _bucket(name: str, retention_ns: int | None) -> dict[str, Any]:
    rules = []
    if retention_ns:
        every = max(1, retention_ns // 1_000_000_000)
        rules.append({"type": "expire", "everySeconds": every, "shardGroupDurationSeconds": 0})
    identifier = bucket_id(name)
    return {
        "id": identifier,
        "orgID": ORG_ID,
        "type": "user",
        "name": name,
        "description": "",
        "retentionRules": rules,
        "createdAt": _EPOCH,
        "updatedAt": _EPOCH,
        "links": {"self": f"/api/v2/buckets/{identifier}", "org": f"/api/v2/orgs/{ORG_ID}"},
        "labels": [],
    }


def _retention(rules: object) -> int | None:
    """Nanoseconds from InfluxDB 2's ``retentionRules`` (None: forever)."""
    if rules is None:
        return None
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        raise BadRequestError("'retentionRules' must be a list of objects")
    if len(rules) > 1:
        raise BadRequestError("a bucket has at most one retention rule (its database's period)")
    if not rules:
        return None
    rule = rules[0]
    if rule.get("type", "expire") != "expire":
        raise BadRequestError(f"retention rule type {rule.get('type')!r}: only 'expire' exists")
    every = rule.get("everySeconds")
    if not isinstance(every, int) or isinstance(every, bool) or every < 0:
        raise BadRequestError("'retentionRules[0].everySeconds' must be a whole number >= 0")
    return every * 1_000_000_000 or None


def _visible(engine: Engine, principal: Principal) -> list[str]:
    """The databases the caller may do anything with (an ID resolves among these only)."""
    names = engine.database_names()
    if principal.admin:
        return names
    return [n for n in names if any(principal.may(a, n) for a in _ANY_ACTION)]


def bucket_by_id(engine: Engine, principal: Principal, identifier: str) -> str:
    """The database of a bucket ID, among those the caller may see (else 404)."""
    for name in _visible(engine, principal):
        if bucket_id(name) == identifier:
            return name
    raise NotFoundError(f"bucket {identifier!r} not found")


async def _json_body(request: Request) -> dict[str, Any]:
    body = await read_body(request, request.app.state.settings.max_request_bytes)
    return loads_object(body, "request body") if body.strip() else {}


async def buckets(request: Request) -> Response:
    """``GET /api/v2/buckets`` (``name``, ``id``, ``limit``, ``offset``, ``after``); ``POST``."""
    engine = services_of(request).engine
    principal = principal_of(request)
    if request.method == "POST":
        return await _create(request, engine, principal)
    params = query_params(request)
    names = principal.readable(engine.database_names())
    if params.get("name"):
        names = [n for n in names if n == database_of_bucket(params["name"])]
    if params.get("id"):
        names = [n for n in names if bucket_id(n) == params["id"]]
    limit = _count(params, "limit", 20, 1, 100)
    offset = _count(params, "offset", 0, 0, None)
    if params.get("after"):
        ids = [bucket_id(n) for n in names]
        after = params["after"]
        names = names[ids.index(after) + 1 :] if after in ids else []
    page = names[offset : offset + limit]
    found = [_bucket(n, engine.retention_ns(n)) for n in page]
    links = {"self": f"/api/v2/buckets?limit={limit}&offset={offset}"}
    if len(names) > offset + limit:  # clients page on with ``after`` while ``next`` is there
        links["next"] = f"/api/v2/buckets?limit={limit}&after={bucket_id(page[-1])}"
    return JSONResponse({"links": links, "buckets": found})


def _count(params: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        upper = f" to {high}" if high is not None else " or more"
        raise BadRequestError(f"query parameter {name!r} must be a whole number {low}{upper}")
    return int(raw)


async def _create(request: Request, engine: Engine, principal: Principal) -> Response:
    body = await _json_body(request)
    raw = body.get("name")
    if not isinstance(raw, str) or not raw:
        raise BadRequestError("missing 'name' (the bucket, i.e. the database, to create)")
    name = database_of_bucket(raw)
    Authorizer.require(principal, Action.CREATE, name)
    retention = _retention(body.get("retentionRules"))
    await run_in_threadpool(engine.create_database, name, retention)
    return JSONResponse(_bucket(name, retention), status_code=201)


async def bucket(request: Request) -> Response:
    """``GET|PATCH|DELETE /api/v2/buckets/{bucketID}``."""
    engine = services_of(request).engine
    principal = principal_of(request)
    name = bucket_by_id(engine, principal, request.path_params["bucket_id"])
    if request.method == "GET":
        Authorizer.require(principal, Action.READ, name)
        return JSONResponse(_bucket(name, engine.retention_ns(name)))
    if request.method == "DELETE":
        Authorizer.require(principal, Action.DELETE, name)
        await run_in_threadpool(engine.delete_database, name)
        return Response(status_code=204)
    body = await _json_body(request)
    if "name" in body and body["name"] != name:
        raise BadRequestError("a bucket cannot be renamed (its name is its database's)")
    Authorizer.require_admin(principal)  # as PUT /api/v3/configure/database
    retention = engine.retention_ns(name)
    if "retentionRules" in body:
        retention = _retention(body["retentionRules"])
        await run_in_threadpool(engine.set_retention, name, retention)
    return JSONResponse(_bucket(name, retention))


async def orgs(request: Request) -> Response:
    """``GET /api/v2/orgs``: the one org, whatever ``org`` or ``orgID`` names; POST is 422."""
    principal_of(request)  # authenticated by the middleware; any token sees the org
    if request.method == "POST":
        raise LimitExceededError(
            f"a flight-iox server has one organization ({ORG_NAME!r}, ID {ORG_ID}) and "
            "creates no others: org names are ignored, as in InfluxDB 3"
        )
    return JSONResponse({"links": {"self": "/api/v2/orgs"}, "orgs": [_org()]})


async def org(request: Request) -> Response:
    """``GET /api/v2/orgs/{orgID}``: the one org, 404 for any other ID."""
    principal_of(request)
    if request.path_params["org_id"] != ORG_ID:
        raise NotFoundError(f"organization {request.path_params['org_id']!r} not found")
    return JSONResponse(_org())
