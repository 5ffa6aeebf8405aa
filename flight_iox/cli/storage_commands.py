"""Storage commands of ``flight-iox``: ``persist`` and ``catalog``."""

from __future__ import annotations

import json

import click

from flight_iox.cli.http import call, host_option, token_option


@click.command()
@host_option
@click.option("--db", "database", default=None, help="Only this database (default: all).")
@token_option
def persist(host: str, database: str | None, token: str | None) -> None:
    """Persist buffered rows to Parquet now; returns once they are committed."""
    params = {"db": database} if database else {}
    url = f"{host.rstrip('/')}/api/v3/persist"
    report = call("POST", url, token, params=params, timeout=3600).json()
    click.echo(
        f"persisted {report['rows']} rows of {report['tables']} tables in {report['files']} "
        f"files (WAL sequence {report['wal_sequence']})"
    )


@click.command()
@host_option
@click.option("--format", "fmt", type=click.Choice(["json"]), default="json")
@token_option
def catalog(host: str, fmt: str, token: str | None) -> None:
    """Print the PyIceberg catalog properties: ``load_catalog(name, **props)``."""
    props = call("GET", f"{host.rstrip('/')}/api/v3/configure/catalog", token).json()
    click.echo(json.dumps(props, indent=2, sort_keys=True))
