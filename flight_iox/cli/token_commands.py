"""``flight-iox token create|list|revoke``: manage API tokens through the server's HTTP API.

The first admin token needs no token (``token create --admin``); every other
command needs an admin token (``--token`` or ``FLIGHT_IOX_TOKEN``). A secret
is printed once, on creation.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
import requests

from flight_iox.cli.main import cli

_TIMEOUT = 30

_F = TypeVar("_F", bound=Callable[..., Any])


def _request(
    method: str,
    host: str,
    path: str,
    token: str | None,
    ca_cert: str | None,
    *,
    body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{host.rstrip('/')}{path}"
    verify: bool | str = ca_cert if ca_cert else True
    try:
        response = requests.request(
            method, url, headers=headers, timeout=_TIMEOUT, verify=verify, json=body, params=params
        )
    except requests.RequestException as error:
        click.echo(f"flight-iox: cannot reach {url}: {error}", err=True)
        sys.exit(1)
    if response.status_code >= 400:
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        click.echo(f"flight-iox: {response.status_code}: {message}", err=True)
        sys.exit(1)
    return response


def _connection_options(command: _F) -> _F:
    command = click.option("--host", default="http://127.0.0.1:8181", help="Server HTTP URL.")(
        command
    )
    command = click.option("--token", envvar="FLIGHT_IOX_TOKEN", default=None,
                           help="An admin token.")(command)  # fmt: skip
    return click.option("--ca-cert", default=None, help="CA bundle for an HTTPS server.")(command)


@cli.group()
def token() -> None:
    """Create, list and revoke API tokens."""


@token.command("create")
@_connection_options
@click.option("--admin", is_flag=True, help="The first admin token (only once).")
@click.option("--name", default=None, help="Name of a database token.")
@click.option("--db", "databases", multiple=True, help="Database the token may use ('*': all).")
@click.option("--actions", default="read,write", show_default=True,
              help="Comma-separated: read, write, create, delete.")  # fmt: skip
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
        response = _request("POST", host, "/api/v3/configure/token/admin", token, ca_cert)
    else:
        if not name or not databases:
            raise click.UsageError("a database token needs --name and at least one --db")
        wanted = [a.strip() for a in actions.split(",") if a.strip()]
        body = {
            "name": name,
            "permissions": [{"database": d, "actions": wanted} for d in databases],
        }
        response = _request("POST", host, "/api/v3/configure/token", token, ca_cert, body=body)
    click.echo(response.json()["token"])


@token.command("list")
@_connection_options
def list_tokens(host: str, token: str | None, ca_cert: str | None) -> None:
    """List tokens (names, ids, permissions; never secrets) as JSON lines."""
    for record in _request("GET", host, "/api/v3/configure/token", token, ca_cert).json():
        click.echo(json.dumps(record))


@token.command("revoke")
@_connection_options
@click.argument("name")
def revoke(host: str, token: str | None, ca_cert: str | None, name: str) -> None:
    """Revoke the token called NAME (or with id NAME)."""
    _request("DELETE", host, "/api/v3/configure/token", token, ca_cert, params={"name": name})
    click.echo(f"revoked {name}")
