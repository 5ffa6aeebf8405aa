"""``flight-iox serve``: its flags are generated from the ``Settings`` fields.

Each setting declared in ``flight_iox.config`` becomes one click option with its
default, its help and its environment variable ``FLIGHT_IOX_<NAME>`` (a flag wins over
its variable), so no default or name is written twice.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

import click

from flight_iox.config import MIB, build_settings, setting_specs
from flight_iox.setting_fields import SettingSpec

_SIZE = re.compile(r"(?i)\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*")
_UNITS = {"b": 1, "k": 1024, "m": MIB, "g": 1024 * MIB}


def parse_size(text: str) -> int:
    """``512MiB``, ``2g``, ``1048576`` -> bytes (binary units)."""
    match = _SIZE.fullmatch(text)
    if not match:
        raise click.BadParameter(f"expected a size like 512MiB or 2GiB, got {text!r}")
    unit = (match.group(2) or "b")[0].lower()
    return int(float(match.group(1)) * _UNITS[unit])


def format_size(size: int) -> str:
    """The inverse of ``parse_size`` for defaults: ``1073741824`` -> ``1GiB``."""
    for unit, scale in (("GiB", 1024 * MIB), ("MiB", MIB), ("KiB", 1024)):
        if size and size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


class Size(click.ParamType):
    """A byte count written with binary units."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        return value if isinstance(value, int) else parse_size(str(value))


class Property(click.ParamType):
    """One ``KEY=VALUE`` pair; a variable holds several, separated by whitespace."""

    name = "key=value"
    envvar_list_splitter = None  # whitespace

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        key, sep, text = str(value).partition("=")
        if not sep or not key.strip():
            self.fail(f"expected KEY=VALUE, got {value!r}", param, ctx)
        return key.strip(), text


def click_type(spec: SettingSpec) -> click.ParamType | None:
    """The click type of a setting (None for a bool switch)."""
    option = spec.option
    low = option.minimum
    if option.choices:
        return click.Choice(option.choices, case_sensitive=False)
    if option.kind == "size":
        return Size()
    if option.kind == "properties":
        return Property()
    if spec.type is bool:
        return None
    high = option.maximum
    if spec.type is int:
        if low is None and high is None:
            return click.INT
        return click.IntRange(
            min=None if low is None else int(low), max=None if high is None else int(high)
        )
    if spec.type is float:
        return click.FLOAT if low is None and high is None else click.FloatRange(low, high)
    if spec.type is Path:
        return click.Path(
            path_type=Path, file_okay=option.kind != "dir", dir_okay=option.kind != "file"
        )
    if spec.type is str:
        return click.STRING
    raise TypeError(f"setting {spec.name}: no command-line type for {spec.type!r}")


def shown_default(spec: SettingSpec) -> str | bool:
    """What ``--help`` prints as the default."""
    if spec.option.shown_default is not None:
        return spec.option.shown_default
    if spec.option.kind == "size":
        return format_size(spec.default)
    return spec.default is not None


def settings_option(spec: SettingSpec) -> click.Option:
    """The click option of one setting."""
    switch = spec.type is bool and "/" not in spec.flag
    return click.Option(
        [spec.flag, spec.name],
        type=click_type(spec),
        default=spec.default,
        is_flag=switch or None,
        multiple=spec.option.kind == "properties",
        envvar=spec.envvar,
        show_envvar=True,
        show_default=shown_default(spec),
        help=spec.option.help,
    )


@click.command(params=[settings_option(spec) for spec in setting_specs()])
def serve(**values: Any) -> None:
    """Start the server with embedded defaults (local data folder, no external service).

    Every flag has an environment variable, FLIGHT_IOX_<NAME>; a flag wins over it.
    """
    from flight_iox.errors import FlightIoxError
    from flight_iox.server import serve as run_server

    settings = build_settings(values)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        run_server(settings)
    except FlightIoxError as error:
        click.echo(f"flight-iox: {error.message}", err=True)
        sys.exit(1)
    except (OSError, ValueError) as error:
        click.echo(f"flight-iox: cannot start: {error}", err=True)
        sys.exit(1)
