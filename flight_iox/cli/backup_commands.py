"""``flight-iox backup`` (through a running server) and ``flight-iox restore`` (offline)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from flight_iox.cli.http import call, host_option, token_option


@click.command()
@host_option
@token_option
@click.option(
    "--to", "to", required=True, help="Folder (on the server's machine) or s3://bucket/prefix."
)
def backup(host: str, token: str | None, to: str) -> None:
    """Copy a consistent snapshot of the server (an admin token) while writes go on."""
    if "://" not in to:
        to = os.path.abspath(to)  # the server resolves paths in its own working folder
    url = f"{host.rstrip('/')}/api/v3/backup"
    summary = call("POST", url, token, json={"to": to}, timeout=24 * 3600).json()
    click.echo(
        f"backup to {summary['to']} as of WAL sequence {summary['wal_sequence']}: "
        f"{summary['tables']} tables, {summary['parquet_files']} Parquet files, "
        f"{summary['wal_segments']} WAL segments, {summary['bytes']} bytes"
    )


@click.command()
@click.option("--from", "source", required=True, help="The backup: a folder or s3://bucket/prefix.")
@click.option(
    "--data-dir", required=True, type=click.Path(path_type=Path), help="The new data folder."
)
@click.option("--catalog-uri", default=None, help="Catalog for the new node (default: SQLite).")
@click.option("--s3-endpoint", default=None, help="S3 endpoint of an s3:// backup.")
@click.option("--s3-region", default=None, help="S3 region of an s3:// backup.")
@click.option("--s3-allow-http", is_flag=True, help="Allow a plain-HTTP S3 endpoint.")
def restore(
    source: str,
    data_dir: Path,
    catalog_uri: str | None,
    s3_endpoint: str | None,
    s3_region: str | None,
    s3_allow_http: bool,
) -> None:
    """Make a new data folder from a backup (offline); then `flight-iox serve --data-dir`."""
    from flight_iox.backup.location import open_location
    from flight_iox.backup.manifest import BackupFormatError
    from flight_iox.backup.restore import restore as restore_backup
    from flight_iox.config import Settings
    from iox_catalog.object_store import ObjectStoreConfig

    store = None
    if source.startswith("s3://"):
        store = ObjectStoreConfig.from_environment(
            source, endpoint=s3_endpoint, region=s3_region, allow_http=s3_allow_http
        )
    try:
        location = open_location(source, store)
        report = restore_backup(location, Settings(data_dir=data_dir, catalog_uri=catalog_uri))
    except (BackupFormatError, ValueError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"restored {report.tables} tables ({report.files} Parquet files, {report.wal_segments} "
        f"WAL segments) as of WAL sequence {report.wal_sequence} into {data_dir}"
    )
