"""``flight-iox token create|list|revoke``: manage API tokens through the server's HTTP API.

The first admin token needs no token (``token create --admin``); every other
command needs an admin token (``--token`` or ``FLIGHT_IOX_TOKEN``). A secret
is printed once, on creation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from flight_iox.cli.http import call, host_option, token_option
from flight_iox.cli.main import LazyGroup

if TYPE_CHECKING:
    import requests

_TIMEOUT = 30
F = TypeVar("F", bound=Callable[..., Any])


def server_request(
    method: str, host: str, path: str, token: str | None, ca_cert: str | None, **kwargs: Any
) -> requests.Response:
    url = f"{host.rstrip('/')}{path}"
    return call(method, url, token, ca_cert=ca_cert, timeout=_TIMEOUT, **kwargs)


def connection_options(command: F) -> F:
    """``--host``, ``--token`` and ``--ca-cert`` (an HTTPS server's CA bundle)."""
    command = host_option(command)
    command = token_option(command)
    return click.option("--ca-cert", default=None, help="CA bundle for an HTTPS server.")(command)


# Subcommands kept in other modules, "name": "module:attribute", loaded when they run.
SUBCOMMANDS: dict[str, str] = {
    "recover-admin": "flight_iox.cli.token_recovery:recover_admin",
}


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS)
def token() -> None:
    """Create, list and revoke API tokens."""


@token.command("create")
@connection_options
@click.option("--admin", is_flag=True, help="The first admin token (only once).")
@click.option("--name", default=None, help="Name of a database token.")
@click.option("--db", "databases", multiple=True, help="Database the token may use ('*': all).")
@click.option(
    "--actions",
    default="read,write",
    show_default=True,
    help="Comma-separated: read, write, create, delete.",
)
def create(
    host: str,
    token: str | None,
    ca_cert: str | None,
    admin: bool,
    name: str | None,
    databases: tuple[str, ...],
    actions: str,
) -> None:
    """Create a token and print its secret (shown only this once)."""
    if admin:
        response = server_request("POST", host, "/api/v3/configure/token/admin", token, ca_cert)
    else:
        if not name or not databases:
            raise click.UsageError("a database token needs --name and at least one --db")
        wanted = [a.strip() for a in actions.split(",") if a.strip()]
        body = {
            "name": name,
            "permissions": [{"database": d, "actions": wanted} for d in databases],
        }
        response = server_request(
            "POST", host, "/api/v3/configure/token", token, ca_cert, json=body
        )
    click.echo(response.json()["token"])


@token.command("list")
@connection_options
def list_tokens(host: str, token: str | None, ca_cert: str | None) -> None:
    """List tokens (names, ids, permissions; never secrets) as JSON lines."""
    for record in server_request("GET", host, "/api/v3/configure/token", token, ca_cert).json():
        click.echo(json.dumps(record))


@token.command("revoke")
@connection_options
@click.argument("name")
def revoke(host: str, token: str | None, ca_cert: str | None, name: str) -> None:
    """Revoke the token called NAME (or with id NAME)."""
    server_request("DELETE", host, "/api/v3/configure/token", token, ca_cert, params={"name": name})
    click.echo(f"revoked {name}")
