"""What a trigger is, as InfluxDB 3 configures it: its specification, plugin and settings.

A request body of ``POST /api/v3/configure/processing_engine_trigger`` is checked here,
each bad field named in a ``BadRequestError``: ``{"db", "trigger_name",
"plugin_filename", "trigger_specification", "trigger_arguments", "disabled",
"trigger_settings": {"run_async", "error_behavior"}}`` (``run_async`` and
``error_behavior`` are also read at the top level). Specifications:

- ``table:<name>`` and ``all_tables``: the rows of each acknowledged write (``process_writes``);
- ``every:<duration>`` (``10s``, ``5m``, ``1h30m``, ``1d``) and ``cron:<expr>`` (five
  fields, or six with seconds first as InfluxDB 3 writes them): ``process_scheduled_call``;
- ``request:<path>``: served at ``/api/v3/engine/<path>`` (``process_request``).
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

from croniter import croniter

from flight_iox.errors import BadRequestError
from flight_iox.names import validate_database_name

ErrorBehavior = Literal["log", "retry", "disable"]
ERROR_BEHAVIORS: tuple[ErrorBehavior, ...] = ("log", "retry", "disable")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
_PATH = re.compile(r"[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-.]+)*")
_DURATION = re.compile(r"(?:\d+(?:ms|s|sec|m|min|h|hr|d|w))+")
_DURATION_PART = re.compile(r"(\d+)(ms|s|sec|min|m|hr|h|d|w)")
_UNIT_S = {
    "ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600,
    "d": 86_400, "w": 604_800,
}  # fmt: skip
ENTRY_POINTS = {
    "table": "process_writes",
    "all_tables": "process_writes",
    "every": "process_scheduled_call",
    "cron": "process_scheduled_call",
    "request": "process_request",
}


@dataclass(frozen=True)
class TriggerSpec:
    """A parsed ``trigger_specification``."""

    kind: Literal["table", "all_tables", "every", "cron", "request"]
    value: str = ""  # the table, the duration text, the cron expression or the path
    seconds: float = 0.0  # every: the interval

    @property
    def entry_point(self) -> str:
        """The plugin function this kind of trigger calls."""
        return ENTRY_POINTS[self.kind]

    @property
    def on_writes(self) -> bool:
        """Whether the trigger reads the write stream."""
        return self.kind in ("table", "all_tables")


def duration_seconds(text: str) -> float:
    """``10s``, ``5m``, ``1h30m``, ``1d`` as seconds (``ValueError`` otherwise)."""
    if not _DURATION.fullmatch(text):
        raise ValueError(f"{text!r} is not a duration like 10s, 5m, 1h or 1d")
    return sum(int(n) * _UNIT_S[u] for n, u in _DURATION_PART.findall(text))


def cron_fields(expression: str) -> tuple[str, bool]:
    """The expression for croniter and whether its first field is seconds (six fields)."""
    fields = expression.split()
    if len(fields) not in (5, 6) or not croniter.is_valid(
        expression, second_at_beginning=len(fields) == 6
    ):
        raise ValueError(
            f"{expression!r} is not a cron expression (five fields, or six with seconds first)"
        )
    return expression, len(fields) == 6


def parse_spec(text: str) -> TriggerSpec:
    """A ``trigger_specification`` (``BadRequestError`` naming what is wrong)."""
    kind, colon, value = text.partition(":")
    try:
        if text == "all_tables":
            return TriggerSpec("all_tables")
        if kind == "table" and colon and value:
            return TriggerSpec("table", value)
        if kind == "every" and colon:
            seconds = duration_seconds(value)
            if seconds < 0.001:
                raise ValueError("the interval must be positive")
            return TriggerSpec("every", value, seconds)
        if kind == "cron" and colon:
            cron_fields(value)
            return TriggerSpec("cron", value.strip())
        if kind == "request" and colon and _PATH.fullmatch(value) and ".." not in value:
            return TriggerSpec("request", value)
    except ValueError as error:
        raise BadRequestError(f"'trigger_specification': {error}") from None
    raise BadRequestError(
        f"'trigger_specification': {text!r} is not one of table:<name>, all_tables, "
        "every:<duration>, cron:<expression> or request:<path>"
    )


@dataclass(frozen=True)
class TriggerConfig:
    """One trigger as it is kept on disk (``TriggerStore``) and shown in the system table."""

    database: str
    name: str
    plugin_filename: str
    specification: str
    arguments: dict[str, str] | None = None
    disabled: bool = False
    run_async: bool = False
    error_behavior: ErrorBehavior = "log"
    owner: str | None = None  # the id of the token that created it (None: auth was off)
    created_ns: int = field(default_factory=time.time_ns)

    @property
    def spec(self) -> TriggerSpec:
        """The parsed specification."""
        return parse_spec(self.specification)

    def with_disabled(self, disabled: bool) -> TriggerConfig:
        """The same trigger, enabled or disabled."""
        return replace(self, disabled=disabled)

    def to_json(self) -> dict[str, object]:
        """The configuration as stored."""
        return asdict(self)

    @classmethod
    def from_json(cls, stored: dict[str, object]) -> TriggerConfig:
        """A configuration read back."""
        return cls(**stored)  # type: ignore[arg-type]


def _text(params: dict[str, object], field_name: str) -> str:
    value = params.get(field_name)
    if not isinstance(value, str) or not value:
        raise BadRequestError(f"missing parameter {field_name!r}")
    return value


def _flag(params: dict[str, object], settings: dict[str, object], name: str) -> bool:
    value = settings.get(name, params.get(name, False))
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequestError(f"{name!r} must be true or false, got {value!r}")
    return value


def _arguments(value: object) -> dict[str, str] | None:
    if value is None or value == {}:
        return None
    if isinstance(value, str):  # the CLI's k=v,k=v
        pairs = [p.partition("=") for p in value.split(",") if p.strip()]
        if any(not sep or not k.strip() for k, sep, _ in pairs):
            raise BadRequestError("'trigger_arguments' must be key=value pairs")
        return {k.strip(): v for k, _, v in pairs}
    if not isinstance(value, dict):
        raise BadRequestError("'trigger_arguments' must be an object of strings")
    return {str(k): str(v) for k, v in value.items()}


def trigger_from_request(params: dict[str, object], owner: str | None) -> TriggerConfig:
    """Check a create request's fields; the plugin file is checked by the engine."""
    database = _text(params, "db")
    validate_database_name(database)
    name = _text(params, "trigger_name")
    if not _NAME.fullmatch(name):
        raise BadRequestError(
            f"'trigger_name': {name!r} must be letters, digits, '_', '-' or '.' (128 at most)"
        )
    filename = _text(params, "plugin_filename")
    specification = _text(params, "trigger_specification")
    parse_spec(specification)
    settings = params.get("trigger_settings") or {}
    if not isinstance(settings, dict):
        raise BadRequestError("'trigger_settings' must be an object")
    behavior = str(settings.get("error_behavior", params.get("error_behavior", "log"))).lower()
    if behavior not in ERROR_BEHAVIORS:
        raise BadRequestError(
            f"'error_behavior' must be one of log, retry, disable, got {behavior!r}"
        )
    return TriggerConfig(
        database=database,
        name=name,
        plugin_filename=filename,
        specification=specification,
        arguments=_arguments(params.get("trigger_arguments")),
        disabled=_flag(params, {}, "disabled"),
        run_async=_flag(params, settings, "run_async"),
        error_behavior=behavior,  # type: ignore[arg-type]
        owner=owner,
    )
