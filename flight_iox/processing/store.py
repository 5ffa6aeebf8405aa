"""The processing engine's durable state, and its log.

Triggers are kept in the catalog (``catalog.json``'s named definitions, kind
``processing_engine_trigger``: they go with their database) and each
``table:``/``all_tables`` trigger's position (the last WAL sequence its plugin took) in
``processing_positions.json`` next to it, written the same way (a temporary file, fsync,
rename, fsync of the folder), apart because it changes after every call. A position is
written after the plugin's call for those entries returned (or its error was handled),
so a crash between the two delivers those entries again: at-least-once.

``EngineLog`` holds the last plugin log lines (``system.processing_engine_logs``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from flight_iox.errors import AlreadyExistsError, NotFoundError
from flight_iox.json_file import write_json_atomically
from flight_iox.processing.triggers import TriggerConfig

POSITIONS_FILE = "processing_positions.json"


class Definitions(Protocol):
    """Named per-database definitions kept in the catalog (``SchemaCatalog`` implements it)."""

    def objects(self, kind: str) -> list[tuple[str, str, dict[str, object]]]:
        """Every definition of ``kind`` as (database, name, record)."""
        ...

    def add_object(self, kind: str, database: str, name: str, record: dict[str, object]) -> None:
        """Record a new definition (``AlreadyExistsError``, ``DatabaseNotFoundError``)."""
        ...

    def replace_object(
        self, kind: str, database: str, name: str, record: dict[str, object]
    ) -> None:
        """Change a definition (``NotFoundError``)."""
        ...

    def remove_object(self, kind: str, database: str, name: str) -> None:
        """Forget a definition (``NotFoundError``)."""
        ...


TRIGGER_KIND = "processing_engine_trigger"


class TriggerStore:
    """Triggers (in the catalog, by database and name) and each write trigger's position."""

    def __init__(self, definitions: Definitions, data_dir: Path) -> None:
        self._lock = threading.Lock()
        self._definitions = definitions
        self._positions_path = data_dir / POSITIONS_FILE
        self._positions: dict[str, int] = {}
        self._changes = 0
        if self._positions_path.exists():
            self._positions = json.loads(self._positions_path.read_text())

    @property
    def version(self) -> int:
        """Moves on every change, a database's deletion (which drops its triggers) included."""
        names = tuple((db, name) for db, name, _ in self._definitions.objects(TRIGGER_KIND))
        return hash((self._changes, names))

    def all(self) -> list[TriggerConfig]:
        """Every trigger, by database and name."""
        return [
            TriggerConfig.from_json(record)
            for _, _, record in self._definitions.objects(TRIGGER_KIND)
        ]

    def find(self, database: str, name: str) -> TriggerConfig | None:
        """One trigger, or None (its database was deleted, or it was)."""
        for config in self.all():
            if (config.database, config.name) == (database, name):
                return config
        return None

    def get(self, database: str, name: str) -> TriggerConfig:
        """One trigger (``NotFoundError``)."""
        config = self.find(database, name)
        if config is None:
            raise NotFoundError(f"no trigger {name!r} in database {database!r}")
        return config

    def add(self, config: TriggerConfig, position: int | None) -> None:
        """Keep a new trigger (``AlreadyExistsError``: the name or request path is taken)."""
        with self._lock:
            if config.spec.kind == "request":
                for other in self.all():
                    if other.specification == config.specification:
                        raise AlreadyExistsError(
                            f"request path {config.spec.value!r} is served by trigger "
                            f"{other.name!r} of database {other.database!r}"
                        )
            record = config.to_json()
            self._definitions.add_object(TRIGGER_KIND, config.database, config.name, record)
            self._changes += 1
            if position is not None:
                self._positions[_position_key((config.database, config.name))] = position
                write_json_atomically(self._positions_path, self._positions)

    def replace(self, config: TriggerConfig) -> None:
        """Store a changed trigger (enabled, disabled)."""
        with self._lock:
            record = config.to_json()
            self._definitions.replace_object(TRIGGER_KIND, config.database, config.name, record)
            self._changes += 1

    def remove(self, database: str, name: str) -> TriggerConfig:
        """Forget a trigger and its position (``NotFoundError``)."""
        with self._lock:
            config = self.get(database, name)
            self._definitions.remove_object(TRIGGER_KIND, database, name)
            self._changes += 1
            if self._positions.pop(_position_key((database, name)), None) is not None:
                write_json_atomically(self._positions_path, self._positions)
            return config

    def position(self, database: str, name: str) -> int | None:
        """The last WAL sequence the write trigger took (None: unknown)."""
        with self._lock:
            return self._positions.get(_position_key((database, name)))

    def set_position(self, database: str, name: str, sequence: int) -> None:
        """Durably record that the trigger took every entry up to ``sequence``."""
        with self._lock:
            key = _position_key((database, name))
            if self._positions.get(key) == sequence:
                return
            self._positions[key] = sequence
            self._changes += 1
            write_json_atomically(self._positions_path, self._positions)


def _position_key(key: tuple[str, str]) -> str:
    return f"{key[0]}/{key[1]}"


LOGS_SCHEMA = pa.schema(
    [
        pa.field("event_time", pa.timestamp("ns"), nullable=False),
        pa.field("database", pa.string(), nullable=False),
        pa.field("trigger_name", pa.string(), nullable=False),
        pa.field("log_level", pa.string(), nullable=False),
        pa.field("log_text", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class LogLine:
    """One line of ``system.processing_engine_logs``."""

    event_time: int
    database: str
    trigger_name: str
    log_level: str
    log_text: str


class EngineLog:
    """The last ``size`` plugin log lines, with a version that moves on each line."""

    def __init__(self, size: int = 10_000) -> None:
        self._lines: deque[LogLine] = deque(maxlen=size)
        self._lock = threading.Lock()
        self.version = 0

    def add(self, database: str, trigger: str, level: str, text: str) -> None:
        """Record one line."""
        with self._lock:
            self._lines.append(LogLine(time.time_ns(), database, trigger, level, text))
            self.version += 1

    def table(self, database: str | None = None) -> pa.Table:
        """The lines (of one database, if given) as the system table."""
        with self._lock:
            lines = [ln for ln in self._lines if database is None or ln.database == database]
        return pa.Table.from_pylist([vars(ln) for ln in lines], schema=LOGS_SCHEMA)
