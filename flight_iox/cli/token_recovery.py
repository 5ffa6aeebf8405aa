"""``flight-iox token recover-admin``: a new admin token, offline, for a lost or revoked one.

Once an admin token has ever existed, the HTTP bootstrap stays closed (anyone
could otherwise mint an admin token after the last one was revoked). Recovery
therefore needs access to the data folder itself, with the server stopped: this
command takes the data folder's lock (refusing while a server holds it), replaces
the admin token named ``--name`` (default: the built-in admin token) with a fresh
one and prints its secret, once.

The token store and the lock are imported when the command runs (the CLI's rule, see
``flight_iox.cli.main``): they bring in pyarrow and the engine package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("recover-admin")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The stopped server's data folder.",
)
@click.option(
    "--name",
    default=None,
    help="Name of the admin token to (re)create (default: the built-in admin token).",
)
def recover_admin(data_dir: Path, name: str | None) -> None:
    """Create a new admin token in a stopped server's data folder; print its secret once."""
    from flight_iox.auth.setup import TOKEN_FILE
    from flight_iox.auth.tokens import ADMIN_TOKEN_NAME, FileTokenStore, new_admin_record
    from flight_iox.engine.lock import DataDirLock
    from flight_iox.errors import DataDirLockedError

    if not data_dir.is_dir():
        click.echo(f"flight-iox: {data_dir} is not a data folder", err=True)
        sys.exit(1)
    try:
        lock = DataDirLock(data_dir)
    except DataDirLockedError as error:
        click.echo(f"flight-iox: {error.message}; stop the server first", err=True)
        sys.exit(1)
    try:
        record, secret = new_admin_record(name or ADMIN_TOKEN_NAME)
        FileTokenStore(data_dir / TOKEN_FILE).replace_admin(record)
    finally:
        lock.release()
    click.echo(secret)
