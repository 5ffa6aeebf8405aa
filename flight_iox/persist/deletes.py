"""Deleting rows and tables: ``DELETE FROM t [WHERE …]`` and ``DROP TABLE t``.

A row delete filters the write buffer, rewrites the table's files that hold
matching rows (one atomic Iceberg replace commit), and then persists the table,
so that WAL replay after a restart can never bring deleted rows back: the
commit records a WAL sequence at or after the delete. Rows written while a
delete runs may or may not be deleted, as with any concurrent statements.

The predicate is DataFusion SQL over the table's columns (tags, fields, time),
evaluated on Arrow data in a scratch context; ``?``/``$n`` parameters bind.

The caller's principal is checked on the target as soon as it is resolved
(``delete`` for DELETE and DROP TABLE, ``create`` for CREATE TABLE in ``ddl.py``),
before the database is looked up.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
from datafusion import SessionContext

from flight_iox.auth.policy import Authorizer, Principal
from flight_iox.auth.tokens import Action
from flight_iox.engine.buffer import conform
from flight_iox.engine.watermark import SequenceWatermark
from flight_iox.errors import (
    BadRequestError,
    DataFileUnavailableError,
    NotSupportedError,
    QueryError,
    TableNotFoundError,
)
from flight_iox.persist.compaction_plan import plan_compaction
from flight_iox.persist.compactor import compact_table
from flight_iox.persist.ddl import create_table
from flight_iox.persist.parquet_files import read_model_rows
from flight_iox.persist.persister import Persister
from flight_iox.persist.tables import TableStore
from flight_iox.query.engine_errors import is_engine_error
from flight_iox.query.file_checks import file_problem
from flight_iox.query.placeholders import python_value, rewrite_placeholders
from flight_iox.query.sql_text import first_keyword, parse_change
from flight_iox.wal import WriteAheadLog
from iox_catalog.files import DataFile, WrittenFile
from iox_catalog.schema import column_kinds
from iox_catalog.storage import Storage

# As compaction's ``min_files``: no partition has this many, so only overlaps are merged.
ONLY_OVERLAPPING = sys.maxsize


def _resolve(parts: list[str], database: str | None) -> tuple[str, str]:
    if len(parts) == 3:
        database = parts[0]
    if len(parts) >= 2 and parts[-2] != "iox":
        raise BadRequestError(f"user tables are in schema 'iox', not {parts[-2]!r}")
    if database is None:
        raise BadRequestError("no database: send the database header or use db.iox.table")
    return database, parts[-1]


@dataclass(frozen=True)
class RowFilter:
    """A delete predicate, ready to apply to Arrow tables."""

    where: str | None
    params: dict[str, object]

    def keep(self, data: pa.Table) -> pa.Table:
        """The rows of ``data`` the predicate does not match (NULL counts as no match)."""
        if self.where is None:
            return data.schema.empty_table()
        if data.num_rows == 0:
            return data
        context = SessionContext()
        context.register_record_batches("rows", [data.to_batches()])
        sql = f"SELECT * FROM rows WHERE NOT COALESCE(({self.where}), false)"
        try:
            frame = context.sql(sql, param_values=self.params) if self.params else context.sql(sql)
            kept = frame.to_arrow_table()
        except Exception as error:
            if not is_engine_error(error):
                raise
            raise QueryError(f"invalid DELETE predicate: {error}") from None
        return conform(kept, data.schema)


class Deleter:
    """Runs DELETE, DROP TABLE and CREATE TABLE, serialised with persistence.

    ``wal`` and ``watermark`` say when every acknowledged write is in the buffer
    (``_await_applied``), and which WAL sequence a dropped table's replay must skip.
    ``check_writable`` raises on a node that may not change data (a read-only replica
    names its leader), before anything is resolved or changed.
    """

    def __init__(
        self,
        persister: Persister,
        tables: TableStore,
        wal: WriteAheadLog,
        watermark: SequenceWatermark,
        check_writable: Callable[[], None] = lambda: None,
    ) -> None:
        self.persister = persister
        self.tables = tables
        self._wal = wal
        self._watermark = watermark
        self.check_writable = check_writable

    def execute_update(
        self, database: str | None, sql: str, params: Sequence[object], principal: Principal
    ) -> int:  # fmt: skip
        """Run a DELETE, DROP TABLE or CREATE TABLE (``ddl.py``); rows deleted (0 for DDL)."""
        self.check_writable()
        change = parse_change(sql)
        if change is not None and change.kind == "delete":
            db, table = _resolve(change.target, database)
            Authorizer.require(principal, Action.DELETE, db)
            where, count = rewrite_placeholders(change.clause or "")
            values = {str(i + 1): python_value(v) for i, v in enumerate(params)}
            if len(values) < count:
                raise QueryError(f"the statement has {count} parameters, {len(values)} bound")
            return self.delete_rows(db, table, RowFilter(where or None, values))
        if change is not None and change.kind == "drop":
            db, table = _resolve(change.target, database)
            Authorizer.require(principal, Action.DELETE, db)
            self.drop_table(db, table, missing_ok=change.if_exists)
            return 0
        if change is not None and change.kind == "create":
            db, table = _resolve(change.target, database)
            body = change.clause or ""
            exists = change.if_exists
            create_table(self.tables, db, table, body, if_not_exists=exists, principal=principal)
            return 0
        if first_keyword(sql) == "create":
            raise BadRequestError(
                "only CREATE TABLE name (columns) is supported: no CREATE TABLE AS, views or "
                "schemas (create the table, then INSERT INTO ... SELECT)"
            )
        raise NotSupportedError(
            "only SELECT, INSERT, DELETE FROM, CREATE TABLE and DROP TABLE are supported"
        )

    def _schema(self, database: str, table: str) -> pa.Schema:
        return self.tables.catalog.table_schema(database, table)

    def _await_applied(self) -> None:
        target = self._wal.last_sequence
        deadline = time.monotonic() + 30
        while self._watermark.value < target and time.monotonic() < deadline:
            time.sleep(0.001)

    def delete_rows(self, database: str, table: str, row_filter: RowFilter) -> int:
        """Delete matching rows from buffer and files; durable once this returns."""
        self.check_writable()
        schema = self._schema(database, table)
        tables = self.tables
        with self.persister.cycle_lock:
            self._await_applied()
            state = tables.buffers.table(database, table)
            _check_files(state.files, tables.storage, f"{database}.{table}")  # before any change
            _merge_overlapping_files(tables, database, table, schema)
            deleted = state.filter_rows(schema, row_filter.keep)
            removed: list[str] = []
            added: list[WrittenFile] = []
            kinds = column_kinds(schema)
            for file in state.files:
                rows = conform(read_model_rows(file.path, schema, tables.storage), schema)
                kept = row_filter.keep(rows)
                if kept.num_rows == rows.num_rows:
                    continue
                deleted += rows.num_rows - kept.num_rows
                removed.append(file.path)
                target = tables.iceberg.write_target(database, table, schema)
                added += [part.file for part in tables.write_parts(kept, kinds, target)]
            if removed:
                stored = tables.iceberg.replace_files(database, table, removed, added, schema)
                state.replace_files(stored.files.files)
            self.persister.persist_locked(database)
        return deleted

    def drop_table(self, database: str, table: str, *, missing_ok: bool = False) -> None:
        """Drop a table: its schema, buffered rows and files."""
        self.check_writable()
        tables = self.tables
        try:
            self._schema(database, table)
        except TableNotFoundError:
            if missing_ok:
                return
            raise
        with self.persister.cycle_lock:
            self._await_applied()
            tables.catalog.drop_table(database, table, self._wal.last_sequence)
            tables.buffers.drop_table(database, table)
            tables.caches.forget_table(database, table)
            if tables.iceberg.has_table(database, table):
                tables.iceberg.drop_table(database, table)


def _merge_overlapping_files(
    tables: TableStore, database: str, table: str, schema: pa.Schema
) -> None:
    """Compact the table's overlapping files (only those) before a delete rewrites any.

    A rewritten file is committed after every file there is, and where files share a row,
    the last committed wins: a rewrite of an older file would bring back the values a newer
    one overwrote. Once no two files share a row, commit order no longer matters.
    """
    files = tables.buffers.table(database, table).files
    jobs = plan_compaction(files, ONLY_OVERLAPPING, shares=tables.series.check())
    if any(job.overlapping for job in jobs):
        compact_table(tables, database, table, schema, ONLY_OVERLAPPING)


def _check_files(files: Sequence[DataFile], storage: Storage, table: str) -> None:
    """Refuse a delete over a table with a lost file, before it changes anything."""
    for file in files:
        reason = file_problem(file, storage)
        if reason is not None:
            raise DataFileUnavailableError(file.path, table, reason)
