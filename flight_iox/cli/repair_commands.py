"""``flight-iox repair``: list data files storage lost, and remove them from their tables.

It asks the running server (``POST /api/v3/configure/repair``, an admin token when auth is
on): the server holds the tables' file lists and picks up the repaired tables at once.
First a dry run lists what is lost; only after confirmation (or ``--yes``) are exactly the
listed files removed, so a file lost in between is never removed unseen.
"""

from __future__ import annotations

import json
from typing import Any

import click

from flight_iox.cli.http import call, host_option

_ROUTE = "/api/v3/configure/repair"


def _post(host: str, token: str | None, body: dict[str, Any]) -> dict:
    url = f"{host.rstrip('/')}{_ROUTE}"
    report: dict = call("POST", url, token, json=body, timeout=3600).json()
    return report


def _describe(entries: list[dict]) -> str:
    return "\n".join(
        f"  {e['db']}.{e['table']}: {e['file']} ({e['rows']} rows): {e['reason']}" for e in entries
    )


@click.command()
@host_option
@click.option("--db", "database", default=None, help="Only this database (default: all).")
@click.option("--dry-run", is_flag=True, help="Only list the lost files.")
@click.option("--yes", is_flag=True, help="Remove them without asking.")
@click.option("--json", "as_json", is_flag=True, help="Print the server's JSON report.")
@click.option("--token", envvar="FLIGHT_IOX_TOKEN", default=None, help="An admin token.")
def repair(
    host: str, database: str | None, dry_run: bool, yes: bool, as_json: bool, token: str | None
) -> None:
    """Find data files that are missing or unreadable, and remove them from their tables.

    Their rows are lost; every other file is kept. One commit per table.
    """
    body: dict[str, Any] = {"db": database, "dry_run": True}
    report = _post(host, token, body)
    lost = report["lost"]
    if not lost or dry_run:
        click.echo(json.dumps(report, indent=2) if as_json else _summary(report))
        return
    click.echo(f"{len(lost)} of {report['checked_files']} data files cannot be read:")
    click.echo(_describe(lost))
    if not yes:
        click.confirm("Remove them from their tables (their rows are lost)?", abort=True)
    body = {"db": database, "dry_run": False, "files": [e["file"] for e in lost]}
    done = _post(host, token, body)
    if as_json:
        click.echo(json.dumps(done, indent=2))
        return
    click.echo(
        f"removed {len(done['removed'])} files from {done['tables_committed']} tables"
        + (f"\n{_describe(done['removed'])}" if done["removed"] else "")
    )


def _summary(report: dict) -> str:
    lost = report["lost"]
    if not lost:
        return f"all {report['checked_files']} data files are readable"
    return (
        f"{len(lost)} of {report['checked_files']} data files cannot be read "
        f"(dry run: nothing removed):\n{_describe(lost)}"
    )
