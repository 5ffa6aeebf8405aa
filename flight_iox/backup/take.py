"""Take a consistent backup of a running server while writes go on.

Holding the persist cycle lock (no persist, compaction or delete runs meanwhile), the
WAL's last sequence ``S`` and the byte size of each segment holding it are read in one
step, with each table's current snapshot (files, spec, persisted sequence) and the
schema state. The segments are hard-linked into a staging folder, still under the
lock: a persist after it deletes the segments it covered, but the files it writes are
not in this backup, so the backup must keep its own copy of those entries. Then the
lock is released and everything is copied while writes and persists go on:

- Parquet files never change once written. Compaction deletes the files it replaced
  only after they were unreferenced for an hour, and not at all while a backup holds
  ``Persister.pin_files``. A table or database *dropped* during the backup loses its
  files at once: the copy then fails and the backup answers 503, to be retried.
- Of each segment only the bytes recorded under the lock are copied, so the backup's
  WAL ends exactly at ``S`` though appends go on.

The manifest is written last. The backup holds every write with a sequence up to ``S``,
which includes every write acknowledged before the backup started, and none after.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from flight_iox.backup.location import BackupLocation, copy_file
from flight_iox.backup.manifest import (
    MANIFEST,
    SCHEMA_STATE,
    BackupFile,
    DatabaseBackup,
    Manifest,
    TableBackup,
    TableFile,
)
from flight_iox.errors import (
    AlreadyExistsError,
    BadRequestError,
    RetryLaterError,
    storage_full,
)
from flight_iox.persist.persister import Persister
from flight_iox.persist.tables import TableStore
from flight_iox.wal import WriteAheadLog
from iox_catalog.schema import column_kinds, encode_kinds
from iox_catalog.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Snapshot:
    """What was read under the lock: the plan of the copy."""

    wal_sequence: int
    segments: list[tuple[Path, int]]  # hard links in the staging folder, bytes to copy
    schema_state: bytes | None
    databases: list[DatabaseBackup]
    tables: list[tuple[TableBackup, list[str]]]  # files still empty; their source URIs


@dataclass(frozen=True)
class BackupSource:
    """What a backup reads (the composition root builds it): the data folder's WAL and
    ``catalog.json``, the tables and their files, and the persister whose cycle lock and
    file pins hold them still."""

    data_dir: Path
    wal: WriteAheadLog
    tables: TableStore
    persister: Persister


def take_backup(source: BackupSource, target: BackupLocation) -> Manifest:
    """Copy a consistent snapshot of the server to ``target`` (an empty place); its manifest."""
    if target.exists(MANIFEST):
        raise AlreadyExistsError(f"{target.url} already holds a backup")
    if not target.is_empty():
        raise BadRequestError(f"backup location {target.url} is not empty")
    staging = Path(tempfile.mkdtemp(prefix="backup-", dir=_tmp_dir(source.data_dir)))
    persister = source.persister
    try:
        with persister.pin_files():
            with persister.cycle_lock:
                snapshot = _snapshot(source, staging)
            try:
                return _copy(source.tables.storage, snapshot, target)
            except OSError as error:  # FileNotFoundError is handled where the file is named
                full = storage_full(error, target.url, "the backup is incomplete (no manifest)")
                if full is None:
                    raise
                raise full from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _tmp_dir(data_dir: Path) -> Path:
    folder = data_dir / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _snapshot(source: BackupSource, staging: Path) -> _Snapshot:
    wal = source.wal.snapshot()
    segments = []
    for path, size in wal.segments:
        link = staging / path.name
        try:
            os.link(path, link)  # the same data folder: a link is instant
        except OSError:
            shutil.copyfile(path, link)
        segments.append((link, size))
    state_path = source.data_dir / SCHEMA_STATE
    with source.tables.catalog.lock:
        state = state_path.read_bytes() if state_path.exists() else None
    iceberg = source.tables.iceberg
    databases, tables = [], []
    for database in iceberg.database_names():
        databases.append(DatabaseBackup(database, iceberg.retention_ns(database)))
        for name in iceberg.table_names(database):
            stored = iceberg.load(database, name)
            specs = iceberg.partition_specs(database, name)
            files = [
                TableFile(
                    BackupFile("", 0, ""),
                    f.record_count,
                    f.sequence_number,
                    specs[f.partition.spec_id] if f.partition else [],
                    list(f.partition.values) if f.partition else [],
                )
                for f in stored.files.files
            ]
            table = TableBackup(
                database,
                name,
                encode_kinds(column_kinds(stored.model_schema)),
                iceberg.partition_by(database, name),
                stored.files.persisted_sequence,
                files,
            )
            tables.append((table, [f.path for f in stored.files.files]))
    return _Snapshot(wal.last_sequence, segments, state, databases, tables)


def _copy(storage: Storage, snapshot: _Snapshot, target: BackupLocation) -> Manifest:
    """Copy the files the snapshot names; the manifest goes last."""
    local = pafs.LocalFileSystem()
    target.filesystem.create_dir(target.root, recursive=True)
    tables = []
    count = 0
    for table, uris in snapshot.tables:
        files = []
        for planned, uri in zip(table.files, uris, strict=True):
            count += 1
            relative = f"data/{count:06d}-{uri.rsplit('/', 1)[-1]}"
            target.make_parent(relative)
            try:
                copied = copy_file(storage.filesystem, storage.path(uri), target.filesystem,
                                   target.path(relative))  # fmt: skip
            except FileNotFoundError:
                raise RetryLaterError(
                    f"{uri} of {table.database}.{table.table} was deleted during the backup "
                    "(a table or database dropped?); retry the backup",
                    retry_after=1,
                ) from None
            files.append(
                TableFile(BackupFile(relative, copied.size, copied.sha256), planned.record_count,
                          planned.sequence_number, planned.partition_by, planned.partition)
            )  # fmt: skip
        tables.append(TableBackup(**{**vars(table), "files": files}))
    wal = []
    for link, size in snapshot.segments:
        relative = f"wal/{link.name}"
        target.make_parent(relative)
        copied = copy_file(local, str(link), target.filesystem, target.path(relative), size)
        wal.append(BackupFile(relative, copied.size, copied.sha256))
    state = None
    if snapshot.schema_state is not None:
        target.write_bytes(SCHEMA_STATE, snapshot.schema_state)
        state = BackupFile(SCHEMA_STATE, len(snapshot.schema_state), _sha256(snapshot.schema_state))
    manifest = Manifest(
        wal_sequence=snapshot.wal_sequence,
        created=datetime.datetime.now(datetime.UTC).isoformat(),
        databases=snapshot.databases,
        tables=tables,
        wal=wal,
        schema_state=state,
    )
    target.write_bytes(MANIFEST, manifest.to_json())
    log.info("backup to %s: %s", target.url, manifest.summary())
    return manifest


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
