"""``system.processing_engine_triggers``, ``system.processing_engine_logs`` and
``system.plugin_files``, built from the store.

Each is built on demand by the query engine's ``SystemTable`` (``processing_system_tables``,
registered by ``flight_iox/app.py``); ``version`` says when to build again, so a query after
a change sees it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa

from flight_iox.processing.store import EngineLog, TriggerStore
from flight_iox.query.system_tables import SystemTable

TRIGGERS_SCHEMA = pa.schema(
    [
        pa.field("database", pa.string(), nullable=False),
        pa.field("trigger_name", pa.string(), nullable=False),
        pa.field("plugin_filename", pa.string(), nullable=False),
        pa.field("trigger_specification", pa.string(), nullable=False),
        pa.field("trigger_arguments", pa.string(), nullable=True),
        pa.field("disabled", pa.bool_(), nullable=False),
        pa.field("run_async", pa.bool_(), nullable=False),
        pa.field("error_behavior", pa.string(), nullable=False),
        pa.field("wal_position", pa.int64(), nullable=True),
    ]
)
PLUGIN_FILES_SCHEMA = pa.schema(
    [
        pa.field("plugin_name", pa.string(), nullable=True),
        pa.field("file_name", pa.string(), nullable=False),
        pa.field("file_path", pa.string(), nullable=False),
        pa.field("size_bytes", pa.int64(), nullable=False),
        pa.field("last_modified", pa.int64(), nullable=False),
    ]
)


def triggers_table(store: TriggerStore, database: str | None = None) -> pa.Table:
    """Every trigger (of one database, if given)."""
    rows = [
        {
            "database": c.database,
            "trigger_name": c.name,
            "plugin_filename": c.plugin_filename,
            "trigger_specification": c.specification,
            "trigger_arguments": json.dumps(c.arguments) if c.arguments else None,
            "disabled": c.disabled,
            "run_async": c.run_async,
            "error_behavior": c.error_behavior,
            "wal_position": store.position(c.database, c.name),
        }
        for c in store.all()
        if database is None or c.database == database
    ]
    return pa.Table.from_pylist(rows, schema=TRIGGERS_SCHEMA)


def plugin_files_table(store: TriggerStore, plugin_dir: Path | None) -> pa.Table:
    """Every ``.py`` file under the plugin folder, once per trigger using it."""
    rows: list[dict[str, object]] = []
    if plugin_dir is None or not plugin_dir.is_dir():
        return pa.Table.from_pylist(rows, schema=PLUGIN_FILES_SCHEMA)
    users: dict[str, list[str]] = {}
    for config in store.all():
        users.setdefault(config.plugin_filename, []).append(config.name)
    for path in sorted(plugin_dir.rglob("*.py")):
        relative = path.relative_to(plugin_dir).as_posix()
        stat = path.stat()
        for trigger in users.get(relative, [None]):  # type: ignore[list-item]
            rows.append(
                {
                    "plugin_name": trigger,
                    "file_name": relative,
                    "file_path": str(path),
                    "size_bytes": stat.st_size,
                    "last_modified": stat.st_mtime_ns // 1_000_000,
                }
            )
    return pa.Table.from_pylist(rows, schema=PLUGIN_FILES_SCHEMA)


def plugin_dir_version(plugin_dir: Path | None) -> int:
    """Moves when a file is added, replaced or removed at the folder's top level."""
    if plugin_dir is None:
        return 0
    try:
        return os.stat(plugin_dir).st_mtime_ns
    except OSError:
        return 0


def processing_system_tables(
    triggers: TriggerStore, logs: EngineLog, plugin_dir: Path | None
) -> dict[str, SystemTable]:
    """The processing engine's system tables, by name (triggers and logs scoped per database)."""
    return {
        "processing_engine_triggers": SystemTable(
            lambda: triggers_table(triggers),
            admin_only=False,
            scoped=lambda database: triggers_table(triggers, database),
            version=lambda: triggers.version,
        ),
        "processing_engine_logs": SystemTable(
            logs.table, admin_only=False, scoped=logs.table, version=lambda: logs.version
        ),
        "plugin_files": SystemTable(
            lambda: plugin_files_table(triggers, plugin_dir),
            version=lambda: triggers.version + plugin_dir_version(plugin_dir),
        ),
    }
