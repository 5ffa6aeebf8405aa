"""Build a new data folder from a backup; ``flight-iox serve`` then serves it.

Offline: no server may run on the folder, which must be empty. Each table is created
afresh in the new catalog and its files are copied under the new warehouse and
committed again, one commit per original commit (files keep their order, so a later
file still wins a dedupe), each under the spec it was split by, recording the table's
persisted WAL sequence. The WAL segments are copied as they are (they already end at
the backup's sequence), so the first start replays exactly the entries the files do
not cover, as any start does.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import pyarrow.fs as pafs

from flight_iox.backup.location import BackupLocation, copy_file
from flight_iox.backup.manifest import (
    MANIFEST,
    SCHEMA_STATE,
    BackupFile,
    BackupFormatError,
    Manifest,
    TableBackup,
)
from flight_iox.catalog_settings import catalog_config
from flight_iox.config import Settings
from iox_catalog import IoxCatalog
from iox_catalog.files import WrittenFile
from iox_catalog.partitioning import PartitionKey
from iox_catalog.schema import decode_kinds, model_schema_from_kinds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoreReport:
    """What a restore made."""

    wal_sequence: int
    tables: int
    files: int
    wal_segments: int


def read_manifest(source: BackupLocation) -> Manifest:
    """The backup's manifest; ``BackupFormatError`` when there is none (an unfinished backup)."""
    if not source.exists(MANIFEST):
        raise BackupFormatError(
            f"{source.url} has no {MANIFEST}: it is not a backup, or the backup did not finish"
        )
    return Manifest.from_json(source.read_bytes(MANIFEST), source.path(MANIFEST))


def restore(source: BackupLocation, settings: Settings) -> RestoreReport:
    """Restore the backup at ``source`` into ``settings.data_dir`` (empty or missing)."""
    data_dir = settings.data_dir
    if data_dir.exists() and any(data_dir.iterdir()):
        raise ValueError(f"data folder {data_dir} is not empty: restore needs a new one")
    manifest = read_manifest(source)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        files = _restore_into(source, manifest, settings)
    except BaseException:
        # Half a data folder would start as a node missing data; leave the folder as found.
        # (A --catalog-uri catalog keeps the tables already made: drop them before retrying.)
        for child in data_dir.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        raise
    log.info("restored %s into %s", manifest.summary(), data_dir)
    return RestoreReport(manifest.wal_sequence, len(manifest.tables), files, len(manifest.wal))


def _restore_into(source: BackupLocation, manifest: Manifest, settings: Settings) -> int:
    """Make the catalog, tables, schema state and WAL; returns how many files were copied."""
    catalog = IoxCatalog(catalog_config(settings))
    for database in manifest.databases:
        catalog.create_database(database.name, database.retention_ns)
    files = sum(_restore_table(source, catalog, table) for table in manifest.tables)
    local = pafs.LocalFileSystem()
    if manifest.schema_state is not None:
        _fetch(source, manifest.schema_state, local, str(settings.data_dir / SCHEMA_STATE))
    settings.wal_dir.mkdir(parents=True, exist_ok=True)
    for segment in manifest.wal:
        _fetch(source, segment, local, str(settings.wal_dir / Path(segment.path).name))
    return files


def _restore_table(source: BackupLocation, catalog: IoxCatalog, table: TableBackup) -> int:
    """Create the table, copy its files in and commit them in their original order."""
    db, name = table.database, table.table
    schema = model_schema_from_kinds(decode_kinds(table.columns))
    storage = catalog.storage
    for _, commit in groupby(table.files, key=lambda f: f.sequence_number):
        group = list(commit)
        for partition_by, same_spec in groupby(
            sorted(group, key=lambda f: f.partition_by), key=lambda f: f.partition_by
        ):
            catalog.set_partition_by(db, name, schema, partition_by)
            target = catalog.write_target(db, name, schema)
            spec_id = target.partitioning.spec.spec_id
            written = []
            for file in same_spec:
                uri = f"{target.location}/data/restored-{Path(file.file.path).name}"
                path = storage.contained(uri, within=target.location)
                storage.filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
                _fetch(source, file.file, storage.filesystem, path)
                key = PartitionKey(spec_id, tuple(file.partition), target.partitioning.keyed)
                written.append(WrittenFile(uri, key))
            catalog.commit_files(db, name, schema, written, table.persisted_sequence)
    catalog.set_partition_by(db, name, schema, table.partition_by)  # also creates an empty one
    return len(table.files)


def _fetch(source: BackupLocation, file: BackupFile, target: pafs.FileSystem, path: str) -> None:
    """Copy one file of the backup out, checking its size and SHA-256."""
    try:
        copied = copy_file(source.filesystem, source.path(file.path), target, path)
    except FileNotFoundError:
        raise BackupFormatError(f"{source.path(file.path)} is missing from the backup") from None
    if (copied.size, copied.sha256) != (file.size, file.sha256):
        raise BackupFormatError(
            f"{source.path(file.path)} is damaged: {copied.size} bytes with SHA-256 "
            f"{copied.sha256[:12]}…, the manifest says {file.size} bytes, {file.sha256[:12]}…"
        )
