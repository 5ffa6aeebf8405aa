"""How a setting is declared: a dataclass field carrying its one default and its ``Option``.

``flight_iox.config`` declares the server's settings with ``setting()`` and ``group()``;
``setting_specs`` flattens any such dataclass into the specs ``flight_iox.cli.serve`` turns
into flags and ``FLIGHT_IOX_<NAME>`` variables, and ``build_from`` makes the dataclass
back from values keyed by setting name. Kept apart from the settings themselves so that
the list of settings can grow without the machinery in the way. Stdlib only: the CLI
imports it to build ``--help``.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

ENV_PREFIX = "FLIGHT_IOX_"
_OPTION = "flight_iox.option"
_NESTED = "flight_iox.nested"


@dataclass(frozen=True)
class Option:
    """How a setting appears on the command line and in the environment.

    ``name`` is the setting's public name when it differs from the field's: the flag is
    ``--<name>`` (dashes) and the variable ``FLIGHT_IOX_<NAME>``. A bool gets
    ``--x/--no-x`` unless ``flag`` spells it otherwise. ``kind`` is ``size`` (``64MiB``),
    ``file`` or ``dir`` (paths), or ``properties`` (``KEY=VALUE`` pairs: the flag repeats,
    the variable holds them separated by spaces); other types come from the annotation.
    """

    help: str
    name: str | None = None
    flag: str | None = None
    kind: str | None = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    shown_default: str | None = None


def setting(default: Any, help: str, **option: Any) -> Any:
    """A dataclass field with its one default and its command-line ``Option``."""
    return field(default=default, metadata={_OPTION: Option(help, **option)})


def group(factory: type) -> Any:
    """A field holding a nested dataclass of settings (their flags are flat)."""
    return field(default_factory=factory, metadata={_NESTED: True})


@dataclass(frozen=True)
class SettingSpec:
    """One setting as the command line sees it: its name, type, default and ``Option``."""

    name: str
    path: tuple[str, ...]  # attributes from Settings down to the field
    type: type  # the annotation without ``| None``
    default: Any
    option: Option

    @property
    def envvar(self) -> str:
        """``FLIGHT_IOX_<NAME>``."""
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        """``--name`` (bools: ``--name/--no-name``), or the spelling the ``Option`` gives."""
        if self.option.flag:
            return self.option.flag
        flag = "--" + self.name.replace("_", "-")
        return f"{flag}/--no-{flag[2:]}" if self.type is bool else flag


def setting_specs(cls: type, path: tuple[str, ...] = ()) -> list[SettingSpec]:
    """Every setting of ``cls``, nested groups flattened, in declaration order."""
    hints = typing.get_type_hints(cls)
    specs = []
    for item in fields(cls):
        hint = hints[item.name]
        if item.metadata.get(_NESTED):
            specs.extend(setting_specs(hint, (*path, item.name)))
            continue
        option = item.metadata.get(_OPTION)
        if option is None:
            raise TypeError(f"{cls.__name__}.{item.name} is declared without setting()")
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        base = args[0] if len(args) == 1 else hint  # ``X | None`` -> ``X``
        name = option.name or item.name
        specs.append(SettingSpec(name, (*path, item.name), base, item.default, option))
    return specs


def build_from(root: type, values: Mapping[str, Any]) -> object:
    """An instance of the settings dataclass ``root`` from values keyed by setting name;
    absent names keep their default."""
    by_path = {spec.path: spec.name for spec in setting_specs(root)}
    return _build(root, values, (), by_path)


def _build(
    cls: type,
    values: Mapping[str, Any],
    path: tuple[str, ...],
    by_path: Mapping[tuple[str, ...], str],
) -> object:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for item in fields(cls):
        here = (*path, item.name)
        if item.metadata.get(_NESTED):
            assert is_dataclass(hints[item.name])
            kwargs[item.name] = _build(hints[item.name], values, here, by_path)
        elif by_path[here] in values:
            kwargs[item.name] = values[by_path[here]]
    return cls(**kwargs)
