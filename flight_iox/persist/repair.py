"""Repair: find data files the catalog lists but storage lost, and take them out of their tables.

A table whose file is missing or corrupt still answers nothing but an error naming the
file (see ``query/tables.py``): its other rows are there, but no query over the table can
tell which rows it is missing. Repair is the explicit step that accepts the loss: it checks
every file of the chosen tables (present, the size the catalog recorded, a Parquet footer
that reads) and, when asked to, removes exactly the files that fail, one Iceberg commit per
table, keeping the WAL sequence the table had persisted through. The server's view of the
table follows at once, so queries over it answer again with the remaining rows.

It runs under the persister's cycle lock, so no persist, compaction or delete changes a
table between the check and the commit.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

from flight_iox.errors import DatabaseNotFoundError
from flight_iox.persist.persister import Persister
from flight_iox.persist.tables import TableStore
from flight_iox.query.file_checks import file_problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LostFile:
    """A data file a table lists that cannot be read, and why."""

    database: str
    table: str
    path: str
    reason: str
    rows: int

    def as_json(self) -> dict[str, object]:
        """One entry of the repair report."""
        return {
            "db": self.database,
            "table": self.table,
            "file": self.path,
            "reason": self.reason,
            "rows": self.rows,
        }


@dataclass
class RepairReport:
    """What a repair found and, unless it was a dry run, removed."""

    dry_run: bool
    checked_files: int = 0
    lost: list[LostFile] = field(default_factory=list)
    removed: list[LostFile] = field(default_factory=list)
    tables_committed: int = 0

    def as_json(self) -> dict[str, object]:
        """The admin route's answer (and what ``flight-iox repair`` prints)."""
        return {
            "dry_run": self.dry_run,
            "checked_files": self.checked_files,
            "lost": [f.as_json() for f in self.lost],
            "removed": [f.as_json() for f in self.removed],
            "tables_committed": self.tables_committed,
        }


def repair(
    persister: Persister,
    database: str | None = None,
    *,
    dry_run: bool = True,
    only: Collection[str] | None = None,
) -> RepairReport:
    """Check the files of ``database`` (or of every database); remove the lost ones.

    With ``dry_run`` nothing changes. ``only`` limits the removal to these paths (the
    ones an operator confirmed), among those found lost now.
    """
    tables = persister.tables
    if database is not None and not tables.catalog.has_database(database):
        raise DatabaseNotFoundError(database)
    report = RepairReport(dry_run=dry_run)
    with persister.cycle_lock:
        by_table: dict[tuple[str, str], list[LostFile]] = defaultdict(list)
        for db, table in tables.buffers.tables(database):
            for file in tables.buffers.table(db, table).files:
                report.checked_files += 1
                reason = file_problem(file, tables.storage)
                if reason is not None:
                    lost = LostFile(db, table, file.path, reason, file.record_count)
                    report.lost.append(lost)
                    by_table[(db, table)].append(lost)
        for (db, table), lost_files in by_table.items():
            # Queries re-read these files' state, so none reads a lost file as empty.
            tables.caches.recheck_files(db, table, {f.path for f in lost_files})
            doomed = [f for f in lost_files if only is None or f.path in only]
            if dry_run or not doomed:
                continue
            _remove(tables, db, table, doomed)
            report.removed.extend(doomed)
            report.tables_committed += 1
    return report


def _remove(tables: TableStore, database: str, table: str, lost: list[LostFile]) -> None:
    """One commit taking ``lost`` out of the table; the server's file list follows."""
    with tables.catalog.lock:
        schema = tables.catalog.database(database).tables[table].arrow_schema()
    stored = tables.iceberg.replace_files(database, table, [f.path for f in lost], [], schema)
    tables.buffers.table(database, table).replace_files(stored.files.files)
    for file in lost:
        log.warning(
            "repair removed %s from %s.%s (%d rows lost: %s)",
            file.path, database, table, file.rows, file.reason,
        )  # fmt: skip
