"""Object storage for the warehouse: its pyarrow filesystem, and the one containment check.

Every path flight-iox writes or deletes goes through ``Storage.contained`` first:
a local path must resolve (symlinks and ``..`` followed) to a place under the
warehouse folder, an S3 key must start with the warehouse's ``bucket/prefix/``
and hold no ``.``, ``..`` or empty segment. Anything else raises
``StoragePathError`` naming the path, so a name or a stored location that tries
to leave the warehouse fails loudly instead of touching another folder.
"""

from __future__ import annotations

import os
import posixpath
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from iox_catalog.object_store import ObjectStoreConfig
from iox_datamodel.errors import StoragePathError


def refuse_control_characters(data_dir: Path, store: ObjectStoreConfig) -> None:
    """Refuse a data folder or local warehouse whose path has a control character (a tab).

    Files under it could be written but never read back: object_store and DataFusion refuse
    such paths, and PyIceberg drops the character from the locations it commits. Better to
    say so at start than to accept writes that no query or persist can use.
    """
    folders = [data_dir] if store.is_s3 else [data_dir, Path(uri_path(store.warehouse))]
    for folder in folders:
        text = str(folder.absolute())
        bad = sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) == "Cc"})
        if bad:
            raise StoragePathError(
                f"refused folder {text!r}: its path has control characters ({', '.join(bad)}),"
                " which the Parquet readers and the catalog cannot use; choose a folder without"
                " them"
            )


def uri_path(uri: str) -> str:
    """The filesystem path of ``file:///…`` or ``s3://…`` URIs (plain paths pass)."""
    return uri.split("://", 1)[1] if "://" in uri else uri


@dataclass(frozen=True)
class Storage:
    """A filesystem, the mapping from warehouse URIs to its paths, and the warehouse root.

    ``root`` is the warehouse as a filesystem path: the resolved real folder for a local
    warehouse, ``bucket/prefix`` (no trailing slash) for S3.
    """

    filesystem: pafs.FileSystem
    scheme: str
    root: str

    def path(self, uri: str) -> str:
        """The filesystem path of ``file:///…`` or ``s3://…`` URIs (plain paths pass)."""
        return uri_path(uri)

    def uri(self, path: str) -> str:
        """The URI of a filesystem path (what the catalog records)."""
        return f"{self.scheme}://{path}" if self.scheme == "s3" else f"file://{path}"

    def contained(self, uri: str, within: str | None = None) -> str:
        """The filesystem path of ``uri`` if it lies under the warehouse (and ``within``).

        ``within`` is a URI or path that must itself be in the warehouse, typically the
        table's own folder. Raises ``StoragePathError`` otherwise.
        """
        return contained_path(self.path(uri), self.root, self.scheme, within=within)


def _local_real(path: str) -> str:
    return os.path.realpath(path)


def _is_under(path: str, root: str, sep: str) -> bool:
    return path.startswith(root.rstrip(sep) + sep)


def contained_path(path: str, root: str, scheme: str, within: str | None = None) -> str:
    """``path`` if it lies strictly under ``root`` (and under ``within``); else raise.

    Local paths are compared after ``realpath`` (``..`` and symlinks resolved); S3 keys
    are compared as text after refusing ``.``, ``..``, ``\\`` and empty segments, which
    S3 would keep literally but HTTP clients and other engines may normalise.
    """
    limits = [root] if within is None else [root, uri_path(within)]
    if scheme == "s3":
        parts = path.split("/")
        if any(p in ("", ".", "..") for p in parts) or "\\" in path:
            raise StoragePathError(f"refused storage path {path!r}: it has '.', '..' or '//'")
        for limit in limits:
            if not _is_under(path, limit.rstrip("/"), "/"):
                raise StoragePathError(f"refused storage path {path!r}: it is not under {limit!r}")
        return path
    real = _local_real(path)
    for limit in limits:
        if not _is_under(real, _local_real(limit), os.sep):
            raise StoragePathError(f"refused storage path {path!r}: it is not under {limit!r}")
    return path


# Characters that URI parsers split on or decode (``%2e%2e`` is ``..`` to some of them).
_URI_TRAPS = ("\\", "%", "?", "#")


def is_canonical_location(location: str, storage: Storage) -> bool:
    """Whether a table location is under the warehouse, in plain form (no ``.``/``..``).

    Earlier versions made a table's location from its raw name, so ``../other/cpu``
    landed inside another table's folder; such locations are not used for new files,
    nor ones with characters that URI parsers split on or decode.
    """
    parts = storage.path(location).strip("/").split("/")
    if any(p in ("", ".", "..") for p in parts) or any(c in location for c in _URI_TRAPS):
        return False
    try:
        storage.contained(location)
    except StoragePathError:
        return False
    return True


def warehouse_root(store: ObjectStoreConfig) -> str:
    """The warehouse as a filesystem path: a real local folder, or ``bucket/prefix``."""
    path = uri_path(store.warehouse).rstrip("/")
    if store.is_s3:
        return posixpath.normpath(path)
    return _local_real(path)


def open_storage(store: ObjectStoreConfig) -> Storage:
    """The filesystem behind the warehouse, as ``store`` derives it for pyarrow."""
    return Storage(
        store.pyarrow_filesystem(), "s3" if store.is_s3 else "file", warehouse_root(store)
    )
