"""``flight-iox create|delete|enable|disable trigger`` and ``show plugins`` (as influxdb3).

Each calls the processing-engine routes (``/api/v3/configure/processing_engine_trigger``
and ``/api/v3/plugins/files``); ``show plugins`` lists ``GET /api/v3/plugins/files``
(the rows of ``system.plugin_files``).
``create trigger --upload`` sends the local plugin file first (an admin token).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from flight_iox.cli.token_commands import connection_options, server_request

_TRIGGER_ROUTE = "/api/v3/configure/processing_engine_trigger"
_database = click.option("-d", "--database", required=True, help="The trigger's database.")


@click.command("trigger")
@connection_options
@_database
@click.option(
    "--path", "--plugin-filename", "path", required=True,
    help="The plugin file, relative to the server's --plugin-dir (with --upload: a local file).",
)  # fmt: skip
@click.option(
    "--trigger-spec", required=True,
    help="table:<name>, all_tables, every:<duration>, cron:<expression> or request:<path>.",
)  # fmt: skip
@click.option("--trigger-arguments", default=None, help="Comma-separated key=value pairs.")
@click.option("--disabled", is_flag=True, help="Create the trigger disabled.")
@click.option("--run-asynchronous", is_flag=True, help="Let calls run concurrently.")
@click.option(
    "--error-behavior", type=click.Choice(["log", "retry", "disable"]), default="log",
    help="What a failed call does.",
)  # fmt: skip
@click.option("--upload", is_flag=True, help="Upload the local file PATH first (admin token).")
@click.argument("name")
def create_trigger(
    host: str,
    token: str | None,
    ca_cert: str | None,
    database: str,
    path: str,
    trigger_spec: str,
    trigger_arguments: str | None,
    disabled: bool,
    run_asynchronous: bool,
    error_behavior: str,
    upload: bool,
    name: str,
) -> None:
    """Create the trigger NAME running a plugin file."""
    filename = path
    if upload:
        local = Path(path)
        filename = local.name
        upload_body = {"plugin_name": filename, "content": local.read_text()}
        server_request("PUT", host, "/api/v3/plugins/files", token, ca_cert, json=upload_body)
    body: dict[str, object] = {
        "db": database,
        "trigger_name": name,
        "plugin_filename": filename,
        "trigger_specification": trigger_spec,
        "trigger_arguments": trigger_arguments,
        "disabled": disabled,
        "trigger_settings": {"run_async": run_asynchronous, "error_behavior": error_behavior},
    }
    reply = server_request("POST", host, _TRIGGER_ROUTE, token, ca_cert, json=body)
    click.echo(json.dumps(reply.json()))


@click.command("trigger")
@connection_options
@_database
@click.argument("name")
def delete_trigger(
    host: str, token: str | None, ca_cert: str | None, database: str, name: str
) -> None:  # fmt: skip
    """Delete the trigger NAME (its position and cache go with it)."""
    body = {"db": database, "trigger_name": name}
    server_request("DELETE", host, _TRIGGER_ROUTE, token, ca_cert, json=body)
    click.echo(f"deleted trigger {name}")


def _switch(verb: str) -> click.Command:
    @connection_options
    @_database
    @click.argument("name")
    def command(
        host: str, token: str | None, ca_cert: str | None, database: str, name: str
    ) -> None:  # fmt: skip
        body = {"db": database, "trigger_name": name}
        server_request("POST", host, f"{_TRIGGER_ROUTE}/{verb}", token, ca_cert, json=body)
        click.echo(f"{verb}d trigger {name}")

    command.__doc__ = f"{verb.capitalize()} the trigger NAME."
    return click.command("trigger")(command)


@click.group()
def enable() -> None:
    """Enable a trigger."""


@click.group()
def disable() -> None:
    """Disable a trigger."""


enable.add_command(_switch("enable"))
disable.add_command(_switch("disable"))


@click.command("plugins")
@connection_options
def show_plugins(host: str, token: str | None, ca_cert: str | None) -> None:
    """The plugin files in the server's --plugin-dir and the triggers using them (admin)."""
    rows = server_request("GET", host, "/api/v3/plugins/files", token, ca_cert).json()
    for row in rows:
        click.echo(json.dumps(row))
