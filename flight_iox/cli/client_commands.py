"""Client commands of ``flight-iox``: ``write``, ``query`` and ``db``.

Only click is imported at the top: requests, rich and the Flight SQL driver are
imported by the command that needs them (see ``flight_iox.cli.main``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

import click

from flight_iox.cli.addresses import (
    check_flight_host,
    check_http_host,
    flight_failure,
    http_failure,
)
from flight_iox.cli.http import auth_headers, call, error_message, host_option, token_option

if TYPE_CHECKING:
    import requests

READ_BLOCK = 1 << 20


def _line_batches(stream: BinaryIO, batch_lines: int) -> Iterator[tuple[bytes, int]]:
    """Bodies of ``batch_lines`` whole lines (the last may be shorter), with their line counts."""
    carry: list[bytes] = []
    tail = b""
    while block := stream.read(READ_BLOCK):
        lines = (tail + block).split(b"\n")  # split in C, not a Python loop per byte
        tail = lines.pop()
        carry.extend(lines)
        while len(carry) >= batch_lines:
            yield b"\n".join(carry[:batch_lines]) + b"\n", batch_lines
            del carry[:batch_lines]
    if tail:
        carry.append(tail)
    if carry:
        yield b"\n".join(carry) + b"\n", len(carry)


@click.command()
@host_option
@click.option("--db", "database", required=True, help="Database to write to.")
@click.option("--precision", default="ns", help="Timestamp unit: ns, us, ms, s or auto.")
@token_option
@click.option("--batch-lines", default=5_000, help="Lines per request.")
@click.argument("source", type=click.File("rb"), default="-")
def write(
    host: str, database: str, precision: str, token: str | None, batch_lines: int, source: BinaryIO
) -> None:
    """Stream line protocol from SOURCE (a file, or - for stdin) in batches."""
    import requests
    from rich.progress import BarColumn, Progress, TextColumn, TransferSpeedColumn

    check_http_host(host)
    url = f"{host.rstrip('/')}/api/v3/write_lp"
    params = {"db": database, "precision": precision, "accept_partial": "true"}
    session = requests.Session()
    session.headers.update(auth_headers(token))
    lines = errors = 0
    shown = 0
    started = time.perf_counter()
    progress = Progress(
        TextColumn("writing"),
        BarColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[lines]} lines"),
        disable=not sys.stderr.isatty(),
        transient=True,
    )
    with progress:
        task = progress.add_task("write", total=None, lines=0)
        for body, count in _line_batches(source, batch_lines):
            try:
                reply = session.post(url, params=params, data=body, timeout=300)
            except requests.RequestException as error:
                raise click.ClickException(http_failure(url, error)) from None
            lines += count
            if reply.status_code != 204:
                rejected, shown = _report_errors(reply, shown)
                errors += rejected
            progress.update(task, advance=len(body), lines=lines)
    elapsed = max(time.perf_counter() - started, 1e-9)
    click.echo(
        f"lines: {lines}  errors: {errors}  time: {elapsed:.2f}s  lines/s: {lines / elapsed:,.0f}"
    )
    if errors:
        sys.exit(1)


def _report_errors(reply: requests.Response, shown: int) -> tuple[int, int]:
    """Print the first few rejected lines; returns (lines rejected, lines shown so far)."""
    try:
        payload = reply.json()
    except ValueError:
        raise click.ClickException(
            f"server answered {reply.status_code}: {reply.text[:200]}"
        ) from None
    data = payload.get("data") or []
    if reply.status_code != 400 or not data:
        raise click.ClickException(f"server answered {reply.status_code}: {error_message(reply)}")
    for item in data[: max(0, 10 - shown)]:
        click.echo(f"line {item['line_number']}: {item['error_message']}", err=True)
    return len(data), shown + len(data)


@click.command()
@click.option("--host", default="grpc://127.0.0.1:8182", help="The server's Flight SQL URI.")
@click.option("--db", "database", required=True, help="Default database for unqualified names.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "jsonl", "parquet"]),
    default="table",
)
@token_option
@click.argument("sql")
def query(host: str, database: str, fmt: str, token: str | None, sql: str) -> None:
    """Run SQL over Flight SQL and print the result (streamed, except for ``table``)."""
    from adbc_driver_flight_iox import dbapi
    from flight_iox.query.formats import FORMATS

    check_flight_host(host)
    encoder = FORMATS["pretty" if fmt == "table" else fmt]
    out = sys.stdout.buffer
    try:
        with (
            dbapi.connect(host, database=database, token=token) as conn,
            conn.cursor() as cursor,
        ):
            cursor.execute(sql)
            for chunk in encoder.encode(cursor.fetch_record_batch()):
                out.write(chunk)
    except (dbapi.Error, ValueError) as error:
        # The driver's DB-API errors carry the server's message; ValueError is a bad URI or
        # option (and Arrow's ArrowInvalid). Anything else is a bug: its traceback shows.
        message = str(error).strip()
        raise click.ClickException(flight_failure(host, message) or message) from None
    out.flush()


@click.group()
def db() -> None:
    """List, create and delete databases."""


def _configure(method: str, host: str, token: str | None, **params: str) -> requests.Response:
    url = f"{host.rstrip('/')}/api/v3/configure/database"
    return call(method, url, token, params=params)


@db.command("list")
@host_option
@token_option
def db_list(host: str, token: str | None) -> None:
    """List databases."""
    for row in _configure("GET", host, token).json():
        click.echo(row["iox::database"])


@db.command("create")
@host_option
@token_option
@click.argument("name")
def db_create(host: str, token: str | None, name: str) -> None:
    """Create an empty database."""
    _configure("POST", host, token, db=name)
    click.echo(f"created database {name}")


@db.command("delete")
@host_option
@token_option
@click.argument("name")
def db_delete(host: str, token: str | None, name: str) -> None:
    """Delete a database and its data."""
    _configure("DELETE", host, token, db=name)
    click.echo(f"deleted database {name}")
