"""Running ``CREATE|DROP SUBSCRIPTION`` and ``SHOW SUBSCRIPTIONS`` (admin tokens only).

The statement checks the caller where it resolves the database (an admin token, as
InfluxDB 1.x asks), then the subscription service checks again and does the work.
``SHOW SUBSCRIPTIONS`` answers as 1.x does: one series per database, with the columns
``retention_policy``, ``name``, ``mode`` and ``destinations`` (a list; the service masks
passwords in a URL).
"""

from __future__ import annotations

from itertools import groupby

import pyarrow as pa

from flight_iox.auth.policy import Authorizer
from flight_iox.errors import NotSupportedError
from flight_iox.influxql import ast
from flight_iox.influxql.context import Context
from flight_iox.influxql.result import Series

_COLUMNS = ["retention_policy", "name", "mode", "destinations"]


def run_subscription(stmt: ast.Statement, ctx: Context) -> list[Series]:
    """One subscription statement; nothing for CREATE and DROP, the list for SHOW."""
    assert isinstance(stmt, ast.SubscriptionStatement)
    Authorizer.require_admin(ctx.principal)
    service = ctx.subscriptions
    if service is None:
        raise NotSupportedError("subscriptions are not available here")
    if stmt.action == "create":
        service.create(
            ctx.principal,
            stmt.database,
            stmt.retention_policy,
            stmt.name,
            stmt.mode,
            list(stmt.destinations),
        )
        return []
    if stmt.action == "drop":
        service.drop(ctx.principal, stmt.database, stmt.retention_policy, stmt.name)
        return []
    series = []
    listed = service.definitions(ctx.principal)
    for database, group in groupby(listed, key=lambda s: s.database):
        items = list(group)
        data = pa.table(
            {
                "retention_policy": [s.retention_policy for s in items],
                "name": [s.name for s in items],
                "mode": [str(s.mode) for s in items],
                "destinations": [list(s.destinations) for s in items],
            }
        )
        series.append(Series(database, {}, list(_COLUMNS), data))
    return series
