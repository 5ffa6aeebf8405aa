"""``flight-iox``: serve, write, query and manage databases.

Commands are registered by name in ``COMMANDS`` and their module is imported only
when the command runs or when ``--help`` lists it. So a command module imports only
click and the stdlib at the top, and anything heavier (requests, pyarrow, the server)
inside its function: ``flight-iox --help`` and the client commands then start in a
fraction of a second instead of paying for PyIceberg, DataFusion and pandas.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

# Command name -> "module:attribute". A new command is one line here.
COMMANDS: Mapping[str, str] = {
    "serve": "flight_iox.cli.serve:serve",
    "write": "flight_iox.cli.client_commands:write",
    "query": "flight_iox.cli.client_commands:query",
    "db": "flight_iox.cli.client_commands:db",
    "token": "flight_iox.cli.token_commands:token",
    "persist": "flight_iox.cli.storage_commands:persist",
    "catalog": "flight_iox.cli.storage_commands:catalog",
    "repair": "flight_iox.cli.repair_commands:repair",
    "backup": "flight_iox.cli.backup_commands:backup",
    "restore": "flight_iox.cli.backup_commands:restore",
    "create": "flight_iox.cli.admin_commands:create",
    "delete": "flight_iox.cli.admin_commands:delete",
    "show": "flight_iox.cli.admin_commands:show",
    "enable": "flight_iox.cli.trigger_commands:enable",
    "disable": "flight_iox.cli.trigger_commands:disable",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use, from ``module:attribute`` strings."""

    def __init__(self, *args: Any, lazy: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = self.lazy[cmd_name].partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
        self.add_command(command, cmd_name)
        return command


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"show_default": True})
@click.version_option(package_name="flight-iox")
def cli() -> None:
    """flight-iox: InfluxDB line protocol in, SQL out over Flight SQL and HTTP."""
