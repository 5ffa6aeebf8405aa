"""``flight-iox create|delete|show``: the administration verbs, shaped like ``influxdb3``'s.

- ``create database|table|token|last_cache|distinct_cache`` and ``delete database|table|
  token|last_cache|distinct_cache`` call the ``/api/v3/configure/...`` routes;
- ``create|delete trigger`` and ``show plugins`` are the processing-engine verbs
  (``trigger_commands.py``, with ``enable|disable trigger``);
- ``show databases|tables|tokens|system`` print JSON lines (``show system -d DB table
  last_caches`` reads ``system.last_caches``).

The token verbs are the ``flight-iox token`` commands under these names (one code path).
"""

from __future__ import annotations

import json
from typing import Any

import click

from flight_iox.cli.token_commands import connection_options, list_tokens, revoke, server_request
from flight_iox.cli.token_commands import create as create_token
from flight_iox.cli.trigger_commands import create_trigger, delete_trigger, show_plugins
from flight_iox.sql_quote import quote_identifier


@click.group()
def create() -> None:
    """Create a database, table, token, last-value cache or distinct-value cache."""


@click.group()
def delete() -> None:
    """Delete a database, table, token, last-value cache or distinct-value cache."""


@click.group()
def show() -> None:
    """Show databases, tables, tokens or a system table."""


create.add_command(create_token, "token")
delete.add_command(revoke, "token")
show.add_command(list_tokens, "tokens")
create.add_command(create_trigger, "trigger")
delete.add_command(delete_trigger, "trigger")
show.add_command(show_plugins, "plugins")

_database = click.option("-d", "--database", required=True, help="The database.")
_table = click.option("-t", "--table", required=True, help="The table.")


def _echo_rows(rows: Any) -> None:
    for row in rows:
        click.echo(json.dumps(row, default=str))


def _csv(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def _partition_options(command: Any) -> Any:
    """``--partition-time``, ``--partition-tags``, ``--partition-buckets``: a partition template."""
    for option in reversed(
        [
            click.option(
                "--partition-time",
                type=click.Choice(["hour", "day", "month"]),
                default=None,
                help="Time granularity of the partitions (default: day).",
            ),
            click.option(
                "--partition-tags",
                default=None,
                help="Comma-separated tags, one partition per value.",
            ),
            click.option(
                "--partition-buckets",
                default=None,
                help="Comma-separated tag:N, the tag hashed into N buckets.",
            ),
        ]
    ):
        command = option(command)
    return command


def _template(time: str | None, tags: str | None, buckets: str | None) -> dict[str, Any] | None:
    """The ``partition_template`` the options ask for (None: none given; the server checks)."""
    if time is None and tags is None and buckets is None:
        return None
    template: dict[str, Any] = {"time": time or "day", "tags": _csv(tags) or []}
    counts = {}
    for item in _csv(buckets) or []:
        name, colon, count = item.rpartition(":")
        if not colon or not name or not count.isdigit():
            raise click.BadParameter(f"{item!r} is not tag:N", param_hint="--partition-buckets")
        counts[name] = int(count)
    template["buckets"] = counts
    return template


@create.command("database")
@connection_options
@click.option("--retention-period", default=None, help="Like 30d or 12h (default: none).")
@_partition_options
@click.argument("name")
def create_database(
    host: str,
    token: str | None,
    ca_cert: str | None,
    retention_period: str | None,
    partition_time: str | None,
    partition_tags: str | None,
    partition_buckets: str | None,
    name: str,
) -> None:
    """Create the database NAME (the partition options: its tables' default template)."""
    body: dict[str, Any] = {"db": name, "retention_period": retention_period}
    template = _template(partition_time, partition_tags, partition_buckets)
    if template is not None:
        body["partition_template"] = template
    server_request("POST", host, "/api/v3/configure/database", token, ca_cert, json=body)
    click.echo(f"created database {name}")


@delete.command("database")
@connection_options
@click.argument("name")
def delete_database(host: str, token: str | None, ca_cert: str | None, name: str) -> None:
    """Delete the database NAME and all its data."""
    params = {"db": name}
    server_request("DELETE", host, "/api/v3/configure/database", token, ca_cert, params=params)
    click.echo(f"deleted database {name}")


def _fields(text: str | None) -> list[dict[str, str]]:
    """``name:type,...`` as the route's ``[{"name", "type"}]`` (the server checks the types)."""
    fields = []
    for item in _csv(text) or []:
        name, colon, kind = item.rpartition(":")
        if not colon or not name:
            raise click.BadParameter(f"{item!r} is not name:type", param_hint="--fields")
        fields.append({"name": name, "type": kind})
    return fields


@create.command("table")
@connection_options
@_database
@click.option("--tags", default=None, help="Comma-separated tag columns.")
@click.option("--fields", default=None, help="Comma-separated name:type (utf8, int64, ...).")
@_partition_options
@click.argument("name")
def create_table(
    host: str,
    token: str | None,
    ca_cert: str | None,
    database: str,
    tags: str | None,
    fields: str | None,
    partition_time: str | None,
    partition_tags: str | None,
    partition_buckets: str | None,
    name: str,
) -> None:
    """Create the empty table NAME (a time column, the tags, the fields, its partitioning)."""
    body: dict[str, Any] = {
        "db": database, "table": name, "tags": _csv(tags) or [], "fields": _fields(fields)
    }  # fmt: skip
    template = _template(partition_time, partition_tags, partition_buckets)
    if template is not None:
        body["partition_template"] = template
    reply = server_request("POST", host, "/api/v3/configure/table", token, ca_cert, json=body)
    click.echo(json.dumps(reply.json()))


@delete.command("table")
@connection_options
@_database
@click.argument("name")
def delete_table(
    host: str, token: str | None, ca_cert: str | None, database: str, name: str
) -> None:  # fmt: skip
    """Delete the table NAME and all its data."""
    body = {"db": database, "table": name}
    server_request("DELETE", host, "/api/v3/configure/table", token, ca_cert, json=body)
    click.echo(f"deleted table {name}")


@create.command("last_cache")
@connection_options
@_database
@_table
@click.option("--key-columns", default=None, help="Comma-separated (default: the tags).")
@click.option("--value-columns", default=None, help="Comma-separated (default: the rest).")
@click.option("--count", type=int, default=None, help="Rows per key, 1 to 10 (default 1).")
@click.option("--ttl", default=None, help="Like 10m or 4h (default 4h).")
@click.argument("name", required=False)
def create_last_cache(
    host: str,
    token: str | None,
    ca_cert: str | None,
    database: str,
    table: str,
    key_columns: str | None,
    value_columns: str | None,
    count: int | None,
    ttl: str | None,
    name: str | None,
) -> None:
    """Create a last-value cache on a table (NAME: generated when left out)."""
    body = {
        "db": database,
        "table": table,
        "name": name,
        "key_columns": _csv(key_columns),
        "value_columns": _csv(value_columns),
        "count": count,
        "ttl": ttl,
    }
    reply = server_request("POST", host, "/api/v3/configure/last_cache", token, ca_cert, json=body)
    click.echo(json.dumps(reply.json()))


@create.command("distinct_cache")
@connection_options
@_database
@_table
@click.option("--columns", required=True, help="Comma-separated, outermost first.")
@click.option("--max-cardinality", type=int, default=None, help="Default 100000.")
@click.option("--max-age", default=None, help="Like 30d or 24h (default 1d).")
@click.argument("name", required=False)
def create_distinct_cache(
    host: str,
    token: str | None,
    ca_cert: str | None,
    database: str,
    table: str,
    columns: str,
    max_cardinality: int | None,
    max_age: str | None,
    name: str | None,
) -> None:
    """Create a distinct-value cache on a table (NAME: generated when left out)."""
    body = {
        "db": database,
        "table": table,
        "name": name,
        "columns": _csv(columns),
        "max_cardinality": max_cardinality,
        "max_age": max_age,
    }
    reply = server_request(
        "POST", host, "/api/v3/configure/distinct_cache", token, ca_cert, json=body
    )
    click.echo(json.dumps(reply.json()))


def _delete_cache(kind: str) -> click.Command:
    @connection_options
    @_database
    @_table
    @click.argument("name")
    def command(
        host: str, token: str | None, ca_cert: str | None, database: str, table: str, name: str
    ) -> None:
        body = {"db": database, "table": table, "name": name}
        server_request("DELETE", host, f"/api/v3/configure/{kind}", token, ca_cert, json=body)
        click.echo(f"deleted {kind} {name}")

    command.__doc__ = f"Delete the {kind} called NAME from a table."
    return click.command(kind)(command)


delete.add_command(_delete_cache("last_cache"))
delete.add_command(_delete_cache("distinct_cache"))


def _sql_rows(
    host: str, token: str | None, ca_cert: str | None, database: str, sql: str
) -> list[Any]:
    params = {"db": database, "q": sql, "format": "json"}
    rows = server_request("GET", host, "/api/v3/query_sql", token, ca_cert, params=params).json()
    return list(rows)


@show.command("databases")
@connection_options
def show_databases(host: str, token: str | None, ca_cert: str | None) -> None:
    """The databases the token may read."""
    _echo_rows(server_request("GET", host, "/api/v3/configure/database", token, ca_cert).json())


@show.command("tables")
@connection_options
@_database
def show_tables(host: str, token: str | None, ca_cert: str | None, database: str) -> None:
    """The tables of a database."""
    sql = (
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'iox' "
        "ORDER BY table_name"
    )
    _echo_rows(_sql_rows(host, token, ca_cert, database, sql))


@show.command("system")
@connection_options
@_database
@click.argument("what", type=click.Choice(["table"]))
@click.argument("name")
def show_system(
    host: str, token: str | None, ca_cert: str | None, database: str, what: str, name: str
) -> None:
    """A system table of a database: ``show system -d DB table last_caches``."""
    del what  # influxdb3's word; the only one
    sql = f"SELECT * FROM system.{quote_identifier(name)}"
    if name == "tables":
        sql += f" ORDER BY {quote_identifier('table_name')}"
    _echo_rows(_sql_rows(host, token, ca_cert, database, sql))


__all__ = ["create", "delete", "show"]
