"""``flight-iox --help`` and the client commands import no heavy library before they run.

The modules are checked, not the time (timings belong in ``bench/cli_startup.py``):
each command runs in a fresh interpreter with ``-X importtime``, which names every
module imported.
"""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest

from flight_iox.cli.main import COMMANDS, cli

HEAVY = {
    "pyiceberg",
    "pandas",
    "datafusion",
    "pyarrow",
    "numpy",
    "sqlalchemy",
    "adbc_driver_manager",
    "uvicorn",
    "starlette",
    "grpc",
    "iox_catalog",
    "flight_iox.server",
    "flight_iox.engine",
    "requests",
    "rich",
}


def imported_modules(*args: str) -> set[str]:
    """Modules a fresh ``python -m flight_iox ARGS`` imports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLIGHT_IOX_")}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "flight_iox", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return {
        line.rpartition("|")[2].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["serve", "--help"],
        ["write", "--help"],
        ["query", "--help"],
        ["db", "list", "--help"],
        ["token", "create", "--help"],
        ["token", "recover-admin", "--help"],
        ["persist", "--help"],
        ["repair", "--help"],
    ],
)
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    modules = imported_modules(*args)
    assert "click" in modules  # the scan works
    heavy = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == []


def test_every_registered_command_loads() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command)
    assert cli.get_command(ctx, "no-such-command") is None
    token = cli.get_command(ctx, "token")
    assert isinstance(token, click.Group)
    for name in token.list_commands(ctx):
        assert isinstance(token.get_command(ctx, name), click.Command)
