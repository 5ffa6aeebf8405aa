"""``flight-iox token recover-admin``: a new admin token, offline, for a lost or revoked one.

Once an admin token has ever existed, the HTTP bootstrap stays closed (anyone
could otherwise mint an admin token after the last one was revoked). Recovery
therefore needs access to the data folder itself, with the server stopped: this
command takes the data folder's lock (refusing while a server holds it), replaces
the admin token named ``--name`` (default ``_admin``) with a fresh one and prints
its secret, once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from flight_iox.auth.setup import TOKEN_FILE
from flight_iox.auth.tokens import ADMIN_TOKEN_NAME, FileTokenStore, new_admin_record
from flight_iox.cli.token_commands import token
from flight_iox.engine.lock import DataDirLock
from flight_iox.errors import DataDirLockedError


@token.command("recover-admin")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The stopped server's data folder.",
)
@click.option("--name", default=ADMIN_TOKEN_NAME, help="Name of the admin token to (re)create.")
def recover_admin(data_dir: Path, name: str) -> None:
    """Create a new admin token in a stopped server's data folder; print its secret once."""
    if not data_dir.is_dir():
        click.echo(f"flight-iox: {data_dir} is not a data folder", err=True)
        sys.exit(1)
    try:
        lock = DataDirLock(data_dir)
    except DataDirLockedError as error:
        click.echo(f"flight-iox: {error.message}; stop the server first", err=True)
        sys.exit(1)
    try:
        record, secret = new_admin_record(name)
        FileTokenStore(data_dir / TOKEN_FILE).replace_admin(record)
    finally:
        lock.release()
    click.echo(secret)
