"""The backup manifest: what a backup holds, written last so a partial backup shows.

A backup folder holds ``data/`` (the tables' Parquet files), ``wal/`` (the segments
with every entry up to the backup's sequence, cut right after it), ``catalog.json``
(the server's schema state: empty and deleted databases) and ``manifest.json``. The
manifest is written only once everything else is copied: a folder without one is an
interrupted backup and restore refuses it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

FORMAT = "flight-iox-backup"
VERSION = 1
MANIFEST = "manifest.json"
SCHEMA_STATE = "catalog.json"


class BackupFormatError(ValueError):
    """A backup that cannot be restored: no manifest, another format, a damaged file."""


@dataclass(frozen=True)
class BackupFile:
    """A file of the backup (``path`` relative to its root) with its size and SHA-256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class TableFile:
    """A table's Parquet file: where it is in the backup and its place in the table.

    ``sequence_number`` orders the commits (later files win a dedupe), ``partition_by``
    is the spec the file was split by and ``partition`` its values under that spec.
    """

    file: BackupFile
    record_count: int
    sequence_number: int
    partition_by: list[str]
    partition: list[object]


@dataclass(frozen=True)
class TableBackup:
    """One table: its columns (``iox.columns``), current spec, files, persisted sequence."""

    database: str
    table: str
    columns: str
    partition_by: list[str]
    persisted_sequence: int
    files: list[TableFile]


@dataclass(frozen=True)
class DatabaseBackup:
    """One database and its retention period (None: forever)."""

    name: str
    retention_ns: int | None


@dataclass(frozen=True)
class Manifest:
    """Everything a backup holds, as of WAL sequence ``wal_sequence``."""

    wal_sequence: int
    created: str
    databases: list[DatabaseBackup]
    tables: list[TableBackup]
    wal: list[BackupFile]
    schema_state: BackupFile | None

    def summary(self) -> dict[str, object]:
        """What the backup endpoint answers and the CLI prints."""
        files = [f.file for t in self.tables for f in t.files]
        return {
            "wal_sequence": self.wal_sequence,
            "created": self.created,
            "databases": len(self.databases),
            "tables": len(self.tables),
            "parquet_files": len(files),
            "wal_segments": len(self.wal),
            "bytes": sum(f.size for f in [*files, *self.wal]),
        }

    def to_json(self) -> bytes:
        """The manifest file's bytes."""
        return json.dumps({"format": FORMAT, "version": VERSION, **asdict(self)}, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        """Parse a manifest; ``BackupFormatError`` naming ``where`` if it is not one we read."""
        try:
            raw = json.loads(data)
            if raw.get("format") != FORMAT:
                raise BackupFormatError(f"{where} is not a flight-iox backup manifest")
            if raw.get("version") != VERSION:
                raise BackupFormatError(
                    f"{where} has backup format version {raw.get('version')}; "
                    f"this build reads version {VERSION}"
                )
            state = raw["schema_state"]
            return cls(
                wal_sequence=int(raw["wal_sequence"]),
                created=str(raw["created"]),
                databases=[DatabaseBackup(**d) for d in raw["databases"]],
                tables=[
                    TableBackup(
                        **{**t, "files": [
                            TableFile(**{**f, "file": BackupFile(**f["file"])}) for f in t["files"]
                        ]}
                    )
                    for t in raw["tables"]
                ],
                wal=[BackupFile(**w) for w in raw["wal"]],
                schema_state=BackupFile(**state) if state else None,
            )  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            if isinstance(error, BackupFormatError):
                raise
            raise BackupFormatError(f"{where} is damaged: {error}") from None
