"""Retention policies mapped onto the database's one retention period.

flight-iox keeps one retention policy per database: its duration is the database's
retention period (the one ``/api/v3/configure/database`` sets, enforced by
``persist/retention.py``), and its name is ``autogen`` until a ``CREATE RETENTION
POLICY ... DEFAULT`` renames it (the name is kept with the database's settings).
What cannot map is refused with the reason:

- a second, non-default policy (rows would need two lifetimes in one table);
- ``CREATE`` of the existing name with another duration (InfluxDB 1.x: a conflict).

``SHARD DURATION`` and ``REPLICATION`` are read and ignored: files are partitioned by
the table's partition spec (``/api/v3/configure/table``) and durability comes from the
WAL and the object store. ``DROP RETENTION POLICY`` of the database's policy deletes
every measurement of the database, as dropping a policy deletes its data in 1.x, and
leaves the database with a fresh, infinite ``autogen``; dropping a name the database
does not have does nothing, as in 1.x.

Creating or altering a policy changes what retention deletes, so it needs an admin token
(as ``PUT /api/v3/configure/database``); dropping one needs ``delete`` on the database
(and ``read``, to list its measurements, as ``DROP SERIES``).
"""

from __future__ import annotations

from flight_iox.auth.policy import Authorizer
from flight_iox.auth.tokens import Action
from flight_iox.errors import DatabaseNotFoundError, NotSupportedError, QueryError
from flight_iox.influxql import ast
from flight_iox.influxql.context import Context
from flight_iox.influxql.result import Series, table_series
from flight_iox.query.backend import DatabaseAdmin
from flight_iox.sql_quote import quote_identifier

DEFAULT_POLICY = "autogen"
SETTING_KIND = "retention_policy"
_NAME_KEY = "default"
MIN_DURATION = 3_600_000_000_000  # InfluxDB 1.x refuses policies shorter than an hour
_HOUR = 3_600_000_000_000
_DAY = 24 * _HOUR


def policy_name(admin: DatabaseAdmin | None, database: str) -> str:
    """The name of the database's one retention policy (``autogen`` unless renamed)."""
    if admin is None:
        return DEFAULT_POLICY
    try:
        stored = admin.settings(database, SETTING_KIND).get(_NAME_KEY, {})
    except DatabaseNotFoundError:
        return DEFAULT_POLICY
    name = stored.get("name")
    return name if isinstance(name, str) and name else DEFAULT_POLICY


def check_policy(ctx: Context, database: str, policy: str | None) -> None:
    """``retention policy not found`` unless ``policy`` is absent or the database's own.

    Without the database settings (Flight's read-only InfluxQL) only ``autogen`` is known.
    """
    if policy not in (None, "") and policy != policy_name(ctx.admin, database):
        raise QueryError(f"retention policy not found: {policy}")


def go_duration(nanos: int) -> str:
    """A duration as Go prints it (``24h0m0s``, ``0s``): what 1.x clients parse."""
    if nanos <= 0:
        return "0s"
    seconds, rest = divmod(nanos, 1_000_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    fraction = f".{rest:09d}".rstrip("0") if rest else ""
    return f"{hours}h{minutes}m{seconds}{fraction}s"


def shard_group_duration(retention_ns: int) -> int:
    """1.x's default shard group duration for a policy of that length (shown, not used)."""
    if retention_ns == 0 or retention_ns >= 180 * _DAY:
        return 7 * _DAY
    return _DAY if retention_ns >= 2 * _DAY else _HOUR


def show_retention_policies(stmt: ast.ShowStatement, ctx: Context) -> list[Series]:
    """``SHOW RETENTION POLICIES [ON db]``: the database's one policy and its duration."""
    database = ctx.resolve(stmt.database)
    if database not in ctx.backend.database_names():
        raise QueryError(f"database not found: {database}")
    retention = (ctx.admin.retention_ns(database) if ctx.admin is not None else None) or 0
    row = [
        policy_name(ctx.admin, database),
        go_duration(retention),
        go_duration(shard_group_duration(retention)),
        1,
        True,
    ]
    columns = ["name", "duration", "shardGroupDuration", "replicaN", "default"]
    return [table_series("", columns, [row])]


def run_retention_policy(stmt: ast.Statement, ctx: Context) -> list[Series]:
    """``CREATE|ALTER|DROP RETENTION POLICY``, mapped as the module says."""
    assert isinstance(stmt, ast.RetentionPolicyStatement)
    database = stmt.database or ""
    if stmt.action == "drop":
        ctx.require(Action.DELETE, database)
    else:
        Authorizer.require_admin(ctx.principal)
    admin = ctx.admin
    if admin is None:
        raise NotSupportedError(f"{stmt.action.upper()} RETENTION POLICY is not available here")
    if database not in admin.database_names():
        raise QueryError(f"database not found: {database}")
    current = policy_name(admin, database)
    retention = admin.retention_ns(database) or 0
    if stmt.duration is not None and 0 < stmt.duration < MIN_DURATION:
        raise QueryError("retention policy duration must be at least 1h0m0s")
    if stmt.action == "drop":
        if stmt.name == current:
            _drop_all(ctx, database)
            admin.set_retention(database, None)
            admin.put_setting(database, SETTING_KIND, _NAME_KEY, None)
        return []
    if stmt.action == "alter":
        if stmt.name != current:
            raise QueryError(f"retention policy not found: {stmt.name}")
        if stmt.duration is not None:
            admin.set_retention(database, stmt.duration or None)
        return []
    duration = stmt.duration or 0
    if stmt.name == current:
        if duration != retention:
            raise QueryError(
                "retention policy conflicts with an existing policy: "
                f"use ALTER RETENTION POLICY {stmt.name} ON {database} DURATION ..."
            )
        return []
    if not stmt.default:
        raise QueryError(
            f"flight-iox keeps one retention policy per database ({current!r} on {database!r}): "
            "a second, non-default policy cannot be created; create it with DEFAULT to "
            "rename and re-time the database's policy, or write to another database"
        )
    admin.put_setting(database, SETTING_KIND, _NAME_KEY, {"name": stmt.name})
    admin.set_retention(database, duration or None)
    return []


def _drop_all(ctx: Context, database: str) -> None:
    """Every measurement of the database dropped (the policy's data), through the updates."""
    if ctx.update is None:
        raise NotSupportedError("DROP RETENTION POLICY is not available here")
    for name in sorted(ctx.tables(database)):
        ref = f"{quote_identifier(database)}.iox.{quote_identifier(name)}"
        ctx.update(database, f"DROP TABLE {ref}")
