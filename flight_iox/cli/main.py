"""``flight-iox``: serve, write, query and manage databases.

Every ``serve`` flag has a ``FLIGHT_IOX_*`` environment variable (click's
``auto_envvar_prefix``), e.g. ``FLIGHT_IOX_DATA_DIR``.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import click

from flight_iox.config import MIB, Limits, Settings
from flight_iox.errors import FlightIoxError

_SIZE = re.compile(r"(?i)\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*")
_UNITS = {"b": 1, "k": 1024, "m": MIB, "g": 1024 * MIB}


def parse_size(text: str) -> int:
    """``512MiB``, ``2g``, ``1048576`` -> bytes (binary units)."""
    match = _SIZE.fullmatch(text)
    if not match:
        raise click.BadParameter(f"expected a size like 512MiB or 2GiB, got {text!r}")
    unit = (match.group(2) or "b")[0].lower()
    return int(float(match.group(1)) * _UNITS[unit])


class _Size(click.ParamType):
    name = "size"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):
        return value if isinstance(value, int) else parse_size(str(value))


@click.group(context_settings={"auto_envvar_prefix": "FLIGHT_IOX", "show_default": True})
@click.version_option(package_name="flight-iox")
def cli() -> None:
    """flight-iox: InfluxDB line protocol in, SQL out over Flight SQL and HTTP."""


@cli.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("./flight-iox-data"))
@click.option("--http-addr", default="127.0.0.1:8181", help="HTTP listen address (HOST:PORT).")
@click.option("--flight-addr", default="127.0.0.1:8182", help="Flight SQL listen address.")
@click.option("--wal-fsync/--no-wal-fsync", default=True, help="fsync the WAL before acks.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
)
@click.option("--buffer-memory-limit", type=_Size(), default="1GiB", help="Write buffer memory.")
@click.option("--parquet-cache-size", type=_Size(), default="1GiB",
              help="Memory for recent data files kept decoded for queries (0: off).")  # fmt: skip
@click.option("--max-request-bytes", type=_Size(), default="64MiB", help="Largest request body.")
@click.option("--max-databases", type=click.IntRange(1), default=Limits.max_databases)
@click.option("--max-tables", type=click.IntRange(1), default=Limits.max_tables_per_database,
              help="Tables per database.")  # fmt: skip
@click.option("--max-columns", type=click.IntRange(2), default=Limits.max_columns_per_table,
              help="Columns per table, time included.")  # fmt: skip
@click.option(
    "--catalog-uri",
    default=None,
    help="Iceberg SQL catalog (default: SQLite in the data folder; postgresql://…).",
)
@click.option("--object-store", type=click.Choice(["file", "s3"]), default="file")
@click.option("--bucket", default=None, help="S3 bucket (with --object-store s3).")
@click.option("--s3-endpoint", default=None, help="S3 endpoint URL (MinIO, moto, …).")
@click.option("--s3-region", default=None)
@click.option("--s3-allow-http/--no-s3-allow-http", default=False)
@click.option(
    "--persist-max-rows",
    type=click.IntRange(1),
    default=Settings.persist_max_rows,
    help="Persist when a table buffers this many rows.",
)
@click.option("--persist-max-age", type=click.FloatRange(0.1), default=600.0,
              help="Persist when the oldest buffered row is this many seconds old.")  # fmt: skip
@click.option("--query-timeout", type=click.FloatRange(0), default=Settings.query_timeout_seconds,
              help="Seconds a query may run, its streaming included; then it is cancelled "
              "(0: no limit).")  # fmt: skip
@click.option("--query-memory-limit", type=_Size(), default="1GiB",
              help="DataFusion memory pool of each database's queries (spills, then fails; "
              "0: unbounded).")  # fmt: skip
@click.option("--max-concurrent-queries", type=click.IntRange(0),
              default=Settings.max_concurrent_queries,
              help="Queries executing at once; more wait in a queue (0: no limit).")  # fmt: skip
@click.option("--max-queued-queries", type=click.IntRange(0),
              default=Settings.max_queued_queries,
              help="Queries waiting for a slot; past it, 503 with Retry-After.")  # fmt: skip
@click.option("--max-expression-depth", type=click.IntRange(0),
              default=Settings.max_expression_depth,
              help="Chained operators and brackets in one SQL expression (0: none).")  # fmt: skip
@click.option("--max-line-bytes", type=_Size(), default="1MiB",
              help="Longest line-protocol line.")  # fmt: skip
@click.option("--max-tag-value-bytes", type=_Size(), default="64KiB",
              help="Longest tag value.")  # fmt: skip
@click.option("--max-field-value-bytes", type=_Size(), default="1MiB",
              help="Longest string field value.")  # fmt: skip
@click.option("--http-idle-timeout", type=click.FloatRange(0),
              default=Settings.http_idle_timeout_seconds,
              help="Seconds an HTTP connection may wait for its next request headers.")  # fmt: skip
@click.option(
    "--auth",
    type=click.Choice(["required", "off"]),
    default=None,
    show_default=False,
    help="Require tokens. Default: off when every address is loopback, else required.",
)
@click.option(
    "--i-know-auth-is-off",
    "auth_off_ok",
    is_flag=True,
    default=False,
    help="Allow --auth off on a non-loopback address.",
)
@click.option(
    "--tls-cert",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="PEM certificate chain: serve HTTPS and grpc+tls.",
)
@click.option(
    "--tls-key",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="PEM private key of --tls-cert.",
)
def serve(
    data_dir: Path,
    http_addr: str,
    flight_addr: str,
    wal_fsync: bool,
    log_level: str,
    buffer_memory_limit: int,
    parquet_cache_size: int,
    max_request_bytes: int,
    max_databases: int,
    max_tables: int,
    max_columns: int,
    auth: str | None,
    auth_off_ok: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
    catalog_uri: str | None,
    object_store: str,
    bucket: str | None,
    s3_endpoint: str | None,
    s3_region: str | None,
    s3_allow_http: bool,
    persist_max_rows: int,
    persist_max_age: float,
    query_timeout: float,
    query_memory_limit: int,
    max_concurrent_queries: int,
    max_queued_queries: int,
    max_expression_depth: int,
    max_line_bytes: int,
    max_tag_value_bytes: int,
    max_field_value_bytes: int,
    http_idle_timeout: float,
) -> None:
    """Start the server with embedded defaults (local data folder, no external service)."""
    from flight_iox.server import serve as run_server

    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = Settings(
        data_dir=data_dir,
        http_addr=http_addr,
        flight_addr=flight_addr,
        wal_fsync=wal_fsync,
        log_level=log_level,
        buffer_memory_limit=buffer_memory_limit,
        parquet_cache_size=parquet_cache_size,
        max_request_bytes=max_request_bytes,
        limits=Limits(max_databases, max_tables, max_columns),
        auth=auth,
        auth_off_ok=auth_off_ok,
        tls_cert=tls_cert,
        tls_key=tls_key,
        catalog_uri=catalog_uri,
        object_store=object_store,
        bucket=bucket,
        s3_endpoint=s3_endpoint,
        s3_region=s3_region,
        s3_allow_http=s3_allow_http,
        persist_max_rows=persist_max_rows,
        persist_max_age_seconds=persist_max_age,
        query_timeout_seconds=query_timeout,
        query_memory_limit=query_memory_limit,
        max_concurrent_queries=max_concurrent_queries,
        max_queued_queries=max_queued_queries,
        max_expression_depth=max_expression_depth,
        max_line_bytes=max_line_bytes,
        max_tag_value_bytes=max_tag_value_bytes,
        max_field_value_bytes=max_field_value_bytes,
        http_idle_timeout_seconds=http_idle_timeout,
    )
    try:
        run_server(settings)
    except FlightIoxError as error:
        click.echo(f"flight-iox: {error.message}", err=True)
        sys.exit(1)
    except (OSError, ValueError) as error:
        click.echo(f"flight-iox: cannot start: {error}", err=True)
        sys.exit(1)


# The client commands live in their own module; importing it registers them on ``cli``.
import flight_iox.cli.repair_commands  # noqa: E402
import flight_iox.cli.token_commands  # noqa: E402, F401
from flight_iox.cli import client_commands, storage_commands, token_recovery  # noqa: E402, F401
