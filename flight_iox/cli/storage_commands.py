"""Storage commands of ``flight-iox``: ``persist`` and ``catalog``."""

from __future__ import annotations

import json

import click
import requests

from flight_iox.cli.main import cli


def _call(method: str, url: str, token: str | None, **params: str) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        reply = requests.request(method, url, params=params, headers=headers, timeout=3600)
    except requests.RequestException as error:
        raise click.ClickException(f"cannot reach {url}: {error}") from None
    if reply.status_code >= 400:
        message = reply.json().get("error") if reply.content else reply.reason
        raise click.ClickException(f"{reply.status_code}: {message}")
    return reply.json()


@cli.command()
@click.option("--host", default="http://127.0.0.1:8181", help="The server's HTTP URL.")
@click.option("--db", "database", default=None, help="Only this database (default: all).")
@click.option("--token", envvar="FLIGHT_IOX_TOKEN", default=None)
def persist(host: str, database: str | None, token: str | None) -> None:
    """Persist buffered rows to Parquet now; returns once they are committed."""
    params = {"db": database} if database else {}
    report = _call("POST", f"{host.rstrip('/')}/api/v3/persist", token, **params)
    click.echo(
        f"persisted {report['rows']} rows of {report['tables']} tables in {report['files']} "
        f"files (WAL sequence {report['wal_sequence']})"
    )


@cli.command()
@click.option("--host", default="http://127.0.0.1:8181", help="The server's HTTP URL.")
@click.option("--format", "fmt", type=click.Choice(["json"]), default="json")
@click.option("--token", envvar="FLIGHT_IOX_TOKEN", default=None)
def catalog(host: str, fmt: str, token: str | None) -> None:
    """Print the PyIceberg catalog properties: ``load_catalog(name, **props)``."""
    props = _call("GET", f"{host.rstrip('/')}/api/v3/configure/catalog", token)
    click.echo(json.dumps(props, indent=2, sort_keys=True))
